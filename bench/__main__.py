"""``python -m bench [NAME ...] [--scale full|quick|smoke]``: run benchmarks, print their tables, write JSON.

``make bench`` runs them all at full scale, ``make bench-quick`` at quick scale (a few minutes in all,
about two of them ``pace``'s drains at the ministry's 20 requests/s), and ``make test`` runs the smoke
scale (tiny N) to prove the harness itself works.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from types import ModuleType

import typer

from bench.harness import SCALES, Scale, console

BENCHMARKS = ("intake", "delivery", "claim", "reconcile", "memory", "backfill", "pace")
"""In the order they run; each is ``bench/<name>.py`` with ``NAME``, ``TITLE`` and ``run(scale)``."""

cli = typer.Typer(add_completion=False, help=__doc__)


def load(name: str) -> ModuleType:
    """The benchmark module ``name``."""
    if name not in BENCHMARKS:
        raise typer.BadParameter(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return importlib.import_module(f"bench.{name}")


@cli.command()
def main(
    names: list[str] = typer.Argument(None, help=f"Benchmarks to run (default all): {', '.join(BENCHMARKS)}."),
    scale: str = typer.Option("full", help=f"One of {', '.join(SCALES)}."),
    keep_going: bool = typer.Option(True, help="Run the rest when one fails (exit status 1 at the end)."),
) -> None:
    """Run the benchmarks."""
    if scale not in SCALES:
        raise typer.BadParameter(f"scale must be one of {', '.join(SCALES)}")
    chosen = names or list(BENCHMARKS)
    modules = [load(name) for name in chosen]
    failed: list[str] = []
    started = time.monotonic()
    for module in modules:
        console.rule(f"{module.NAME}: {module.TITLE}")
        t0 = time.monotonic()
        try:
            report = module.run(_scale(scale))
        except Exception:  # report it, go on with the next benchmark
            failed.append(module.NAME)
            console.print(f"[red]{module.NAME} failed[/red]\n{traceback.format_exc()}")
            if not keep_going:
                break
            continue
        report.print()
        path = report.write()
        console.print(f"  written to {path}  ({time.monotonic() - t0:.0f} s)")
    console.rule(f"{len(modules) - len(failed)} of {len(modules)} benchmarks ran in {time.monotonic() - started:.0f} s")
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/red]")
        raise typer.Exit(1)


def _scale(value: str) -> Scale:
    for known in SCALES:
        if value == known:
            return known
    raise typer.BadParameter(value)


if __name__ == "__main__":
    sys.exit(cli())
