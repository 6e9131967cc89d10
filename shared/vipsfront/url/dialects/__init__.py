"""Dialects: the URLs other image services made, read into our canonical parameters.

Each module holds one pure parser, ``translate(path, query, options, now=...) -> Translation``: the
original's key and the native parameters the URL means (``w``, ``h``, ``fit``...; ``vipsfront.url.grammar``
builds them into the spec), or an ``InvalidSpecError`` naming the parameter, edit or filter and the dialect.
``vipsfront.url.dialects.choice`` chooses a dialect by path prefix (``VIPSFRONT_DIALECTS``); nothing after
the translation changes, so a dialect URL and its native twin share one stored variant.
"""
