"""Write the small, self-made files of the fuzzing regression corpus (tests/fuzz/corpus/).

Each finding of the fuzzer is kept twice: as the exact mutation of the shared
data file that found it (``<family>/<name>.json`` with ``seed`` and ``ops``,
replayed against ``SPADOK_TEST_DATA``), and, where a few lines can make the
same fault, as a tiny file written here from nothing (``<family>/<name>.<ext>``,
named in the JSON's ``file``). The files are committed; run this again only to
remake them:

    .venv/bin/python -m tests.fuzz.make_corpus
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parent / "corpus"


def ply_face_out_of_range() -> bytes:
    return (
        b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        b"property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n"
        b"0 0 0\n1 0 0\n0 1 0\n3 0 1 -932642776\n"
    )


def ply_ascii_count_past_the_data() -> bytes:
    return (
        b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        b"property float z\nelement point_list 4294967295\nproperty list uchar uint indices\n"
        b"end_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"
    )


def obj_two_coordinates() -> bytes:
    return b"v 0 0\nv 1 0\nv 0 1\nf 1 2 3\n"


def _las(version: str, point_format: int, *, compressed: bool = False, evlr: bool = False) -> bytes:
    import laspy
    from laspy.vlrs.vlrlist import VLRList

    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales = [0.01, 0.01, 0.01]
    las = laspy.LasData(header)
    rng = np.random.default_rng(7)
    las.x, las.y, las.z = (rng.uniform(0, 10, 40) for _ in range(3))
    if evlr:
        las.evlrs = VLRList(
            [laspy.VLR(user_id="spadok", record_id=1, description="x", record_data=b"1234")]
        )
    buf = io.BytesIO()
    las.write(buf, do_compress=compressed)
    return buf.getvalue()


def las_vlr_count_huge() -> bytes:
    raw = bytearray(_las("1.2", 0))
    struct.pack_into("<I", raw, 100, 0xFFFFFFFF)  # number of VLRs
    return bytes(raw)


def las_evlr_length_huge() -> bytes:
    raw = bytearray(_las("1.4", 6, evlr=True))
    (start,) = struct.unpack_from("<Q", raw, 235)
    struct.pack_into("<Q", raw, start + 20, 2**60)  # the EVLR's record length
    return bytes(raw)


def las_count_past_the_data() -> bytes:
    raw = bytearray(_las("1.2", 0))
    struct.pack_into("<I", raw, 107, 1_000_000_000)  # legacy point count
    return bytes(raw)


def laz_chunk_count_huge() -> bytes:
    raw = bytearray(_las("1.2", 0, compressed=True))
    point_offset = struct.unpack_from("<I", raw, 96)[0]
    (table,) = struct.unpack_from("<q", raw, point_offset)
    struct.pack_into("<I", raw, table + 4, 0xB0000000)  # number of chunks
    return bytes(raw)


def laz_layer_size_huge() -> bytes:
    raw = bytearray(_las("1.4", 6, compressed=True))
    point_offset = struct.unpack_from("<I", raw, 96)[0]
    # Layered chunk: the raw first point (30 bytes), the point count, then 9 layer sizes.
    struct.pack_into("<I", raw, point_offset + 8 + 30 + 4, 0xF0000000)
    return bytes(raw)


def laz_chunk_size_huge() -> bytes:
    raw = bytearray(_las("1.2", 0, compressed=True))
    at = raw.find(b"laszip encoded")  # the LASzip VLR's user id, 2 bytes into its header
    struct.pack_into("<I", raw, at - 2 + 54 + 12, 3_918_493_159)  # points per chunk
    return bytes(raw)


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in entries:
            zf.writestr(name, body)
    return buf.getvalue()


OBJ = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


def zip_file_then_folder() -> bytes:
    return _zip([("a", OBJ), ("a/b.obj", OBJ)])


def zip_long_file_name() -> bytes:
    return _zip([("n" * 300 + ".obj", OBJ)])


def zip_long_folder_name() -> bytes:
    return _zip([("d" * 300 + "/m.obj", OBJ)])


def zip_entries_over_nested() -> bytes:
    inner = _zip([(f"m{n}.obj", OBJ) for n in range(20)])
    return _zip([(f"part{n}.zip", inner) for n in range(5)])


def zip_bytes_over_nested() -> bytes:
    inner = _zip([("model.obj", OBJ), ("padding.bin", b"\0" * 200 * 1024)])
    return _zip([(f"part{n}.zip", inner) for n in range(12)])


FILES = {
    "ply/face_index_out_of_range.ply": ply_face_out_of_range,
    "ply/ascii_count_past_the_data.ply": ply_ascii_count_past_the_data,
    "obj/two_coordinates.obj": obj_two_coordinates,
    "las/vlr_count_huge.las": las_vlr_count_huge,
    "las/evlr_length_huge.las": las_evlr_length_huge,
    "las/count_past_the_data.las": las_count_past_the_data,
    "laz/chunk_count_huge.laz": laz_chunk_count_huge,
    "laz/layer_size_huge.laz": laz_layer_size_huge,
    "laz/chunk_size_huge.laz": laz_chunk_size_huge,
    "zip/file_then_folder.zip": zip_file_then_folder,
    "zip/long_file_name.zip": zip_long_file_name,
    "zip/long_folder_name.zip": zip_long_folder_name,
    "zip/entries_over_nested.zip": zip_entries_over_nested,
    "zip/bytes_over_nested.zip": zip_bytes_over_nested,
}


def main() -> None:
    for name, make in FILES.items():
        path = CORPUS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
        print(f"{path.relative_to(CORPUS)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
