"""The tus endpoint under hostile headers and bodies, through Django's test client.

Each example is a short session of one signed-in volunteer: creations, PATCHes
(right and wrong offsets, checksums, content types, lengths, bodies cut short
as when a connection drops), HEADs, GETs, DELETEs, method overrides, on real
upload URLs and made-up ones. Every answer must be a tus answer (never a
server error, an error body always with a known code), and at rest each
upload's part file must hold exactly the bytes acknowledged, no more: the
bytes the client was told arrived, in order, hashed as the server says.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spadok.core.errors import CODES
from spadok.uploads.models import Upload, UploadChunk, UploadState
from spadok.uploads.tus import encode_metadata
from tests.fuzz import replay
from tests.fuzz.strategies import fast, long

pytestmark = [pytest.mark.django_db, pytest.mark.db_both]

OCTETS = "application/offset+octet-stream"
MAX_BYTES = 4096  # the file-size limit during the test: small, so that it is met

ODD_NUMBERS = ["", "-1", "+5", "1e3", " 7", "7 ", "0x10", "٣", "²", "9" * 5000, "0" * 5000 + "1",
               str(2**63), str(10**30), "1.5", "NaN"]  # fmt: skip
numbers = st.one_of(
    st.sampled_from([*ODD_NUMBERS, "0", "1", "100", str(MAX_BYTES), str(MAX_BYTES + 1)]),
    st.integers(0, MAX_BYTES * 2).map(str),
    st.text(max_size=12),
)
meta_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["Софія собор.glb", "../../etc/passwd", "a\x00b.glb", "\u202egnp.exe",
                     "CON", "x" * 600, "", "r-doesnotexist", "\ud800"]),
)  # fmt: skip


@st.composite
def metadata(draw: Any) -> str | None:
    how = draw(st.sampled_from(["none", "good", "good", "raw"]))
    if how == "none":
        return None
    if how == "raw":
        return draw(st.text(max_size=80))
    keys = draw(st.lists(st.sampled_from(["filename", "title", "record", "name", "x"]), max_size=4))
    values = {k: draw(meta_values) for k in keys}
    try:
        return encode_metadata({k: v for k, v in values.items()})
    except UnicodeEncodeError:
        return ",".join(f"{k} {base64.b64encode(b'x').decode()}" for k in values)


def checksum(draw: Any, body: bytes) -> str | None:
    how = draw(st.sampled_from(["none", "none", "right", "wrong", "junk"]))
    algorithm = draw(st.sampled_from(["sha256", "sha1", "md5"]))
    if how == "right":
        return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, body).digest()).decode()}"
    if how == "wrong":
        return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, b'other').digest()).decode()}"
    if how == "junk":
        return draw(
            st.sampled_from(["sha256", "crc32 AAAA", "sha256 !!!", "md5 " + "A" * 5000, "a b c"])
        )
    return None


@st.composite
def steps(draw: Any) -> list[dict[str, Any]]:
    out = []
    for n in range(draw(st.integers(1, 10))):
        kinds = ["create", "patch", "patch", "patch", "head", "get", "delete", "options"]
        kind = "create" if n == 0 else draw(st.sampled_from(kinds))
        body = draw(st.one_of(st.binary(max_size=1500), st.just(b"")))
        step: dict[str, Any] = {"kind": kind, "body": body}
        step["version"] = draw(st.sampled_from(["1.0.0"] * 6 + ["0.2.2", "", None]))
        step["target"] = draw(st.sampled_from(["last", "last", "first", "unknown", "junk"]))
        step["offset"] = draw(st.one_of(numbers, st.just("right"), st.just("right")))
        step["length"] = draw(st.one_of(numbers, st.integers(1, MAX_BYTES).map(str)))
        step["metadata"] = draw(metadata())
        step["content_type"] = draw(st.sampled_from([OCTETS] * 5 + ["text/plain", ""]))
        step["checksum"] = checksum(draw, body)
        # A body cut short: the connection dropped after some of the promised bytes.
        step["claimed"] = draw(st.sampled_from([None, None, None, "more", "junk"]))
        step["override"] = draw(st.sampled_from([None] * 6 + ["PATCH", "DELETE", "HEAD", "PUT"]))
        step["defer"] = draw(st.sampled_from([False] * 9 + [True]))
        out.append(step)
    return out


@dataclass
class Model:
    """What the client was told: the bytes acknowledged for each upload."""

    sent: dict[str, bytearray] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)


def _request(client: Any, model: Model, step: dict[str, Any]) -> tuple[Any, str | None]:
    headers: dict[str, str] = {}
    if step["version"] is not None:
        headers["Tus-Resumable"] = step["version"]
    if step["override"]:
        headers["X-HTTP-Method-Override"] = step["override"]
    extra: dict[str, str] = {}
    if step["claimed"] == "more":
        extra["CONTENT_LENGTH"] = str(len(step["body"]) + 100)
    elif step["claimed"] == "junk":
        extra["CONTENT_LENGTH"] = "12abc"
    kind = step["kind"]
    if kind == "create":
        headers["Upload-Length"] = step["length"]
        if step["metadata"] is not None:
            headers["Upload-Metadata"] = step["metadata"]
        if step["defer"]:
            headers["Upload-Defer-Length"] = "1"
        if step["checksum"]:
            headers["Upload-Checksum"] = step["checksum"]
        content_type = step["content_type"] if step["body"] else ""
        method = "POST"
        return client.generic(method, "/api/uploads/", step["body"], content_type=content_type,
                              headers=headers, **extra), None  # fmt: skip
    target = step["target"]
    if target in ("last", "first") and model.urls:
        url = model.urls[-1 if target == "last" else 0]
    elif target == "junk":
        url = "/api/uploads/not-a-uuid/"
    else:
        url = f"/api/uploads/{uuid.uuid4()}/"
    path = url.replace("http://testserver", "")
    if kind == "patch":
        sent = model.sent.get(url)
        headers["Upload-Offset"] = (
            str(len(sent) if sent is not None else 0)
            if step["offset"] == "right"
            else step["offset"]
        )
        if step["checksum"]:
            headers["Upload-Checksum"] = step["checksum"]
        method = "POST" if step["override"] == "PATCH" else "PATCH"
        return client.generic(method, path, step["body"], content_type=step["content_type"],
                              headers=headers, **extra), url  # fmt: skip
    method = {"head": "HEAD", "get": "GET", "delete": "DELETE", "options": "OPTIONS"}[kind]
    return client.generic(method, path, b"", headers=headers), url


def _check_answer(response: Any, step: dict[str, Any]) -> None:
    assert response.status_code < 500 or response.status_code == 503, (
        response.status_code,
        response.content[:300],
        step,
    )
    if response.status_code == 404 and not response.has_header("Tus-Resumable"):
        return  # a URL that is no upload URL at all: Django's own 404
    assert response["Tus-Resumable"] == "1.0.0"
    if response.status_code >= 400 and response.content:
        code = response.json()["error"]["code"]
        assert code in CODES, code


def _check_at_rest(upload_dir: Path, model: Model) -> None:
    """Every upload's bytes are exactly those acknowledged, with digests to match."""
    for upload in Upload.objects.all():
        part = upload_dir / f"{upload.id}.part"
        chunks = sum(c.length for c in UploadChunk.objects.filter(upload=upload))
        assert chunks == upload.offset, (upload, chunks)
        assert 0 <= upload.offset <= upload.length
        url = next((u for u in model.urls if str(upload.id) in u), None)
        if upload.state == UploadState.UPLOADING:
            assert part.exists() and part.stat().st_size == upload.offset, upload
            if url is not None:
                assert part.read_bytes() == bytes(model.sent[url]), upload
        elif upload.state == UploadState.COMPLETE:
            assert upload.offset == upload.length
            if url is not None:
                assert upload.sha256 == hashlib.sha256(bytes(model.sent[url])).hexdigest()
        elif upload.state == UploadState.TERMINATED:
            assert not part.exists()


def _follow(model: Model, step: dict[str, Any], response: Any, url: str | None) -> None:
    """Update the model from what the server said it kept."""
    if step["kind"] == "create" and response.status_code == 201:
        created = response["Location"]
        model.urls.append(created)
        model.sent[created] = bytearray()
        url = created
    if url is None or url not in model.sent or not response.has_header("Upload-Offset"):
        return
    offset = int(response["Upload-Offset"])
    sent = model.sent[url]
    if offset > len(sent):
        sent.extend(step["body"][: offset - len(sent)])
    assert len(sent) == offset, (len(sent), offset)


def run_session(client: Any, upload_dir: Path, session: list[dict[str, Any]]) -> None:
    model = Model()
    for step in session:
        response, url = _request(client, model, step)
        _check_answer(response, step)
        _follow(model, step, response, url)
    _check_at_rest(upload_dir, model)


@pytest.fixture
def signed_in(client: Any, settings: Any, tmp_path: Path, storage_root: Path) -> Any:
    from django.contrib.auth import get_user_model

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast set-up
    settings.SPADOK = replace(
        settings.SPADOK,
        upload_dir=tmp_path / "uploads",
        upload_bytes_per_day=2**62,
        limits=replace(settings.SPADOK.limits, max_file_bytes=MAX_BYTES),
    )
    user = get_user_model().objects.create_user("fuzz", "fuzz@example.org", "pw-fuzz-123")
    _, token = _token(user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"  # no CSRF token needed
    return client


def _token(user: Any) -> tuple[Any, str]:
    from spadok.accounts import services as accounts

    return accounts.token_create(user=user, name="fuzz")


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


# Header values that once broke, or could break, a parser (a regression corpus for tus).
HOSTILE_METADATA = [
    f"filename {_b64(b'a' + bytes([0]) + b'b.glb')}",
    f"title {_b64(b'x' + bytes([0]))}",
    f"record {_b64(b'r-' + bytes([0]) + b'1')}",
    f"record {_b64(b'r-' + b'9' * 5000)}",
    f"filename {_b64(bytes([0xFF, 0xFE]))}",  # not UTF-8
    "filename !!!notbase64",
    "filename",
    "filename a,filename b",
    "ключ " + _b64(b"x"),
    ",".join(f"k{n} {_b64(b'v')}" for n in range(2000)),
    f"title {_b64(('Ж' * 5000).encode())}",
    " , ",
]


@pytest.mark.parametrize(
    ("header", "value"),
    [("Upload-Length", v) for v in ODD_NUMBERS]
    + [("Upload-Metadata", v) for v in HOSTILE_METADATA]
    + [("Upload-Checksum", v) for v in ["sha256", "crc32 AAAA", "sha256 !!!", "md5 " + "A" * 5000]]
    + [("Tus-Resumable", v) for v in ["", "1.0", "1.0.0 ", "\u00e9"]],
)
def test_hostile_creation_headers(signed_in: Any, tmp_path: Path, header: str, value: str) -> None:
    headers = {"Tus-Resumable": "1.0.0", "Upload-Length": "100", header: value}
    body = b"x" * 10 if header == "Upload-Checksum" else b""
    response = signed_in.generic(
        "POST", "/api/uploads/", body, content_type=OCTETS if body else "", headers=headers
    )
    _check_answer(response, {"header": header, "value": value})
    _check_at_rest(tmp_path / "uploads", Model())


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_hostile_offsets(signed_in: Any, tmp_path: Path, value: str) -> None:
    created = signed_in.generic(
        "POST", "/api/uploads/", b"", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "10"}
    )
    assert created.status_code == 201
    url = created["Location"].replace("http://testserver", "")
    response = signed_in.generic(
        "PATCH", url, b"0123456789", content_type=OCTETS,
        headers={"Tus-Resumable": "1.0.0", "Upload-Offset": value},
    )  # fmt: skip
    _check_answer(response, {"offset": value})
    assert response.status_code != 204 or value.strip() == "0"
    _check_at_rest(tmp_path / "uploads", Model())


def test_hostile_tus_sessions(signed_in: Any, tmp_path: Path) -> None:
    @fast(45)
    @given(session=steps())
    def run(session: list[dict[str, Any]]) -> None:
        Upload.objects.all().delete()
        run_session(signed_in, tmp_path / "uploads", session)

    run()


@pytest.mark.fuzz_long
def test_long_hostile_tus_sessions(signed_in: Any, tmp_path: Path) -> None:
    @long(2000)
    @given(session=steps())
    def run(session: list[dict[str, Any]]) -> None:
        Upload.objects.all().delete()
        run_session(signed_in, tmp_path / "uploads", session)

    run()


@pytest.mark.parametrize("note_path", replay.notes("tus"), ids=lambda p: p.stem)
def test_tus_corpus(signed_in: Any, tmp_path: Path, note_path: Path) -> None:
    """What the fuzzer found in the tus headers: a tus answer with its code, nothing kept."""
    note = replay.load(note_path)
    url = "/api/uploads/"
    if note["method"] == "PATCH":
        created = signed_in.generic(
            "POST", url, b"", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "10"}
        )
        assert created.status_code == 201
        url = created["Location"].replace("http://testserver", "")
    body = b"0123456789" if note["method"] == "PATCH" else b""
    response = signed_in.generic(
        note["method"], url, body, content_type=OCTETS if body else "",
        headers={"Tus-Resumable": "1.0.0", **note["headers"]},
    )  # fmt: skip
    _check_answer(response, note)
    if "expect" in note:
        assert response.status_code == 400, note["found"]
        assert response.json()["error"]["code"] == note["expect"], note["found"]
    else:
        assert response.status_code == note["expect_status"], note["found"]
    _check_at_rest(tmp_path / "uploads", Model())
    assert Upload.objects.filter(offset__gt=0).count() == 0
