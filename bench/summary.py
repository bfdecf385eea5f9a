"""``python -m bench.summary [--scale full|quick]``: the goals of the latest result files as a Markdown table.

What the README's "Performance" section shows; paste it there after ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.__main__ import BENCHMARKS
from bench.harness import results_dir


def _number(value: float, unit: str) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text}{unit}"


def rows(folder: Path, scale: str) -> list[str]:
    """One Markdown row per goal of each benchmark's latest result at ``scale``."""
    out = []
    for name in BENCHMARKS:
        path = folder / (f"{name}.json" if scale == "full" else f"{name}-{scale}.json")
        if not path.exists():
            out.append(f"| {name} | (not run) | | | |")
            continue
        payload: dict[str, Any] = json.loads(path.read_text())
        machine = payload.get("machine") or {}
        when = f"{payload['at'][:10]} @{machine.get('commit') or '?'}{'+' if machine.get('dirty') else ''}"
        for goal in payload.get("goals", []):
            sign = "≥" if goal["higher_is_better"] else "≤"
            out.append(f"| {name} | {goal['name']} | {_number(goal['value'], goal['unit'])} | "
                       f"{sign} {_number(goal['target'], goal['unit'])} | {'met' if goal['met'] else '**missed**'} "
                       f"({when}) |")
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__)
    parser.add_argument("--scale", choices=("full", "quick", "smoke"), default="full")
    args = parser.parse_args(argv)
    print("| benchmark | measure | value | goal | |")
    print("|---|---|---|---|---|")
    for row in rows(results_dir(), args.scale):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
