"""The URL grammar and routing, pure: the ``Spec`` and its canonical form, parameters, keys, signing, the
unsigned policy, the Python twin of the CloudFront Function (``route``), the URL builders and the dialects.
"""
