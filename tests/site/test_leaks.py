"""Nothing that identifies a volunteer reaches the public, nor another archive's metadata.

An archive is seeded through the real services: a contributor with a known
e-mail and user name ingests (a) an OBJ in a zip whose JPEG texture carries GPS
EXIF, a camera body serial, an XMP packet (GPS and a creator) and a comment,
and (b) a GLB whose ``asset.extras``, ``asset.copyright``, generator, node,
mesh and material names hold the e-mail and a home-folder path. The record is
made public. Then every public page, JSON view and derivative (each web GLB's
JSON and each embedded image's EXIF/XMP/text, the thumbnail) is searched for
the secrets.

The BagIt export is a transfer between archives: the sealed originals inside
the bag keep their EXIF by design (they are the evidence, byte for byte), so
only the bag's metadata files (bag-info, record.json, events, inventories'
user blocks) are checked: they must not name the contributor either.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

EMAIL = "olena.hidden-scanner@example.org"
USERNAME = "olena_kovalenko_scans"
CREATOR = "Olena Kovalenko-Bilyk"
SERIAL = "SN4471ZX9Q"
HOME_PATH = f"/home/{USERNAME}/scans/lavra"
LAT, LON = 50.434_512, 30.557_218  # Kyiv-Pechersk Lavra, to 6 decimals


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    deg = int(value)
    minutes_f = (value - deg) * 60
    minutes = int(minutes_f)
    seconds = round((minutes_f - minutes) * 60 * 10000)
    return (deg, 1), (minutes, 1), (seconds, 10000)


def _rational_bytes() -> list[bytes]:
    """The GPS latitude/longitude as EXIF stores them: unsigned rationals, both byte orders."""
    out = []
    for value in (LAT, LON):
        dms = _dms(value)
        for order in ("<", ">"):
            out.append(b"".join(struct.pack(order + "II", n, d) for n, d in dms))
    return out


def _decimal_strings() -> list[str]:
    found = []
    for value in (LAT, LON):
        for places in (3, 4, 5, 6):
            found.append(f"{value:.{places}f}")
    return found


SECRETS_TEXT = [EMAIL, USERNAME, CREATOR, SERIAL, HOME_PATH, *_decimal_strings()]


def _photo_texture() -> bytes:
    from PIL import Image

    img = Image.new("RGB", (64, 64))
    for x in range(64):
        for y in range(64):
            img.putpixel((x, y), (x * 4, y * 4, 128))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D Mark IV"
    exif[0xA431] = SERIAL  # BodySerialNumber
    exif[0x013B] = CREATOR  # Artist
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = "N", "E"
    gps[2] = tuple(n / d for n, d in _dms(LAT))
    gps[4] = tuple(n / d for n, d in _dms(LON))
    xmp = (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
        ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:exif="http://ns.adobe.com/exif/1.0/"'
        f' exif:GPSLatitude="50,{(LAT - 50) * 60:.6f}N"'
        f' exif:GPSLongitude="30,{(LON - 30) * 60:.6f}E">'
        f"<dc:creator><rdf:Seq><rdf:li>{CREATOR}</rdf:li></rdf:Seq></dc:creator>"
        "</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
    ).encode()
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, exif=exif, xmp=xmp, comment=f"{EMAIL} {HOME_PATH}".encode())
    return buf.getvalue()


def _obj_zip(folder: Path) -> Path:
    texture = _photo_texture()
    assert SERIAL.encode() in texture and CREATOR.encode() in texture  # the fixture is honest
    obj = (
        "mtllib lavra.mtl\n"
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\n"
        "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
        "vn 0 0 1\n"
        "usemtl stone\n"
        "f 1/1/1 2/2/1 3/3/1\nf 1/1/1 3/3/1 4/4/1\nf 1/1/1 2/2/1 6/3/1\nf 1/1/1 6/3/1 5/4/1\n"
    )
    mtl = "newmtl stone\nKd 1 1 1\nmap_Kd IMG_2041.jpg\n"
    path = folder / "lavra_bell.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("lavra.obj", obj)
        zf.writestr("lavra.mtl", mtl)
        zf.writestr("IMG_2041.jpg", texture)
    return path


def _glb_with_names(folder: Path) -> Path:
    import numpy as np
    import trimesh

    mesh = trimesh.Trimesh(
        vertices=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float),
        faces=np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]]),
    )
    raw = trimesh.Scene(mesh).export(file_type="glb")
    jlen = struct.unpack_from("<I", raw, 12)[0]
    doc = json.loads(raw[20 : 20 + jlen])
    rest = raw[20 + jlen :]
    doc["asset"]["extras"] = {"author": EMAIL, "source": f"{HOME_PATH}/gate.blend"}
    doc["asset"]["copyright"] = f"(c) {CREATOR} <{EMAIL}>"
    doc["asset"]["generator"] = f"Blender 4.1 ({HOME_PATH})"
    doc["extras"] = {"user": USERNAME}
    for node in doc["nodes"]:
        node["name"] = f"{HOME_PATH}/gate_node"
        node["extras"] = {"gps": f"{LAT:.6f},{LON:.6f}"}
    for mesh_doc in doc["meshes"]:
        mesh_doc["name"] = EMAIL
    doc.setdefault("materials", [{"name": "x"}])
    for mat in doc["materials"]:
        mat["name"] = f"C:\\Users\\{USERNAME}\\Documents\\stone.mat"
    js = json.dumps(doc).encode()
    js += b" " * ((-len(js)) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js + rest
    path = folder / "golden_gate.glb"
    path.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return path


@pytest.fixture
def seeded(storage_root: Path, tmp_path: Path, django_user_model: Any) -> dict[str, Any]:
    from spadok.catalogue import services
    from spadok.catalogue.models import Capture, Record, Visibility
    from spadok.core import inputs

    user = django_user_model.objects.create_user(USERNAME, EMAIL, "pw-leak-test-1")
    folder = tmp_path / USERNAME / "scans"  # the path a curator's machine would show
    folder.mkdir(parents=True)
    captures = []
    for source in (_obj_zip(folder), _glb_with_names(folder)):
        units = [
            u for u in inputs.expand([source], tmp_path / "work") if isinstance(u, inputs.Unit)
        ]
        assert units, source
        captures.append(services.capture_ingest(unit=units[0], title="Лавра"))
    record = captures[0].record
    Capture.objects.filter(id=captures[1].id).update(record=record)
    Capture.objects.filter(id__in=[c.id for c in captures]).update(contributor=user)
    Record.objects.filter(id=record.id).update(visibility=Visibility.PUBLIC)
    Record.objects.exclude(id=record.id).delete()
    return {"record": Record.objects.get(id=record.id), "user": user, "captures": captures}


def _leaks(blob: bytes, where: str) -> list[str]:
    found = []
    lowered = blob.lower()
    for secret in SECRETS_TEXT:
        for form in {secret, secret.lower()}:
            if form.encode() in lowered or form.encode() in blob:
                found.append(f"{where}: {secret!r}")
                break
    for rational in _rational_bytes():
        if rational in blob:
            found.append(f"{where}: GPS as EXIF rationals")
    return found


def _image_leaks(blob: bytes, where: str) -> list[str]:
    from spadok.core.derive.scrub import image_metadata

    meta = image_metadata(blob)
    out = _leaks(blob, where)
    if meta["info"] or meta["exif"] or meta["app"]:
        out.append(f"{where}: metadata left {sorted(meta['info'])} {meta['exif']} {meta['app']}")
    return out


def _glb_leaks(blob: bytes, where: str) -> list[str]:
    out = _leaks(blob, where)
    jlen = struct.unpack_from("<I", blob, 12)[0]
    doc = json.loads(blob[20 : 20 + jlen])
    text = json.dumps(doc)
    if "extras" in text or "copyright" in doc.get("asset", {}):
        out.append(f"{where}: extras or copyright kept")
    if not str(doc["asset"].get("generator", "")).startswith("spadok"):
        out.append(f"{where}: generator {doc['asset'].get('generator')!r}")
    for key in ("nodes", "meshes", "materials"):
        for item in doc.get(key, []):
            if any(c in item.get("name", "") for c in "/\\@:"):
                out.append(f"{where}: {key} name {item['name']!r}")
    bins = blob[20 + jlen + 8 :]
    for n, image in enumerate(doc.get("images", [])):
        view = doc["bufferViews"][image["bufferView"]]
        start = view.get("byteOffset", 0)
        out += _image_leaks(bins[start : start + view["byteLength"]], f"{where} image {n}")
    return out


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_no_public_page_or_derivative_names_the_volunteer_or_the_place(seeded: Any) -> None:
    record = seeded["record"]
    anon = Client()
    leaks: list[str] = []
    pages = ["/", "/records/", f"/records/{record.id}/", f"/records/{record.id}.json", "/api/me"]
    for url in pages:
        r = anon.get(url)
        assert r.status_code == (401 if url == "/api/me" else 200), (url, r.status_code)
        leaks += _leaks(_body(r), url)
    data = anon.get(f"/records/{record.id}.json").json()
    served = 0
    for capture in data["captures"]:
        assert capture["derivatives"], capture["id"]
        for deriv in capture["derivatives"]:
            r = anon.get(deriv["url"])
            assert r.status_code == 200, deriv["url"]
            blob = _body(r)
            served += 1
            where = f"{capture['id']} {deriv['role']}"
            if deriv["mime"] == "model/gltf-binary":
                leaks += _glb_leaks(blob, where)
            elif deriv["mime"].startswith("image/"):
                leaks += _image_leaks(blob, where)
            else:
                leaks += _leaks(blob, where)
    assert served >= 4  # a web copy and a thumbnail per capture at least
    assert not leaks, "\n".join(leaks)


def test_credit_names_the_display_name_and_nothing_else(seeded: Any) -> None:
    """A volunteer who chose "credit me" is named by the pseudonym they chose, only."""
    from spadok.accounts.services import profile_update

    record = seeded["record"]
    anon = Client()
    pages = ["/", "/records/", f"/records/{record.id}/", f"/records/{record.id}.json"]
    profile_update(user=seeded["user"], display_name="Сова з Печерська", credit_me=False)
    for url in pages:
        assert "Сова з Печерська" not in _body(anon.get(url)).decode(), url
    profile_update(user=seeded["user"], display_name="Сова з Печерська", credit_me=True)
    leaks: list[str] = []
    for url in pages:
        leaks += _leaks(_body(anon.get(url)), url)
    assert not leaks, "\n".join(leaks)
    assert "Сова з Печерська" in anon.get(f"/records/{record.id}/").content.decode()
    data = anon.get(f"/records/{record.id}.json").json()
    assert {c["captured_by"] for c in data["captures"]} == {"Сова з Печерська"}


def test_originals_of_a_public_record_are_not_served_to_the_public(seeded: Any) -> None:
    """Originals stay sealed: the public gets their names, sizes and sums, never the bytes."""
    record = seeded["record"]
    anon = Client()
    data = anon.get(f"/records/{record.id}.json").json()
    originals = [o for c in data["captures"] for o in c["originals"]]
    assert originals and all(o["url"] is None and o["sha256"] for o in originals)
    capture = record.captures.first()
    for original in capture.originals:
        url = f"/records/{record.id}/captures/{capture.id}/original/{original['path']}"
        assert anon.get(url).status_code == 404
    page = anon.get(f"/records/{record.id}/").content.decode()
    assert "/original/" not in page


def test_the_bagit_export_metadata_names_no_volunteer(seeded: Any, tmp_path: Path) -> None:
    from spadok.preservation.exports import export_records_bagit

    [bag] = export_records_bagit([seeded["record"]], tmp_path / "bags")
    leaks: list[str] = []
    checked = 0
    for path in sorted(bag.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(bag).as_posix()
        if "/original/" in rel:
            continue  # sealed originals: byte for byte, by design (see the module docstring)
        if "/derivatives/" in rel and path.suffix in (".glb", ".png"):
            continue  # the derivatives were checked as served, above
        checked += 1
        leaks += _leaks(path.read_bytes(), rel)
    assert checked >= 5
    assert not leaks, "\n".join(leaks)
