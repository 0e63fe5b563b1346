"""One local Ray instance for the RLlib smoke tests (start-up costs ~5 s).

Module-scoped rather than session-scoped on purpose: other test directories start their own Ray
(e.g. ``tests/test_layout.py`` with a ``working_dir`` runtime env), and a session-long instance
would make their ``ray.init`` fail with "called ray.init twice". Only ``test_rl_smoke.py`` uses
it, so Ray still starts once for the RL tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """``address="local"``: never attach to a running or stale cluster."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()
