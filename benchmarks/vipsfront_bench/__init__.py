"""vipsfront's benchmarks: ``python -m vipsfront_bench SUBCOMMAND`` or ``vipsfront bench SUBCOMMAND``.

Layers, top to bottom (an import-linter contract in ``pyproject.toml``): ``cli`` (the entry point) →
one module per subcommand (``deployed``, ``engines``, ``stages``, ``origins``, ``backfill``,
``soak``) → the processes they drive (``services``, ``peers``) → what they measure with (``scenarios``,
``corpus``, ``load``, ``score``, ``report``, ``images``, and the child scripts ``instance`` and
``worker``) → ``stats``. Nothing here asserts a time.
"""
