"""Fault injection for reliability tests: an env wrapper that makes EnvRunners crash on purpose.

Why: RLlib restarts failed EnvRunners (``config.fault_tolerance(...)``), but whether a long
training survives a runner dying halfway is only known once one actually dies. This wrapper
crashes ``env.step`` with a given probability, either by raising (RLlib's error path) or by
``os._exit`` (the actor process really disappears, as after an OOM kill or a lost node).

It is off by default: only an env config with ``fault_injection: {crash_probability: p > 0}``
wraps the env (:func:`env_class`). Crashes happen in remote EnvRunners only
(``worker_index >= 1``): the local runner lives in the driver, and killing it would end the
training instead of testing recovery. Each crash can append one JSON line to ``crash_log`` (so
tests count crashes across processes) and ``max_crashes`` caps the total over all runners.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from relmas.env.multi_accel import MultiAccelEnv
from relmas.errors import UserError

try:  # advisory lock so concurrent runners respect max_crashes (POSIX only)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FAULT_KEY = "fault_injection"
MODES = ("raise", "exit")
EXIT_CODE = 75  # what an "exit" crash returns (EX_TEMPFAIL: transient, worth a restart)
_HINT = "e.g. fault_injection: {crash_probability: 0.01, mode: raise}"


class InjectedFaultError(RuntimeError):
    """The error a ``mode: raise`` crash raises from ``env.step``."""


@dataclass(frozen=True)
class FaultSpec:
    """Validated ``fault_injection`` settings."""

    crash_probability: float
    mode: str = "raise"
    crash_log: str = ""
    max_crashes: int = 0  # 0 = no cap


def _probability(value: Any) -> float:
    """``crash_probability`` as a float in [0, 1], or a one-line error naming the field."""
    field = f"{FAULT_KEY}.crash_probability"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UserError(field, f"must be a number in [0, 1], got {value!r}", _HINT)
    try:
        p = float(value)
    except ValueError:
        raise UserError(field, f"must be a number in [0, 1], got {value!r}", _HINT) from None
    if not math.isfinite(p) or not 0.0 <= p <= 1.0:
        raise UserError(field, f"must be in [0, 1], got {value!r}", _HINT)
    return p


def _max_crashes(raw: Mapping[str, Any]) -> int:
    value = raw.get("max_crashes", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(f"{FAULT_KEY}.max_crashes", f"must be an integer >= 0, got {value!r}")
    if value and not raw.get("crash_log"):
        raise UserError(
            f"{FAULT_KEY}.max_crashes", "needs crash_log", "the count is kept in that file"
        )
    return value


def parse_fault_spec(config: Mapping[str, Any]) -> FaultSpec | None:
    """The env config's fault injection, ``None`` if absent or ``crash_probability`` is 0."""
    raw = config.get(FAULT_KEY)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise UserError(FAULT_KEY, f"must be a mapping, got {raw!r}", _HINT)
    unknown = sorted(set(raw) - {f.name for f in fields(FaultSpec)})
    if unknown:
        raise UserError(f"{FAULT_KEY}.{unknown[0]}", "unknown key", _HINT)
    p = _probability(raw.get("crash_probability", 0.0))
    mode = raw.get("mode", "raise")
    if mode not in MODES:
        raise UserError(f"{FAULT_KEY}.mode", f"unknown mode {mode!r}", "use raise or exit")
    limit = _max_crashes(raw)
    return FaultSpec(p, str(mode), str(raw.get("crash_log") or ""), limit) if p > 0 else None


def env_class(config: Mapping[str, Any]) -> type[gym.Env[Any, Any]]:
    """The env class for ``config``: plain, or wrapped when fault injection is on.

    Validates the spec here too, so a bad probability fails in the driver before Ray starts
    EnvRunners (which would only log the error and be restarted over and over).
    """
    return MultiAccelEnv if parse_fault_spec(config) is None else FaultInjectingEnv


def _record_crash(spec: FaultSpec, worker_index: int) -> bool:
    """Append one line to ``crash_log`` unless ``max_crashes`` is reached; False = no crash."""
    if not spec.crash_log:
        return True
    path = Path(spec.crash_log)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)  # released on close
        fh.seek(0)
        if spec.max_crashes and sum(1 for _ in fh) >= spec.max_crashes:
            return False
        line = {"pid": os.getpid(), "worker_index": worker_index, "mode": spec.mode}
        fh.write(json.dumps({**line, "time": time.time()}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())  # the line must survive the os._exit that follows
    return True


class FaultInjectingEnv(gym.Wrapper[Any, Any, Any, Any]):
    """``MultiAccelEnv`` whose ``step`` crashes with probability ``crash_probability``.

    The crash draw uses its own generator with fresh OS entropy: a restarted runner or a
    re-created env must not replay the exact crash that ended its predecessor (a seeded draw
    would crash at the same step forever), and the draw must not disturb the env's own seeded
    ``np_random``, so training stays what it would be without the wrapper until a crash.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        config = config if config is not None else {}
        super().__init__(MultiAccelEnv(config))
        self.fault_spec = parse_fault_spec(config)
        self.worker_index = int(getattr(config, "worker_index", 0))
        self._crash_rng = np.random.default_rng()
        self.armed = self.fault_spec is not None and self.worker_index >= 1

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Maybe crash (remote runners only), else step the wrapped env."""
        spec = self.fault_spec
        if self.armed and spec is not None and self._crash_rng.random() < spec.crash_probability:
            self._crash(spec)
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, float(reward), terminated, truncated, info

    def _crash(self, spec: FaultSpec) -> None:
        if not _record_crash(spec, self.worker_index):
            self.armed = False  # the budget is spent: behave like the plain env from now on
            return
        if spec.mode == "exit":
            os._exit(EXIT_CODE)  # no cleanup on purpose: the process just disappears
        raise InjectedFaultError(
            f"injected fault in EnvRunner {self.worker_index} (pid {os.getpid()})"
        )
