"""OCFL storage layout extension 0004-hashed-n-tuple-storage-layout (sha256, 3 × 3).

Object ``id`` lives at ``abc/def/012/<sha256(id)>``: evenly spread folders, no
characters of the id in a path (ids may hold anything), and the same path on
every backend. The layout is fixed per storage root and recorded in it, so a
successor needs only the extension's text to find an object.
"""

from __future__ import annotations

import hashlib
import re

NAME = "0004-hashed-n-tuple-storage-layout"
DESCRIPTION = "Hashed N-tuple Storage Layout (OCFL community extension 0004)"
DIGEST = "sha256"
TUPLE_SIZE = 3
NUMBER_OF_TUPLES = 3

CONFIG = {
    "extensionName": NAME,
    "digestAlgorithm": DIGEST,
    "tupleSize": TUPLE_SIZE,
    "numberOfTuples": NUMBER_OF_TUPLES,
    "shortObjectRoot": False,
}
LAYOUT_FILE = {"extension": NAME, "description": DESCRIPTION}
CONFIG_KEY = f"extensions/{NAME}/config.json"

_ROOT_RE = re.compile(
    r"^" + "/".join([f"[0-9a-f]{{{TUPLE_SIZE}}}"] * NUMBER_OF_TUPLES) + r"/[0-9a-f]{64}$"
)


def object_root(object_id: str) -> str:
    """The storage key prefix (folder) of an object."""
    if not object_id:
        raise ValueError("empty object id")
    digest = hashlib.new(DIGEST, object_id.encode("utf-8")).hexdigest()
    parts = [digest[i * TUPLE_SIZE : (i + 1) * TUPLE_SIZE] for i in range(NUMBER_OF_TUPLES)]
    return "/".join([*parts, digest])


def object_root_of_key(key: str) -> str | None:
    """The object folder that ``key`` lies in, or None for storage-root files."""
    parts = key.split("/")
    if len(parts) <= NUMBER_OF_TUPLES + 1:
        return None
    candidate = "/".join(parts[: NUMBER_OF_TUPLES + 1])
    return candidate if _ROOT_RE.match(candidate) else None
