"""``python -m relmas``: the same entry point as the ``relmas`` script (no venv PATH needed)."""

import sys

from relmas.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
