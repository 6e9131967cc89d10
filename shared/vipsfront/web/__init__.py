"""The FastAPI app the Lambda, the tests and ``vipsfront serve`` all run (``app``), and the demo page."""
