"""bench/map: the map's GeoJSON and the list of sites with 100k sites.

Builds (once per SPADOK_HOME) a registry of 100,000 sites spread over Ukraine,
one in twenty sensitive, in the real regions from the shared data, then times
through Django's test client (no network, one process):

* ``/api/sites.geojson`` for a city, an oblast-sized view, and the whole country
  (refused with ``map.too_many_features``: the region layer is the overview);
* ``/api/regions.geojson`` (27 outlines with their counts);
* ``/sites/`` (sorted by name) and a filtered deep page.

Run by hand, in a scratch home:

    SPADOK_HOME=/tmp/spadok-bench-map .venv/bin/python -m bench.map [--sites 100000] [--repeat 10]

Results are printed and written to bench/results/map.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGIONS = ("geo", "ukraine_adm1_geoboundaries", "geoBoundaries-UKR-ADM1_simplified.geojson")
URLS = [
    ("city", "/api/sites.geojson?bbox=30.2,50.2,30.8,50.6&lang=uk"),
    ("oblast", "/api/sites.geojson?bbox=29,49.5,32,51.5&lang=uk"),
    ("country (400)", "/api/sites.geojson?bbox=22,44,41,53&lang=uk"),
    ("regions", "/api/regions.geojson?lang=uk"),
    ("list", "/sites/"),
    ("list, region, deep page", "/sites/?page=60&region=UA-46"),
]


def data_dir() -> Path:
    return Path(os.environ.get("SPADOK_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()


def build(n: int) -> None:
    from django.core.management import call_command

    from spadok.sites.models import Region, Site

    call_command("migrate", verbosity=0)
    if not Region.objects.exists():
        features = json.loads(data_dir().joinpath(*REGIONS).read_text())["features"]
        for f in features:
            Region.objects.create(
                code=f["properties"]["shapeISO"],
                names={"en": f["properties"]["shapeName"]},
                geometry=f["geometry"],
            )
    have = Site.objects.count()
    if have >= n:
        return
    codes = list(Region.objects.values_list("code", flat=True))
    rnd = random.Random(1)
    statuses = ["", "", "damaged", "destroyed", "threatened"]
    Site.objects.bulk_create(
        [
            Site(
                id=f"s-bench{i:07d}",
                names={"uk": f"Пам’ятка {i}", "en": f"Site {i}"},
                type="church",
                latitude=rnd.uniform(44.5, 52.3),
                longitude=rnd.uniform(22.3, 40.1),
                sensitive=i % 20 == 0,
                damage_status=rnd.choice(statuses),
                region_id=rnd.choice(codes),
            )
            for i in range(have, n)
        ],
        batch_size=5000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    if not os.environ.get("SPADOK_HOME"):
        raise SystemExit("set SPADOK_HOME to a scratch folder: the benchmark fills its database")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")
    import django

    django.setup()
    from django.test import Client

    build(args.sites)
    # "localhost" is in the default SPADOK_ALLOWED_HOSTS; the test client's "testserver" is not.
    client = Client(HTTP_ACCEPT_ENCODING="gzip", HTTP_HOST="localhost")
    results = []
    for label, url in URLS:
        expected = 400 if "(400)" in label else 200
        if client.get(url).status_code != expected:  # warm, and check
            raise SystemExit(f"{url}: expected {expected}")
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
        row = {
            "what": label,
            "url": url,
            "status": response.status_code,
            "kib_sent": round(len(response.content) / 1024, 1),
            "median_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
        }
        results.append(row)
        print(f"{label:26s} {row['status']} {row['kib_sent']:8.1f} KiB  "
              f"median {row['median_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms")  # fmt: skip
    out = ROOT / "bench" / "results" / "map.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"sites": args.sites, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
