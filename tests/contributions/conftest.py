"""Fixtures for contributions: users per role, a draft capture of a contributor's, photos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.accounts.conftest import _fast_passwords, client_for, make_user  # noqa: F401
from tests.site.conftest import make_capture  # noqa: F401


@pytest.fixture
def people(make_user: Callable[..., Any]) -> dict[str, Any]:  # noqa: F811
    """One user per role, curators and administrators with a second factor."""
    return {
        "owner": make_user("owner"),
        "other": make_user("other"),
        "reviewer": make_user("reviewer", "reviewer"),
        "curator": make_user("curator", "curator"),
        "reader": make_user("reader", "curator"),
        "administrator": make_user("administrator", "administrator"),
    }


@pytest.fixture
def draft_capture(make_capture: Callable[..., Any], people: dict[str, Any]) -> Any:  # noqa: F811
    """A processed capture of ``owner`` on a draft record, waiting for review."""
    from spadok.catalogue.models import Record, Visibility

    record = Record.objects.create(title="Church of St Nicholas", visibility=Visibility.DRAFT)
    return make_capture(record=record, contributor=people["owner"])


def gps_jpeg(path: Path, lat: float = 50.4501, lon: float = 30.5234, error_m: float = 7.0) -> Path:
    """A JPEG with EXIF GPS tags, written by Pillow alone."""
    from fractions import Fraction

    from PIL import ExifTags, Image

    def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
        value = abs(value)
        d = int(value)
        m = int((value - d) * 60)
        s = Fraction(round((value - d - m / 60) * 3600 * 10000), 10000)
        return Fraction(d), Fraction(m), s

    img = Image.new("RGB", (64, 48), (200, 180, 120))
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {
        1: "N" if lat >= 0 else "S",
        2: dms(lat),
        3: "E" if lon >= 0 else "W",
        4: dms(lon),
        31: Fraction(error_m),
    }
    img.save(path, "JPEG", exif=exif)
    return path
