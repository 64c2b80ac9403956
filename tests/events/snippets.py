"""The verification snippets of docs/webhooks.md, run as printed there."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def snippet(marker: str) -> str:
    """The code block that follows ``<!-- marker -->`` in docs/webhooks.md."""
    text = DOC.read_text()
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)```", text, re.S)
    assert found, f"docs/webhooks.md has no {marker} block"
    return found.group(1)


def python_verify(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    namespace: dict[str, Any] = {}
    exec(snippet("verify-python"), namespace)  # noqa: S102 (the documented snippet itself)
    return bool(namespace["verify"](secret, header, body, now))


def node_verify(cases: list[tuple[str, str, bytes, float | None]]) -> list[bool]:
    """Run the Node snippet on each (secret, header, body, now) in one node process."""
    program = snippet("verify-node") + """
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map(([s, h, b, now]) =>
  now === null ? verify(s, h, Buffer.from(b, "base64"))
               : verify(s, h, Buffer.from(b, "base64"), now))));
"""
    import base64

    payload = json.dumps([[s, h, base64.b64encode(b).decode(), n] for s, h, b, n in cases])
    out = subprocess.run(["node", "-e", program], input=payload, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return [bool(v) for v in json.loads(out)]
