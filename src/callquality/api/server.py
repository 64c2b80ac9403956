"""The ASGI app built from the environment, for ``uvicorn callquality.api.server:app``."""

from callquality.api.app import create_app
from callquality.config import load_settings
from callquality.logs import configure_logging

settings = load_settings()
configure_logging(settings.log_level)
app = create_app(settings)
