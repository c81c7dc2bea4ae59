"""The form on a site's (or record's) page with which reviewers and curators record damage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from spadok.catalogue.models import Capture, CaptureState, Record
from spadok.core.registry import damage as vocabulary
from spadok.damage import presenters
from spadok.damage.models import DamageEvent

MAX_REFERENCE_LINES = vocabulary.MAX_REFERENCES


class DamageEventForm(forms.Form):
    kind = forms.ChoiceField(label=_("What happened"))
    severity = forms.ChoiceField(label=_("Severity"), initial="unknown")
    date_start = forms.DateField(
        label=_("Date (or the start of the period)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("For a month or a year, any day in it; choose the precision below."),
    )
    date_end = forms.DateField(
        label=_("End of the period"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Only when the source gives a period."),
    )
    date_precision = forms.ChoiceField(label=_("The source gives the date to the"), initial="day")
    date_as_published = forms.CharField(
        label=_("Date as published"),
        required=False,
        max_length=100,
        help_text=_("Exactly as the source writes it, e.g. “early March 2022”."),
    )
    standing = forms.ChoiceField(label=_("Whose account is it"))
    source_name = forms.CharField(
        label=_("Source"),
        required=False,
        max_length=200,
        help_text=_(
            "Who says so, as the public will see it: an organisation, a publication, or a "
            "person who agreed to be named. Your own account name is never shown."
        ),
    )
    source_url = forms.URLField(
        label=_("Link to the source"),
        required=False,
        max_length=vocabulary.MAX_URL_CHARS,
        assume_scheme="https",
    )
    source_document = forms.CharField(
        label=_("Document reference"),
        required=False,
        max_length=300,
        help_text=_("A letter's or report's number and date, when there is no link."),
    )
    references = forms.CharField(
        label=_("Further links"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One address per line."),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=vocabulary.MAX_DESCRIPTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    capture = forms.ChoiceField(label=_("The capture that shows it"), required=False)
    public = forms.BooleanField(
        label=_("Show this event publicly"),
        required=False,
        initial=True,
        help_text=_("Unticked: kept for the archive and its evidence dossiers only."),
    )

    def __init__(self, *args: Any, records: list[Record] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._choices("kind", [(k, presenters.kind_label(k)) for k in vocabulary.KINDS])
        self._choices(
            "severity", [(s, presenters.severity_label(s)) for s in vocabulary.SEVERITIES]
        )
        self._choices(
            "date_precision", [(p, presenters.PRECISION_LABELS[p]) for p in vocabulary.PRECISIONS]
        )
        self._choices("standing", [(s, presenters.standing_label(s)) for s in vocabulary.STANDINGS])
        self.captures: dict[str, Capture] = {}
        options: list[tuple[str, Any]] = [("", _("None"))]
        for record in records or []:
            for capture in Capture.objects.filter(record=record, state=CaptureState.READY).order_by(
                "-created_at"
            )[:50]:
                self.captures[capture.id] = capture
                when = capture.captured_at or capture.created_at
                options.append((capture.id, f"{record.title} · {when:%Y-%m-%d} · {capture.id}"))
        self._choices("capture", options)

    def _choices(self, name: str, choices: list[tuple[str, Any]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean_references(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data.get("references", "").splitlines()]
        links = [line for line in lines if line]
        if len(links) > MAX_REFERENCE_LINES:
            raise forms.ValidationError(
                _("Give at most %(n)s further links.") % {"n": MAX_REFERENCE_LINES}
            )
        check = forms.URLField(max_length=vocabulary.MAX_URL_CHARS, assume_scheme="https")
        for link in links:
            try:
                check.clean(link)
            except forms.ValidationError as exc:
                raise forms.ValidationError(
                    _("“%(link)s” is not a web address.") % {"link": link[:80]}
                ) from exc
        return links

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_start"), data.get("date_end")
        if end and not start:
            self.add_error("date_end", _("Give the start of the period too."))
        elif start and end and end < start:
            self.add_error("date_end", _("The end of the period is before its start."))
        today = dt.date.today() + dt.timedelta(days=1)
        for name in ("date_start", "date_end"):
            day = data.get(name)
            if day and day > today:
                self.add_error(name, _("This date is in the future."))
        if data.get("standing") == "capture" and not data.get("capture"):
            self.add_error("capture", _("Choose the capture that shows the damage."))
        return data

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values as the services take them."""
        data = self.cleaned_data
        fields = {
            name: data.get(name)
            for name in (
                "kind", "severity", "date_start", "date_end", "date_as_published", "standing",
                "source_name", "source_url", "source_document", "references", "description",
                "public",
            )
        }  # fmt: skip
        fields["date_precision"] = data.get("date_precision") if data.get("date_start") else ""
        fields["capture"] = self.captures.get(data.get("capture") or "")
        return fields


def initial_of(event: DamageEvent) -> dict[str, Any]:
    """The form's values for an existing event."""
    return {
        "kind": event.kind,
        "severity": event.severity,
        "date_start": event.date_start,
        "date_end": event.date_end,
        "date_precision": event.date_precision or "day",
        "date_as_published": event.date_as_published,
        "standing": event.standing,
        "source_name": event.source_name,
        "source_url": event.source_url,
        "source_document": event.source_document,
        "references": "\n".join(event.references or []),
        "description": event.description,
        "capture": event.capture_id or "",
        "public": event.public,
    }


class RetractForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is this event retracted?"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
