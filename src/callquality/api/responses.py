"""Response classes shared by the routes and the error handlers."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """JSON rendered with orjson (fast on large time series)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
