"""The life of an original: purge and ingest when it changes (``changes``), CloudFront invalidation plans
(``invalidation``, pure) and their sending (``cloudfront``), and the backfill, local (``backfill``) and on Step
Functions (``step_functions``). Knows no HTTP.
"""
