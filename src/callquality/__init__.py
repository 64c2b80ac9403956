"""callquality: WebRTC call-quality statistics."""

__version__ = "0.1.0"
