"""Public identifiers: sortable by time, safe in URLs and file names.

A ULID-style id (48-bit milliseconds + 80 random bits, Crockford base32) so
that records made on different machines never collide and sort by creation.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}-{''.join(reversed(chars))}"
