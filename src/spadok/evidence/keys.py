"""The archive's Ed25519 signing key: made on first use, kept private, published as a public key.

Kept in ``$SPADOK_HOME/evidence/archive-ed25519.pem`` (folder 0700, file 0600),
or read from ``SPADOK_EVIDENCE_KEY`` (a key an operator made and keeps,
perhaps on other media). It is refused when it lies inside any folder the site
serves or stores (static files, storage roots, uploads) or when others may read
it. Only the public key ever leaves: ``/archive/key.pub`` and the dossiers.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from spadok.core.errors import SpadokError
from spadok.core.evidence import signing

KEY_NAME = "archive-ed25519.pem"


def key_path() -> Path:
    cfg = settings.SPADOK
    return cfg.evidence_key_path or cfg.home / "evidence" / KEY_NAME


def _public_dirs() -> list[Path]:
    cfg = settings.SPADOK
    dirs = [Path(settings.STATIC_ROOT), cfg.uploads_path]
    for url in cfg.storage_urls:
        if url.startswith("file://"):
            dirs.append(Path(url.removeprefix("file://").split("?", 1)[0]))
    return [d.resolve() for d in dirs]


def _check_safe(path: Path) -> None:
    resolved = path.resolve()
    for folder in _public_dirs():
        if resolved.is_relative_to(folder):
            raise SpadokError("evidence.key_unsafe", f"{path} is inside {folder}")
    if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise SpadokError(
            "evidence.key_unsafe",
            f"{path} may be read by others (mode {stat.S_IMODE(path.stat().st_mode):o})",
        )


def _create(path: Path) -> None:
    """Write a new key without ever clobbering one another process made first."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(signing.generate_private_pem())
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def archive_key() -> Ed25519PrivateKey:
    """The signing key; made on first use unless SPADOK_EVIDENCE_KEY names one."""
    path = key_path()
    _check_safe(path)
    if not path.exists():
        if settings.SPADOK.evidence_key_path is not None:
            raise SpadokError("evidence.key_unreadable", f"{path} does not exist")
        _create(path)
        _check_safe(path)
    try:
        return signing.load_private(path.read_bytes())
    except (OSError, signing.BadKey) as exc:
        raise SpadokError("evidence.key_unreadable", f"{path}: {exc}") from None


def public_pem() -> bytes:
    return signing.public_pem(archive_key())


def fingerprint() -> str:
    return signing.fingerprint(archive_key())
