"""Forms of the capture page and the review queue (input only; services decide)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from spadok.catalogue.models import Decision, Licence, LocationSource, Visibility
from spadok.sites.models import SiteType

LICENCE_CHOICES = [
    (Licence.CC_BY, _("CC BY 4.0: anyone may reuse it, naming the archive")),
    (Licence.CC0, _("CC0: anyone may reuse it without conditions")),
    (Licence.RESTRICTED, _("Restricted: kept by the archive, not for reuse")),
]
VISIBILITY_CHOICES = [
    (Visibility.PUBLIC, _("Public")),
    (Visibility.COARSE, _("Public, with a coarse location only")),
    (Visibility.EMBARGOED, _("Embargoed until a date")),
    (Visibility.SEALED, _("Sealed: only the named curators")),
]
DECISION_LABELS: dict[str, Any] = {
    Decision.APPROVE: _("Approved"),
    Decision.REJECT: _("Rejected"),
    Decision.RECAPTURE: _("A new capture is asked for"),
    Decision.MERGE: _("Moved to another record"),
    Decision.RETRY: _("Processing started again"),
}
SITE_TYPE_CHOICES = [
    (SiteType.CHURCH, _("Religious building")),
    (SiteType.MONUMENT, _("Monument or memorial")),
    (SiteType.MUSEUM, _("Museum")),
    (SiteType.BUILDING, _("Historic building")),
    (SiteType.ARCHAEOLOGICAL, _("Archaeological site")),
    (SiteType.LIBRARY, _("Library or archive")),
    (SiteType.THEATRE, _("Theatre or cultural centre")),
    (SiteType.OBJECT, _("Movable object")),
    (SiteType.OTHER, _("Other")),
]
NEW_SITE = "new"  # the capture form's site choice that describes a new site
VISIBILITY_LABELS: dict[str, Any] = {
    **dict(VISIBILITY_CHOICES),
    Visibility.DRAFT: _("Not yet reviewed"),
}


class DescribeForm(forms.Form):
    title = forms.CharField(label=_("What did you capture?"), max_length=300)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    existing_record = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)
    captured_at = forms.DateTimeField(
        label=_("When was it captured?"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    latitude = forms.FloatField(
        label=_("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any", "data-map-lat": ""}),
    )
    longitude = forms.FloatField(
        label=_("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any", "data-map-lon": ""}),
    )
    location_precision_m = forms.FloatField(
        label=_("Precision (metres)"),
        required=False,
        min_value=0,
        widget=forms.NumberInput(attrs={"step": "any", "data-map-precision": ""}),
    )
    location_source = forms.ChoiceField(
        choices=LocationSource.choices,
        required=False,
        widget=forms.HiddenInput(attrs={"data-map-source": ""}),
    )
    licence = forms.ChoiceField(
        label=_("Licence"),
        choices=LICENCE_CHOICES,
        initial=Licence.CC_BY,
        widget=forms.RadioSelect,
    )
    consent = forms.BooleanField(
        label=_("I made this capture or may share it, and I agree that the archive keeps it."),
        required=True,
    )
    flag_private_interior = forms.BooleanField(
        label=_("It shows a private interior"), required=False
    )
    flag_faces = forms.BooleanField(label=_("People's faces can be recognised"), required=False)
    # The site: "" (none or not known), a site id, or NEW_SITE with the fields below.
    site = forms.CharField(required=False, max_length=40)
    new_site_name = forms.CharField(label=_("Name of the site"), required=False, max_length=300)
    new_site_type = forms.ChoiceField(
        label=_("What kind of place"),
        choices=SITE_TYPE_CHOICES,
        initial=SiteType.OTHER,
        required=False,
    )
    new_site_settlement = forms.CharField(
        label=_("Town or village"), required=False, max_length=200
    )
    flag_sensitive_site = forms.BooleanField(
        label=_("This site is sensitive: show the public only the town or region, never the point"),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise forms.ValidationError(_("Give both the latitude and the longitude, or neither."))
        if data.get("site") == NEW_SITE and not (data.get("new_site_name") or "").strip():
            self.add_error("new_site_name", _("Give the new site a name."))
        return data


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (d, d) for d in (Decision.APPROVE, Decision.REJECT, Decision.RECAPTURE, Decision.MERGE)
        ]
    )
    visibility = forms.ChoiceField(
        label=_("Who may see it"), choices=VISIBILITY_CHOICES, required=False
    )
    embargo_until = forms.DateField(
        label=_("Embargo ends on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sealed_readers = forms.ModelMultipleChoiceField(
        label=_("Curators who may read it"),
        queryset=get_user_model().objects.none(),
        required=False,
    )
    reason = forms.CharField(
        label=_("Reason or guidance"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    target_record = forms.CharField(
        label=_("Record id to move it to"), required=False, max_length=32
    )
    # The site on approval: "keep" (as it is), "" (no site), or a site id.
    site = forms.CharField(required=False, max_length=40)
    site_other = forms.CharField(label=_("Or another site's id"), required=False, max_length=40)
    site_sensitive = forms.BooleanField(
        label=_("The site is sensitive (the public sees only the town or region)"),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sealed_readers"].queryset = (  # type: ignore[attr-defined]
            get_user_model()
            .objects.filter(is_active=True, profile__role__in=["curator", "administrator"])
            .select_related("profile")
            .order_by("profile__display_name")
        )
        self.fields["sealed_readers"].label_from_instance = (  # type: ignore[attr-defined]
            lambda u: u.profile.display_name
        )
