"""Ray Tune sweeps over hardware compositions, schedulers and reward shaping (``relmas tune``).

The only package that imports ``ray.tune``; nothing here is imported by ``import relmas``.
``config`` (the sweep-file schema) and ``pareto`` do not import Ray at all.
"""
