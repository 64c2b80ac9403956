"""The application layer: ingest, import, retention, ending sessions, the demo.

It calls ``ingest``, ``scoring``, ``query`` and ``store``, and knows no HTTP.
"""
