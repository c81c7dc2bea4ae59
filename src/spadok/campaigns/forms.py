"""The forms of campaign pages; every field is labelled and bounded."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from spadok.campaigns.presenters import URGENCY_LABELS, WANTED_LABELS
from spadok.sites.i18n import localized
from spadok.sites.models import DamageStatus, Region, SiteType
from spadok.sites.presenters import damage_label, type_label


def _region_choices(lang: str | None, blank: Any) -> list[tuple[str, Any]]:
    regions = sorted(
        (
            (code, localized(names, lang) or code)
            for code, names in Region.objects.values_list("code", "names")
        ),
        key=lambda c: str(c[1]),
    )
    return [("", blank), *regions]


def _wanted_field(required: bool = True) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=_("What is wanted"),
        choices=list(WANTED_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        required=required,
    )


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    region = forms.ChoiceField(label=_("Region"), required=False)
    bbox = forms.CharField(
        label=_("Box (west,south,east,north)"),
        required=False,
        max_length=100,
        help_text=_("In degrees, for example 35.8,49.6,36.6,50.2"),
    )
    polygon = forms.CharField(
        label=_("Polygon (GeoJSON)"),
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    starts_on = forms.DateField(
        label=_("Starts on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label=_("Ends on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    goal_sites = forms.IntegerField(label=_("Goal: sites covered"), required=False, min_value=1)
    goal_captures_per_day = forms.IntegerField(
        label=_("Goal: captures per day"), required=False, min_value=1
    )
    claim_hours = forms.IntegerField(
        label=_("A claim holds a site for (hours)"), min_value=1, max_value=336, initial=48
    )
    wanted = _wanted_field()

    def __init__(self, *args: Any, lang: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["region"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _region_choices(lang, _("Any region"))


class SiteSelectionForm(forms.Form):
    region = forms.ChoiceField(label=_("Region"), required=False)
    type = forms.ChoiceField(label=_("Type"), required=False)
    damage = forms.ChoiceField(label=_("Damage"), required=False)
    has_3d = forms.ChoiceField(
        label=_("3D model"),
        required=False,
        choices=[("", _("Any")), ("true", _("With a 3D model")), ("false", _("Without"))],
    )
    within_area = forms.BooleanField(
        label=_("Only inside the campaign's area"), required=False, initial=True
    )
    site_ids = forms.CharField(
        label=_("Or these sites, one id per line"),
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "s-…"}),
    )
    by_filters = forms.BooleanField(label=_("Add the sites the filters choose"), required=False)

    def __init__(self, *args: Any, lang: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set("region", _region_choices(lang, _("All regions")))
        self._set("type", [("", _("All types")), *((v, type_label(v)) for v in SiteType.values)])
        self._set(
            "damage",
            [
                ("", _("Any")),
                *((v, damage_label(v)) for v in DamageStatus.values if v),
                ("none", damage_label("")),
            ],
        )

    def _set(self, name: str, choices: list[tuple[str, Any]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


class TaskForm(forms.Form):
    urgency = forms.TypedChoiceField(
        label=_("Urgency"), choices=list(URGENCY_LABELS.items()), coerce=int
    )
    wanted = _wanted_field()
    note = forms.CharField(
        label=_("What in particular (for example, the iconostasis)"), required=False, max_length=500
    )


class PlaceForm(forms.Form):
    """Where the volunteer is: a point (from the browser or the map) or a settlement."""

    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lon = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    settlement = forms.CharField(label=_("Or a settlement"), required=False, max_length=200)
    radius_km = forms.TypedChoiceField(
        label=_("Within"),
        coerce=int,
        required=False,
        choices=[(10, "10 km"), (25, "25 km"), (50, "50 km"), (100, "100 km"), (250, "250 km")],
        initial=25,
    )
