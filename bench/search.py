"""bench/search: search latency at 100k sites and records, and a record page's throughput.

In one run:

* an archive of ~100k sites and records (real registry names from the shared
  data, varied: settlements, types, numbers) with the search index built, on
  SQLite and on PostgreSQL (a throwaway cluster started by scripts/with-postgres);
* the p95 latency of typical searches through :func:`spadok.search.query.search`
  (what /search and /api/search call): a name, an inflected word, a
  transliteration, a prefix, a word with a facet filter, a filter alone;
* how long the first searches of a freshly started server take;
* requests per second of a record page under ``spadok serve`` (granian, two
  processes, i.e. the machine's 2 cores) and, in the same run on the same
  server, of a trivial static file (the peer figure).

Targets: p95 under 50 ms; a record page at least 500 req/s. The machine
is shared: each measurement is repeated and the best and the median reported.

    .venv/bin/python -m bench.search [--sites 60000] [--records 40000] [--repeat 3]
        [--backends sqlite,postgresql] [--skip-http] [--data DIR]

Each query is timed twice: repeated (its words' match kept by the process, as
for another page, another facet or another reader) and cold (the match made
afresh every time, as right after the index changed).

Results are printed and written to bench/results/search.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

QUERIES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("name", "Пирятинський краєзнавчий музей", {}),
    ("inflected", "соборів", {}),
    ("inflected-locative", "Києві", {}),
    ("transliteration", "Pyriatyn", {}),
    ("latin-to-cyrillic", "Kharkiv museum", {}),
    ("prefix", "Харк", {}),
    ("word+facet", "музей", {"region": ["UA-63"]}),
    ("word+3d+sort", "церква", {"has_3d": ["true"], "sort": ["newest"]}),
    ("facet-only", "", {"damage": ["damaged"]}),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the data ----------------------------------------------------------------------


def _data_dir() -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.testdata import data_dir

    return data_dir()


def registry_names() -> tuple[list[dict[str, str]], list[str]]:
    """Names ({lang: name}) and settlements from the real registry lists."""
    base = _data_dir() / "registry" / "ukraine_disperseart_unibo"
    names: list[dict[str, str]] = []
    places: set[str] = set()
    with open(base / "Wikidata" / "wikidata_ukrainian_museums.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names.append({row["museumLabel.xml:lang"] or "en": row["museumLabel.value"]})
            loc = row["locationLabel.value"]
            if loc and "Oblast" not in loc:
                places.add(loc)
    with open(
        base / "Wikidata" / "wikidata_ukrainian_cultural_heritage.csv", encoding="utf-8"
    ) as fh:
        for row in csv.DictReader(fh):
            names.append({row["itemLabel.xml:lang"] or "en": row["itemLabel.value"]})
            m = re.search(r"\(([^)]+)\)", row["itemLabel.value"])
            if m and len(m.group(1)) < 30:
                places.add(m.group(1))
    with open(
        base / "processed_data" / "cultural_damage_l4R_wiki_enriched.csv", encoding="utf-8"
    ) as fh:
        for row in csv.DictReader(fh):
            entry = {"en": row["name"]}
            if row["altName"]:
                entry["uk"] = row["altName"]
            names.append(entry)
    places.update(["Пирятин", "Харків", "Київ", "Львів", "Чернігів", "Пʼятничани", "Ізюм"])
    return names, sorted(places)


def populate(n_sites: int, n_records: int, seed: int = 5) -> dict[str, Any]:
    """Sites and records in bulk (not through the services: a bench, not a history)."""
    from django.utils import timezone

    from spadok.catalogue.models import Capture, Derivative, Record
    from spadok.sites.models import DamageStatus, Region, Site, SiteType

    rnd = random.Random(seed)
    names, places = registry_names()
    codes = ["UA-05", "UA-07", "UA-12", "UA-14", "UA-18", "UA-21", "UA-23", "UA-26", "UA-30",
             "UA-32", "UA-35", "UA-46", "UA-48", "UA-51", "UA-53", "UA-56", "UA-59", "UA-61",
             "UA-63", "UA-65", "UA-68", "UA-71", "UA-74", "UA-77"]  # fmt: skip
    uk = {"UA-63": "Харківська область", "UA-53": "Полтавська область", "UA-30": "Київ",
          "UA-46": "Львівська область", "UA-74": "Чернігівська область"}  # fmt: skip
    Region.objects.bulk_create(
        [Region(code=c, names={"en": f"Region {c}", **({"uk": uk[c]} if c in uk else {})})
         for c in codes],
        ignore_conflicts=True,
    )  # fmt: skip
    prefixes_uk = ["", "Старий ", "Новий ", "Великий ", "Малий "]
    suffixes_en = ["", " (restored)", " annex", " complex"]
    types = [t for t in SiteType.values]
    damages = [d for d in DamageStatus.values]
    now = timezone.now()
    sites: list[Site] = []
    for i in range(n_sites):
        base = dict(rnd.choice(names))
        place = rnd.choice(places)
        for lang in list(base):
            base[lang] = (
                rnd.choice(prefixes_uk) + base[lang] if lang == "uk"
                else base[lang] + rnd.choice(suffixes_en)
            )  # fmt: skip
        if rnd.random() < 0.05:  # a few more churches named by their town
            base.setdefault("uk", f"Собор у {place}")
        damage = rnd.choice(damages[1:]) if rnd.random() < 0.15 else ""
        sites.append(
            Site(
                names=base,
                descriptions={"uk": f"Пам'ятка у {place}, № {i}", "en": f"Heritage site no. {i}"},
                type=rnd.choice(types),
                region_id=rnd.choice(codes),
                settlement=place,
                latitude=44.5 + rnd.random() * 7.5,
                longitude=22.2 + rnd.random() * 17.8,
                sensitive=rnd.random() < 0.05,
                damage_status=damage,
                damage_date=(
                    datetime.date(2022, 2, 24) + datetime.timedelta(days=rnd.randrange(1000))
                    if damage
                    else None
                ),
                created_at=now - datetime.timedelta(minutes=i),
            )
        )
    Site.objects.bulk_create(sites, batch_size=2000)
    site_ids = list(Site.objects.values_list("id", flat=True))
    records: list[Record] = []
    visibilities = ["public"] * 8 + ["draft", "sealed", "embargoed", "coarse"]
    for i in range(n_records):
        site_id = rnd.choice(site_ids)
        records.append(
            Record(
                title=f"{rnd.choice(['Скан', 'Модель', 'Scan of', 'Фасад'])} "
                f"{next(iter(rnd.choice(names).values()))} {i}",
                description=f"Зйомка {rnd.choice(places)}",
                visibility=rnd.choice(visibilities),
                site_id=site_id,
                created_at=now - datetime.timedelta(seconds=i),
            )
        )
    Record.objects.bulk_create(records, batch_size=2000)
    record_ids = list(Record.objects.values_list("id", flat=True))
    captures = [
        Capture(
            record_id=rid, state="ready", kind="mesh", format=rnd.choice(["glb", "ply", "obj"]),
            created_at=now,
        )
        for rid in record_ids
        if rnd.random() < 0.7
    ]  # fmt: skip
    Capture.objects.bulk_create(captures, batch_size=2000)
    Derivative.objects.bulk_create(
        [
            Derivative(capture=c, role="thumbnail", policy="spadok-web/1", key=f"t/{c.id}",
                       mime="image/png", size=1, sha256="0" * 64, tool="bench")
            for c in captures
        ],
        batch_size=2000,
    )  # fmt: skip
    return {"sites": len(site_ids), "records": len(record_ids), "captures": len(captures)}


# -- latency -----------------------------------------------------------------------


def _timed(params: Any, per_query: int, cold: bool) -> tuple[list[float], int]:
    from spadok.search import query

    try:
        from spadok.search.matching import clear_cache
    except ImportError:  # a version that keeps no matches: every search is cold
        clear_cache = None
    times = []
    total = 0
    for _ in range(per_query):
        if cold and clear_cache is not None:
            clear_cache()  # as if nobody had searched these words since the index changed
        t = time.perf_counter()
        result = query.search_params(params)
        times.append((time.perf_counter() - t) * 1000)
        total = result.total
    times.sort()
    return times, total


def measure_latency(repeat: int, per_query: int) -> dict[str, Any]:
    """p95 of each query, repeated (the words' match kept, as for a second reader,
    another page or another facet) and cold (the match made afresh each time)."""
    from spadok.search import query

    out: dict[str, Any] = {}
    for label, q, extra in QUERIES:
        runs: dict[str, list[dict[str, float]]] = {"warm": [], "cold": []}
        total = 0
        params = query.parse_params({"q": q, **extra})
        query.search_params(params)  # the process's copy of the columns is read once
        for _ in range(repeat):
            for mode in ("warm", "cold"):
                query.search_params(params)
                times, total = _timed(params, per_query, cold=mode == "cold")
                runs[mode].append(
                    {
                        "p50_ms": round(statistics.median(times), 2),
                        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
                    }
                )
        p95 = sorted(r["p95_ms"] for r in runs["warm"])
        cold = sorted(r["p95_ms"] for r in runs["cold"])
        out[label] = {
            "q": q,
            "filters": extra,
            "results": total,
            "p95_ms_best": p95[0],
            "p95_ms_median": statistics.median(p95),
            "p50_ms_median": statistics.median(r["p50_ms"] for r in runs["warm"]),
            "cold_p95_ms_best": cold[0],
            "cold_p95_ms_median": statistics.median(cold),
        }
        print(f"  {label:<20} {q!r:<22} {total:>6} results  p95 best {p95[0]:6.1f} ms  "
              f"median {statistics.median(p95):6.1f} ms   cold: best {cold[0]:6.1f} ms  "
              f"median {statistics.median(cold):6.1f} ms", flush=True)  # fmt: skip
    return out


def phase(args: argparse.Namespace) -> None:
    """Run inside one database (the parent sets SPADOK_HOME and maybe DATABASE_URL)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from spadok.catalogue.models import Capture, Record
    from spadok.search import index
    from spadok.sites.models import Site

    call_command("migrate", verbosity=0)
    marker = Path(os.environ["SPADOK_HOME"]) / "bench-search-data.json"
    if marker.exists():  # --data: built by an earlier run
        built = json.loads(marker.read_text())
        counts, index_s = built["data"], built["index_seconds"]
        print(f"{connection.vendor}: reusing {counts} in {marker.parent}", flush=True)
    else:
        t = time.perf_counter()
        counts = populate(args.sites, args.records)
        populate_s = time.perf_counter() - t
        t = time.perf_counter()
        indexed = index.rebuild()
        index_s = time.perf_counter() - t
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # What autovacuum does soon after a rebuild (it leaves a dead row per document).
                cursor.execute("VACUUM ANALYZE")
            else:
                cursor.execute("ANALYZE")
                cursor.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        print(f"{connection.vendor}: {counts} in {populate_s:.0f} s; indexed {indexed} "
              f"in {index_s:.0f} s ({(indexed['sites'] + indexed['records']) / index_s:.0f} "
              "docs/s)", flush=True)  # fmt: skip
        if args.data:
            marker.write_text(json.dumps({"data": counts, "index_seconds": round(index_s, 1)}))
    counts = {
        "sites": Site.objects.count(),
        "records": Record.objects.count(),
        "captures": Capture.objects.count(),
    }
    result: dict[str, Any] = {
        "backend": connection.vendor,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "data": counts,
        "index_seconds": round(index_s, 1),
        "latency": measure_latency(args.repeat, args.per_query),
    }
    if connection.vendor == "sqlite" and not args.skip_http:
        result["http"] = measure_http(args)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False))


# -- throughput --------------------------------------------------------------------


async def _load(url: str, seconds: float, concurrency: int) -> tuple[int, int]:
    import aiohttp

    done = errors = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            nonlocal done, errors
            while time.perf_counter() < stop:
                async with session.get(url) as resp:
                    await resp.read()
                    if resp.status == 200:
                        done += 1
                    else:
                        errors += 1

        await asyncio.gather(*(one() for _ in range(concurrency)))
    return done, errors


def _tree_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process and all its descendants (Linux /proc)."""
    try:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
        total, todo = 0, [pid]
        while todo:
            p = todo.pop()
            todo += children.get(p, [])
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def measure_http(args: argparse.Namespace) -> dict[str, Any]:
    from spadok.catalogue.models import Record

    record = Record.objects.filter(visibility="public", captures__state="ready").first()
    assert record is not None
    port = free_port()
    env = dict(os.environ, SPADOK_WORKERS="0")
    log = open(Path(os.environ["SPADOK_HOME"]) / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "spadok", "serve", "--port", str(port), "--workers", "0",
         "--web-processes", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    urls = {
        "record_page": f"{base}/records/{record.id}/",
        "search_page": f"{base}/search?q=%D1%81%D0%BE%D0%B1%D0%BE%D1%80%D1%96%D0%B2",
        "static_peer": f"{base}/static/spadok/favicon.svg",
    }
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(urls["record_page"], timeout=5) as resp:
                    assert resp.status == 200
                    break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start; see serve.log") from None
                time.sleep(0.5)
        out: dict[str, Any] = {"server": "granian, 2 processes", "concurrency": args.concurrency}
        # The first searches a fresh server answers (one per process, most likely): what a
        # reader waits for right after a start, the lemmatiser's dictionaries included.
        first = []
        for word in ("%D0%9F%D0%B8%D1%80%D1%8F%D1%82%D0%B8%D0%BD", "Pyriatyn"):  # Пирятин
            t = time.perf_counter()
            with urllib.request.urlopen(f"{base}/search?q={word}", timeout=120) as resp:
                resp.read()
            first.append(round((time.perf_counter() - t) * 1000, 1))
        out["first_searches_ms"] = first
        print(f"  first searches after start: {first} ms", flush=True)
        for name, url in urls.items():
            asyncio.run(_load(url, 2, args.concurrency))  # warm every process
            rates, cpu = [], []
            for _ in range(args.repeat):
                before = _tree_cpu_seconds(server.pid)
                done, errors = asyncio.run(_load(url, args.seconds, args.concurrency))
                after = _tree_cpu_seconds(server.pid)
                rates.append(done / args.seconds)
                if before is not None and after is not None and done:
                    cpu.append((after - before) / done * 1000)
                if errors:
                    print(f"  {name}: {errors} non-200 answers", flush=True)
            out[name] = {
                "rps_best": round(max(rates)),
                "rps_median": round(statistics.median(rates)),
                "runs": [round(r) for r in rates],
                # What each request cost the server: on a shared machine the rate
                # follows everyone's load, this much less.
                "server_cpu_ms_per_request_median": (
                    round(statistics.median(cpu), 2) if cpu else None
                ),
            }
            cost = f"  server CPU {statistics.median(cpu):5.2f} ms/request" if cpu else ""
            print(f"  {name:<12} best {max(rates):7.0f} req/s  median "
                  f"{statistics.median(rates):7.0f} req/s{cost}", flush=True)  # fmt: skip
        out["record_vs_static"] = round(out["record_page"]["rps_median"]
                                        / max(1, out["static_peer"]["rps_median"]), 3)  # fmt: skip
        return out
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# -- the run -----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=60_000)
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-query", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="SQLite only: build the archive in DIR once and reuse it in later runs",
    )
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args)
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"targets": {"p95_ms": 50, "record_page_rps": 500}}
    forward = [
        f"--sites={args.sites}", f"--records={args.records}", f"--repeat={args.repeat}",
        f"--per-query={args.per_query}", f"--seconds={args.seconds}",
        f"--concurrency={args.concurrency}", *(["--skip-http"] if args.skip_http else []),
    ]  # fmt: skip
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"spadok-bench-search-{backend}-") as tmp:
            home = tmp
            if args.data and backend == "sqlite":
                home = str(Path(args.data).resolve())
                Path(home).mkdir(parents=True, exist_ok=True)
            out = Path(tmp) / "result.json"
            env = dict(os.environ, SPADOK_HOME=home)
            env.pop("DATABASE_URL", None)
            data = [f"--data={home}"] if home != tmp else []
            cmd = [sys.executable, "-m", "bench.search", "--phase", f"--out={out}", *forward, *data]
            if backend == "postgresql":
                cmd = [str(ROOT / "scripts" / "with-postgres"), *cmd]
            print(f"== {backend}", flush=True)
            subprocess.run(cmd, env=env, cwd=ROOT, check=True)
            report[backend] = json.loads(out.read_text())
    path = RESULTS / "search.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
