"""The ``relmas`` command line. Heavy imports (Ray, torch, matplotlib) live inside commands."""
