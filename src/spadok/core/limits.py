"""Size and count limits applied wherever input arrives.

One frozen object, built from settings by the caller, so that the command
line, the site and the workers enforce the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 8 * 1024**3
    max_vertices: int = 200_000_000
    max_points: int = 2_000_000_000
    # Formats read whole (E57, PLY, PCD, XYZ, splats) hold every point in memory
    # (about 40 bytes each); LAS/LAZ/COPC stream and only meet ``max_points``.
    max_points_in_memory: int = 40_000_000
    max_zip_entries: int = 10_000
    max_zip_ratio: float = 200.0
    max_zip_total_bytes: int = 32 * 1024**3
    max_zip_depth: int = 2
    # Site lists (spadok import-sites / import-regions): a whole national register
    # fits; a runaway export or a wrong file does not.
    max_registry_bytes: int = 512 * 1024**2
    max_registry_rows: int = 2_000_000


DEFAULT_LIMITS = Limits()
