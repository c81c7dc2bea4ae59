"""Mutations of real files: byte flips, cuts, inserted chunks and edits of header fields.

A mutation is a list of plain tuples (so that Hypothesis shrinks it and a
finding can be written down as JSON and replayed): positions are fractions of
the file's length, so one mutation applies to any seed. Format-aware edits
change the fields a reader trusts: element counts in PLY, the triangle count
of a binary STL, the point counts and offsets of a LAS header, the lengths in
an E57 header, the chunk lengths and the JSON of a GLB, the JSON of a glTF
(huge counts, missing buffers, wrong types, paths outside the folder).
"""

from __future__ import annotations

import gzip
import json
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.testdata import data_dir

Op = tuple[Any, ...]

# Values that break readers that trust a field: zero, one, sign and size boundaries.
INTERESTING = (0, 1, 2, 3, 7, 255, 256, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               2**40, 2**63 - 1, 2**64 - 1)  # fmt: skip


@dataclass(frozen=True)
class Seed:
    """A real file from the shared data, with the files it refers to."""

    family: str
    path: str  # relative to the shared data folder
    sidecars: tuple[str, ...] = ()  # names beside it that the model refers to

    @property
    def source(self) -> Path:
        return data_dir() / self.path

    def files(self) -> list[Path]:
        return [self.source, *(self.source.parent / s for s in self.sidecars)]


T = "awkward/trimesh_models/"
G = "awkward/gltf_transform_testdata/"
LAS = "pointclouds/las_laspy_tests/"
E57 = "pointclouds/e57_libe57format/"
SPLAT = "pointclouds/splat_format_fixtures/"

# Small files (a few kB to ~300 kB), so that one example takes a fraction of a second.
SEEDS: tuple[Seed, ...] = (
    Seed("ply", T + "fuze.ply"),
    Seed("ply", T + "fuze_ascii.ply"),
    Seed("ply", T + "points_ascii_with_lists.ply"),
    Seed("ply", T + "emptyIO/ply_points_bin.ply"),
    Seed("ply", T + "cube_blender_uv_meshlab.ply"),
    Seed("ply", T + "mirror.ply"),
    Seed("stl", T + "soup.stl"),
    Seed("stl", T + "multibody.stl"),
    Seed("stl", T + "two_objects_mixed_case_names.stl"),
    Seed("obj", T + "fuze.obj", ("fuze.obj.mtl",)),
    Seed("obj", T + "textured_tetrahedron.obj"),
    Seed("obj", T + "polygonfaces.obj"),
    Seed("obj", T + "negative_indices.obj"),
    Seed("off", T + "comments.off"),
    Seed("off", T + "whitespace.off"),
    Seed("gltf", T + "TestScene.gltf", ("TestScene.bin",)),
    Seed("gltf", T + "rgb_cube_with_primitives.gltf"),
    Seed("gltf", G + "core/test/in/Box_glTF-Embedded/Box.gltf"),
    Seed("gltf", G + "extensions/test/in/BoxMeshopt.gltf", ("BoxMeshopt.bin",)),
    Seed("gltf", G + "extensions/test/in/BoxDraco.gltf"),
    Seed("glb", T + "nested.glb"),
    Seed("glb", T + "no_indices_3storybuilding.glb"),
    Seed("glb", G + "extensions/test/in/BoxMeshopt.glb"),
    Seed("3mf", T + "pyramids.3mf"),
    Seed("xyz", T + "points_agisoft.xyz"),
    Seed("xyz", T + "points_cloudcompare.xyz"),
    Seed("las", LAS + "simple.las"),
    Seed("las", LAS + "simple1_4.las"),
    Seed("las", LAS + "autzen.las"),
    Seed("laz", LAS + "simple.laz"),
    Seed("laz", LAS + "1_4_w_evlr.laz"),
    Seed("copc", LAS + "simple.copc.laz"),
    Seed("e57", E57 + "self/ColouredCubeFloat.e57"),
    Seed("e57", E57 + "3rdParty/las2e57/ColourRepresentation.e57"),
    Seed("splat", SPLAT + "minimal.splat"),
    Seed("splat", SPLAT + "minimal-v2.spz"),
    Seed("splat", SPLAT + "minimal-v3.spz"),
    Seed("splat", SPLAT + "minimal.ksplat"),
    Seed("vtp", "scans/ggg_benchmarksfm_nikolov/owl_decimated.vtp"),
    Seed("zip", T + "fuze.zip"),
)

# Fields each family's editor can set (see :func:`edit_field`).
FIELDS: dict[str, tuple[str, ...]] = {
    "ply": ("element_count", "format_line", "property_type", "drop_end_header"),
    "stl": ("stl_count",),
    "obj": ("obj_face", "obj_vertex", "obj_mtllib", "obj_texture"),
    "off": ("off_counts",),
    "gltf": ("json",),
    "glb": ("glb_length", "glb_chunk_length", "json"),
    "las": ("las_u32", "las_u16", "las_u64"),
    "laz": ("las_u32", "las_u16", "las_u64"),
    "copc": ("las_u32", "las_u16", "las_u64"),
    "e57": ("e57_u64",),
    "splat": ("spz_u32",),
    "vtp": ("vtp_attr",),
    "xyz": ("xyz_line",),
    "3mf": (),
    "zip": (),
}

LAS_U16 = (94, 105)  # header size, point record length
LAS_U32 = (96, 100, 107)  # offset to points, number of VLRs, legacy point count
LAS_U64 = (235, 247)  # 1.4: first EVLR offset, point count
E57_U64 = (16, 24, 32, 40)  # physical length, XML offset, XML length, page size
JSON_ACTIONS = ("delete", "huge", "negative", "string", "null", "list", "escape", "deep")


def _at(data: bytes | bytearray, frac: float) -> int:
    return min(len(data), max(0, int(frac * len(data))))


def apply(data: bytes, ops: list[Op], family: str = "") -> bytes:
    """The seed's bytes with each operation applied in turn."""
    buf = bytearray(data)
    for op in ops:
        buf = bytearray(_apply_one(bytes(buf), op, family))
    return bytes(buf)


def _apply_one(data: bytes, op: Op, family: str) -> bytes:
    kind = op[0]
    if kind == "flip":
        _, frac, bit = op
        if not data:
            return data
        i = min(len(data) - 1, _at(data, frac))
        return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]
    if kind == "set":
        _, frac, chunk = op
        i = _at(data, frac)
        return data[:i] + chunk + data[i + len(chunk) :]
    if kind == "insert":
        _, frac, chunk = op
        i = _at(data, frac)
        return data[:i] + chunk + data[i:]
    if kind == "delete":
        _, frac, length = op
        i = _at(data, frac)
        return data[:i] + data[i + length :]
    if kind == "truncate":
        return data[: _at(data, op[1])]
    if kind == "dup":
        _, frac, length, to = op
        i = _at(data, frac)
        j = _at(data, to)
        return data[:j] + data[i : i + length] + data[j:]
    if kind == "int":
        _, frac, width, value = op
        i = _at(data, frac)
        packed = (value % (1 << (8 * width))).to_bytes(width, "little")
        return data[:i] + packed + data[i + width :]
    if kind == "field":
        return edit_field(data, family, *op[1:])
    raise ValueError(f"unknown mutation {op!r}")


def _sub_nth(pattern: bytes, data: bytes, n: int, repl: Any) -> bytes:
    matches = list(re.finditer(pattern, data, re.M))
    if not matches:
        return data
    m = matches[n % len(matches)]
    new = repl(m) if callable(repl) else repl
    return data[: m.start()] + new + data[m.end() :]


def edit_field(data: bytes, family: str, name: str, n: int, value: int, text: str) -> bytes:
    """Set one header field the family's reader relies on to ``value`` (or ``text``)."""
    num = str(value).encode()
    if name == "element_count":
        return _sub_nth(rb"^element (\S+) (\S+)", data, n, lambda m: b"element %s %s" % (m[1], num))
    if name == "format_line":
        return _sub_nth(rb"^format .*$", data, n, b"format " + text.encode("latin-1", "replace"))
    if name == "property_type":
        types = (b"char", b"uchar", b"short", b"int", b"float", b"double", b"int64", b"list")
        return _sub_nth(
            rb"^property (\S+)", data, n, lambda m: b"property " + types[value % len(types)]
        )
    if name == "drop_end_header":
        return data.replace(b"end_header", b"end_heade", 1)
    if name == "stl_count" and len(data) >= 84:
        return data[:80] + struct.pack("<I", value % 2**32) + data[84:]
    if name == "obj_face":
        line = b"\nf %d %d %s\n" % (1, -(value % 2**40) - 1, num)
        return _insert_line(data, n, line)
    if name == "obj_vertex":
        return _insert_line(data, n, b"\nv " + text.encode("utf-8", "replace") + b"\n")
    if name == "obj_mtllib":
        return _insert_line(data, n, b"\nmtllib " + text.encode("utf-8", "replace") + b"\n")
    if name == "obj_texture":
        return _insert_line(data, n, b"\nvt %s %s\n" % (num, num))
    if name == "off_counts":
        return _sub_nth(rb"^\s*\d+\s+\d+\s+\d+", data, 0, b"%s %s 0" % (num, num))
    if name in ("las_u16", "las_u32", "las_u64"):
        offsets, width = {
            "las_u16": (LAS_U16, 2),
            "las_u32": (LAS_U32, 4),
            "las_u64": (LAS_U64, 8),
        }[name]
        at = offsets[n % len(offsets)]
        if len(data) < at + width:
            return data
        return (
            data[:at] + (value % (1 << (8 * width))).to_bytes(width, "little") + data[at + width :]
        )
    if name == "e57_u64" and len(data) >= 48:
        at = E57_U64[n % len(E57_U64)]
        return data[:at] + struct.pack("<Q", value % 2**64) + data[at + 8 :]
    if name == "glb_length" and len(data) >= 12:
        return data[:8] + struct.pack("<I", value % 2**32) + data[12:]
    if name == "glb_chunk_length" and len(data) >= 20:
        at = 12 if n % 2 == 0 else _second_chunk(data)
        if at is None or len(data) < at + 4:
            return data
        return data[:at] + struct.pack("<I", value % 2**32) + data[at + 4 :]
    if name == "json":
        return _edit_json(data, n, value, text)
    if name == "spz_u32":
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return data
        at = (4, 8, 12)[n % 3]  # version, number of points, sh degree / flags
        raw = raw[:at] + struct.pack("<I", value % 2**32) + raw[at + 4 :]
        return gzip.compress(raw, mtime=0)
    if name == "vtp_attr":
        attrs = (
            b"NumberOfPoints",
            b"NumberOfPolys",
            b"NumberOfComponents",
            b"offset",
            b"header_type",
        )
        attr = attrs[n % len(attrs)]
        return _sub_nth(attr + rb'="[^"]*"', data, value, attr + b'="' + num + b'"')
    if name == "xyz_line":
        return _insert_line(data, n, b"\n" + text.encode("utf-8", "replace") + b"\n")
    return data


def _insert_line(data: bytes, n: int, line: bytes) -> bytes:
    starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]
    i = starts[n % len(starts)]
    return data[:i] + line + data[i:]


def _second_chunk(data: bytes) -> int | None:
    if len(data) < 20:
        return None
    (first,) = struct.unpack_from("<I", data, 12)
    return 20 + first


def _edit_json(data: bytes, n: int, value: int, text: str) -> bytes:
    """Change one value of a glTF's JSON (or a GLB's JSON chunk, keeping the GLB valid)."""
    glb = data[:4] == b"glTF"
    if glb:
        if len(data) < 20:
            return data
        (length,) = struct.unpack_from("<I", data, 12)
        raw, rest = data[20 : 20 + length], data[20 + length :]
    else:
        raw, rest = data, b""
    try:
        doc = json.loads(raw)
    except ValueError:
        return data
    slots = list(_slots(doc))
    if not slots:
        return data
    parent, key = slots[n % len(slots)]
    action = JSON_ACTIONS[value % len(JSON_ACTIONS)]
    if action == "delete":
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    else:
        parent[key] = {
            "huge": 2**53 + value,
            "negative": -1 - value,
            "string": text,
            "null": None,
            "list": [text, value],
            "escape": "../" * 8 + "etc/passwd" if value % 2 else "http://127.0.0.1:9/x.bin",
            "deep": [[[[[[[[[[[[[[[[value]]]]]]]]]]]]]]]],
        }[action]
    new = json.dumps(doc).encode()
    if not glb:
        return new
    new += b" " * (-len(new) % 4)
    body = struct.pack("<II", len(new), 0x4E4F534A) + new + rest
    return data[:8] + struct.pack("<I", 12 + len(body)) + body


def _slots(doc: Any, depth: int = 0) -> Any:
    """Every (container, key) in the JSON, breadth before depth, buffers and accessors first."""
    if depth > 6:
        return
    if isinstance(doc, dict):
        keys = sorted(doc, key=lambda k: (k not in ("buffers", "accessors", "bufferViews"), k))
        for k in keys:
            yield doc, k
            yield from _slots(doc[k], depth + 1)
    elif isinstance(doc, list):
        for i in range(min(len(doc), 8)):
            yield doc, i
            yield from _slots(doc[i], depth + 1)


def materialise(seed: Seed, ops: list[Op], target: int, folder: Path) -> Path:
    """Write the mutated seed (and its side files) into ``folder``; return the model's path.

    ``target`` picks the file the mutation applies to: 0 is the model, k its k-th
    side file; a target past the side files deletes the last one (a missing buffer).
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = seed.files()
    victim = target % (len(files) + (1 if seed.sidecars else 0))
    for k, src in enumerate(files):
        if victim == len(files) and k == len(files) - 1:
            continue  # the missing side file
        raw = src.read_bytes()
        if k == victim:
            raw = apply(raw, ops, seed.family if k == 0 else "")
        (folder / src.name).write_bytes(raw)
    return folder / files[0].name
