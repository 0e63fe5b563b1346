"""Gymnasium env of the scheduling problem; importing it registers ``relmas/MultiAccel-v2``.

Imports gymnasium and numpy but never Ray, so the env can be checked and benchmarked without
RLlib; ``relmas`` itself does not import this package. Without gymnasium (a core install, no
``rl`` extra) the package still imports, so its pure parts (``layout``, ``config``) serve the
CLI and exported numpy policies; the env itself then raises gymnasium's ModuleNotFoundError
when first named (``relmas.cli.main`` turns that into which extra to install).
"""

import importlib.util
from typing import Any

__all__ = ["ENV_ID", "ENV_VERSION", "MultiAccelEnv"]

try:
    from gymnasium.envs.registration import register, registry
except ModuleNotFoundError:  # tolerated only when gymnasium is not installed at all
    if importlib.util.find_spec("gymnasium") is not None:
        raise
else:
    from relmas.env.multi_accel import ENV_ID, ENV_VERSION, MultiAccelEnv

    if ENV_ID not in registry:
        register(id=ENV_ID, entry_point="relmas.env.multi_accel:MultiAccelEnv")


def __getattr__(name: str) -> Any:
    """Without gymnasium: the env's names import ``multi_accel``, which names what is missing."""
    if name in __all__:
        from relmas.env import multi_accel

        return getattr(multi_accel, name)
    raise AttributeError(f"module 'relmas.env' has no attribute {name!r}")
