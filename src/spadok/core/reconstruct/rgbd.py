"""LiDAR captures: depth fused with the device's poses (TSDF), at the device's scale.

Open3D 0.19's ScalableTSDFVolume (0.20 returns an empty mesh, see FINDINGS) fuses
each depth frame, with low-confidence LiDAR pixels removed, at the pose ARKit
gave; the surface is the zero level set (marching cubes). Colour comes later
from the RGB keyframes as a texture atlas, since the depth frames outnumber the
keyframes and a TSDF colour would be a blur of them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import open3d as o3d

from spadok.core.reconstruct.inputs import Capture
from spadok.core.reconstruct.mesh import remove_small_components
from spadok.core.reconstruct.report import Report
from spadok.core.reconstruct.sfm import View


def fuse(
    capture: Capture,
    report: Report,
    voxel: float = 0.01,
    max_depth: float = 4.0,
    min_confidence: int = 2,
) -> o3d.geometry.TriangleMesh:
    """The fused surface in metres, in the device's world frame turned Y-up (ARKit is)."""
    volume = o3d.pipelines.integration.ScalableTSDFVolume(
        voxel_length=voxel,
        sdf_trunc=4 * voxel,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.NoColor,
    )
    used = 0
    for f in capture.depth:
        depth = cv2.imread(str(f.depth_path), cv2.IMREAD_UNCHANGED)
        if depth is None or depth.dtype != np.uint16:
            report.reject(f.depth_path.name, "unreadable", "depth is not a 16-bit PNG")
            continue
        if f.conf_path is not None:
            conf = cv2.imread(str(f.conf_path), cv2.IMREAD_UNCHANGED)
            if conf is not None and conf.shape == depth.shape:
                depth = np.where(conf >= min_confidence, depth, 0).astype(np.uint16)
        h, w = depth.shape
        intr = o3d.camera.PinholeCameraIntrinsic(w, h, f.K[0, 0], f.K[1, 1], f.K[0, 2], f.K[1, 2])
        color = o3d.geometry.Image(np.zeros((h, w, 3), np.uint8))
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            color,
            o3d.geometry.Image(depth),
            depth_scale=f.depth_scale,
            depth_trunc=max_depth,
            convert_rgb_to_intensity=False,
        )
        volume.integrate(rgbd, intr, np.linalg.inv(f.cam_to_world))
        used += 1
    report.extra["depth_frames_used"] = used
    mesh = volume.extract_triangle_mesh()
    mesh = remove_small_components(mesh, 0.02)
    mesh.remove_degenerate_triangles()
    mesh.remove_unreferenced_vertices()
    report.dense_points = len(mesh.vertices)
    return mesh


def write_sparse(views: list[View], folder: Path) -> None:
    """COLMAP text files for device-posed cameras (no 3D points: none were matched)."""
    folder.mkdir(parents=True, exist_ok=True)
    cams, imgs = (
        ["# Camera list: CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]"],
        ["# Image list: IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME, then POINTS2D"],
    )
    from scipy.spatial.transform import Rotation

    for i, v in enumerate(views, start=1):
        K = v.K
        # COLMAP's pixel centres are at +0.5: K from the device is in the same convention
        cams.append(
            f"{i} PINHOLE {v.width} {v.height} {K[0, 0]:.6f} {K[1, 1]:.6f} {K[0, 2]:.6f} "
            f"{K[1, 2]:.6f}"
        )
        qx, qy, qz, qw = Rotation.from_matrix(v.R).as_quat()
        t = v.t
        imgs.append(
            f"{i} {qw:.9f} {qx:.9f} {qy:.9f} {qz:.9f} {t[0]:.9f} {t[1]:.9f} {t[2]:.9f} {i} {v.name}"
        )
        imgs.append("")
    (folder / "cameras.txt").write_text("\n".join(cams) + "\n", "utf-8")
    (folder / "images.txt").write_text("\n".join(imgs) + "\n", "utf-8")
    (folder / "points3D.txt").write_text("# 3D point list: none (device poses)\n", "utf-8")
