"""The ASGI app built from the environment, for ``uvicorn callquality.api.server:app``."""

from callquality.api.app import create_app
from callquality.config import load_settings

app = create_app(load_settings())
