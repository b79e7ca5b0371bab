"""Serving a registered model over HTTP (``headrace serve MODEL@ALIAS``), the inference
log it writes, and ready steps of a monitoring pipeline.

Needs the ``serve`` extra (FastAPI and uvicorn); ``headrace.serving.app`` imports them
only when an application is created.
"""
