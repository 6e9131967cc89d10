"""The image engine: bytes and a ``Spec`` in, the encoded variant out (pyvips and the standard library only).

One module per stage: ``loaders`` (which libvips loader, its options, shrink-on-load), ``probe`` (the
header, checked against ``limits``), ``plan`` (every size, pure), ``steps`` (the pyvips operations that
carry out a plan), ``encode`` (the table of output formats), ``run`` (``transform``: the stages in order,
the deadline). Nothing is imported here: the CDK reads ``engine.limits`` without libvips.
"""
