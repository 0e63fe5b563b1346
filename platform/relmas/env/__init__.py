"""Gymnasium env of the scheduling problem; importing it registers ``relmas/MultiAccel-v2``.

Imports gymnasium and numpy but never Ray, so the env can be checked and benchmarked without
RLlib; ``relmas`` itself does not import this package.
"""

from gymnasium.envs.registration import register, registry

from relmas.env.multi_accel import ENV_ID, ENV_VERSION, MultiAccelEnv

if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="relmas.env.multi_accel:MultiAccelEnv")

__all__ = ["ENV_ID", "ENV_VERSION", "MultiAccelEnv"]
