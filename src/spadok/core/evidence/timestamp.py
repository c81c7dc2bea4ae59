"""RFC 3161 time-stamps from a time-stamping authority (TSA), without an ASN.1 library.

Why: a signature says who vouches for a dossier; a TSA's token says that the
signed manifest existed at a time, from a third party. The request is small
enough to write in DER by hand; the reply is kept as it came
(``evidence/manifest-sha512.txt.tsr``) for ``openssl ts -verify`` with the TSA's
certificate. Here we only check what needs no certificates: that the TSA granted
it and that the token is over this manifest's sha256 with our nonce.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.request

SHA256_ALGORITHM = bytes.fromhex("300d06096086480165030402010500")  # AlgorithmIdentifier, NULL


class TimestampError(Exception):
    """The TSA could not be reached, refused, or answered about something else."""


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def _integer(n: int) -> bytes:
    raw = n.to_bytes(n.bit_length() // 8 + 1, "big")  # a leading zero keeps it positive
    return _tlv(0x02, raw)


def request_der(digest: bytes, nonce: int) -> bytes:
    """TimeStampReq { version 1, messageImprint { sha256, digest }, nonce, certReq TRUE }."""
    imprint = _tlv(0x30, SHA256_ALGORITHM + _tlv(0x04, digest))
    return _tlv(0x30, _integer(1) + imprint + _integer(nonce) + _tlv(0x01, b"\xff"))


def _read(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at ``pos``."""
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    return tag, pos, pos + length


def check_reply(reply: bytes, digest: bytes, nonce: int | None) -> None:
    """Granted, and about ``digest`` (and ``nonce``); raise TimestampError otherwise."""
    try:
        tag, start, _end = _read(reply, 0)  # TimeStampResp
        status_tag, s_start, _ = _read(reply, start)  # PKIStatusInfo
        int_tag, i_start, i_end = _read(reply, s_start)  # status
    except IndexError:
        raise TimestampError("the reply is not a time-stamp response") from None
    if (tag, status_tag, int_tag) != (0x30, 0x30, 0x02):
        raise TimestampError("the reply is not a time-stamp response")
    status = int.from_bytes(reply[i_start:i_end], "big")
    if status not in (0, 1):  # granted, grantedWithMods
        raise TimestampError(f"the time-stamping authority refused (status {status})")
    if _tlv(0x04, digest) not in reply:
        raise TimestampError("the time-stamp is not over this manifest")
    if nonce is not None and _integer(nonce) not in reply:
        raise TimestampError("the time-stamp does not answer this request (nonce)")


def timestamp(url: str, data: bytes, *, timeout: float = 30) -> bytes:
    """Ask the TSA at ``url`` to time-stamp ``data``; the DER reply, checked."""
    digest = hashlib.sha256(data).digest()
    nonce = secrets.randbits(63)
    request = urllib.request.Request(
        url,
        data=request_der(digest, nonce),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = response.read()
    except OSError as exc:
        raise TimestampError(f"{url}: {exc}") from None
    check_reply(reply, digest, nonce)
    return reply
