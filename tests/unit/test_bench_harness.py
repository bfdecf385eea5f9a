"""The harness's arithmetic and its result files (the numbers a reader of bench/results relies on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.harness import Report, Stat, percentile, ratio


def test_stat_summarises_samples() -> None:
    stat = Stat.of([3.0, 1.0, 2.0, 10.0])
    assert (stat.median, stat.min, stat.max, stat.n) == (2.5, 1.0, 10.0, 4)
    with pytest.raises(ValueError, match="no samples"):
        Stat.of([])


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_ratio_of_zero_yardstick_is_nan() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(3.0, 0.0) != ratio(3.0, 0.0)


def test_goals_know_which_side_is_good() -> None:
    report = Report("x", "X", "quick")
    assert report.goal("fast enough", 0.7, 0.6).met
    assert not report.goal("fast enough", 0.5, 0.6).met
    assert report.goal("p99", 20.0, 25.0, higher_is_better=False).met
    assert not report.goal("p99", 30.0, 25.0, higher_is_better=False).met


def test_result_file_keeps_earlier_runs_as_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path))
    for value in (0.4, 0.7):
        report = Report("intake", "Intake", "full")
        report.add_row(config="gateway", rps=Stat.of([value * 100, value * 110]))
        report.ratios["gateway/bare"] = value
        report.goal("ratio", value, 0.6)
        report.note(f"run at {value}")
        path = report.write()
    assert path == tmp_path / "intake.json"
    payload = json.loads(path.read_text())
    assert payload["ratios"] == {"gateway/bare": 0.7}
    assert payload["rows"][0]["rps"] == {"median": 73.5, "min": 70.0, "max": 77.0, "n": 2}
    assert [h["ratios"] for h in payload["history"]] == [{"gateway/bare": 0.4}]
    assert payload["history"][0]["goals"][0]["met"] is False
    assert payload["history"][0]["notes"] == ["run at 0.4"]
    quick = Report("intake", "Intake", "quick")
    quick.add_row(config="x")
    assert quick.write() == tmp_path / "intake-quick.json"


def test_summary_lists_each_goal_and_the_benchmarks_not_run(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.summary import rows

    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path))
    report = Report("reconcile", "Reconcile", "full")
    report.add_row(engine="sqlite")
    report.goal("sqlite: 100,000 changes", 22.3, 60.0, higher_is_better=False, unit=" s")
    report.goal("postgresql: 100,000 changes", 61.0, 60.0, higher_is_better=False, unit=" s")
    report.write()
    table = rows(tmp_path, "full")
    assert any(r.startswith("| reconcile | sqlite: 100,000 changes | 22.3 s | ≤ 60.0 s | met") for r in table)
    assert any("postgresql" in r and "**missed**" in r for r in table)
    assert "| intake | (not run) | | | |" in table
