"""Regenerate the results tables in README.md and docs/ from the simulator, in place.

Why: the README's "Results so far" table was typed in once and went stale when cached cost tables
changed the numbers (Planaria 0.907 there, 0.917 after the fix). Every results table is now a
*marked region* with the generator that writes it::

    <!-- table: results-heavy (scripts/update_tables.py) -->
    | scheduler | SLA rate | mJ/inference |
    ...
    <!-- /table: results-heavy -->

A region's name picks its generator in ``GENERATORS``: a function from the jobs count to the
markdown between the markers. Runs are deterministic, so a fresh run reproduces the committed
table to the last digit (``tests/test_tables.py`` checks the README's table in the default
suite; ``--check`` checks them all).

Usage, from the repo root::

    .venv/bin/python scripts/update_tables.py                 # rewrite every marked region
    .venv/bin/python scripts/update_tables.py --check         # exit 1 if any is stale
    .venv/bin/python scripts/update_tables.py --only results-heavy

To add a table: write a generator ``def my_table(jobs: int) -> str`` (markdown, no trailing
newline), register it in ``GENERATORS``, and put the two markers where it goes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FILES = ("README.md", "docs/reproducing.md")
REGION = re.compile(
    r"(?P<head><!-- table: (?P<name>[\w-]+)[^>]*-->\n)(?P<body>.*?)"
    r"(?P<tail><!-- /table: (?P=name) -->)",
    re.S,
)


def _summary(scenario: str, hardware: str, schedulers: Sequence[str], seeds: int, jobs: int) -> Any:
    """Mean and spread per scheduler over seeds 0..seeds-1 (the same runner as relmas compare)."""
    from relmas.evaluation.runner import RunSpec, run_many
    from relmas.evaluation.summary import ranked, summarize

    specs = [RunSpec(scenario, hardware, n, seed) for n in schedulers for seed in range(seeds)]
    return ranked(summarize(run_many(specs, jobs)))


def results_heavy(jobs: int) -> str:
    """README "Results so far": six schedulers on heavy / 2s2e, seeds 0-4."""
    names = ("planaria", "dysta", "sjf", "cd-msa", "edf", "fcfs")
    rows = ["| scheduler | SLA rate | mJ/inference |", "|---|---|---|"]
    for e in _summary("heavy", "2s2e", names, 5, jobs):
        sla, energy = e["sla_rate"], e["energy_per_inference_j"]["mean"] * 1e3
        rows.append(f"| {e['scheduler']} | {sla['mean']:.3f} ± {sla['std']:.3f} | {energy:.2f} |")
    return "\n".join(rows)


SCENARIOS = (
    ("light", "small mobile CNNs at load 0.5"),
    ("medium", "CNNs + BERT at load 0.8"),
    ("heavy", "large CNNs + BERT at load 1.1"),
    ("tight", "medium with halved SLAs, hopeless requests dropped"),
    ("arvr", "periodic frames, deadline = next frame"),
)


def _best_three(summary: list[dict[str, Any]]) -> str:
    """``a 0.961 ± 0.026 (2.21), ...``, or for a scenario every scheduler but one aces, that."""
    perfect = [e for e in summary if e["sla_rate"]["min"] == 1.0]
    if len(perfect) == len(summary) - 1:
        worst = summary[-1]
        return (f"every scheduler but {worst['scheduler']} meets every deadline "
                f"({worst['scheduler']} {worst['sla_rate']['mean']:.3f})")  # fmt: skip
    cells = []
    for e in summary[:3]:
        sla, energy = e["sla_rate"], e["energy_per_inference_j"]["mean"] * 1e3
        cells.append(f"{e['scheduler']} {sla['mean']:.3f} ± {sla['std']:.3f} ({energy:.2f})")
    return ", ".join(cells)


def scenarios_best_three(jobs: int) -> str:
    """docs/reproducing.md step 1: the best three schedulers of 16 on each preset, seeds 0-4."""
    from relmas.schedulers import scheduler_names

    rows = ["| scenario | what it stresses | best three (SLA rate mean ± std, mJ/inference) |",
            "|---|---|---|"]  # fmt: skip
    for scenario, what in SCENARIOS:
        summary = _summary(scenario, "2s2e", scheduler_names(), 5, jobs)
        rows.append(f"| {scenario} | {what} | {_best_three(summary)} |")
    return "\n".join(rows)


GENERATORS: dict[str, Callable[[int], str]] = {
    "results-heavy": results_heavy,
    "scenarios-best-three": scenarios_best_three,
}


def regions(text: str) -> list[str]:
    """Names of the marked regions in ``text``, in order."""
    return [m["name"] for m in REGION.finditer(text)]


def rewrite(text: str, tables: dict[str, str]) -> str:
    """``text`` with each marked region named in ``tables`` replaced by its new body."""

    def replace(m: re.Match[str]) -> str:
        name = m["name"]
        return m.group(0) if name not in tables else f"{m['head']}{tables[name]}\n{m['tail']}"

    return REGION.sub(replace, text)


def update(only: Sequence[str], jobs: int, check: bool, root: Path = ROOT) -> list[str]:
    """Regenerate the regions (all, or ``only``); returns the files that changed (or, with
    ``check``, would change). Unknown region names are an error, not a silent skip."""
    stale = []
    for rel in FILES:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        wanted = [n for n in regions(text) if not only or n in only]
        unknown = [n for n in wanted if n not in GENERATORS]
        if unknown:
            raise SystemExit(f"{rel}: no generator for table {unknown[0]!r}; add it to GENERATORS")
        new = rewrite(text, {n: GENERATORS[n](jobs) for n in wanted})
        if new != text:
            stale.append(rel)
            if not check:
                path.write_text(new, encoding="utf-8")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is stale")
    parser.add_argument("--only", action="append", default=[], choices=sorted(GENERATORS),
                        help="only this table (repeatable)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    args = parser.parse_args(argv)
    from relmas.evaluation.runner import default_jobs

    stale = update(args.only, args.jobs or default_jobs(), args.check)
    verb = "stale" if args.check else "rewritten"
    print(f"{verb}: {', '.join(stale)}" if stale else "every table is up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
