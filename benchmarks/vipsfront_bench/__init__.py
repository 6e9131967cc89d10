"""``vipsfront bench``: the origin against moto, side by side with the bare engine and its peers.

Modules: ``corpus`` (which files play which role), ``scenarios`` (the operations), ``services`` (moto,
the origin, thumbor as processes; RSS sampling), ``load`` (the HTTP client loops), ``peers`` (bare
pyvips, the engine, Pillow, Pillow-SIMD, sharp, thumbor), ``worker`` (one engine in its own process),
``quality`` (SSIM, bytes at matched quality), ``stats``, ``report`` (JSON, Markdown, PNG) and
``runner`` (the command). Nothing here asserts a time.
"""
