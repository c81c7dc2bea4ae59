"""Public identifiers: sortable by time, safe in URLs and file names.

A ULID-style id (48-bit milliseconds + 80 random bits, Crockford base32) so
that records made on different machines never collide and sort by creation.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    return _encode(prefix, (int(time.time() * 1000) << 80) | secrets.randbits(80))


def derived_id(prefix: str, *, when: datetime, key: str) -> str:
    """An id of the same shape, the same every time for one (``when``, ``key``).

    For work that may be redone after a crash (filing an upload): the retry
    makes the same id, so it finds what the first try wrote instead of writing
    it again under a new one. ``key`` must itself be unguessable (an upload's
    uuid4); only a one-way digest of it is in the id.
    """
    entropy = int.from_bytes(hashlib.sha256(f"spadok-id:{key}".encode()).digest()[:10])
    return _encode(prefix, (int(when.timestamp() * 1000) << 80) | entropy)


def _encode(prefix: str, value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}-{''.join(reversed(chars))}"
