"""bench/reconstruct: spadok's capture processing against ground truth, three ways.

* ``cameras``: the 11 Strecha fountain-P11 photos; the recovered cameras are
  aligned to the ground-truth cameras and the median rotation error (degrees) and
  camera-centre error (metres) reported beside the published figures (COLMAP
  0.059°, OpenMVG 0.030°; target ≤ 0.03°), with the time and peak memory of each
  step (target: under 5 minutes and 4 GB on 2 cores).
* ``holdout``: the dense result by leaving one photo out: the fountain is
  reconstructed from the other 10, aligned to ground truth by their cameras,
  rendered with its texture from the held-out photo's ground-truth camera, and
  compared with that photo (PSNR and SSIM over the pixels the model covers); the
  rendering and the photo are saved side by side.
* ``synthetic``: accuracy and completeness against a known surface: photos of the
  real Lucy scan (Stanford) with a procedural stone texture are rendered from
  known cameras, reconstructed, aligned by the cameras, and the model's surface
  compared with the scan's: accuracy (model to scan), completeness (scan to model)
  and F-score at 0.5% and 1% of the statue's size.

Run by hand (each part reuses nothing from the others):

    nice -n 10 .venv/bin/python -m bench.reconstruct [--parts cameras,holdout,synthetic]
    .venv/bin/python -m bench.reconstruct --sfm-only   # the cameras only, in a minute or two

Results are printed and written to bench/results/reconstruct.json; models and
images are kept in bench/results/cache/ for viewing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = {"COLMAP": (0.059, 37.5), "OpenMVG": (0.030, 12.6), "GLOMAP": (0.059, 32.2)}


def data_dir() -> Path:
    return Path(os.environ.get("SPADOK_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()


def read_strecha(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (R camera-to-world, C centre in metres) from the ``*.camera`` files."""
    out = {}
    for path in sorted(folder.glob("*.camera")):
        rows = [list(map(float, r.split())) for r in path.read_text().splitlines() if r.strip()]
        R = np.array(rows[4:7])
        C = np.array(rows[7])
        out[path.name.removesuffix(".camera")] = (R, C)
    return out


def read_images_txt(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """COLMAP images.txt: name -> (R world-to-camera, centre)."""
    from scipy.spatial.transform import Rotation

    # two lines per image; the second (its 2D points) may be empty
    rows = [r for r in path.read_text().splitlines() if not r.startswith("#")]
    out = {}
    for row in rows[::2]:
        if not row.strip():
            continue
        p = row.split()
        qw, qx, qy, qz, tx, ty, tz = map(float, p[1:8])
        R = Rotation.from_quat([qx, qy, qz, qw]).as_matrix()
        out[p[9]] = (R, -R.T @ np.array([tx, ty, tz]))
    return out


def camera_errors(est: dict, gt: dict) -> dict[str, float]:
    from spadok.core.reconstruct.sfm import umeyama

    names = sorted(set(est) & set(gt))
    src = np.array([est[n][1] for n in names])
    dst = np.array([gt[n][1] for n in names])
    T = umeyama(src, dst)
    assert T is not None
    s = np.cbrt(np.linalg.det(T[:3, :3]))
    Ra = T[:3, :3] / s
    # Cameras on an arc leave the rotation about the arc's axis weakly fixed by the
    # centres alone, so the rotation of the alignment is also taken as the chordal mean
    # of the per-camera rotations (R_gt_c2w @ R_est), as benchmarks of SfM do.
    M = sum(gt[n][0] @ est[n][0] for n in names)
    U, _, Vt = np.linalg.svd(M)
    Rm = U @ np.diag([1, 1, np.linalg.det(U @ Vt)]) @ Vt
    rot, rot_c, cen = [], [], []
    for n in names:
        R_est, c_est = est[n]
        R_gt_c2w, c_gt = gt[n]
        for R_align, errs in ((Rm, rot), (Ra, rot_c)):
            rel = (R_est @ R_align.T) @ R_gt_c2w  # identity when the camera agrees
            errs.append(np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1, 1))))
        cen.append(np.linalg.norm(T[:3, :3] @ c_est + T[:3, 3] - c_gt))
    return {
        "cameras_compared": len(names),
        "rotation_error_deg_median_centre_alignment": round(float(np.median(rot_c)), 4),
        "rotation_error_deg_median": round(float(np.median(rot)), 4),
        "rotation_error_deg_mean": round(float(np.mean(rot)), 4),
        "centre_error_m_median": round(float(np.median(cen)), 4),
        "centre_error_m_max": round(float(np.max(cen)), 4),
    }


def run_reconstruct(images: Path, out: Path, args: argparse.Namespace) -> tuple[Any, float]:
    from spadok.core.reconstruct import reconstruct

    start = time.perf_counter()
    report = reconstruct(
        images,
        out,
        max_image_size=args.max_image_size,
        mvs_size=args.mvs_size,
        mvs_planes=args.planes,
        mesh_depth=args.mesh_depth,
    )
    return report, time.perf_counter() - start


def run_sfm_only(images: Path, out: Path, args: argparse.Namespace) -> tuple[Any, float]:
    """Only the inputs and the cameras (no dense steps), for quick work on accuracy."""
    import shutil
    import tempfile

    from spadok.core.reconstruct import inputs, sfm
    from spadok.core.reconstruct.report import Report, Steps

    report = Report(input=images.name)
    steps = Steps(report, ("inputs", "sfm"), None)
    work = Path(tempfile.mkdtemp(prefix="bench-sfm-"))
    start = time.perf_counter()
    try:
        with steps.step("inputs"):
            capture = inputs.load(images, work, report, max_size=args.max_image_size)
        with steps.step("sfm"):
            sparse = sfm.run(capture, work, report)
        seconds = time.perf_counter() - start
        if sparse is not None and sparse.reconstruction is not None:
            rec = sparse.reconstruction
            source = {v.name: v.source.replace(" ", "_") for v in sparse.views}
            for img in rec.images.values():
                img.name = source.get(img.name, img.name)
            (out / "sparse").mkdir(parents=True, exist_ok=True)
            rec.write_text(str(out / "sparse"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report, seconds


def summary(report: Any, seconds: float) -> dict[str, Any]:
    return {
        "total_seconds": round(seconds, 1),
        "cpu_seconds": round(sum(t.get("cpu_seconds", 0.0) for t in report.timings.values()), 1),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "peak_mb": max(t["peak_mb"] for t in report.timings.values()),
        "timings": report.timings,
        "stages": report.extra.get("stages", {}),
        "registered": report.registered,
        "reprojection_error_px": report.reprojection_error_px,
        "dense_points": report.dense_points,
        "triangles": report.triangles,
        "textured_fraction": report.textured_fraction,
        "verdict": report.verdict,
    }


def similarity_to(est: dict, gt: dict) -> np.ndarray:
    """The similarity taking the reconstruction's frame to ground truth (camera centres)."""
    from spadok.core.reconstruct.sfm import umeyama

    names = sorted(set(est) & set(gt))
    T = umeyama(np.array([est[n][1] for n in names]), np.array([gt[n][1] for n in names]))
    assert T is not None, "too few cameras to align"
    return T


def load_model(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Vertices (world, scene graph applied), faces, UVs and the texture of a GLB."""
    import trimesh

    mesh: Any = trimesh.load(path, force="mesh", process=False)
    uv = getattr(mesh.visual, "uv", None)
    image = getattr(getattr(mesh.visual, "material", None), "baseColorTexture", None)
    if image is None:
        image = getattr(getattr(mesh.visual, "material", None), "image", None)
    texture = np.asarray(image.convert("RGB")) if image is not None else None
    return np.asarray(mesh.vertices), np.asarray(mesh.faces), uv, texture


def calibrated_copy(fountain: Path, dest: Path, leave_out: str | None = None) -> Path:
    """The fountain photos (linked) with the camera's ``K.txt`` beside them.

    The published figures are for the calibrated camera the data set comes with; a
    photographer with a calibrated camera hands spadok the same file.
    """
    import shutil

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for photo in sorted((fountain / "images").iterdir()):
        if photo.name != leave_out:
            (dest / photo.name).symlink_to(photo)
    first = sorted((fountain / "gt_dense_cameras").glob("*.camera"))[0]
    rows = [r.split() for r in first.read_text().splitlines()[:3]]
    (dest / "K.txt").write_text("\n".join(" ".join(r) for r in rows) + "\n")
    return dest


def part_cameras(args: argparse.Namespace, fountain: Path) -> dict[str, Any]:
    out = CACHE / "fountain"
    images = fountain / "images"
    if not args.self_calibrate:
        images = calibrated_copy(fountain, CACHE / "fountain-calibrated")
    if args.sfm_only:
        import shutil

        shutil.rmtree(out / "sparse", ignore_errors=True)
        report, seconds = run_sfm_only(images, out, args)
    else:
        report, seconds = run_reconstruct(images, out, args)
    result = {
        "input": "photogrammetry/strecha/fountain-P11",
        "intrinsics": report.extra.get("intrinsics"),
        **summary(report, seconds),
    }
    images = out / "sparse" / "images.txt"
    if images.exists():
        result["cameras"] = camera_errors(
            read_images_txt(images), read_strecha(fountain / "gt_dense_cameras")
        )
    result["published_rotation_deg_and_seconds"] = PUBLISHED
    return result


def strecha_camera(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """K, R (world to camera), t and (width, height) of a Strecha ``.camera`` file."""
    rows = [list(map(float, r.split())) for r in path.read_text().splitlines() if r.strip()]
    K = np.array(rows[0:3])
    R_c2w = np.array(rows[4:7])
    C = np.array(rows[7])
    w, h = (int(v) for v in rows[8][:2])
    R = R_c2w.T
    return K, R, -R @ C, (w, h)


def part_holdout(args: argparse.Namespace, fountain: Path) -> dict[str, Any]:
    import shutil

    from PIL import Image

    from bench.render import Renderer, psnr, ssim

    photos = sorted((fountain / "images").glob("*.jpg")) + sorted(
        (fountain / "images").glob("*.png")
    )
    held = photos[len(photos) // 2]
    stem = held.name
    work = CACHE / "fountain-holdout"
    shutil.rmtree(work, ignore_errors=True)
    calibrated_copy(fountain, work / "images", leave_out=stem)
    report, seconds = run_reconstruct(work / "images", work / "out", args)
    gt = read_strecha(fountain / "gt_dense_cameras")
    est = read_images_txt(work / "out" / "sparse" / "images.txt")
    T = similarity_to(est, gt)
    vertices, faces, uv, texture = load_model(work / "out" / "model.glb")
    vertices = vertices @ T[:3, :3].T + T[:3, 3]
    K, R, t, (w, h) = strecha_camera(fountain / "gt_dense_cameras" / f"{stem}.camera")
    scale = 1536 / w
    Ks = K.copy()
    Ks[:2] *= scale
    Ks[0, 2] = (K[0, 2] + 0.5) * scale - 0.5
    Ks[1, 2] = (K[1, 2] + 0.5) * scale - 0.5
    size = (round(w * scale), round(h * scale))
    photo = np.asarray(Image.open(held).convert("RGB").resize(size, Image.Resampling.LANCZOS))
    renderer = Renderer(*size)
    renderer.set_mesh(vertices, faces, uv=uv, texture=texture)
    rendered, mask = renderer.render(Ks, R, t, near=0.1, far=200.0)
    side = np.concatenate([photo, np.where(mask[..., None], rendered, 0)], axis=1)
    Image.fromarray(side).save(work / "holdout-photo-vs-render.jpg", quality=90)
    return {
        "input": f"fountain-P11 without {stem}, rendered from its ground-truth camera",
        **summary(report, seconds),
        "coverage": round(float(mask.mean()), 3),
        "psnr_db": round(psnr(rendered, photo, mask), 2),
        "ssim": round(ssim(rendered, photo, mask), 4),
        "side_by_side": str((work / "holdout-photo-vs-render.jpg").relative_to(ROOT)),
    }


def look_at(
    centre: np.ndarray, target: np.ndarray, up: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """R (world to camera, OpenCV axes) and t of a camera at ``centre`` looking at ``target``."""
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ centre


def surface_samples(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int) -> np.ndarray:
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    points, _ = trimesh.sample.sample_surface_even(mesh, n, seed=seed)
    if len(points) < n // 2:  # sample_surface_even may give fewer; top up uniformly
        extra, _ = trimesh.sample.sample_surface(mesh, n - len(points), seed=seed)
        points = np.vstack([points, extra])
    return np.asarray(points)


def part_synthetic(args: argparse.Namespace) -> dict[str, Any]:
    import shutil

    import trimesh
    from PIL import Image
    from scipy.spatial import cKDTree

    from bench.render import Renderer

    scan: Any = trimesh.load(
        data_dir() / "scans" / "stanford_via_pyvista" / "lucy.ply", process=False
    )
    v = np.asarray(scan.vertices, float)
    f = np.asarray(scan.faces)
    # Lucy stands along the longest axis; make that +Y, in metres, 1.6 m tall, centred.
    axis = int(np.argmax(np.ptp(v, axis=0)))
    order = [i for i in range(3) if i != axis]
    v = v[:, [order[0], axis, order[1]]] * 0.001
    v -= (v.min(0) + v.max(0)) / 2
    v *= 1.6 / np.ptp(v[:, 1])
    normals = trimesh.Trimesh(v, f, process=False).vertex_normals
    width, height, focal = 1024, 768, 1000.0
    K = np.array([[focal, 0, width / 2 - 0.5], [0, focal, height / 2 - 0.5], [0, 0, 1]])
    work = CACHE / "lucy-synthetic"
    shutil.rmtree(work, ignore_errors=True)
    (work / "images").mkdir(parents=True)
    renderer = Renderer(width, height)
    renderer.set_mesh(v, f, normals=normals)
    cams: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    up = np.array([0.0, 1.0, 0.0])
    for ring, (elev, count, dist) in enumerate(((8.0, 24, 2.6), (35.0, 16, 2.6))):
        for k in range(count):
            az = 2 * np.pi * k / count + ring * 0.1
            e = np.radians(elev)
            centre = dist * np.array([np.cos(e) * np.cos(az), np.sin(e), np.cos(e) * np.sin(az)])
            R, t = look_at(centre, np.zeros(3), up)
            img, _ = renderer.render(K, R, t, procedural=True, freq=60.0, near=0.1, far=20.0)
            name = f"lucy_{ring}_{k:02d}.png"
            Image.fromarray(img).save(work / "images" / name)
            cams[name] = (R.T, centre)  # camera-to-world rotation, centre (as read_strecha)
    report, seconds = run_reconstruct(work / "images", work / "out", args)
    result: dict[str, Any] = {
        "input": f"{len(cams)} renders of Lucy (1.6 m) with a procedural texture, known cameras",
        **summary(report, seconds),
    }
    est = read_images_txt(work / "out" / "sparse" / "images.txt")
    result["cameras"] = camera_errors(est, cams)
    T = similarity_to(est, cams)
    rv, rf, _, _ = load_model(work / "out" / "model.glb")
    rv = rv @ T[:3, :3].T + T[:3, 3]
    model_pts = surface_samples(rv, rf, 300_000, seed=1)
    scan_pts = surface_samples(v, f, 300_000, seed=2)
    # Only what some camera could see counts for completeness: Lucy's underside and the
    # deep folds no ring of cameras looks into are left out by visibility in any view.
    seen = np.zeros(len(scan_pts), bool)
    for R_c2w, centre in cams.values():
        R = R_c2w.T
        pc = (scan_pts - centre) @ R.T
        z = pc[:, 2]
        u = K[0, 0] * pc[:, 0] / z + K[0, 2]
        w_ = K[1, 1] * pc[:, 1] / z + K[1, 2]
        depth = renderer_depth(renderer, K, R, -R @ centre)
        inside = (z > 0) & (u >= 0) & (u < width - 1) & (w_ >= 0) & (w_ < height - 1)
        ui, vi = u[inside].astype(int), w_[inside].astype(int)
        visible = np.zeros(len(scan_pts), bool)
        visible[np.flatnonzero(inside)] = z[inside] <= depth[vi, ui] + 0.01
        seen |= visible
    scan_seen = scan_pts[seen]
    d_model, _ = cKDTree(scan_pts).query(model_pts)
    d_scan, _ = cKDTree(model_pts).query(scan_seen)
    size = float(np.linalg.norm(np.ptp(v, axis=0)))
    result["surface"] = {
        "scan_diagonal_m": round(size, 3),
        "scan_points_seen_fraction": round(float(seen.mean()), 3),
        "accuracy_m_median": round(float(np.median(d_model)), 5),
        "accuracy_m_p90": round(float(np.percentile(d_model, 90)), 5),
        "completeness_m_median": round(float(np.median(d_scan)), 5),
    }
    for frac in (0.005, 0.01):
        tau = frac * size
        precision = float((d_model < tau).mean())
        recall = float((d_scan < tau).mean())
        fscore = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result["surface"][f"at_{frac:.1%}"] = {
            "tau_m": round(tau, 4),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f_score": round(fscore, 4),
        }
    return result


def renderer_depth(
    renderer: Any, K: np.ndarray, R: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, None]:
    """The scan's depth (metres along the view axis) in one view, from the depth buffer."""
    near, far = 0.1, 20.0
    renderer.render(K, R, t, procedural=True, near=near, far=far)
    raw = np.frombuffer(
        renderer.fbo.read(components=1, attachment=-1, dtype="f4"), np.float32
    ).reshape(renderer.height, renderer.width)
    zb = np.flipud(raw).astype(np.float64) * 2 - 1  # window depth to NDC
    depth = 2 * far * near / (far + near - zb * (far - near))
    depth[np.flipud(raw) >= 1.0] = np.inf
    return depth


CACHE = ROOT / "bench" / "results" / "cache"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default="cameras,holdout,synthetic")
    parser.add_argument("--max-image-size", type=int, default=1600)
    parser.add_argument("--mvs-size", type=int, default=1000)
    parser.add_argument("--planes", type=int, default=128)
    parser.add_argument("--mesh-depth", type=int, default=9)
    parser.add_argument(
        "--self-calibrate", action="store_true", help="estimate the intrinsics (no K.txt)"
    )
    parser.add_argument(
        "--sfm-only",
        action="store_true",
        help="cameras part: stop after the cameras (no dense steps); implies --parts cameras",
    )
    args = parser.parse_args()
    if args.sfm_only:
        args.parts = "cameras"
    fountain = data_dir() / "photogrammetry" / "strecha" / "fountain-P11"
    dest = ROOT / "bench" / "results" / "reconstruct.json"
    results: dict[str, Any] = json.loads(dest.read_text()) if dest.exists() else {}
    results["settings"] = {k: v for k, v in vars(args).items() if k not in ("parts", "sfm_only")}
    for part in args.parts.split(","):
        if part == "cameras" and args.sfm_only:
            results["cameras_sfm_only"] = part_cameras(args, fountain)
            part = "cameras_sfm_only"
        elif part == "cameras":
            results["cameras"] = part_cameras(args, fountain)
        elif part == "holdout":
            results["holdout"] = part_holdout(args, fountain)
        elif part == "synthetic":
            results["synthetic"] = part_synthetic(args)
        else:
            raise SystemExit(f"unknown part {part!r}")
        print(json.dumps({part: results[part]}, indent=2), flush=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
