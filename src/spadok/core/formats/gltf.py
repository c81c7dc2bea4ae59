"""glTF 2.0 (.gltf JSON with side files, and binary .glb), plus zip containers.

trimesh reads the geometry, but it cannot decode EXT_meshopt_compression, does
not dequantise normalised attributes (KHR_mesh_quantization) and finds side
files only by their exact names. So every glTF is first rebuilt here into one
self-contained GLB in memory: buffers are fetched through our :class:`Resolver`
(URL-encoded and Unicode names), meshopt views are decoded, quantised attributes
become float32, and images that Pillow cannot decode (KTX2) are described in
``extra["textures"]`` with a warning instead of failing the upload.

This module also registers the ``zip`` family (a zip that is only a container,
which :mod:`spadok.core.inputs` unpacks), because a zip is what a glTF export
with its .bin and textures most often arrives in.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from spadok.core.derive.scrub import scrub_name, scrub_text
from spadok.core.errors import SpadokError
from spadok.core.formats.base import (
    Asset,
    FormatSpec,
    Resolver,
    check_vertex_limit,
    is_text,
)
from spadok.core.formats.mesh_common import as_scene, check_finite, scene_asset
from spadok.core.limits import DEFAULT_LIMITS, Limits

GLB_MAGIC = b"glTF"
_JSON_CHUNK = 0x4E4F534A
_BIN_CHUNK = 0x004E4942
KTX2_MAGIC = b"\xabKTX 20\xbb\r\n\x1a\n"

# componentType -> numpy dtype
_DTYPES = {
    5120: np.int8,
    5121: np.uint8,
    5122: np.int16,
    5123: np.uint16,
    5125: np.uint32,
    5126: np.float32,
}
# Largest value of each integer componentType, for normalised attributes.
_NORM_MAX = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0, 5125: 4294967295.0}
_NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
# Extensions this module removes by decoding them before trimesh sees the file.
_DECODED_EXTENSIONS = {"EXT_meshopt_compression", "KHR_mesh_quantization"}


# --- sniffing -------------------------------------------------------------------------------


def sniff_glb(head: bytes, path: Path) -> int:
    return 2 if head[:4] == GLB_MAGIC else 0


def sniff_gltf(head: bytes, path: Path) -> int:
    if not is_text(head):
        return 0
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return 0
    if '"asset"' in text and '"version"' in text:
        return 2
    keys = ('"accessors"', '"bufferViews"', '"meshes"', '"scenes"', '"nodes"', '"buffers"')
    return 1 if any(k in text for k in keys) else 0


# --- reading ---------------------------------------------------------------------------------


def load_gltf(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    """Read a .gltf or .glb file and its side files into a mesh Asset."""
    data = path.read_bytes()
    if data[:4] == GLB_MAGIC:
        doc, bin_chunk = _split_glb(data, path)
        fmt = "glb"
    else:
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpadokError("format.corrupt", f"{path.name}: not valid JSON ({exc})") from exc
        bin_chunk = None
        fmt = "gltf"
    if not isinstance(doc, dict):
        raise SpadokError("format.corrupt", f"{path.name}: not a glTF document")
    version = str(doc.get("asset", {}).get("version", ""))
    if version and not version.startswith("2"):
        raise SpadokError("format.unsupported", f"{path.name} is glTF {version}; only glTF 2.0")
    if not any(m.get("primitives") for m in doc.get("meshes", []) if isinstance(m, dict)):
        raise SpadokError("geometry.empty", f"{path.name} has no meshes")
    _check_counts(doc, limits)
    warnings: list[str] = []
    textures: list[dict[str, Any]] = []
    glb = _rebuild(doc, bin_chunk, resolver, path, warnings, textures)
    # The rebuilt GLB holds every byte trimesh needs: the file's own go now,
    # not after trimesh has made its copies of the chunks beside them.
    del data, bin_chunk
    extensions = sorted(set(doc.get("extensionsUsed", [])))
    try:
        loaded = trimesh.load(io.BytesIO(glb), file_type="glb", process=False)
    except SpadokError:
        raise
    except Exception as exc:
        raise SpadokError("format.corrupt", f"{path.name}: {_first_line(exc)}") from exc
    scene = as_scene(loaded)
    check_finite(scene, path)
    extra: dict[str, Any] = {
        "gltf_version": version or None,
        "generator": scrub_text(doc.get("asset", {}).get("generator")) or None,
        "extensions_used": extensions,
    }
    if textures:
        extra["textures"] = textures
    return scene_asset(
        scene,
        fmt=fmt,
        mime="model/gltf-binary" if fmt == "glb" else "model/gltf+json",
        path=path,
        unit="m",  # glTF's unit is the metre and +Y is up, by specification
        up_axis="Y",
        extra=extra,
        warnings=warnings,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _split_glb(data: bytes, path: Path) -> tuple[dict[str, Any], memoryview | None]:
    if len(data) < 20:
        raise SpadokError("format.corrupt", f"{path.name}: GLB header is truncated")
    _magic, version, length = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise SpadokError("format.unsupported", f"{path.name} is GLB version {version}; only 2")
    if length > len(data):
        raise SpadokError(
            "format.corrupt", f"{path.name}: GLB says {length} bytes, has {len(data)}"
        )
    offset = 12
    doc: dict[str, Any] | None = None
    bin_chunk: memoryview | None = None
    view = memoryview(data)  # slices share the file's bytes: a big GLB is not copied
    while offset + 8 <= length:
        clen, ctype = struct.unpack_from("<II", data, offset)
        chunk = view[offset + 8 : offset + 8 + clen]
        if len(chunk) != clen:
            raise SpadokError("format.corrupt", f"{path.name}: GLB chunk is truncated")
        if ctype == _JSON_CHUNK and doc is None:
            try:
                doc = json.loads(bytes(chunk).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SpadokError("format.corrupt", f"{path.name}: bad JSON chunk") from exc
        elif ctype == _BIN_CHUNK and bin_chunk is None:
            bin_chunk = chunk
        offset += 8 + clen
    if doc is None:
        raise SpadokError("format.corrupt", f"{path.name}: GLB has no JSON chunk")
    return doc, bin_chunk


def _check_counts(doc: dict[str, Any], limits: Limits) -> None:
    """Refuse oversized models from the accessor counts, before any decoding."""
    accessors = doc.get("accessors", [])
    total = 0
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []):
            idx = prim.get("attributes", {}).get("POSITION")
            if isinstance(idx, int) and 0 <= idx < len(accessors):
                total += int(accessors[idx].get("count", 0))
    check_vertex_limit(total, limits)


def _data_uri(uri: str) -> bytes:
    header, _, payload = uri.partition(",")
    if header.endswith(";base64"):
        return base64.b64decode(payload)
    return urllib.parse.unquote_to_bytes(payload)


def _fetch(uri: str, resolver: Resolver) -> bytes:
    if uri.startswith("data:"):
        return _data_uri(uri)
    return resolver.get(uri).read_bytes()


def _rebuild(
    doc: dict[str, Any],
    bin_chunk: bytes | memoryview | None,
    resolver: Resolver,
    path: Path,
    warnings: list[str],
    textures: list[dict[str, Any]],
) -> bytes:
    """One self-contained GLB that trimesh can read, from a glTF and its side files."""
    buffers: list[bytes | memoryview | None] = []
    for i, buf in enumerate(doc.get("buffers", [])):
        fallback = bool(
            buf.get("extensions", {}).get("EXT_meshopt_compression", {}).get("fallback")
        )
        uri = buf.get("uri")
        if uri is None:
            if i == 0 and bin_chunk is not None:
                buffers.append(bin_chunk)
            elif fallback:
                buffers.append(None)  # filled by the decoded meshopt views
            else:
                raise SpadokError("format.corrupt", f"{path.name}: buffer {i} has no data")
            continue
        if fallback and not uri.startswith("data:") and resolver.find(uri) is None:
            buffers.append(None)
            continue
        data = _fetch(uri, resolver)
        if len(data) < int(buf.get("byteLength", 0)):
            raise SpadokError("format.corrupt", f"{path.name}: buffer {uri!r} is truncated")
        buffers.append(data)

    out = bytearray()

    def append(blob: bytes | memoryview) -> tuple[int, int]:
        out.extend(b"\x00" * (-len(out) % 8))
        start = len(out)
        out.extend(blob)
        return start, len(blob)

    views: list[dict[str, Any]] = []
    for i, view in enumerate(doc.get("bufferViews", [])):
        ext = view.get("extensions", {}).get("EXT_meshopt_compression")
        blob: bytes | memoryview
        if ext is not None:
            blob = _decode_meshopt(ext, buffers, path)
        else:
            src = buffers[view.get("buffer", 0)] if view.get("buffer", 0) < len(buffers) else None
            if src is None:
                raise SpadokError("format.corrupt", f"{path.name}: bufferView {i} has no buffer")
            start = int(view.get("byteOffset", 0))
            blob = memoryview(src)[start : start + int(view["byteLength"])]
            if len(blob) != int(view["byteLength"]):
                raise SpadokError("format.corrupt", f"{path.name}: bufferView {i} is truncated")
        offset, length = append(blob)
        new = {"buffer": 0, "byteOffset": offset, "byteLength": length}
        for key in ("byteStride", "target", "name"):
            if key in view:
                new[key] = view[key]
        views.append(new)
    doc["bufferViews"] = views

    _dequantise(doc, out, append)
    _rebuild_images(doc, out, append, resolver, path, warnings, textures)

    doc["buffers"] = [{"byteLength": len(out)}] if out else []
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in doc:
            doc[key] = [e for e in doc[key] if e not in _DECODED_EXTENSIONS]
    return _glb_bytes(doc, out)


def _glb_bytes(doc: dict[str, Any], binary: bytes | bytearray) -> bytes:
    js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 4)
    pad = b"\x00" * (-len(binary) % 4)
    parts: list[bytes | bytearray] = [struct.pack("<II", len(js), _JSON_CHUNK), js]
    if binary:
        parts += [struct.pack("<II", len(binary) + len(pad), _BIN_CHUNK), binary, pad]
    size = 12 + sum(len(p) for p in parts)
    return b"".join([struct.pack("<4sII", GLB_MAGIC, 2, size), *parts])


def _decode_meshopt(
    ext: dict[str, Any], buffers: list[bytes | memoryview | None], path: Path
) -> bytes:
    """Decode one EXT_meshopt_compression buffer view to its plain bytes.

    The ``meshoptimizer`` wrapper (0.2.30a0) crashes when asked for uint16
    vertex output, so attributes are decoded as raw bytes (its float32 default
    is a view of a uint8 buffer) and reinterpreted here.
    """
    import meshoptimizer

    src = buffers[ext.get("buffer", 0)]
    if src is None:
        raise SpadokError("format.corrupt", f"{path.name}: meshopt source buffer is missing")
    start = int(ext.get("byteOffset", 0))
    data = bytes(src[start : start + int(ext["byteLength"])])
    count = int(ext["count"])
    stride = int(ext["byteStride"])
    mode = ext.get("mode", "ATTRIBUTES")
    try:
        if mode == "ATTRIBUTES":
            decoded = meshoptimizer.decode_vertex_buffer(count, stride, data)
            raw = np.ascontiguousarray(decoded).view(np.uint8).reshape(-1)
            flt = ext.get("filter", "NONE")
            if flt == "OCTAHEDRAL":
                raw = meshoptimizer.decode_filter_oct(raw, count, stride)
            elif flt == "QUATERNION":
                raw = meshoptimizer.decode_filter_quat(raw, count, stride)
            elif flt == "EXPONENTIAL":
                raw = meshoptimizer.decode_filter_exp(raw, count, stride)
            elif flt != "NONE":
                raise SpadokError("format.compression_unsupported", f"meshopt filter {flt}")
            return raw.tobytes()
        if mode in ("TRIANGLES", "INDICES"):
            fn = (
                meshoptimizer.decode_index_buffer
                if mode == "TRIANGLES"
                else meshoptimizer.decode_index_sequence
            )
            # The wrapper always allocates uint32 output but passes our size to C: with
            # size 2 it packs two indices per uint32. The encoding does not depend on the
            # output size, so decode as 4-byte indices and narrow them here.
            idx = fn(count, 4, data)
            return np.asarray(idx, dtype=np.uint32).astype(f"<u{stride}").tobytes()
    except (RuntimeError, ValueError) as exc:
        raise SpadokError("format.corrupt", f"{path.name}: meshopt data: {exc}") from exc
    raise SpadokError("format.compression_unsupported", f"meshopt mode {mode}")


def _dequantise(doc: dict[str, Any], out: bytearray, append: Any) -> None:
    """Turn integer vertex attributes (KHR_mesh_quantization) into float32.

    trimesh reads normalised integers as raw integers; the spec maps them to
    [-1, 1] or [0, 1]. Indices and joint indices stay integers.
    """
    accessors = doc.get("accessors", [])
    views = doc.get("bufferViews", [])
    attribute_accessors: set[int] = set()
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []):
            targets = [prim.get("attributes", {}), *prim.get("targets", [])]
            for attrs in targets:
                for name, idx in attrs.items():
                    if not name.startswith("JOINTS_") and isinstance(idx, int):
                        attribute_accessors.add(idx)
    for idx in sorted(attribute_accessors):
        if idx >= len(accessors):
            continue
        acc = accessors[idx]
        ctype = acc.get("componentType")
        if ctype == 5126 or ctype not in _DTYPES or "bufferView" not in acc or "sparse" in acc:
            continue
        view = views[acc["bufferView"]]
        dtype = np.dtype(_DTYPES[ctype])
        ncomp = _NCOMP[acc["type"]]
        count = int(acc["count"])
        stride = int(view.get("byteStride", dtype.itemsize * ncomp))
        start = int(view["byteOffset"]) + int(acc.get("byteOffset", 0))
        row = dtype.itemsize * ncomp
        base = np.frombuffer(out, dtype=np.uint8, count=(count - 1) * stride + row, offset=start)
        rows = np.lib.stride_tricks.as_strided(base, (count, row), (stride, 1))
        values = np.ascontiguousarray(rows).view(dtype).reshape(count, ncomp).astype(np.float32)
        del base, rows  # a live view of ``out`` would stop it from growing
        if acc.get("normalized"):
            values = np.maximum(values / _NORM_MAX[ctype], -1.0)
        offset, length = append(values.astype("<f4").tobytes())
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": length})
        acc["bufferView"] = len(views) - 1
        acc["byteOffset"] = 0
        acc["componentType"] = 5126
        acc.pop("normalized", None)
        if "min" in acc and count:
            acc["min"] = values.min(axis=0).tolist()
        if "max" in acc and count:
            acc["max"] = values.max(axis=0).tolist()


def image_info(blob: bytes) -> dict[str, Any]:
    """Format and size of an image from its bytes, without decoding KTX2."""
    if blob[:12] == KTX2_MAGIC and len(blob) >= 28:
        vk_format, _type_size, width, height = struct.unpack_from("<IIII", blob, 12)
        scheme = struct.unpack_from("<I", blob, 44)[0] if len(blob) >= 48 else 0
        compression = {0: "none", 1: "basislz", 2: "zstd", 3: "zlib"}.get(scheme, str(scheme))
        return {
            "format": "ktx2",
            "width": int(width),
            "height": int(height),
            "vk_format": int(vk_format),
            "supercompression": compression,
        }
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob)) as im:
            return {
                "format": (im.format or "unknown").lower(),
                "width": im.width,
                "height": im.height,
            }
    except Exception:
        return {"format": "unknown", "width": None, "height": None}


def _rebuild_images(
    doc: dict[str, Any],
    out: bytearray,
    append: Any,
    resolver: Resolver,
    path: Path,
    warnings: list[str],
    textures: list[dict[str, Any]],
) -> None:
    """Embed decodable images; describe and unlink the rest (KTX2, missing)."""
    images = doc.get("images", [])
    decodable: list[bool] = []
    for i, img in enumerate(images):
        name = img.get("name") or img.get("uri", f"image{i}")
        if name.startswith("data:"):
            name = f"image{i}"
        blob: bytes | None = None
        if "bufferView" in img:
            view = doc["bufferViews"][img["bufferView"]]
            start = int(view["byteOffset"])
            blob = bytes(out[start : start + int(view["byteLength"])])
        elif "uri" in img:
            try:
                blob = _fetch(img["uri"], resolver)
            except SpadokError:
                warnings.append(f"texture {name!r} is missing; the model is kept without it")
        info = image_info(blob) if blob is not None else {"format": "missing"}
        ok = info["format"] in ("png", "jpeg", "webp", "avif", "gif", "bmp", "tiff")
        textures.append({"name": scrub_name(name) or f"image{i}", **info, "decoded": ok})
        if blob is not None and not ok:
            warnings.append(
                f"texture {name!r} is {info['format'].upper()}, which cannot be decoded here; "
                "the geometry is kept and the texture stored as is"
            )
        decodable.append(ok)
        if ok and blob is not None:
            offset, length = append(blob)
            doc["bufferViews"].append({"buffer": 0, "byteOffset": offset, "byteLength": length})
            images[i] = {"bufferView": len(doc["bufferViews"]) - 1, "name": name}
        else:
            images[i] = {"name": name}
    for tex in doc.get("textures", []):
        sources = [tex.get("source")] + [
            e.get("source") for e in tex.get("extensions", {}).values() if isinstance(e, dict)
        ]
        usable = [s for s in sources if isinstance(s, int) and s < len(decodable) and decodable[s]]
        tex.pop("extensions", None)
        if usable:
            tex["source"] = usable[0]
        else:
            tex.pop("source", None)


# --- writing ---------------------------------------------------------------------------------


def save_glb(asset: Asset, path: Path) -> None:
    """Write the scene as one GLB (textures embedded)."""
    if asset.scene is None:
        raise SpadokError("geometry.empty", "nothing to write")
    path.write_bytes(asset.scene.export(file_type="glb"))


def save_gltf(asset: Asset, path: Path) -> None:
    """Write a .gltf with its buffers and images as files next to it."""
    if asset.scene is None:
        raise SpadokError("geometry.empty", "nothing to write")
    files = asset.scene.export(file_type="gltf")
    for name, blob in files.items():
        # The tree refers to its side files by their own names, next to it.
        target = path if name == "model.gltf" else path.parent / name
        target.write_bytes(blob)


# --- zip containers --------------------------------------------------------------------------


def zip_kind(path: Path) -> str | None:
    """What a zip is: "3mf", "usdz", "zip" (a plain container) or None (no zip)."""
    from spadok.core.formats.threemf import is_3mf_zip
    from spadok.core.formats.usdz import is_usdz_zip

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if is_3mf_zip(names):
        return "3mf"
    if is_usdz_zip(names):
        return "usdz"
    return "zip"


def sniff_zip(head: bytes, path: Path) -> int:
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        return 0
    return 1 if zip_kind(path) in ("zip", None) else 0


def load_zip(path: Path, resolver: Resolver, limits: Limits = DEFAULT_LIMITS) -> Asset:
    raise SpadokError(
        "format.unsupported",
        f"{path.name} is a zip archive; it is unpacked and the models inside are ingested",
    )


FORMATS: list[FormatSpec] = [
    FormatSpec(
        name="glb",
        family="gltf",
        mime="model/gltf-binary",
        extensions=(".glb",),
        sniff=sniff_glb,
        load=load_gltf,
        save=save_glb,
        description="glTF 2.0 binary (incl. Draco, meshopt, quantised, KTX2 textures)",
    ),
    FormatSpec(
        name="gltf",
        family="gltf",
        mime="model/gltf+json",
        extensions=(".gltf",),
        sniff=sniff_gltf,
        load=load_gltf,
        save=save_gltf,
        description="glTF 2.0 JSON with .bin and image side files",
    ),
    FormatSpec(
        name="zip",
        family="zip",
        mime="application/zip",
        extensions=(".zip",),
        sniff=sniff_zip,
        load=load_zip,
        description="a zip that only contains models (unpacked by inputs.py)",
    ),
]
