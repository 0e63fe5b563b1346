"""How many of the teacher's departures can a classifier flag, at what share of all decisions?

Why (used by ``deviation_probe.py --gate``): if the student cannot *imitate* the departures
because the observation aliases them, a cheaper question is whether it can at least *find*
them: a gate that flags a few percent of the decisions with most departures among them would let
a scheduler run the costly lookahead only there. The gate is an MLP on the same observation,
trained with a class weight on the departures; its recall is read off at fixed flag rates on
held-out labelled episodes, with the plain states the labelling subsampled weighted back up
(``1 / keep_plain``), so a flag rate is a share of *all* decisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FLAG_RATES = (0.01, 0.02, 0.05, 0.1, 0.2)


def _state_weight(data: dict[str, np.ndarray], keep_plain: float) -> np.ndarray:
    """Each kept state's share of the real decisions (plain states were kept w.p. keep_plain)."""
    kept_all = data["informative"] | data["deviates"]
    return np.where(kept_all, 1.0, 1.0 / keep_plain).astype(np.float32)


def gate_recall(
    train: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    keep_plain: float,
    *,
    epochs: int = 15,
    departure_weight: float = 20.0,
    rates: Sequence[float] = FLAG_RATES,
    seed: int = 0,
) -> dict[str, float]:
    """Recall of the departures on ``test`` when the gate flags each share in ``rates``."""
    import torch

    torch.manual_seed(seed)
    x, y = torch.from_numpy(train["obs"]), torch.from_numpy(train["deviates"]).float()
    w = torch.from_numpy(_state_weight(train, keep_plain)) * (1 + (departure_weight - 1) * y)
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 64), torch.nn.Tanh(),
        torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 512):
            b = perm[i : i + 512]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(x[b]).squeeze(1), y[b], weight=w[b]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        score = net(torch.from_numpy(test["obs"])).squeeze(1).numpy()
    order = np.argsort(-score, kind="stable")
    share = np.cumsum(_state_weight(test, keep_plain)[order])
    share /= share[-1]
    found = np.cumsum(test["deviates"][order]) / max(int(test["deviates"].sum()), 1)
    return {f"{r:g}": float(found[min(np.searchsorted(share, r), len(found) - 1)]) for r in rates}
