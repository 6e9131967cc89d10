"""Where originals and variants live: the ``ImageStore`` protocol and its values (``base``), and S3 (``s3``),
whose answers become the domain's errors, every call bounded by the request's deadline.
"""
