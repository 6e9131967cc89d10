"""The ``vipsfront`` command and the local shell around the app: ``serve`` (uvicorn and the embedded S3),
the lifecycle commands that find a running ``serve``, signing and URL building, and the hand-over to the
benchmarks. The top layer: it may import every other subpackage, none imports it.
"""
