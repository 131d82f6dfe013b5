"""`make bench`: run every bench_*.py and write the table into docs/performance.md."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import sys
from pathlib import Path

import bench
from bench.harness import Result, machine, peak_rss_mib

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _table(results: list[Result]) -> str:
    rows = [
        "| benchmark | measure | value | baseline (same run) | ratio | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        base = f"{r.baseline:,.1f} {r.unit}" if r.baseline is not None else "—"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "—"
        rows.append(
            f"| {r.benchmark} | {r.measure} | {r.value:,.1f} {r.unit} | {base} | {ratio} "
            f"| {r.target} |"
        )
    return "\n".join(rows)


def main() -> None:
    only = sys.argv[1:]
    results: list[Result] = []
    for info in pkgutil.iter_modules(bench.__path__):
        if not info.name.startswith("bench_") or (only and info.name not in only):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        print(f"running {info.name} ...", flush=True)
        results.extend(module.run())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"{START}\nLast run: {stamp} on {machine()}; peak RSS of the run "
        f"{peak_rss_mib():,.0f} MiB.\n\n{_table(results)}\n{END}"
    )
    print(block)
    text = DOC.read_text(encoding="utf-8")
    if START in text and END in text and not only:
        head, rest = text.split(START, 1)
        DOC.write_text(head + block + rest.split(END, 1)[1], encoding="utf-8")
        print(f"updated {DOC}")


if __name__ == "__main__":
    main()
