"""The comparison's core on real scans with known damage (see cases.py for the truths).

Each case is compared once per module (a few seconds each) and the tests assert
on the result: the motion undone, the change found where it was made, the lost
volume within 5% of the truth, and a clear verdict when nothing aligns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spadok.core.compare import Params, Report, analyse, heat_model, load_geometry, parse_params
from spadok.core.compare.align import rotation_angle
from spadok.core.errors import SpadokError
from tests.compare import cases

SAMPLES = 30_000  # per capture: enough for 0.01° and 1% here, and quick


def run(before: Path, after: Path, **params: object) -> tuple[Report, object]:
    report = Report()
    p = Params(samples=SAMPLES, **params)  # type: ignore[arg-type]
    analysis = analyse(load_geometry(before), load_geometry(after), p, report)
    return report, analysis


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compare-cases")


@pytest.fixture(scope="module")
def cut(tmp: Path) -> tuple[cases.Case, Report, object]:
    case = cases.cut_case(tmp)
    report, analysis = run(case.before, case.after, heatmap_on="before")
    return case, report, analysis


@pytest.fixture(scope="module")
def dent(tmp: Path) -> tuple[cases.Case, Report, object]:
    case = cases.dent_case(tmp)
    report, analysis = run(case.before, case.after, heatmap_on="before")
    return case, report, analysis


def detected(analysis: object, threshold: float) -> np.ndarray:
    """Before-mesh vertices the comparison calls lost (the heat map on the before mesh)."""
    model, signed = heat_model(analysis, Params(samples=SAMPLES, heatmap_on="before"))  # type: ignore[arg-type]
    assert signed and model.values is not None
    return model.values < -threshold


def overlap(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    both = float(np.sum(found & truth))
    return both / max(1, int(found.sum())), both / max(1, int(truth.sum()))


# -- a cap sawn off a closed statue ---------------------------------------------------------


def test_cut_alignment_is_recovered(cut) -> None:  # type: ignore[no-untyped-def]
    case, report, analysis = cut
    assert rotation_angle(case.motion) > 30  # the copy really was turned
    assert report.verdict == "changed" and report.error is None
    assert cases.rotation_error_degrees(analysis.alignment.transform, case) < 0.05
    assert cases.translation_error(analysis.alignment.transform, case) < 1e-3 * case.size
    assert report.rms is not None and report.rms < 1e-3 * case.size
    assert report.overlap_after > 0.9 and 0.6 < report.overlap_before < 0.9


def test_cut_change_is_found_where_it_was_made(cut) -> None:  # type: ignore[no-untyped-def]
    case, report, analysis = cut
    found = detected(analysis, report.threshold["threshold"])
    precision, recall = overlap(found, case.altered)
    assert precision > 0.97, precision
    assert recall > 0.95, recall
    assert report.changed_area_added == pytest.approx(0, abs=0.005 * report.changed_area)


def test_cut_lost_volume_within_five_percent(cut) -> None:  # type: ignore[no-untyped-def]
    case, report, _analysis = cut
    assert report.volume["method"] == "voxel"
    assert report.lost_volume == pytest.approx(case.lost_volume, rel=0.05)
    assert report.added_volume < 0.01 * case.lost_volume
    assert not report.scale_known and report.unit is None  # PLY files say no unit


# -- a dent pushed into a closed statue ----------------------------------------------------


def test_dent_alignment_region_and_volume(dent) -> None:  # type: ignore[no-untyped-def]
    case, report, analysis = dent
    assert cases.rotation_error_degrees(analysis.alignment.transform, case) < 0.05
    assert cases.translation_error(analysis.alignment.transform, case) < 1e-3 * case.size
    found = detected(analysis, report.threshold["threshold"])
    precision, recall = overlap(found, case.altered)
    assert precision > 0.95, precision
    assert recall > 0.85, recall  # the dent's rim is shallower than the threshold
    assert report.volume["method"] == "voxel"
    assert report.lost_volume == pytest.approx(case.lost_volume, rel=0.05)
    # the surface estimate agrees on a shallow dent
    assert report.volume["surface_estimate"]["lost"] == pytest.approx(case.lost_volume, rel=0.05)
    assert report.added_volume < 0.02 * case.lost_volume


# -- an open scan: no inside, the surface method ------------------------------------------


def test_open_scan_dent_volume_by_the_surface_method(tmp: Path) -> None:
    case = cases.open_dent_case(tmp)
    report, analysis = run(case.before, case.after)
    assert report.before["watertight"] is False and report.signed
    assert cases.rotation_error_degrees(analysis.alignment.transform, case) < 0.05
    assert cases.translation_error(analysis.alignment.transform, case) < 1e-3 * case.size
    assert report.volume["method"] == "surface" and report.volume["indicative"] is False
    assert report.lost_volume == pytest.approx(case.lost_volume, rel=0.05)
    assert report.added_volume < 0.02 * case.lost_volume


# -- a point cloud after a mesh -----------------------------------------------------------------


def test_a_point_cloud_after_a_mesh(cut, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    """The cut statue re-scanned as bare points (no faces, no normals): it still aligns and the
    change is found; its side of the distances is signed by the mesh, the other side not."""
    import trimesh

    case, mesh_report, _analysis = cut
    after = trimesh.load(case.after, process=False)
    points, _faces = trimesh.sample.sample_surface(after, 150_000, seed=4)
    cloud = tmp / "gargoyle-cut-points.ply"
    trimesh.PointCloud(points).export(cloud)
    report, analysis = run(case.before, cloud)
    assert report.after["kind"] == "points" and report.after["normals"] is False
    assert cases.rotation_error_degrees(analysis.alignment.transform, case) < 0.1
    assert report.distances["after"]["signed"] and not report.distances["before"]["signed"]
    assert not report.signed and report.changed_area_lost is None
    assert report.changed_area == pytest.approx(mesh_report.changed_area, rel=0.25)
    assert report.volume["method"] == "surface" and "one surface" in report.volume["note"]
    assert report.volume["indicative"] is True  # a cap 30 units deep: too deep for the method
    assert report.changed_area_after["lost"] > 0 and report.changed_area_after["added"] == 0


# -- nothing to align ------------------------------------------------------------------------


def test_unrelated_objects_get_a_verdict_not_an_exception(tmp: Path) -> None:
    before, after = cases.unrelated_case(tmp)
    report = Report()  # few samples: nothing fits whatever their number
    analysis = analyse(load_geometry(before), load_geometry(after), Params(samples=5_000), report)
    assert analysis is None
    assert report.verdict == "failed"
    assert report.error is not None and report.error["code"] == "compare.not_aligned"
    assert "nudge" in report.error["message"]
    assert report.overlap is not None and report.overlap < 0.3


def test_sizes_far_apart_are_not_aligned() -> None:
    report, analysis = run(cases.data(*cases.GARGOYLE), cases.data(*cases.BUNNY))
    assert analysis is None and report.error is not None
    assert (
        report.error["code"] == "compare.not_aligned" and "sizes differ" in report.error["message"]
    )


# -- the nudge: start from a given transform -------------------------------------------------


def test_nudge_starts_from_the_given_transform_and_refines(dent) -> None:  # type: ignore[no-untyped-def]
    case = dent[0]
    truth = np.linalg.inv(case.motion)
    # a start 4 degrees and 2 units off the truth: ICP from there finds the truth again
    off = Params(
        samples=SAMPLES,
        initial=tuple(truth.reshape(-1)),
        rotate=(4.0, 0.0, 0.0),
        translate=(2.0, 0.0, 0.0),
    )
    rep = Report()
    refined = analyse(load_geometry(case.before), load_geometry(case.after), off, rep)
    assert refined is not None and refined.alignment.method == "nudge+icp"
    assert cases.rotation_error_degrees(refined.alignment.transform, case) < 0.05
    assert rep.lost_volume == pytest.approx(case.lost_volume, rel=0.05)
    # without refinement the offsets are taken as they are: 4 degrees off, and far worse
    fixed = Params(
        samples=SAMPLES, initial=tuple(truth.reshape(-1)), rotate=(4.0, 0.0, 0.0), refine=False
    )
    rep2 = Report()
    taken = analyse(load_geometry(case.before), load_geometry(case.after), fixed, rep2)
    assert taken is not None and taken.alignment.method == "nudge"
    assert cases.rotation_error_degrees(taken.alignment.transform, case) == pytest.approx(
        4.0, abs=1e-6
    )
    assert rep2.rms > 10 * rep.rms


# -- parameters -------------------------------------------------------------------------------


def test_parameters_are_checked_and_keyed() -> None:
    assert parse_params({}).key() == Params().key()
    assert parse_params({"threshold": 0.01}).key() != Params().key()
    assert (
        parse_params(Params(rotate=(1.0, 2.0, 3.0)).canonical()).key()
        == Params(rotate=(1.0, 2.0, 3.0)).key()
    )
    bad = [
        {"threshold": -1},
        {"threshold": "a lot"},
        {"samples": 10},
        {"rotate": [1, 2]},
        {"rotate": [400, 0, 0]},
        {"initial": [1, 2, 3]},
        {"initial": [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]},  # a scale
        {"heatmap_on": "sideways"},
        {"colour": "red"},
    ]
    for data in bad:
        with pytest.raises(SpadokError) as err:
            parse_params(data)
        assert err.value.code == "compare.bad_parameters", data
