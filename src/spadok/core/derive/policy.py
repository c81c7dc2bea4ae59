"""The derivative policy: which tool makes which derivative, with what settings.

Kept as a versioned table so that, years later, an archivist can tell what
made each web copy and remake it. Bump ``POLICY_VERSION`` whenever a tier,
a tool or a parameter changes; derivatives are unique on (capture, role,
policy version), so making one twice is harmless and a new version sits
beside the old.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

POLICY_NAME = "spadok-web"
POLICY_VERSION = "1"


@dataclass(frozen=True)
class MeshTier:
    """One web level of detail, after Smithsonian Voyager's quality tiers."""

    role: str  # "web-high", "web-medium", "web-low"
    max_triangles: int
    max_texture: int  # longest texture edge in pixels


MESH_TIERS: tuple[MeshTier, ...] = (
    MeshTier("web-high", 500_000, 4096),
    MeshTier("web-medium", 150_000, 2048),
    MeshTier("web-low", 25_000, 1024),
)

# A tier is made only when it is meaningfully smaller than the next one up;
# a 20k-triangle scan gets one web copy, not three identical ones.
TIER_MIN_RATIO = 0.6

POINT_WEB_MAX_POINTS = 2_000_000
# Clouds of more points also get the streaming octree (web-lod + web-lod-data, ADR 0013);
# smaller ones are shown from the point GLB alone.
POINT_LOD_MIN_POINTS = 500_000
POINT_LOD_GRID = 128  # a node keeps one point per cell of a 128³ grid over its cube
POINT_LOD_LEAF_POINTS = 20_000  # a node with at most this many points below it is a leaf
POINT_LOD_BUCKET_POINTS = 2_000_000  # points built in memory at once
THUMBNAIL_SIZE = 512


@dataclass
class DerivativeFile:
    """A derivative written to a staging folder, with what made it."""

    role: str  # "web-high", ..., "web-points", "web-lod", "web-lod-data", "thumbnail"
    path: Path
    mime: str
    tool: str  # e.g. "spadok 0.1.0 + gltfpack 1.3.0"
    params: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)  # triangles, points, bytes...

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = self.path.name
        data["policy"] = f"{POLICY_NAME}/{POLICY_VERSION}"
        return data


def policy_table() -> dict[str, Any]:
    """The policy as data, stored beside every derivative it made."""
    return {
        "name": POLICY_NAME,
        "version": POLICY_VERSION,
        "mesh_tiers": [asdict(t) for t in MESH_TIERS],
        "tier_min_ratio": TIER_MIN_RATIO,
        "point_web_max_points": POINT_WEB_MAX_POINTS,
        "point_lod": {
            "min_points": POINT_LOD_MIN_POINTS,
            "grid": POINT_LOD_GRID,
            "leaf_points": POINT_LOD_LEAF_POINTS,
            "bucket_points": POINT_LOD_BUCKET_POINTS,
        },
        "thumbnail_size": THUMBNAIL_SIZE,
    }
