"""Settings from the environment, validated once at start-up.

A bad setting stops the start with a message that names the variable and
says what is expected; nothing falls back silently. The embedded profile
(SQLite, a local folder, in-process workers) needs no variable at all.
"""

from __future__ import annotations

import os
import secrets
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from spadok.core.limits import Limits


class ConfigError(Exception):
    """A setting is wrong; the message says which and how to fix it."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} must be true or false")


@dataclass(frozen=True)
class Config:
    home: Path
    database_url: str
    storage_urls: tuple[str, ...]
    secret_key: str
    debug: bool
    allowed_hosts: tuple[str, ...]
    limits: Limits
    job_timeout_s: int  # a job running longer than this is presumed dead and re-queued
    workers: int  # in-process workers that `spadok serve` starts
    web_threads: int
    audit_interval_hours: int  # a fixity audit (with repair) runs in the background this often
    organization: str  # named in exported packages
    contact_email: str
    extra: dict[str, str] = field(default_factory=dict)
    upload_bytes_per_day: int = 20 * 1024**3  # per user, over the last 24 hours
    upload_expiry_hours: int = 72  # an unfinished upload is dropped this long after its last byte
    upload_dir: Path | None = None  # part files of resumable uploads; None: $SPADOK_HOME/uploads
    # The archive's Ed25519 signing key (evidence dossiers); None: $SPADOK_HOME/evidence/.
    evidence_key_path: Path | None = None
    tsa_url: str = ""  # an RFC 3161 time-stamping authority for dossiers; "": none

    @property
    def uploads_path(self) -> Path:
        return self.upload_dir or self.home / "uploads"

    @property
    def profile(self) -> str:
        local = all(u.startswith("file://") for u in self.storage_urls)
        return "embedded" if self.database_url.startswith("sqlite") and local else "production"


def validate_storage_url(url: str) -> str:
    """Check one storage URL's shape; the storage layer opens it later."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in {"", "localhost"} or not parsed.path.startswith("/"):
            raise ConfigError(f"SPADOK_STORAGE: {url!r} must be an absolute file:///path")
        return url
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"SPADOK_STORAGE: {url!r} must name a bucket: s3://bucket/prefix")
        query = urllib.parse.parse_qs(parsed.query)
        unknown = set(query) - {"endpoint", "region", "profile", "retention_days", "lock"}
        if unknown:
            raise ConfigError(f"SPADOK_STORAGE: {url!r} has unknown options {sorted(unknown)}")
        endpoint = query.get("endpoint", [""])[-1]
        if endpoint:
            ep = urllib.parse.urlparse(endpoint)
            if ep.scheme not in {"http", "https"} or not ep.netloc:
                raise ConfigError(f"SPADOK_STORAGE: {url!r}: endpoint must be http(s)://host:port")
        days = query.get("retention_days", [""])[-1]
        if days and (not days.isdigit() or int(days) < 1):
            raise ConfigError(f"SPADOK_STORAGE: {url!r}: retention_days must be a whole number ≥ 1")
        lock = query.get("lock", [""])[-1]
        if lock and lock.lower() not in {"governance", "compliance"}:
            raise ConfigError(f"SPADOK_STORAGE: {url!r}: lock must be governance or compliance")
        if bool(lock) != bool(days):
            raise ConfigError(
                f"SPADOK_STORAGE: {url!r}: write-once originals need both lock=governance|"
                "compliance and retention_days=N (or neither)"
            )
        return url
    raise ConfigError(
        f"SPADOK_STORAGE: {url!r} is neither file:///… nor s3://bucket/prefix?endpoint=…"
    )


def redact_url(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    parsed = urllib.parse.urlsplit(url)
    userinfo, at, hostport = parsed.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urllib.parse.urlunsplit(parsed._replace(netloc=f"{user}:***@{hostport}"))


def validate_database_url(url: str) -> str:
    try:
        parsed = urllib.parse.urlsplit(url)
        parsed.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"DATABASE_URL={redact_url(url)!r} is not a valid URL: {exc}") from None
    if parsed.scheme == "sqlite":
        if not parsed.path or parsed.path == "/":
            raise ConfigError(f"DATABASE_URL={url!r}: name the database file: sqlite:////abs/path")
        return url
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        if not parsed.path.strip("/"):
            raise ConfigError(
                f"DATABASE_URL={redact_url(url)!r} names no database: "
                "postgres://user:pass@host:port/dbname"
            )
        return url
    raise ConfigError(
        f"DATABASE_URL={redact_url(url)!r}: use sqlite:///path or postgres://user:pass@host/db"
    )


def load(env: dict[str, str] | None = None) -> Config:
    """Read and check every setting; raise ConfigError on the first bad one."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("SPADOK_HOME") or "var").expanduser().resolve()

    database_url = env.get("DATABASE_URL") or f"sqlite:///{home / 'spadok.sqlite3'}"
    validate_database_url(database_url)

    raw_storage = env.get("SPADOK_STORAGE") or f"file://{home / 'storage'}"
    urls = tuple(validate_storage_url(u.strip()) for u in raw_storage.split(",") if u.strip())
    if not urls:
        raise ConfigError("SPADOK_STORAGE is set but names no storage")
    if len(set(urls)) != len(urls):
        raise ConfigError("SPADOK_STORAGE names the same storage twice")

    secret = env.get("SPADOK_SECRET_KEY", "")
    if not secret:
        secret = _embedded_secret(home)
    elif len(secret) < 32:
        raise ConfigError("SPADOK_SECRET_KEY must be at least 32 characters long")

    hosts = tuple(
        h.strip()
        for h in env.get("SPADOK_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
        if h.strip()
    )
    limits = Limits(
        max_file_bytes=_int(env, "SPADOK_MAX_FILE_BYTES", Limits.max_file_bytes),
        max_vertices=_int(env, "SPADOK_MAX_VERTICES", Limits.max_vertices),
        max_points=_int(env, "SPADOK_MAX_POINTS", Limits.max_points),
        max_points_in_memory=_int(env, "SPADOK_MAX_POINTS_IN_MEMORY", Limits.max_points_in_memory),
        max_zip_entries=_int(env, "SPADOK_MAX_ZIP_ENTRIES", Limits.max_zip_entries),
        max_zip_total_bytes=_int(env, "SPADOK_MAX_ZIP_BYTES", Limits.max_zip_total_bytes),
    )
    return Config(
        home=home,
        database_url=database_url,
        storage_urls=urls,
        secret_key=secret,
        debug=_bool(env, "SPADOK_DEBUG", False),
        allowed_hosts=hosts,
        limits=limits,
        job_timeout_s=_int(env, "SPADOK_JOB_TIMEOUT", 3600, minimum=10),
        workers=_int(env, "SPADOK_WORKERS", 1, minimum=0),
        web_threads=_int(env, "SPADOK_WEB_THREADS", 8),
        audit_interval_hours=_int(env, "SPADOK_AUDIT_INTERVAL_HOURS", 168),
        organization=env.get("SPADOK_ORGANIZATION", "").strip() or "spadok archive",
        contact_email=env.get("SPADOK_CONTACT_EMAIL", "").strip(),
        upload_bytes_per_day=_int(env, "SPADOK_UPLOAD_BYTES_PER_DAY", 20 * 1024**3),
        upload_expiry_hours=_int(env, "SPADOK_UPLOAD_EXPIRY_HOURS", 72),
        upload_dir=_upload_dir(env),
        evidence_key_path=_evidence_key_path(env),
        tsa_url=_tsa_url(env),
    )


def _upload_dir(env: dict[str, str]) -> Path | None:
    raw = env.get("SPADOK_UPLOAD_DIR", "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise ConfigError(f"SPADOK_UPLOAD_DIR={raw!r} must be an absolute path")
    return path


def _evidence_key_path(env: dict[str, str]) -> Path | None:
    """SPADOK_EVIDENCE_KEY: an existing Ed25519 private key (PEM) to sign dossiers with."""
    raw = env.get("SPADOK_EVIDENCE_KEY", "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise ConfigError(f"SPADOK_EVIDENCE_KEY={raw!r} must be an absolute path")
    return path


def _tsa_url(env: dict[str, str]) -> str:
    """SPADOK_TSA_URL: where dossiers' signed manifests are time-stamped (RFC 3161)."""
    raw = env.get("SPADOK_TSA_URL", "").strip()
    parsed = urllib.parse.urlparse(raw)
    if raw and (parsed.scheme not in {"http", "https"} or not parsed.netloc):
        raise ConfigError(f"SPADOK_TSA_URL={raw!r} must be an http(s):// URL of a TSA")
    return raw


def _embedded_secret(home: Path) -> str:
    """A per-installation secret kept in SPADOK_HOME, made on first start."""
    path = home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    os.replace(tmp, path)
    return value


def env_bool(name: str, default: bool, env: dict[str, str] | None = None) -> bool:
    """A true/false variable from the environment; ConfigError on anything else."""
    return _bool(dict(os.environ if env is None else env), name, default)


def email_settings(url: str) -> dict[str, object]:
    """Django's e-mail settings from SPADOK_EMAIL_URL.

    Empty: mail is printed to the console (the embedded profile has no mail server).
    ``smtp://user:pass@host:587`` (STARTTLS), ``smtps://user:pass@host:465`` (TLS),
    ``console://`` or ``locmem://``.
    """
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in {"console", "locmem"}:
        return {"EMAIL_BACKEND": f"django.core.mail.backends.{parsed.scheme}.EmailBackend"}
    if parsed.scheme not in {"smtp", "smtps"} or not parsed.hostname:
        raise ConfigError(
            f"SPADOK_EMAIL_URL={redact_url(url)!r}: use smtp://user:pass@host:587, "
            "smtps://user:pass@host:465, console:// or locmem://"
        )
    try:
        port = parsed.port
    except ValueError:
        raise ConfigError(
            f"SPADOK_EMAIL_URL={redact_url(url)!r}: the port is not a number"
        ) from None
    tls = parsed.scheme == "smtps"
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parsed.hostname,
        "EMAIL_PORT": port or (465 if tls else 587),
        "EMAIL_HOST_USER": urllib.parse.unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": urllib.parse.unquote(parsed.password or ""),
        "EMAIL_USE_SSL": tls,
        "EMAIL_USE_TLS": not tls,
        "EMAIL_TIMEOUT": 30,
    }
