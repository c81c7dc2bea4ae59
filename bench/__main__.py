"""The benchmark suite: run every benchmark, then write one table of the figures.

    .venv/bin/python -m bench [--only ingest,audit,...] [--table-only] [--quick]

Each benchmark is its own module (``bench/<name>.py``), measures spadok beside its
peer tool on the same input in the same run, and writes ``bench/results/<name>.json``.
This runner starts them one after the other (each in a fresh process), then reads
every result there is and writes ``docs/benchmarks.md`` (the table the README
links) and ``docs/benchmarks.json``, with the machine, its load and the commit.
``--table-only`` rebuilds the table from the results already on disk.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"

# name -> (arguments for a full run, arguments for --quick)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "ingest": (["--repeat", "3"], ["--repeat", "1"]),
    "audit": ([], []),
    "upload": (["--size-gb", "2"], ["--size-gb", "0.5", "--runs", "1"]),
    "search": (["--repeat", "3"], ["--repeat", "1", "--sites", "6000", "--records", "4000"]),
    "reconstruct": ([], ["--parts", "cameras"]),
    "campaign": ([], []),
    "bigdata": ([], []),
    "compare": ([], []),
    "damage": ([], []),
    "faults": ([], []),
    "fuzz": (["--minutes", "10"], ["--minutes", "1"]),
}

Row = tuple[str, str, str, str, str]  # what, spadok, peer, ratio or figure, target


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _num(value: Any, fmt: str = "{:,.2f}") -> str:
    return "—" if value is None else fmt.format(value)


def rows_ingest(d: dict[str, Any]) -> list[Row]:
    best = d.get("best_run", {})
    tris = d.get("triangles")
    return [
        (
            f"ingest a textured {tris:,}-triangle scan (warm worker)" if tris else "ingest",
            _num(best.get("spadok_steps_s"), "{:.2f} s"),
            f"gltfpack -cc {_num(best.get('gltfpack_s'), '{:.2f} s')}",
            f"{_num(d.get('time_ratio_best'))}× (median {_num(d.get('time_ratio_median'))}×)",
            f"≤ {_get(d, 'targets', 'time_ratio') or 2.5}×",
        ),
        (
            "ingest peak memory / mesh in memory",
            _num(d.get("spadok_peak_mb"), "{:,.0f} MB"),
            f"mesh {_num(_get(d, 'mesh_in_memory_mb', 'as_loaded'), '{:,.0f} MB')}",
            f"{_num(d.get('memory_ratio'))}× ({_num(d.get('memory_ratio_above_baseline'))}× "
            f"above the {_num(d.get('baseline_mb'), '{:,.0f} MB')} idle process)",
            f"≤ {_get(d, 'targets', 'memory_ratio') or 3}×",
        ),
    ]


def rows_audit(d: dict[str, Any]) -> list[Row]:
    mbs = d.get("mb_s", {})
    peer = next((k for k in mbs if k.startswith("sha512sum_P")), None)
    return [
        (
            f"fixity audit of {d.get('files', 0):,} files ({d.get('bytes', 0) / 1e9:.2f} GB)",
            _num(mbs.get("spadok_audit"), "{:,.0f} MB/s"),
            f"{peer} {_num(mbs.get(peer or ''), '{:,.0f} MB/s')}",
            f"{_num(d.get('ratio_vs_sha512sum_same_parallelism'))}×",
            f"≥ {d.get('target', 0.8)}×",
        )
    ]


def rows_upload(d: dict[str, Any]) -> list[Row]:
    s = d.get("summary", {})
    size = d.get("size_bytes", 0) / 1024**3
    return [
        (
            f"resumable upload of {size:.1f} GiB over loopback (acknowledged)",
            f"{_num(_get(s, 'acknowledged_mib_s', 'best'), '{:,.0f} MiB/s')}",
            f"plain copy {_num(_get(s, 'copy_mib_s', 'median'), '{:,.0f} MiB/s')}",
            f"{_num(_get(s, 'acknowledged_vs_copy', 'best'))}×",
            "≥ 0.5×",
        ),
        (
            "the same upload beside a copy that hashes as the upload must",
            f"{_num(_get(s, 'acknowledged_mib_s', 'best'), '{:,.0f} MiB/s')}",
            f"hashing copy {_num(_get(s, 'hashing_copy_mib_s', 'median'), '{:,.0f} MiB/s')}",
            f"{_num(_get(s, 'acknowledged_vs_hashing_copy', 'best'))}×",
            "",
        ),
        (
            "upload end to end (incl. filing into OCFL)",
            f"{_num(_get(s, 'end_to_end_mib_s', 'best'), '{:,.0f} MiB/s')}",
            "",
            f"{_num(_get(s, 'end_to_end_vs_copy', 'best'))}×",
            "",
        ),
        (
            "upload server memory growth",
            f"{_num(s.get('server_rss_growth_mib_max'), '{:,.0f} MiB')}",
            "",
            "",
            "flat",
        ),
    ]


def rows_search(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for backend in ("sqlite", "postgresql"):
        b = d.get(backend)
        if not isinstance(b, dict):
            continue
        n = sum((b.get("data") or {}).get(k, 0) for k in ("sites", "records"))
        lat = b.get("latency", {})
        worst = max((v.get("p95_ms_best", 0) for v in lat.values()), default=None)
        for name, v in lat.items():
            rows.append(
                (
                    f"search p95, {backend}, {n:,} docs: {name} «{v.get('q', '')}»",
                    _num(v.get("p95_ms_best"), "{:,.1f} ms"),
                    f"cold {_num(v['cold_p95_ms_best'], '{:,.1f} ms')}"
                    if "cold_p95_ms_best" in v
                    else "",
                    f"{v.get('results', 0):,} results",
                    "< 50 ms",
                )
            )
        rows.append((f"search p95 worst, {backend}", _num(worst, "{:,.1f} ms"), "", "", "< 50 ms"))
        http = b.get("http") or {}
        if http:
            rows.append(
                (
                    f"record page, {backend}, 2 cores",
                    _num(_get(http, "record_page", "rps_best"), "{:,.0f} req/s"),
                    f"static file {_num(_get(http, 'static_peer', 'rps_best'), '{:,.0f} req/s')}",
                    f"server CPU {_num(cpu, '{:.2f} ms')}/request"
                    if (
                        cpu := (http.get("record_page") or {}).get(
                            "server_cpu_ms_per_request_median"
                        )
                    )
                    is not None
                    else "",
                    "≥ 500 req/s",
                )
            )
    return rows


def rows_reconstruct(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    cams = d.get("cameras")
    if isinstance(cams, dict):
        c = cams.get("cameras", {})
        rows += [
            (
                "fountain-P11 camera rotation error (median)",
                _num(c.get("rotation_error_deg_median"), "{:.4f}°"),
                "COLMAP 0.059°, OpenMVG 0.030° (published)",
                f"centre error {_num(c.get('centre_error_m_median'), '{:.4f} m')}",
                "≤ 0.03°",
            ),
            (
                "fountain-P11 whole reconstruction",
                f"{_num(cams.get('total_seconds'), '{:,.0f} s')}, "
                f"{_num(cams.get('peak_mb'), '{:,.0f} MB')}",
                "COLMAP SfM alone 37.5 s (published)",
                f"{cams.get('triangles', 0):,} triangles, verdict {cams.get('verdict')}",
                "< 300 s, < 4 GB",
            ),
        ]
    hold = d.get("holdout")
    if isinstance(hold, dict):
        rows.append(
            (
                "held-out photo vs textured model rendered from its camera",
                f"PSNR {_num(hold.get('psnr_db'), '{:.1f} dB')}, "
                f"SSIM {_num(hold.get('ssim'), '{:.3f}')}",
                "",
                f"coverage {_num(hold.get('coverage'), '{:.0%}')}",
                "",
            )
        )
    syn = d.get("synthetic")
    if isinstance(syn, dict):
        s = syn.get("surface", {})
        for key in ("at_0.5%", "at_1.0%"):
            if key in s:
                rows.append(
                    (
                        f"Lucy renders: F-score {key.replace('at_', 'at ')} of the size",
                        _num(s[key].get("f_score"), "{:.3f}"),
                        "",
                        f"precision {_num(s[key].get('precision'), '{:.3f}')}, "
                        f"recall {_num(s[key].get('recall'), '{:.3f}')}",
                        "",
                    )
                )
    return rows


def rows_faults(d: dict[str, Any]) -> list[Row]:
    f, facts, t = d.get("figures", {}), d.get("facts", {}), d.get("timings", {})
    inv = d.get("invariants", {})
    n = f.get("uploads", 0)
    states = facts.get("capture_states", {})
    replica = {e.get("event"): e for e in f.get("replica", [])}
    down = (
        _get(replica, "up", "at_s") - _get(replica, "down", "at_s")
        if _get(replica, "up", "at_s") is not None and _get(replica, "down", "at_s") is not None
        else None
    )
    failing = [k for k, v in inv.items() if not v]
    return [
        (
            f"{n} resumable uploads on {_get(d, 'args', 'web') or 2} web processes, "
            f"{f.get('disconnects', 0)} cut off "
            f"mid-piece, {f.get('worker_kills', 0)} worker SIGKILLs "
            f"({f.get('kills_of_busy_workers', 0)} mid-job), replica down "
            f"{_num(down, '{:.0f} s')}",
            f"{facts.get('uploads_done', 0)} of {n} filed exactly once; "
            f"{states.get('ready', 0)} processed, {states.get('failed', 0)} failed",
            "",
            f"settled in {_num(t.get('until_all_filed_and_processed_s'), '{:,.0f} s')}",
            f"all {n}, exactly once",
        ),
        (
            "originals byte for byte (sha256) after the faults, primary / replica",
            f"{n - len(facts.get('bytes_differ_primary', [])) - len(facts.get('missing', []))}"
            f" / {n - len(facts.get('bytes_differ_replica', [])) - len(facts.get('missing', []))}",
            "",
            f"{facts.get('files_on_primary', 0):,} files; "
            f"{len(facts.get('files_not_on_replica', []))} missing on the replica after repair",
            f"{n} / {n}",
        ),
        (
            "audit after the faults (after audit --repair)",
            "clean" if inv.get("audit clean") else f"{facts.get('audit_issues', 0)} issues",
            "",
            f"repair synced {f.get('repair_synced', 0)} objects",
            "clean",
        ),
        (
            "invariants under faults",
            f"{len(inv) - len(failing)} of {len(inv)} hold",
            "",
            ", ".join(failing) or "none failed",
            "all",
        ),
    ]


def rows_bigdata(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    laz = d.get("laz")
    if isinstance(laz, dict):
        ours, peer = laz.get("spadok_ingest", {}), laz.get("peer_laspy_read", {})
        rows.append(
            (
                f"ingest a {laz.get('points', 0):,}-point LAZ with point tiles: peak memory",
                _num(ours.get("peak_mb"), "{:,.0f} MB"),
                f"laspy.read {_num(peer.get('peak_mb'), '{:,.0f} MB')}",
                f"{_num(laz.get('memory_vs_peer'), '{:.2f}×')}; "
                f"time {_num(ours.get('seconds'), '{:,.0f} s')} vs "
                f"{_num(peer.get('seconds'), '{:,.0f} s')} (read only)",
                "bounded (≪ the cloud)",
            )
        )
    mesh = d.get("mesh")
    if isinstance(mesh, dict):
        ours, peer = mesh.get("spadok_ingest", {}), mesh.get("peer_gltfpack_cc", {})
        rows.append(
            (
                f"ingest a {mesh.get('triangles', 0):,}-triangle textured mesh",
                f"{_num(ours.get('seconds'), '{:,.1f} s')}, "
                f"{_num(ours.get('peak_mb'), '{:,.0f} MB')}",
                f"gltfpack -cc {_num(peer.get('seconds'), '{:,.1f} s')}, "
                f"{_num(peer.get('peak_mb'), '{:,.0f} MB')}",
                "mesh in memory "
                + _num(_get(mesh, "mesh_in_memory_mb", "as_loaded"), "{:,.0f} MB"),
                "bounded",
            )
        )
    return rows


def rows_campaign(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    target = _get(d, "targets", "p95_ms") or 50
    for backend in ("sqlite", "postgresql"):
        b = d.get(backend)
        if not isinstance(b, dict):
            continue
        n = _get(b, "data", "sites") or 0
        vols = _get(b, "data", "volunteers") or 0
        for radius in ("25km", "50km"):
            for place in ("town", "country"):
                r = _get(b, f"tasks_near_{radius}", place)
                if not isinstance(r, dict):
                    continue
                rows.append(
                    (
                        f"tasks near me, {backend}, {n:,} sites, {vols:,} volunteers, "
                        f"{place} within {radius.replace('km', ' km')}",
                        _num(r.get("p95_ms_best"), "{:,.1f} ms p95"),
                        "",
                        f"CPU p95 {_num(r.get('cpu_p95_ms_best'), '{:,.1f} ms')}; "
                        f"median run {_num(r.get('p95_ms_median'), '{:,.1f} ms')}",
                        f"< {target} ms",
                    )
                )
        claim = b.get("claim")
        if isinstance(claim, dict):
            rows.append(
                (
                    f"claim a task, {backend}, concurrent",
                    _num(claim.get("p95_ms"), "{:,.1f} ms p95"),
                    "",
                    f"{claim.get('won', 0)} of {claim.get('claims', 0)} won, none twice",
                    f"< {target} ms",
                )
            )
    return rows


def rows_compare(d: dict[str, Any]) -> list[Row]:
    if "rotation_error_deg" not in d:
        return []
    return [
        (
            f"before/after of a {d.get('triangles', 0):,}-triangle scan with a part cut away",
            f"volume error {_num(d.get('lost_volume_error'), '{:.2%}')}",
            "",
            f"rotation error {_num(d.get('rotation_error_deg'), '{:.4f}°')}; "
            f"{_num(d.get('total_seconds'), '{:,.0f} s')}, {_num(d.get('peak_mb'), '{:,.0f} MB')}",
            "volume within 5%",
        )
    ]


def rows_damage(d: dict[str, Any]) -> list[Row]:
    pages = d.get("pages", {})
    worst = max((v.get("best_s", 0) for v in pages.values()), default=None)
    return [
        (
            "import the published damage lists (first time / again)",
            f"{_num(d.get('import_first_s'), '{:,.1f} s')} / "
            f"{_num(d.get('import_again_s'), '{:,.1f} s')}",
            "",
            f"{d.get('events_from_lists', 0):,} events; the second import changes nothing",
            "idempotent",
        ),
        (
            f"damage dashboard and exports at {d.get('events', 0):,} events (slowest)",
            _num(worst, "{:,.2f} s"),
            "",
            f"{len(pages)} pages and CSV/JSON tables",
            "",
        ),
    ]


def rows_generic(d: dict[str, Any]) -> list[Row]:
    """Benchmarks that say themselves what to show: ``{"table": [[what, spadok, peer,
    figure, target], ...]}``."""
    return [tuple(str(c) for c in row[:5]) for row in d.get("table", [])]  # type: ignore[misc]


EXTRACT: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "ingest": rows_ingest,
    "audit": rows_audit,
    "upload": rows_upload,
    "search": rows_search,
    "reconstruct": rows_reconstruct,
    "faults": rows_faults,
    "bigdata": rows_bigdata,
    "campaign": rows_campaign,
    "compare": rows_compare,
    "damage": rows_damage,
}


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _local(text: str) -> str:
    """The published table names no folder of the machine it was measured on."""
    from tests.testdata import data_dir

    for folder, name in ((data_dir(), "$SPADOK_TEST_DATA"), (ROOT, ".")):
        text = text.replace(str(folder), name)
    return text


def write_table() -> Path:
    sections: list[tuple[str, list[Row], str]] = []
    raw: dict[str, Any] = {}
    for name in BENCHES:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        raw[name] = data
        when = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
        rows = EXTRACT.get(name, rows_generic)(data)
        sections.append((name, rows, when.strftime("%Y-%m-%d %H:%M UTC")))
    load = os.getloadavg()
    lines = [
        "# Benchmarks",
        "",
        "Measured by `python -m bench` (one benchmark per module in `bench/`, each beside its",
        "peer on the same input in the same run). Figures from a shared machine are orders",
        "of magnitude: rerun before relying on one.",
        "",
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        f"- load average when the table was written: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}",
        f"- commit: `{_commit()}`",
        "",
    ]
    for name, rows, when in sections:
        lines += [f"## {name}", "", f"`bench/results/{name}.json`, {when}", ""]
        lines += ["| what | spadok | peer | figure | target |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
        lines.append("")
    DOCS.mkdir(exist_ok=True)
    (DOCS / "benchmarks.md").write_text(_local("\n".join(lines)))
    (DOCS / "benchmarks.json").write_text(
        _local(json.dumps(raw, indent=1, ensure_ascii=False)) + "\n"
    )
    return DOCS / "benchmarks.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--quick", action="store_true", help="smaller inputs, one repeat")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    failed = []
    if not args.table_only:
        for name in args.only.split(","):
            if name not in BENCHES:
                raise SystemExit(f"unknown benchmark {name!r}: one of {', '.join(BENCHES)}")
            if not (ROOT / "bench" / f"{name}.py").exists():
                print(f"== {name}: not present, skipped", flush=True)
                continue
            full, quick = BENCHES[name]
            print(f"== {name}", flush=True)
            cmd = [sys.executable, "-m", f"bench.{name}", *(quick if args.quick else full)]
            if subprocess.run(cmd, cwd=ROOT).returncode != 0:
                failed.append(name)
    table = write_table()
    print(f"written {table.relative_to(ROOT)}")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
