"""The benchmark harness itself works: every benchmark runs end to end at smoke scale (tiny N) and
writes a result file with the machine, its rows, its ratios and its goals.

Timings are not asserted here (shared machines are noisy); ``make bench`` measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS
from tests.conftest import IN_CI
from tests.support.pg import PostgresUnavailableError, find_bindir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        find_bindir()
    except PostgresUnavailableError as exc:
        if IN_CI:
            pytest.fail(f"CI=true and PostgreSQL is missing: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    folder = tmp_path_factory.mktemp("bench-results")
    env = {**os.environ, "BENCH_RESULTS_DIR": str(folder)}
    env.pop("BENCH_PYSPY_DIR", None)
    run = subprocess.run([sys.executable, "-m", "bench", "--scale", "smoke"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    return folder


@pytest.mark.timeout(330)
@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_writes_its_result_file(smoke_results: Path, name: str) -> None:
    payload = json.loads((smoke_results / f"{name}-smoke.json").read_text())
    assert payload["benchmark"] == name and payload["scale"] == "smoke"
    machine = payload["machine"]
    assert machine["cpus"] >= 1 and machine["python"] and machine["packages"]["fastapi"]
    assert payload["rows"], "no configuration measured"
    for row in payload["rows"]:
        assert set(row) >= set(payload["rows"][0]) - {"note"}
    for goal in payload["goals"]:
        assert set(goal) >= {"name", "value", "target", "met"}
    assert payload["history"] == []


def test_an_unknown_benchmark_is_refused() -> None:
    run = subprocess.run([sys.executable, "-m", "bench", "no-such-bench", "--scale", "smoke"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2 and "unknown benchmark" in run.stdout + run.stderr
