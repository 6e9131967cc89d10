"""Settings: every ``VIPSFRONT_*`` variable declared once (``table``), parsed (``kinds``), read and written
(``settings``) and documented (``reference``); and the cost model (``cost``). Pure: the CDK imports it at synth.
"""
