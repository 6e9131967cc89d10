"""One request's work, without HTTP: the stored variant, or original → engine → stored variant
(``serving``), and how many transforms run at once (``gate``).
"""
