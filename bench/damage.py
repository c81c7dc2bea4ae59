"""bench/damage: importing the real damage lists, and the statistics at scale.

In a scratch SPADOK_HOME (its database is emptied of sites and events first):

1. imports the five published damage lists from the shared data (the UNESCO list
   and its copy with Wikidata ids, both Linked4Resilience exports, Science at Risk)
   with ``spadok import-sites``' service, then again (which must add nothing);
2. adds ``--events`` synthetic events (one in ten verified, over 27 regions and
   four years, some dated to a year or not at all) to as many synthetic sites;
3. times through Django's test client: ``/damage/`` and each table's CSV and JSON.

Targets (2 idle cores): the first import of the five lists under 15 s (most of it
the sites and their search index; the events and their custody entries about 2 s),
the second under 3 s, the dashboard and each table under 1 s at 20,000 events.
Run by hand:

    SPADOK_HOME=/tmp/spadok-bench-damage .venv/bin/python -m bench.damage [--events 20000]

Results are printed and written to bench/results/damage.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LISTS = [
    ("registry", "ukraine_damage_linked4resilience", "input", "unesco.csv"),
    ("registry", "ukraine_disperseart_unibo", "processed_data", "unesco-damage-sites-qid.csv"),
    ("registry", "ukraine_disperseart_unibo", "processed_data", "cultural_damage_L4R2.csv"),
    ("registry", "ukraine_disperseart_unibo", "processed_data",
     "cultural_damage_l4R_wiki_enriched.csv"),
    ("registry", "ukraine_damage_linked4resilience", "input", "science-at-risk.csv"),
]  # fmt: skip
TABLES = ("by-region", "by-kind", "by-standing", "by-month", "coverage")


def data_dir() -> Path:
    return Path(os.environ.get("SPADOK_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()


def reset() -> None:
    from django.core.management import call_command

    from spadok.damage.models import DamageEvent
    from spadok.evidence.models import CustodyHead
    from spadok.sites.models import Site

    call_command("migrate", verbosity=0)
    DamageEvent.objects.all().delete()
    Site.objects.all().delete()
    CustodyHead.objects.all().delete()
    # the custody log is append-only (the ORM refuses); a scratch bench database is not
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM evidence_custodyentry")


def synthetic(n: int) -> None:
    from spadok.core.registry.damage import KINDS, STANDINGS
    from spadok.damage.models import DamageEvent
    from spadok.sites.models import Region, Site

    codes = list(Region.objects.values_list("code", flat=True))
    rnd = random.Random(7)
    sites = [
        Site(id=f"s-benchdmg{i:07d}", names={"en": f"Site {i}"}, region_id=rnd.choice(codes))
        for i in range(n)
    ]
    Site.objects.bulk_create(sites, batch_size=5000)
    events = []
    for i, site in enumerate(sites):
        precision = rnd.choice(["day", "day", "month", "year", ""])
        day = dt.date(2022, 2, 24) + dt.timedelta(days=rnd.randrange(0, 1400))
        if precision == "month":
            day = day.replace(day=1)
        elif precision == "year":
            day = day.replace(month=1, day=1)
        events.append(
            DamageEvent(
                id=f"d-benchdmg{i:07d}",
                site=site,
                kind=rnd.choice(KINDS),
                standing="unesco" if i % 10 == 0 else rnd.choice(STANDINGS[1:]),
                date_start=day if precision else None,
                date_precision=precision,
            )
        )
    DamageEvent.objects.bulk_create(events, batch_size=5000)


def timed(fn, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return {"best_s": round(min(runs), 4), "median_s": round(statistics.median(runs), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from spadok.damage.models import DamageEvent
    from spadok.sites import services

    settings.ALLOWED_HOSTS = ["*"]
    reset()
    files = [data_dir().joinpath(*parts) for parts in LISTS]
    results: dict[str, object] = {"events": args.events}
    t = time.perf_counter()
    first = services.import_sites(files)
    results["import_first_s"] = round(time.perf_counter() - t, 2)
    results["import_first_damage"] = first.damage
    t = time.perf_counter()
    second = services.import_sites(files)
    results["import_again_s"] = round(time.perf_counter() - t, 2)
    results["import_again_damage"] = second.damage
    results["events_from_lists"] = DamageEvent.objects.count()
    synthetic(args.events)
    client = Client()
    pages: dict[str, object] = {"/damage/": timed(lambda: client.get("/damage/"), args.repeat)}
    for table in TABLES:
        for ext in ("csv", "json"):
            url = f"/damage/stats/{table}.{ext}"
            pages[url] = timed(lambda url=url: client.get(url), args.repeat)
    results["pages"] = pages
    print(json.dumps(results, indent=1))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "damage.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
