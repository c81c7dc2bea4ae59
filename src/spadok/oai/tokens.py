"""Stateless resumption tokens: the list's arguments and position, signed, with an expiry.

Nothing is stored on the server: a token carries the verb's arguments, the
last id sent, how many were sent (the cursor), the list's size, and the time
the harvest began (so that items changed mid-harvest wait for the next one
instead of shifting the pages). Django's signing makes a forged or edited
token fail, and its timestamp makes an old one expire.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core import signing

SALT = "spadok.oai.resumption"


@dataclass(frozen=True)
class ListState:
    verb: str
    prefix: str
    set: str | None
    from_: str | None  # as the harvester gave it
    until: str | None
    frozen: str  # ISO datetime: items changed after this are not in this list
    last_id: str
    cursor: int
    size: int


class BadToken(Exception):
    pass


def lifetime() -> dt.timedelta:
    return dt.timedelta(hours=int(getattr(settings, "SPADOK_OAI_TOKEN_HOURS", 24)))


def encode(state: ListState) -> str:
    return signing.dumps(asdict(state), salt=SALT, compress=True)


def decode(token: str, verb: str) -> ListState:
    try:
        data = signing.loads(token, salt=SALT, max_age=lifetime())
        state = ListState(**data)
    except (signing.BadSignature, TypeError, ValueError):
        raise BadToken from None
    if state.verb != verb:
        raise BadToken
    return state
