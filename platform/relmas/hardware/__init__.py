"""Hardware: layer shapes, accelerator specs and the analytical per-layer cost model.

Everything in this package is pure (no file I/O) so the simulator can call it millions of times and
tests can build specs inline. Files are read by ``relmas.loaders``.
"""
