"""The custody log's hash chain: canonical JSON, one sha256 per entry, linked to the last.

Why a chain: every entry carries the hash of the entry before it in its chain,
so an entry removed, moved or changed breaks the links after it. A chain is
kept per subject (a capture, a record, a site; see docs/adr/0008-custody-log.md),
so that a dossier can carry the complete chains of what it documents and a
reader can check them with nothing but this file's rules:

* an entry is a JSON object with ``chain``, ``seq`` (1, 2, 3...), ``at`` (UTC,
  ISO 8601), ``action``, ``actor``, ``subject``, ``data`` and ``prev``;
* its ``hash`` is the sha256 (hex) of its canonical JSON without ``hash``:
  keys sorted, no whitespace, UTF-8 (RFC 8785 for the value types allowed here:
  strings, whole numbers, booleans, null, lists and objects; no floats);
* ``prev`` is the ``hash`` of the entry with ``seq - 1``, or 64 zeros for seq 1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
FIELDS = ("chain", "seq", "at", "action", "actor", "subject", "data", "prev")


def _check_value(value: Any, where: str) -> None:
    """Only types whose canonical form every language writes the same way."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return
    if isinstance(value, float):
        raise TypeError(f"{where}: floats are not allowed in custody entries ({value!r})")
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings ({key!r})")
            _check_value(item, f"{where}.{key}")
        return
    raise TypeError(f"{where}: {type(value).__name__} is not allowed in custody entries")


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The one byte form that is hashed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def entry_hash(entry: Mapping[str, Any]) -> str:
    """sha256 of the entry's canonical JSON, its own ``hash`` left out."""
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def make_entry(
    *,
    chain: str,
    seq: int,
    prev: str,
    at: str,
    action: str,
    actor: Mapping[str, Any] | None,
    subject: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A new entry with its hash; raises TypeError on a value the format does not allow."""
    if seq < 1:
        raise ValueError("seq starts at 1")
    entry: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "at": at,
        "action": action,
        "actor": dict(actor) if actor else None,
        "subject": dict(subject),
        "data": dict(data or {}),
        "prev": prev,
    }
    _check_value(entry, "entry")
    entry["hash"] = entry_hash(entry)
    return entry


# -- checking ------------------------------------------------------------------------


@dataclass
class Finding:
    """One thing wrong, with a stable code (see :data:`spadok.core.evidence.verify.CODES`)."""

    code: str
    message: str
    path: str | None = None
    chain: str | None = None
    seq: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("path", "chain", "seq"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out.update(self.extra)
        return out


def _ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9"."""
    parts: list[str] = []
    start = prev = None
    for n in [*sorted(numbers), None]:
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)


def check_chains(
    entries: Iterable[tuple[int, Mapping[str, Any]]],
    heads: Mapping[str, Mapping[str, Any]] | None,
    *,
    path: str = "",
) -> list[Finding]:
    """Check entries (``(line number, entry)`` in file order) against the rules and heads.

    Each problem is named by chain and sequence number: an entry whose content
    no longer matches its hash (``custody.altered``), a gap (``custody.missing``),
    entries out of order (``custody.reordered``), a sequence number twice
    (``custody.duplicate``), a link to a different predecessor
    (``custody.broken_link``), entries missing at the end, as the signed heads
    show (``custody.truncated``).
    """
    found: list[Finding] = []
    by_chain: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for line, entry in entries:
        chain = entry.get("chain")
        seq = entry.get("seq")
        if not isinstance(chain, str) or not isinstance(seq, int) or isinstance(seq, bool):
            found.append(
                Finding("custody.unreadable", f"line {line} has no chain or sequence number", path)
            )
            continue
        by_chain.setdefault(chain, []).append((line, entry))

    for chain, items in sorted(by_chain.items()):
        # order in the file
        last_seq = 0
        for line, entry in items:
            seq = int(entry["seq"])
            if seq < last_seq:
                found.append(
                    Finding(
                        "custody.reordered",
                        f"entry {seq} of {chain} comes after entry {last_seq} (line {line})",
                        path,
                        chain,
                        seq,
                    )
                )
            last_seq = max(last_seq, seq)
        # content, numbering and links, in sequence order
        by_seq: dict[int, Mapping[str, Any]] = {}
        for _line, entry in items:
            seq = int(entry["seq"])
            if seq in by_seq:
                found.append(
                    Finding(
                        "custody.duplicate",
                        f"entry {seq} of {chain} appears twice",
                        path,
                        chain,
                        seq,
                    )
                )
                continue
            by_seq[seq] = entry
            if entry_hash(entry) != entry.get("hash"):
                found.append(
                    Finding(
                        "custody.altered",
                        f"entry {seq} of {chain} does not match its hash: it was changed",
                        path,
                        chain,
                        seq,
                    )
                )
        seqs = sorted(by_seq)
        top = seqs[-1] if seqs else 0
        head = (heads or {}).get(chain)
        head_seq = int(head["seq"]) if head and isinstance(head.get("seq"), int) else None
        expected_top = max(top, head_seq or 0)
        missing = [n for n in range(1, top) if n not in by_seq]
        if missing:
            found.append(
                Finding(
                    "custody.missing",
                    f"entries {_ranges(missing)} of {chain} are missing",
                    path,
                    chain,
                    missing[0],
                    {"missing": missing},
                )
            )
        for seq in seqs:
            entry = by_seq[seq]
            want = (
                GENESIS
                if seq == 1
                else (by_seq[seq - 1].get("hash") if seq - 1 in by_seq else None)
            )
            if want is not None and entry.get("prev") != want:
                found.append(
                    Finding(
                        "custody.broken_link",
                        f"entry {seq} of {chain} does not follow entry {seq - 1}: "
                        "an entry before it was replaced or altered",
                        path,
                        chain,
                        seq,
                    )
                )
        if heads is not None:
            if head is None:
                found.append(
                    Finding(
                        "custody.unexpected_chain",
                        f"the log holds chain {chain}, which the signed heads do not name",
                        path,
                        chain,
                    )
                )
            elif head_seq is not None and top < head_seq:
                lost = list(range(top + 1, expected_top + 1))
                found.append(
                    Finding(
                        "custody.truncated",
                        f"entries {_ranges(lost)} of {chain} are missing at the end "
                        f"(the signed head is entry {head_seq})",
                        path,
                        chain,
                        top + 1,
                        {"missing": lost},
                    )
                )
            elif head_seq is not None and by_seq.get(head_seq, {}).get("hash") != head.get("hash"):
                found.append(
                    Finding(
                        "custody.altered",
                        f"entry {head_seq} of {chain} differs from the signed head",
                        path,
                        chain,
                        head_seq,
                    )
                )
            elif head_seq is not None and top > head_seq:
                found.append(
                    Finding(
                        "custody.unexpected_entry",
                        f"entries after {head_seq} of {chain} were added after signing",
                        path,
                        chain,
                        head_seq + 1,
                    )
                )
    for chain in sorted(set(heads or {}) - set(by_chain)):
        found.append(
            Finding(
                "custody.truncated",
                f"every entry of chain {chain} is missing (the signed heads name it)",
                path,
                chain,
                1,
            )
        )
    return found
