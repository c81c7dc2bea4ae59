"""The archive's public key (for anyone who checks a dossier) and the curators' dossier download."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from spadok.catalogue import selectors
from spadok.core.errors import SpadokError
from spadok.evidence import keys
from spadok.evidence.dossiers import dossier_make, dossier_name

# Files that compress well go deflated; scans and images are stored as they are.
DEFLATE = {".txt", ".json", ".jsonl", ".pem", ".pub", ".obj", ".mtl", ".ply", ".xyz", ".pts"}


@require_GET
def key_pub(request: HttpRequest) -> HttpResponse:
    """The public key as PEM: what ``spadok verify --key`` wants."""
    response = HttpResponse(keys.public_pem(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="spadok-archive-key.pub"'
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def key_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "evidence/key.html",
        {"fingerprint": keys.fingerprint(), "pem": keys.public_pem().decode("ascii")},
    )


def _zip(folder: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            method = zipfile.ZIP_DEFLATED if path.suffix.lower() in DEFLATE else zipfile.ZIP_STORED
            zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}", method)


@require_POST
@login_required
def record_dossier(request: HttpRequest, record_id: str) -> HttpResponse | FileResponse:
    """A zip of the record's dossier; curators and administrators only, and logged."""
    if not selectors.may_seal(request.user):
        raise Http404("no such record")
    record = selectors.access_record(request.user, record_id, action=None)
    selectors.log_sealed_access(request.user, record, None, "dossier")
    work = Path(tempfile.mkdtemp(prefix="spadok-dossier-"))
    try:
        name = dossier_name(record.id)
        try:
            dossier_make(subject_id=record.id, dest=work / name, actor=request.user)
        except SpadokError as exc:  # e.g. a damaged stored file: say what to do
            messages.error(request, exc.message)
            return redirect(record)
        archive = work / f"{name}.zip"
        _zip(work / name, archive)
        stream = archive.open("rb")
    finally:
        # the open stream keeps the zip readable until the response is sent
        shutil.rmtree(work, ignore_errors=True)
    response = FileResponse(
        stream, as_attachment=True, filename=f"{name}.zip", content_type="application/zip"
    )
    response["Cache-Control"] = "private, no-store"
    with contextlib.suppress(OSError):
        response["Content-Length"] = str(os.fstat(stream.fileno()).st_size)
    return response
