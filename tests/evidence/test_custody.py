"""The custody log in the database: a chain per subject, append-only, never forked.

Marked ``db_both``: also on PostgreSQL (``scripts/with-postgres pytest -m db_both``).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from spadok.core.evidence import GENESIS, check_chains, entry_hash

pytestmark = [pytest.mark.db_both, pytest.mark.django_db(transaction=True)]


def _entries(chain: str) -> list[dict[str, Any]]:
    from spadok.evidence.models import CustodyEntry

    return [row.entry() for row in CustodyEntry.objects.filter(chain=chain).order_by("seq")]


def test_appends_make_a_chain_per_subject() -> None:
    from spadok.evidence.models import CustodyHead
    from spadok.evidence.services import custody_append

    custody_append(record="r-one", action="export.bagit", data={"bag": "x", "size": 1.5})
    custody_append(record="r-one", action="export.dossier")
    custody_append(capture="c-one", record="r-one", action="access.sealed")
    custody_append(record="r-one", action="export.dossier")
    chain = _entries("r-one")
    assert [e["seq"] for e in chain] == [1, 2, 3]
    assert chain[0]["prev"] == GENESIS
    assert [e["prev"] for e in chain[1:]] == [e["hash"] for e in chain[:-1]]
    assert all(e["hash"] == entry_hash(e) for e in chain)
    assert chain[0]["data"] == {"bag": "x", "size": "1.5"}  # no floats in the canonical form
    assert chain[0]["actor"]["kind"] == "system"
    (sealed,) = _entries("c-one")
    assert sealed["subject"] == {"capture": "c-one", "record": "r-one"} and sealed["seq"] == 1
    head = CustodyHead.objects.get(chain="r-one")
    assert (head.seq, head.hash) == (3, chain[-1]["hash"])
    assert check_chains(list(enumerate(chain, 1)), {"r-one": {"seq": 3, "hash": head.hash}}) == []


def test_entries_cannot_be_changed_or_deleted() -> None:
    from spadok.evidence.models import AppendOnly, CustodyEntry
    from spadok.evidence.services import custody_append

    row = custody_append(record="r-two", action="export.dossier")
    with pytest.raises(AppendOnly):
        CustodyEntry.objects.filter(pk=row.pk).update(action="nothing")
    with pytest.raises(AppendOnly):
        CustodyEntry.objects.filter(pk=row.pk).delete()
    with pytest.raises(AppendOnly):
        row.delete()
    row.action = "nothing"
    with pytest.raises(AppendOnly):
        row.save()
    # Not even by hand, past the ORM: the database refuses.
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE evidence_custodyentry SET action = 'nothing' WHERE id = %s", [row.pk])
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute("DELETE FROM evidence_custodyentry WHERE id = %s", [row.pk])
    assert CustodyEntry.objects.get(pk=row.pk).action == "export.dossier"


def test_an_action_rolled_back_leaves_no_entry() -> None:
    from spadok.evidence.models import CustodyEntry, CustodyHead
    from spadok.evidence.services import custody_append

    custody_append(record="r-three", action="export.dossier")
    with pytest.raises(RuntimeError), transaction.atomic():
        custody_append(record="r-three", action="review.approve")
        raise RuntimeError("the decision failed")
    assert list(CustodyEntry.objects.filter(chain="r-three").values_list("seq", flat=True)) == [1]
    assert CustodyHead.objects.get(chain="r-three").seq == 1


@pytest.mark.parametrize("chain_exists", [False, True], ids=["new-chain", "existing-chain"])
def test_workers_appending_at_once_never_fork_the_chain(chain_exists: bool) -> None:
    """Four workers (own connections, own transactions) append to one chain at once."""
    from spadok.evidence.services import custody_append

    chain, workers, each = f"c-race-{chain_exists}", 4, 12
    if chain_exists:
        custody_append(capture=chain, record="r-race", action="capture.ingested")
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(each):
                custody_append(
                    capture=chain, record="r-race", action="access.sealed", data={"w": n, "i": i}
                )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    entries = _entries(chain)
    total = workers * each + (1 if chain_exists else 0)
    assert [e["seq"] for e in entries] == list(range(1, total + 1))
    assert len({e["hash"] for e in entries}) == total
    heads = {chain: {"seq": total, "hash": entries[-1]["hash"]}}
    assert check_chains(list(enumerate(entries, 1)), heads) == []
    # every worker's every append is there, once
    assert sorted((e["data"]["w"], e["data"]["i"]) for e in entries if "w" in e["data"]) == [
        (w, i) for w in range(workers) for i in range(each)
    ]
