"""Session ids are per tenant: two API keys may each have a session called ``X``.

Session ids are one key space in the store. A session whose id its client chose is stored
under that id if no other tenant has it, else under the tenant's *scoped* id, ``X~<tag>``
(the tag is derived from the API key; ``~`` cannot occur in a client's id). Either way the
tenant knows it as ``X``: lookups try the id, then the scoped id, each within the tenant,
and answers show the public id. So a tenant can neither find out that another has ``X``
(its ``X`` is created as if new) nor take ``X`` from it (the other's ``X`` is its own).
Server-made ids are random (store/writes.py) and never scoped.
"""

from __future__ import annotations

import hashlib

SCOPE_SEPARATOR = "~"
_TAG_BYTES = 7  # 14 hex digits: with a 48-character client id, 63 of the column's 64


def scoped_session_id(api_key: str, session_id: str) -> str:
    """The id ``session_id`` is stored under for ``api_key`` when another tenant has it."""
    tag = hashlib.blake2b(api_key.encode(), digest_size=_TAG_BYTES).hexdigest()
    return f"{session_id}{SCOPE_SEPARATOR}{tag}"


def candidate_ids(api_key: str, session_id: str) -> tuple[str, str]:
    """The stored ids a tenant's ``session_id`` may have, in the order they are tried."""
    return session_id, scoped_session_id(api_key, session_id)


def public_session_id(stored_id: str) -> str:
    """The id a tenant knows a stored session by."""
    return stored_id.split(SCOPE_SEPARATOR, 1)[0]
