"""The domain: plain data and the exceptions every layer shares; no I/O, no HTTP."""
