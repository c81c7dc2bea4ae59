"""The ``spadok`` command line: ingest, serve, worker, info, compare, manage.

Scripts rely on it: ``--json`` output is one object per line, exit status
is non-zero when any input failed, and no traceback reaches the user for
anything the user can cause.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from spadok import __version__
from spadok.core.registry.damage import STANDINGS as DAMAGE_STANDINGS
from spadok.core.registry.sources import FORMATS as REGISTRY_FORMATS

log = logging.getLogger("spadok.cli")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")
    import django

    django.setup()


def ensure_migrated() -> None:
    """Bring the schema and the cache table up to date; safe when several processes start."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def migrate() -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)  # quick when it exists

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(7470514)")
            try:
                migrate()
            finally:
                cur.execute("SELECT pg_advisory_unlock(7470514)")
    else:
        migrate()


def _storage_path(key: str) -> str:
    from spadok.catalogue.storage import get_storage

    storage = get_storage()
    local = storage.local_path(key)
    if local is not None:
        return str(local)
    return f"{storage.primary.url.split('?')[0].rstrip('/')}/{key}"


def _result_ok(label: str, capture: Any) -> dict[str, Any]:
    files: dict[str, Any] = {}
    if capture.originals:
        files["original"] = _storage_path(capture.originals[0]["key"])
        if len(capture.originals) > 1:
            files["originals"] = [_storage_path(o["key"]) for o in capture.originals]
    for d in capture.derivatives.all():
        files[d.role] = _storage_path(d.key)
    web = next(
        (files[r] for r in ("web-high", "web-medium", "web-low", "web-points") if r in files), None
    )
    if web:
        files["web"] = web
    return {
        "input": label,
        "status": "ok",
        "id": capture.id,
        "record": capture.record_id,
        "kind": capture.kind,
        "format": capture.format,
        "stats": capture.stats,
        "files": files,
        "timings": capture.timings,
        "error": None,
    }


def _result_error(label: str, error: Any) -> dict[str, Any]:
    return {
        "input": label,
        "status": "error",
        "id": None,
        "kind": None,
        "stats": {},
        "files": {},
        "error": error.as_dict(),
    }


def check_storage() -> None:
    """Check at start-up what each storage root promises (e.g. write-once originals)."""
    from spadok.catalogue.storage import get_storage

    for root in get_storage().roots:
        check = getattr(root, "check_lock", None)
        if check is not None:
            # Unreachable now: the write path reports it, and replicas catch up later.
            with contextlib.suppress(OSError):
                check()


def cmd_ingest(args: argparse.Namespace) -> int:
    from django.conf import settings

    from spadok.catalogue import services
    from spadok.catalogue.models import Record
    from spadok.core import inputs
    from spadok.core.errors import SpadokError

    ensure_migrated()
    record = None
    if args.record:
        try:
            record = Record.objects.get(id=args.record)
        except Record.DoesNotExist:
            print(f"spadok: no record {args.record!r}", file=sys.stderr)
            return 2
    show_bar = sys.stderr.isatty() and not args.quiet
    failures = 0
    with tempfile.TemporaryDirectory(prefix="spadok-inputs-") as tmp:
        units = inputs.expand([Path(p) for p in args.paths], Path(tmp), settings.SPADOK.limits)
        bar = None
        if show_bar:
            from tqdm import tqdm

            bar = tqdm(total=len(inputs_steps()), unit="step", file=sys.stderr, leave=False)
        for unit in units:
            if isinstance(unit, inputs.Failed):
                result = _result_error(unit.label, unit.error)
            else:
                progress = None
                if bar is not None:
                    bar.reset()
                    bar.set_description(Path(unit.label).name[:40])

                    def progress(step: str, fraction: float, _bar: Any = bar) -> None:
                        _bar.n = round(fraction * _bar.total)
                        _bar.set_postfix_str(step)
                        _bar.refresh()

                try:
                    capture = services.capture_ingest(
                        unit=unit, record=record, title=args.title, progress=progress
                    )
                    result = _result_ok(unit.label, capture)
                except SpadokError as exc:
                    result = _result_error(unit.label, exc)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # a bug, not the user's fault: keep going
                    log.exception("ingest of %s failed", unit.label)
                    result = _result_error(
                        unit.label, SpadokError("processing.failed", type(exc).__name__)
                    )
            if result["status"] != "ok":
                failures += 1
            _print_result(result, as_json=args.json, bar=bar)
        if bar is not None:
            bar.close()
    return 1 if failures else 0


def inputs_steps() -> tuple[str, ...]:
    from spadok.core.pipeline import STEPS

    return STEPS


def _print_result(result: dict[str, Any], *, as_json: bool, bar: Any) -> None:
    if as_json:
        line = json.dumps(result, ensure_ascii=False, default=str)
    elif result["status"] == "ok":
        stats = result["stats"]
        size = stats.get("triangles") or stats.get("points") or stats.get("splats") or ""
        what = f"{size:,} {'triangles' if stats.get('triangles') else 'points'}" if size else ""
        line = f"ok     {result['input']}  →  {result['id']}  {result['format']} {what}"
    else:
        err = result["error"]
        line = f"error  {result['input']}  [{err['code']}] {err['message']}"
    if bar is not None:
        bar.clear()
    print(line, flush=True)


def cmd_info(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.db import connection

    from spadok.catalogue.models import Capture, Record
    from spadok.jobs.selectors import operations_status

    ensure_migrated()
    cfg = settings.SPADOK
    db = cfg.database_url
    if "@" in db:  # never print a password
        scheme, rest = db.split("://", 1)
        db = f"{scheme}://***@{rest.split('@', 1)[1]}"
    info = {
        "version": __version__,
        "profile": cfg.profile,
        "database": db,
        "database_vendor": connection.vendor,
        "storage": [u.split("?")[0] for u in cfg.storage_urls],
        "home": str(cfg.home),
        "records": Record.objects.count(),
        "captures": Capture.objects.count(),
        "operations": operations_status(),
    }
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            print(f"{key:>16}: {value}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from spadok.jobs.worker import run_worker

    ensure_migrated()
    run_worker(batch=args.batch)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command

    ensure_migrated()
    call_command("collectstatic", interactive=False, verbosity=0)
    cfg = settings.SPADOK
    env = dict(os.environ)
    children: list[subprocess.Popen[bytes]] = []
    workers = cfg.workers if args.workers is None else args.workers

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "spadok", "worker"], env=env)

    worker_procs = [start_worker() for _ in range(workers)]
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            args.host,
            "--port",
            str(args.port),
            "--workers",
            str(args.web_processes),
            "--blocking-threads",
            str(cfg.web_threads),
            "--no-ws",
            "spadok.site.wsgi:application",
        ],
        env=env,
    )
    children = [web, *worker_procs]
    print(
        f"spadok {__version__}: http://{args.host}:{args.port}/  ({cfg.profile} profile)",
        flush=True,
    )

    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            if web.poll() is not None:
                print("spadok: the web server stopped", file=sys.stderr)
                break
            for i, proc in enumerate(worker_procs):
                if proc.poll() is not None:  # a worker died: start another
                    log.warning("worker %s exited with %s; restarting", proc.pid, proc.returncode)
                    worker_procs[i] = start_worker()
            children = [web, *worker_procs]
            time.sleep(0.5)
    finally:
        for proc in children:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + 20
        for proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0 if stopping else 1


def cmd_audit(args: argparse.Namespace) -> int:
    from spadok.preservation import services as preservation

    ensure_migrated()
    run = preservation.audit_run(repair=args.repair, trigger="command")
    report = run.report
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(
            f"audited {report['objects_checked']} objects, {report['files_checked']} files, "
            f"{report['bytes_checked']:,} bytes in {len(report['roots'])} root(s) "
            f"({report['throughput_mb_s']} MB/s)"
        )
        for issue in report["issues"]:
            state = "repaired" if issue["repaired"] else "NOT REPAIRED"
            print(f"  {issue['kind']:<12} {issue['root']}  {issue['path']}  [{state}]")
        print("ok" if run.ok else "problems found")
    return 0 if run.ok and not (run.issues and not args.repair) else 1


def cmd_rebuild_index(args: argparse.Namespace) -> int:
    from spadok.preservation import services as preservation

    ensure_migrated()
    counts = preservation.catalogue_rebuild()
    from spadok.search import index

    indexed = index.rebuild()  # the search index is derived: rebuild it with the catalogue
    counts["indexed"] = indexed["sites"] + indexed["records"]
    print(json.dumps(counts) if args.json else ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from spadok.catalogue.models import Record
    from spadok.preservation import exports

    ensure_migrated()
    dest = Path(args.dest)
    if args.record:
        records = list(Record.objects.filter(id__in=args.record))
        missing = set(args.record) - {r.id for r in records}
        if missing:
            print(f"spadok: no record {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    else:
        records = list(Record.objects.order_by("created_at"))
    written = exports.export_records_bagit(records, dest)
    for path in written:
        print(json.dumps({"bag": str(path)}) if args.json else str(path))
    return 0


def cmd_import_sites(args: argparse.Namespace) -> int:
    """Import lists of heritage sites; exit 1 when any file could not be read at all."""
    from spadok.core.errors import SpadokError
    from spadok.sites import services as sites

    ensure_migrated()
    try:
        report = sites.import_sites(
            args.files,
            fmt=args.format,
            mapping=args.map or None,
            source=args.source,
            standing=args.standing,
        )
    except SpadokError as exc:  # a bad --map: nothing was read
        print(f"spadok: [{exc.code}] {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, default=str))
    else:
        for entry in report.files:
            if entry["status"] == "error":
                err = entry["error"]
                print(f"error  {entry['file']}  [{err['code']}] {err['message']}")
            else:
                print(
                    f"ok     {entry['file']} ({entry['format']}): {entry['rows']} rows, "
                    f"{entry['imported']} imported, {entry['updated']} updated, "
                    f"{entry['skipped']} skipped; damage events: "
                    f"{entry['damage_imported']} imported, {entry['damage_updated']} updated"
                )
        shown: dict[str, int] = {}
        for err in report.errors:  # a few examples per reason; --json lists every row
            if err["row"] is None:
                continue
            shown[err["code"]] = shown.get(err["code"], 0) + 1
            if shown[err["code"]] <= 5:
                print(f"  skipped {Path(err['file']).name}:{err['row']}  [{err['code']}] "
                      f"{err['reason']}")  # fmt: skip
        for code, count in shown.items():
            if count > 5:
                print(f"  … and {count - 5} more [{code}] (see --json)")
        print(
            f"{report.imported} imported, {report.updated} updated, {report.skipped} skipped; "
            f"damage events: {report.damage['imported']} imported, "
            f"{report.damage['updated']} updated; in {report.seconds:.1f} s"
        )
    return 1 if report.failed_files else 0


def cmd_import_regions(args: argparse.Namespace) -> int:
    """Import region boundaries (geoBoundaries ADM1) and re-assign sites to them."""
    from spadok.core.errors import SpadokError
    from spadok.sites import services as sites

    ensure_migrated()
    try:
        result = sites.import_regions(args.file)
    except SpadokError as exc:
        if args.json:
            print(json.dumps({"file": args.file, "error": exc.as_dict()}, ensure_ascii=False))
        else:
            print(f"error  {args.file}  [{exc.code}] {exc.message}")
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(
            f"{result['regions']} regions ({result['created']} new, {result['updated']} "
            f"changed), {result['sites_reassigned']} sites re-assigned"
        )
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    """Rebuild the search index from the catalogue and the registry (safe to run again)."""
    from spadok.search import index

    ensure_migrated()
    counts = index.rebuild()
    print(json.dumps(counts) if args.json else ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return 0


def cmd_dossier(args: argparse.Namespace) -> int:
    """Write the evidence dossier of a record or a site (the command line acts as the archive)."""
    from spadok.core.errors import SpadokError
    from spadok.evidence.dossiers import dossier_make, dossier_name

    ensure_migrated()
    dest = Path(args.dest)
    if dest.is_dir():  # an existing folder: the dossier goes inside it
        dest = dest / dossier_name(args.id)
    try:
        written = dossier_make(subject_id=args.id, dest=dest)
    except SpadokError as exc:
        if args.json:
            print(json.dumps({"status": "error", "error": exc.as_dict()}, ensure_ascii=False))
        else:
            print(f"spadok: [{exc.code}] {exc.message}", file=sys.stderr)
        return 1
    result = {
        "status": "ok",
        "dossier": str(written.path),
        "files": written.files,
        "bytes": written.bytes,
        "key": written.fingerprint,
        "timestamp_error": written.timestamp_error,
    }
    if written.timestamp_error and not args.json:
        print(f"spadok: no time-stamp: {written.timestamp_error}", file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False) if args.json else str(written.path))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check a dossier offline; needs no database, no settings, only the package and the key."""
    from spadok.core.evidence import format_report, verify_dossier

    report = verify_dossier(Path(args.path), key=args.key)
    print(json.dumps(report.as_dict(), ensure_ascii=False) if args.json else format_report(report))
    return 0 if report.ok else 1


def cmd_reconstruct(args: argparse.Namespace) -> int:
    """Photos, a video or a LiDAR capture into OUT/model.glb, OUT/sparse/, OUT/report.json."""
    from spadok.core.errors import SpadokError
    from spadok.core.reconstruct import reconstruct

    out = Path(args.output)
    progress = None
    if sys.stderr.isatty() and not args.json:

        def progress(step: str, fraction: float) -> None:
            print(f"\r{round(fraction * 100):3d}%  {step:<10}", end="", file=sys.stderr, flush=True)

    try:
        report = reconstruct(
            Path(args.input), out, progress=progress, max_image_size=args.max_image_size
        )
    except SpadokError as exc:
        result = {"input": args.input, "status": "error", "error": exc.as_dict()}
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            print(f"error  {args.input}  [{exc.code}] {exc.message}")
        return 1
    except Exception as exc:  # a bug, not the user's fault: no traceback for the user
        log.exception("reconstruct of %s failed", args.input)
        err = SpadokError("processing.failed", type(exc).__name__)
        if args.json:
            print(json.dumps({"input": args.input, "status": "error", "error": err.as_dict()}))
        else:
            print(f"error  {args.input}  [{err.code}] {err.message}")
        return 1
    finally:
        if progress is not None:
            print(file=sys.stderr)
    data = report.as_dict()
    ok = report.verdict != "failed"
    if args.json:
        print(json.dumps({"input": args.input, "status": "ok" if ok else "failed",
                          "output": str(out), "report": data}, ensure_ascii=False))  # fmt: skip
    else:
        print(
            f"{report.verdict:<7} {args.input}  →  {out}  {report.registered} cameras, "
            f"{report.triangles:,} triangles, {round(report.textured_fraction * 100)}% textured"
        )
        for advice in report.advice:
            print(f"  - {advice.message}")
    return 0 if ok else 1


def _compare_input(name: str, workdir: Path) -> Any:
    """A model file, a folder or zip holding one model, or a capture id (c-...) of this archive."""
    from spadok.core import inputs
    from spadok.core.errors import SpadokError

    path = Path(name)
    if not path.exists() and name.startswith("c-") and "/" not in name:
        from spadok.catalogue.models import Capture
        from spadok.compare.services import comparable, fetch_master

        ensure_migrated()
        capture = Capture.objects.filter(id=name).first()
        if capture is None:
            raise SpadokError("input.not_found", f"capture {name}")
        if not comparable(capture):
            raise SpadokError(
                "compare.not_comparable", f"the capture {name} is not a processed model"
            )
        return fetch_master(capture, workdir)
    found = list(inputs.expand([path], workdir))
    units = [u for u in found if isinstance(u, inputs.Unit)]
    if len(units) == 1:
        return units[0]
    failure = next((u for u in found if isinstance(u, inputs.Failed)), None)
    if failure is not None:
        raise failure.error
    raise SpadokError("input.no_model", f"{path.name} (it holds {len(units)} models; name one)")


def _compare_params(args: argparse.Namespace) -> Any:
    from spadok.core.compare import parse_params
    from spadok.core.errors import SpadokError

    data: dict[str, Any] = {
        "samples": args.samples,
        "heatmap_on": args.heatmap_on,
        "refine": not args.no_refine,
        "seed": args.seed,
    }
    if args.threshold is not None:
        data["threshold"] = args.threshold
    if args.translate:
        data["translate"] = args.translate
    if args.rotate:
        data["rotate"] = args.rotate
    if args.initial:
        try:
            text = (
                Path(args.initial).read_text("utf-8")
                if Path(args.initial).is_file()
                else args.initial
            )
            value = json.loads(text)
        except (OSError, ValueError):
            raise SpadokError(
                "compare.bad_parameters",
                "--initial must be a 4x4 matrix in JSON, or a file holding one "
                "(a report.json starts from its alignment)",
            ) from None
        if isinstance(value, dict):  # a report.json: start from its alignment
            value = value.get("alignment", {}).get("transform", value.get("transform"))
        data["initial"] = value
    return parse_params(data)


def cmd_compare(args: argparse.Namespace) -> int:
    """Two captures of one thing: OUT/heatmap.glb, before.glb, after.glb and report.json."""
    from django.conf import settings

    from spadok.core.compare import compare_files
    from spadok.core.errors import SpadokError

    out = Path(args.output)
    progress = None
    if sys.stderr.isatty() and not args.json:

        def progress(step: str, fraction: float) -> None:
            print(f"\r{round(fraction * 100):3d}%  {step:<10}", end="", file=sys.stderr, flush=True)

    result: dict[str, Any] = {"before": args.before, "after": args.after, "output": str(out)}
    try:
        with tempfile.TemporaryDirectory(prefix="spadok-compare-") as tmp:
            params = _compare_params(args)
            before = _compare_input(args.before, Path(tmp) / "before")
            after = _compare_input(args.after, Path(tmp) / "after")
            report = compare_files(
                before.primary,
                after.primary,
                out,
                params,
                before_root=before.root,
                after_root=after.root,
                limits=settings.SPADOK.limits,
                progress=progress,
            )
    except SpadokError as exc:
        result.update(status="error", error=exc.as_dict(), report=None)
    except Exception as exc:  # a bug, not the user's fault: no traceback for the user
        log.exception("compare of %s and %s failed", args.before, args.after)
        err = SpadokError("processing.failed", type(exc).__name__)
        result.update(status="error", error=err.as_dict(), report=None)
    else:
        ok = report.verdict != "failed"
        result.update(status="ok" if ok else "failed", error=report.error, report=report.as_dict())
    finally:
        if progress is not None:
            print(file=sys.stderr)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif result["status"] == "error" or result["status"] == "failed":
        err = result["error"]
        print(f"{result['status']}  {args.before} → {args.after}  [{err['code']}] {err['message']}")
    else:
        print(_compare_summary(result["report"], out))
    return 0 if result["status"] == "ok" else 1


def _compare_summary(report: dict[str, Any], out: Path) -> str:
    unit = report.get("unit")
    length = unit or "model units"
    area = "m²" if unit == "m" else "square model units"
    volume = "m³" if unit == "m" else "cubic model units"

    def num(value: Any) -> str:
        return "n/a" if value is None else f"{value:.4g}"

    lines = [
        f"{report['verdict']:<9} → {out}",
        f"  alignment: {report['alignment'].get('method')}, RMS {num(report.get('rms'))} {length}, "
        f"overlap {num((report.get('overlap') or 0) * 100)}%",
        f"  threshold: {num(report['threshold'].get('threshold'))} {length} "
        f"({report['threshold'].get('source')})",
        f"  changed area: {num(report.get('changed_area'))} {area} (lost "
        f"{num(report.get('changed_area_lost'))}, added {num(report.get('changed_area_added'))})",
        f"  volume ({report['volume'].get('method')}): lost {num(report.get('lost_volume'))} "
        f"{volume}, added {num(report.get('added_volume'))} {volume}",
    ]
    if not report.get("scale_known"):
        lines.append(f"  {report.get('scale_note')}")
    return "\n".join(lines)


def cmd_manage(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["spadok manage", *args.args])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spadok", description="3D backups of cultural heritage under threat."
    )
    parser.add_argument("--version", action="version", version=f"spadok {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="ingest finished scans: files, folders and zips")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object per input on stdout")
    p.add_argument("--title", help="title of the new record (default: from the file name)")
    p.add_argument("--record", help="add the captures to this existing record id")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("serve", help="run the web archive and its workers")
    p.add_argument("--port", type=int, default=int(os.environ.get("SPADOK_PORT", "8000")))
    p.add_argument("--host", default=os.environ.get("SPADOK_BIND", "127.0.0.1"))
    p.add_argument("--web-processes", type=int, default=1)
    p.add_argument("--workers", type=int, default=None, help="in-process workers (default 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run background workers only")
    p.add_argument("--batch", action="store_true", help="exit when the queue is empty")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("info", help="show the configuration and the size of the archive")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("audit", help="check the fixity of every file in every storage root")
    p.add_argument("--repair", action="store_true", help="restore bad copies from good ones")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("rebuild-index", help="rebuild the catalogue from the storage roots alone")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rebuild_index)

    p = sub.add_parser("reindex", help="rebuild the search index of sites and records")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("export", help="export records as packages (BagIt)")
    p.add_argument("format", choices=["bagit"])
    p.add_argument("dest", metavar="DEST", help="folder to write one bag per record into")
    p.add_argument("--record", action="append", help="a record id (repeatable); default: all")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "import-sites", help="import lists of heritage sites and their damage (CSV, GeoJSON)"
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--format", default="auto", choices=list(REGISTRY_FORMATS))
    p.add_argument(
        "--map", action="append", metavar="FIELD=COLUMN",
        help="which column holds a field (name, name_uk, lat, lon, wikidata, id.SCHEME, ...)",
    )  # fmt: skip
    p.add_argument("--source", help="the list's name in the provenance (default: the format)")
    p.add_argument(
        "--standing", choices=list(DAMAGE_STANDINGS),
        help="whose account a CSV/GeoJSON list's damage is (default: other; UNESCO-verified "
        "only for unesco); a damage_standing column wins",
    )  # fmt: skip
    p.set_defaults(func=cmd_import_sites)

    p = sub.add_parser("import-regions", help="import region boundaries (geoBoundaries ADM1)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import_regions)

    p = sub.add_parser("dossier", help="write the signed evidence dossier of a record or a site")
    p.add_argument("id", metavar="ID", help="a record id (r-...) or a site id (s-...)")
    p.add_argument("dest", metavar="DEST", help="the dossier's folder (or a folder to put it in)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_dossier)

    p = sub.add_parser("verify", help="check an evidence dossier offline")
    p.add_argument("path", metavar="PATH", help="the dossier's folder")
    p.add_argument(
        "--key", help="the archive's public key (PEM file) or its fingerprint sha256:..."
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "reconstruct", help="photos, a video or a LiDAR capture into a textured 3D model"
    )
    p.add_argument("input", metavar="INPUT", help="photos (folder or zip), a video, RGB-D data")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="folder for the results")
    p.add_argument("--json", action="store_true", help="one JSON object with the report on stdout")
    p.add_argument("--max-image-size", type=int, default=1600, help="longest side used, pixels")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("compare", help="measure what changed between two captures of one thing")
    p.add_argument(
        "before", metavar="BEFORE", help="the earlier capture: a model file or a capture id"
    )
    p.add_argument("after", metavar="AFTER", help="the later capture: a model file or a capture id")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="folder for the results")
    p.add_argument("--json", action="store_true", help="one JSON object with the report on stdout")
    p.add_argument(
        "--threshold", type=float, help="distance that counts as change (default: 3x noise)"
    )
    p.add_argument("--samples", type=int, default=200_000, help="surface points per capture")
    p.add_argument("--heatmap-on", choices=["after", "before"], default="after")
    p.add_argument("--initial", metavar="MATRIX", help="4x4 start transform (JSON, or a file; a "
                   "report.json starts from its alignment)")  # fmt: skip
    p.add_argument("--translate", type=float, nargs=3, metavar=("X", "Y", "Z"))
    p.add_argument("--rotate", type=float, nargs=3, metavar=("RX", "RY", "RZ"), help="degrees")
    p.add_argument("--no-refine", action="store_true", help="take the start transform as it is")
    p.add_argument("--seed", type=int, default=0, help="random seed (sampling, RANSAC)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("manage", help="Django management commands", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "verify":  # offline: no settings, no database
        return cmd_verify(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _setup_django()
    if args.command not in {"serve", "worker"}:
        # Step-by-step logs are for operators; a terminal user sees the bar and results.
        logging.getLogger("spadok").setLevel(logging.INFO if args.verbose else logging.WARNING)
    from django.db.utils import OperationalError

    from spadok.config import ConfigError

    try:
        if args.command in {"serve", "worker", "ingest", "audit"}:
            check_storage()
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:  # e.g. write-once asked of a bucket without Object Lock
        print(f"spadok: configuration error: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:  # a database that is down or refuses us: no traceback
        from django.conf import settings

        from spadok.config import redact_url

        url = redact_url(settings.SPADOK.database_url)
        print(f"spadok: cannot use the database {url}: {exc}".rstrip(), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
