"""``relmas train`` with an imitation section: DAgger rounds behind one progress bar.

The bar counts labelled episodes over all rounds and shows the labelling rate (states per
second: the teacher's lookahead is what costs) and the last round's validation SLA against the
teacher's base heuristic, so a long imitation is never silent; each round's result is also a
line of its own.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from relmas.cli.console import PREFIX, console
from relmas.rl.recipe import Recipe


def imitate_with_progress(recipe: Recipe, out: Path) -> Path:
    """Run every DAgger round; returns the best round's policy directory."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    from relmas.cli.progress import progress
    from relmas.rl.dagger import imitation_of
    from relmas.rl.imitation_run import train_imitation

    imitation = imitation_of(recipe)
    columns = (TextColumn("[bold]imitate"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[status]}"))  # fmt: skip
    total = imitation.rounds * imitation.episodes
    start, states = time.perf_counter(), [0]
    with progress(columns, console()) as bar:  # the terminal, not the diverted stdout
        task = bar.add_task("imitate", total=total, status="labelling")
        last = {"round": ""}

        def episode(counts: dict[str, Any]) -> None:
            states[0] += int(counts.get("states", 0))
            rate = states[0] / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=1, status=f"{rate:,.0f} states labelled/s {last['round']}")

        def finished(stats: Any) -> None:
            text = (
                f"round {stats.round}: validation SLA {stats.validation_sla:.3f} "
                f"(base {stats.base_sla:.3f}), informative acc. {stats.informative_accuracy:.2f}"
            )
            last["round"] = f"| {text}"
            # Its own line too: the bar shows it only with the next episode, and after the
            # last round (minutes of fitting and validation later) there is none.
            print(f"{PREFIX} imitation: {text}", file=sys.stderr)

        best, _ = train_imitation(recipe, out.resolve(), episode, finished)
    rounds = out / "imitation" / "rounds.jsonl"
    print(f"{PREFIX} imitation: best round {best.name} ({rounds})", file=sys.stderr)
    return best
