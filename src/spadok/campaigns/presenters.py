"""What campaign pages show: labels, capture advice, reasons, and error messages.

Every string here is translated (Ukrainian first). Points come from the
selectors (public for the viewer); people appear by display name only.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from spadok.campaigns import selectors
from spadok.campaigns.models import Task
from spadok.core.errors import SpadokError
from spadok.sites.i18n import localized
from spadok.sites.presenters import damage_label, type_label

WANTED_LABELS = {
    "exterior": _("The exterior, all round"),
    "interior": _("The interior"),
    "object": _("A particular object"),
    "damage": _("The damage, in detail"),
}

# Short advice per thing wanted: what a good capture of it looks like.
WANTED_ADVICE = {
    "exterior": _(
        "Walk all the way round at the same distance, one photo every step or two, so that "
        "each photo overlaps the one before by about two thirds. Keep the whole building in "
        "the frame, then go round once more closer up for the doors, windows and carvings."
    ),
    "interior": _(
        "Go room by room with even light and no flash. Turn slowly on the spot, then move "
        "a step and turn again; photograph the ceiling and the floor too. Ask before you "
        "photograph people, and leave their faces out."
    ),
    "object": _(
        "Circle the object at two or three heights, filling the frame, against a plain "
        "background if you can. Do not move the object while you capture it."
    ),
    "damage": _(
        "Photograph each damaged part straight on and at an angle, with something of known "
        "size in view, and then the whole building, so that the damage can be placed."
    ),
}

SAFETY = _(
    "Your safety comes first: never enter a damaged building, keep to paths others use, "
    "stay away from anything that may be unexploded, and respect signs that forbid photography."
)

STATUS_LABELS = {
    selectors.STATUS_DONE: _("Scanned"),
    selectors.STATUS_CLAIMED: _("In progress"),
    selectors.STATUS_RECAPTURE: _("Needs a new capture"),
    selectors.STATUS_OPEN: _("Not yet"),
}

VERDICT_LABELS = {
    "good": _("good"),
    "usable": _("usable"),
    "poor": _("poor"),
    "failed": _("failed"),
    "pending": _("being processed"),
}

REASON_LABELS = {
    "threatened": _("threatened"),
    "damaged": _("damaged"),
    "destroyed": _("destroyed"),
    "looted": _("looted"),
    "recent_damage": _("recent damage"),
    "damage_nearby": _("damage nearby"),
    "urgent": _("urgent"),
    "no_capture": _("no capture yet"),
    "failed_capture": _("the last capture failed"),
    "poor_capture": _("only a poor capture"),
    "usable_capture": _("only a usable capture"),
    "old_capture": _("the latest capture is old"),
}

URGENCY_LABELS = {0: _("normal"), 1: _("soon"), 2: _("urgent"), 3: _("very urgent")}

ERROR_MESSAGES = {
    "campaign.not_found": _("There is no such campaign or task. Choose one from the list."),
    "campaign.closed": _("This campaign is closed. Choose a task of an active campaign."),
    "campaign.not_member": _("Join the campaign first, then claim a task."),
    "campaign.task_taken": _(
        "Another volunteer holds this task. Choose another one near you; "
        "this one opens again if its claim runs out."
    ),
    "campaign.task_done": _("This task is done already. Choose another one near you."),
    "campaign.not_claimed": _("You do not hold this task. Claim it first."),
    "campaign.too_many_claims": _(
        "You hold as many tasks as one person may. Finish or release one first."
    ),
    "campaign.forbidden": _("Only the campaign's coordinators and curators may do that."),
    "campaign.bad_area": _(
        "The area is not usable. Give a region, a box (west,south,east,north in degrees) "
        "or a GeoJSON polygon."
    ),
    "campaign.bad_input": _("A field is not usable. Correct it and send the form again."),
    "campaign.bad_place": _(
        "The place is not usable. Let the browser use your location, click the map, "
        "or name a settlement."
    ),
    "campaign.too_many_sites": _(
        "Too many sites for one campaign. Narrow the filters or the area."
    ),
}


def error_message(exc: SpadokError) -> str:
    """The translated sentence for a campaign error (the code's own message otherwise)."""
    return str(ERROR_MESSAGES.get(exc.code, exc.message))


def wanted_items(values: list[str]) -> list[dict[str, str]]:
    return [
        {"code": v, "label": str(WANTED_LABELS[v]), "advice": str(WANTED_ADVICE[v])}
        for v in values
        if v in WANTED_LABELS
    ]


def reason_labels(reasons: tuple[str, ...]) -> list[str]:
    return [str(REASON_LABELS[r]) for r in reasons if r in REASON_LABELS]


def region_name(region: Any, lang: str | None = None) -> str:
    return (localized(region.names, lang) or region.code) if region is not None else ""


def place_of(task: Task, lang: str | None = None) -> str:
    site = task.site
    region = localized(site.region.names, lang) if site.region_id and site.region else ""
    return ", ".join(p for p in (site.settlement, region) if p)


def near_item(near: selectors.NearTask, lang: str | None = None) -> dict[str, Any]:
    """One task as the list and the map of "what to scan next" show it."""
    task = near.task
    site = task.site
    return {
        "id": task.pk,
        "name": site.name(lang),
        "type": str(type_label(site.type)),
        "damage": str(damage_label(site.damage_status)) if site.damage_status else "",
        "damage_status": site.damage_status,
        "place": place_of(task, lang),
        "campaign": task.campaign.name,
        "distance_km": None if near.distance_km is None else round(near.distance_km, 1),
        "reasons": reason_labels(near.priority.reasons),
        "score": near.priority.score,
        "mine": near.mine,
        "approximate": bool(near.point and near.point[2]),
        "lat": near.point[0] if near.point else None,
        "lon": near.point[1] if near.point else None,
        "wanted": [str(WANTED_LABELS[w]) for w in task.wanted if w in WANTED_LABELS],
        "url": task.get_absolute_url(),
    }
