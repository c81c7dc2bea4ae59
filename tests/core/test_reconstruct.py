"""Capture processing end to end on real photo sets and a real LiDAR capture.

Inputs are small subsets of the shared data at low resolution so that the suite
stays fast; the full-size runs are in bench/reconstruct.py.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from spadok.core.errors import SpadokError
from spadok.core.reconstruct import inputs, reconstruct
from spadok.core.reconstruct.report import Report
from tests.testdata import data

TEMPLE = ("photogrammetry", "middlebury_mvs", "templeSparseRing")


def _temple_par() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Ground-truth K, R, t per view from templeSR_par.txt (P = K [R | t])."""
    lines = data(*TEMPLE, "templeSR_par.txt").read_text().split("\n")[1:]
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 22:
            continue
        vals = np.array(parts[1:], float)
        out[parts[0]] = (vals[:9].reshape(3, 3), vals[9:18].reshape(3, 3), vals[18:])
    return out


def _subset(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in names:
        shutil.copy(data(*TEMPLE, n), folder / n)
    return folder


def _read_images_txt(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """COLMAP images.txt: name -> (R, t) of world-to-camera."""
    from scipy.spatial.transform import Rotation

    # two lines per image; the second (its 2D points) may be empty
    rows = [r for r in path.read_text().splitlines() if not r.startswith("#")]
    out = {}
    for row in rows[::2]:
        if not row.strip():
            continue
        p = row.split()
        qw, qx, qy, qz, tx, ty, tz = map(float, p[1:8])
        out[p[9]] = (Rotation.from_quat([qx, qy, qz, qw]).as_matrix(), np.array([tx, ty, tz]))
    return out


def test_photos_end_to_end_match_ground_truth_cameras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 16 real views of the temple: cameras agree with ground truth, a textured GLB."""
    # One thread for the cameras: multithreaded bundle adjustment is not repeatable to the
    # pixel, and about one run in five kept the refined principal point (asserted below).
    monkeypatch.setenv("SPADOK_THREADS", "1")
    names = [f"templeSR{i:04d}.png" for i in range(1, 17)]
    out = tmp_path / "out"
    steps: list[str] = []
    report = reconstruct(
        _subset(tmp_path, names),
        out,
        progress=lambda step, fraction: steps.append(step),
        mvs_size=320,
        mvs_planes=32,
        max_points=150_000,
        mesh_depth=7,
        texture_size=1024,
    )
    assert steps[0] == "inputs" and steps[-1] == "done"
    assert report.kind == "photos" and report.matching == "exhaustive"
    assert report.registered == 16
    assert report.reprojection_error_px is not None and report.reprojection_error_px < 1.0
    assert report.triangles > 500 and report.dense_points > 1000
    assert report.textured_fraction > 0.5
    assert report.verdict in {"good", "usable", "poor"}

    saved = json.loads((out / "report.json").read_text("utf-8"))
    assert saved["registered"] == 16 and saved["verdict"] == report.verdict
    assert set(saved["timings"]) >= {"inputs", "sfm", "mvs", "mesh", "texture"}

    scene = trimesh.load(out / "model.glb")
    mesh = next(iter(scene.geometry.values()))
    assert len(mesh.faces) == report.triangles
    assert mesh.visual.material.baseColorTexture is not None
    uv = mesh.visual.uv
    assert uv.min() >= 0 and uv.max() <= 1

    # the relative rotations between cameras match the ground truth
    cams = _read_images_txt(out / "sparse" / "images.txt")
    assert (out / "sparse" / "cameras.txt").is_file()
    assert (out / "sparse" / "points3D.txt").stat().st_size > 1000
    gt = _temple_par()
    errors = []
    pairs = list(cams.items())
    for (a, (Ra, _)), (b, (Rb, _)) in itertools.pairwise(pairs):
        Ga, Gb = gt[a][1], gt[b][1]
        rel, rel_gt = Rb @ Ra.T, Gb @ Ga.T
        cos = (np.trace(rel @ rel_gt.T) - 1) / 2
        errors.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    # 16 photos share one camera, so refining its principal point is tried; with these
    # narrow views (f = 1520 px on 640) it drifts off the centre and is rejected, and the
    # centred one (ground truth: 302, 247, 18 px off) costs about half a degree.
    assert report.extra["refine_principal_point"] == "rejected: drifted from the centre"
    assert np.median(errors) < 1.0, errors


def test_lidar_capture_fuses_at_device_scale(tmp_path: Path) -> None:
    """The real 3d Scanner App chair capture, every third frame: metric, textured."""
    src = data("phone_scans", "3dscannerapp_chair_lidar", "chair_scan")
    sub = tmp_path / "scan"
    sub.mkdir()
    shutil.copy(src / "info.json", sub / "info.json")
    for i in range(0, 70, 3):
        for pattern in (f"frame_{i:05d}.json", f"depth_{i:05d}.png", f"conf_{i:05d}.png"):
            shutil.copy(src / pattern, sub / pattern)
        if (src / f"frame_{i:05d}.jpg").exists():
            shutil.copy(src / f"frame_{i:05d}.jpg", sub / f"frame_{i:05d}.jpg")
    out = tmp_path / "out"
    report = reconstruct(sub, out, rgbd_voxel=0.03, texture_size=1024)
    assert report.kind == "rgbd" and report.layout == "3d-scanner-app"
    assert report.scale_source == "device" and report.units == "metres"
    assert report.extra["depth_frames_used"] == 24
    assert report.triangles > 1000 and report.textured_fraction > 0.5
    mesh = next(iter(trimesh.load(out / "model.glb").geometry.values()))
    # a garden chair on a patio, scanned from arm's length: metres, not millimetres
    extent = mesh.bounds[1] - mesh.bounds[0]
    assert 0.5 < extent.max() < 15
    # the camera file lists every keyframe with its device pose
    images = _read_images_txt(out / "sparse" / "images.txt")
    assert len(images) == report.registered > 0


def test_too_few_or_unrelated_photos_end_with_a_verdict(tmp_path: Path) -> None:
    """Photos of four different things: no crash, a failed verdict that says why."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for parts in (
        (*TEMPLE, "templeSR0001.png"),
        ("photogrammetry", "bundler_kermit_et", "kermit", "kermit000.jpg"),
        ("photogrammetry", "bundler_kermit_et", "ET", "et000.jpg"),
        ("photogrammetry", "sceaux_castle", "images", "100_7100.JPG"),
    ):
        shutil.copy(data(*parts), folder / parts[-1])
    report = reconstruct(folder, tmp_path / "out", max_image_size=640)
    assert report.verdict == "failed"
    codes = {a.code for a in report.advice}
    assert {"too_few_photos", "no_overlap"} <= codes
    assert not (tmp_path / "out" / "model.glb").exists()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["verdict"] == "failed"


def test_photos_that_do_not_overlap_are_named(tmp_path: Path) -> None:
    """The first eight temple views fall into three groups that share no features."""
    folder = _subset(tmp_path, [f"templeSR{i:04d}.png" for i in range(1, 9)])
    report = reconstruct(folder, tmp_path / "out", mvs_size=160, mvs_planes=16, mesh_depth=6)
    unplaced = [r.name for r in report.images_rejected if r.reason == "not_registered"]
    assert report.registered == 3 and len(unplaced) == 5
    advice = {a.code: a.message for a in report.advice}
    assert "not_registered" in advice and "templeSR0001.png" in advice["not_registered"]
    assert report.verdict in {"poor", "failed"}


def test_blurry_and_broken_photos_are_rejected_with_reasons(tmp_path: Path) -> None:
    folder = _subset(tmp_path, [f"templeSR{i:04d}.png" for i in range(1, 8)])
    for name in ("templeSR0002.png", "templeSR0005.png"):  # out of focus
        img = cv2.imread(str(folder / name))
        cv2.imwrite(str(folder / name), cv2.GaussianBlur(img, (0, 0), 3))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    report = Report(input="photos")
    capture = inputs.load(folder, tmp_path / "work", report)
    rejected = {r.name: r.reason for r in report.images_rejected}
    assert rejected == {
        "templeSR0002.png": "blurry",
        "templeSR0005.png": "blurry",
        "broken.jpg": "unreadable",
    }
    assert len(capture.frames) == 5 and report.images_total == 8


def test_textureless_photos_fail_cleanly(tmp_path: Path) -> None:
    """Plain surfaces (the mean colour of real photos) give no features: a verdict, no crash."""
    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(1, 6):
        img = cv2.imread(str(data(*TEMPLE, f"templeSR{i:04d}.png")))
        plain = np.full_like(img, img.reshape(-1, 3).mean(0).astype(np.uint8))
        cv2.imwrite(str(folder / f"wall{i}.png"), plain)
    report = reconstruct(folder, tmp_path / "out")
    assert report.verdict == "failed" and report.registered == 0
    assert any(a.code == "no_overlap" for a in report.advice)


def test_not_a_capture_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no photos here")
    with pytest.raises(SpadokError) as exc:
        reconstruct(tmp_path, tmp_path / "out")
    assert exc.value.code == "reconstruct.no_images"
    with pytest.raises(SpadokError) as exc:
        reconstruct(tmp_path / "missing", tmp_path / "out")
    assert exc.value.code == "input.not_found"


def test_video_frames_are_chosen_by_motion_and_sharpness(tmp_path: Path) -> None:
    """A video of the temple views: a still stretch and a blurred frame at each view."""
    import av

    from spadok.core.reconstruct.video import select_frames

    video = tmp_path / "walk.mp4"
    views = [cv2.imread(str(data(*TEMPLE, f"templeSR{i:04d}.png"))) for i in range(1, 7)]
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.options = {"crf": "18"}
        for img in views:
            # arriving at a view blurred, then holding still on it
            frames = [cv2.GaussianBlur(img, (0, 0), 4)] + [img] * 5
            for f in frames:
                rgb = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    report = Report(input=video.name)
    capture = select_frames(video, tmp_path / "frames", report, window=3)
    assert report.extra["video_frames_decoded"] == 36
    chosen = [int(f.name.split(".")[0]) for f in capture.frames]
    # standing still adds no frames: at most one per view, and most views are found
    views_hit = [i // 6 for i in chosen]
    assert len(set(views_hit)) == len(views_hit) >= 4, chosen
    assert all(i % 6 != 0 for i in chosen), chosen  # frame 6k is the blurred arrival
    assert capture.kind == "video"


def _cli(home: Path, *args: str) -> tuple[int, list[dict]]:
    env = {**os.environ, "SPADOK_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    env.pop("SPADOK_STORAGE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "spadok", "reconstruct", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    return proc.returncode, [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]


def test_cli_reports_a_failed_capture_and_a_non_capture(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    img = cv2.imread(str(data(*TEMPLE, "templeSR0001.png")))
    for i in range(3):
        cv2.imwrite(str(folder / f"wall{i}.png"), np.full_like(img, 90 + i))
    code, lines = _cli(tmp_path / "home", str(folder), "-o", str(tmp_path / "out"))
    assert code == 1 and len(lines) == 1
    assert lines[0]["status"] == "failed" and lines[0]["report"]["verdict"] == "failed"
    assert (tmp_path / "out" / "report.json").is_file()
    code, lines = _cli(tmp_path / "home", str(tmp_path / "nothing"), "-o", str(tmp_path / "o2"))
    assert code == 1 and lines[0]["error"]["code"] == "input.not_found"


def test_a_calibration_file_fixes_the_intrinsics(tmp_path: Path) -> None:
    """A K.txt beside the photos (openMVG's layout) is taken as the camera, scaled with the
    photos and in COLMAP's pixel convention; a malformed one is ignored."""
    from spadok.core.reconstruct import sfm

    par = _temple_par()
    names = sorted(par)[:8]
    folder = _subset(tmp_path, names)
    K = par[names[0]][0]
    (folder / "K.txt").write_text("\n".join(" ".join(f"{v:.6f}" for v in row) for row in K))
    report = Report(input="temple")
    capture = inputs.load(folder, tmp_path / "work", report, max_size=320)
    assert capture.info["calibration"] == "K.txt"
    frame = capture.frames[0]
    scale = frame.width / 640
    assert frame.K is not None
    assert frame.K[0, 0] == pytest.approx(K[0, 0] * scale)
    assert frame.K[1, 1] == pytest.approx(K[1, 1] * scale)
    assert frame.K[0, 2] == pytest.approx((K[0, 2] + 0.5) * scale - 0.5)
    report = Report(input="temple")
    capture = inputs.load(folder, tmp_path / "full", report, max_size=640)
    frame = capture.frames[0]
    sparse = sfm.run(capture, tmp_path / "full", report)
    assert sparse is not None and report.extra["intrinsics"] == "calibration"
    (camera,) = sparse.reconstruction.cameras.values()
    assert camera.model_name == "PINHOLE"
    # kept as given: neither focal length nor principal point moved in the adjustment
    assert list(camera.params) == pytest.approx(
        [frame.K[0, 0], frame.K[1, 1], frame.K[0, 2] + 0.5, frame.K[1, 2] + 0.5]
    )

    (folder / "K.txt").write_text("1520.4 0 302.3\n0 1525.9\n")  # eight numbers: not a matrix
    other = Report(input="temple")
    assert "calibration" not in inputs.load(folder, tmp_path / "w2", other, max_size=320).info


def test_large_photos_give_accurate_cameras_from_their_own_pixels(tmp_path: Path) -> None:
    """Photos of 1200 px and more are matched with SIFT at their own resolution (not
    upsampled); on the calibrated fountain-P11 every camera is then placed within a tenth
    of a degree and a centimetre of the ground truth (after a similarity)."""
    from scipy.spatial.transform import Rotation

    from spadok.core.reconstruct import sfm

    fountain = data("photogrammetry", "strecha", "fountain-P11")
    folder = tmp_path / "fountain"
    folder.mkdir()
    for photo in sorted((fountain / "images").iterdir()):
        (folder / photo.name).symlink_to(photo)
    first = sorted((fountain / "gt_dense_cameras").glob("*.camera"))[0]
    (folder / "K.txt").write_text("\n".join(first.read_text().splitlines()[:3]) + "\n")
    report = Report(input="fountain")
    capture = inputs.load(folder, tmp_path / "work", report, max_size=1600)
    sparse = sfm.run(capture, tmp_path / "work", report)
    assert sparse is not None and report.registered == 11
    assert report.extra["sift_first_octave"] == 0
    gt = {}
    for path in (fountain / "gt_dense_cameras").glob("*.camera"):
        rows = [list(map(float, r.split())) for r in path.read_text().splitlines() if r.strip()]
        gt[path.name.removesuffix(".camera")] = (np.array(rows[4:7]).T, np.array(rows[7]))
    est = {v.source: (v.R, v.center) for v in sparse.views}
    names = sorted(est)
    assert set(names) == set(gt)
    T = sfm.umeyama(np.array([est[n][1] for n in names]), np.array([gt[n][1] for n in names]))
    assert T is not None
    centres = np.array([est[n][1] for n in names]) @ T[:3, :3].T + T[:3, 3]
    assert np.abs(centres - np.array([gt[n][1] for n in names])).max() < 0.01  # metres
    Rs = T[:3, :3] / np.cbrt(np.linalg.det(T[:3, :3]))
    errors = [
        np.degrees(Rotation.from_matrix(est[n][0] @ Rs.T @ gt[n][0].T).magnitude()) for n in names
    ]
    assert max(errors) < 0.1
