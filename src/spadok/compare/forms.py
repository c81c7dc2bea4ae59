"""The two forms of comparisons: which captures to compare, and how to nudge an alignment."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from spadok.catalogue.models import Capture
from spadok.core.compare.params import MAX_OFFSET_DEGREES

HEATMAP_CHOICES = [
    ("after", _("the after capture (where material is now)")),
    ("before", _("the before capture (where material was)")),
]


def capture_label(capture: Capture) -> str:
    when = capture.captured_at or capture.created_at
    name = capture.source_name or capture.primary_file or capture.id
    return f"{when:%Y-%m-%d} · {(capture.format or '?').upper()} · {name[:60]} · {capture.id}"


class CompareForm(forms.Form):
    before = forms.ChoiceField(label=_("Before"))
    after = forms.ChoiceField(label=_("After"))
    threshold = forms.FloatField(
        label=_("Change threshold (optional)"),
        required=False,
        min_value=1e-9,
        max_value=1e6,
        help_text=_(
            "Distances beyond this count as change, in metres (or in the files' units when they "
            "do not say). Leave it empty to derive it from how well the captures align."
        ),
    )
    heatmap_on = forms.ChoiceField(
        label=_("Colour the surface of"),
        choices=HEATMAP_CHOICES,
        initial="after",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, captures: list[Capture], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(c.id, capture_label(c)) for c in captures]
        for name in ("before", "after"):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = choices
        if captures and not self.is_bound:
            self.initial.setdefault("before", captures[0].id)
            self.initial.setdefault("after", captures[-1].id)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("before") and data.get("before") == data.get("after"):
            raise forms.ValidationError(_("Choose two different captures."))
        return data


def _offset(label: Any, limit: float) -> forms.FloatField:
    return forms.FloatField(
        label=label, required=False, initial=0.0, min_value=-limit, max_value=limit
    )


class NudgeForm(forms.Form):
    """Offsets applied to the current alignment before ICP runs again from there."""

    tx = _offset(_("Move along X"), 1e6)
    ty = _offset(_("Move along Y"), 1e6)
    tz = _offset(_("Move along Z"), 1e6)
    rx = _offset(_("Turn about X (degrees)"), MAX_OFFSET_DEGREES)
    ry = _offset(_("Turn about Y (degrees)"), MAX_OFFSET_DEGREES)
    rz = _offset(_("Turn about Z (degrees)"), MAX_OFFSET_DEGREES)
    threshold = forms.FloatField(
        label=_("Change threshold (optional)"), required=False, min_value=1e-9, max_value=1e6
    )
    refine = forms.BooleanField(
        label=_("Refine the alignment from there (ICP)"), required=False, initial=True
    )

    def offsets(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        d = self.cleaned_data
        translate = (d.get("tx") or 0.0, d.get("ty") or 0.0, d.get("tz") or 0.0)
        rotate = (d.get("rx") or 0.0, d.get("ry") or 0.0, d.get("rz") or 0.0)
        return translate, rotate
