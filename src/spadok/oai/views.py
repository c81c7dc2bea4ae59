"""OAI-PMH 2.0 at /oai: the six verbs, their errors, and stateless resumption.

Granularity is seconds (``YYYY-MM-DDThh:mm:ssZ``); ``from`` and ``until`` are
accepted at either granularity (both the same), inclusive. Errors follow the
protocol: badVerb, badArgument, badResumptionToken, cannotDisseminateFormat,
idDoesNotExist, noRecordsMatch (noSetHierarchy never: there are sets).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.db.models import Min, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from lxml import etree

from spadok.catalogue.models import Capture, CaptureState
from spadok.oai import items, tokens
from spadok.oai.metadata import FORMATS, WRITERS, XSI
from spadok.sites.i18n import localized
from spadok.sites.models import Region, SiteType

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SECONDS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SET_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")

VERBS: dict[str, tuple[set[str], set[str]]] = {  # verb: (required, optional)
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
}


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(request.path)


def namespace(request: HttpRequest) -> str:
    return request.get_host().split(":")[0] or "localhost"


def oai_identifier(request: HttpRequest, local_id: str) -> str:
    return f"oai:{namespace(request)}:{local_id}"


def local_id(request: HttpRequest, identifier: str) -> str | None:
    prefix = f"oai:{namespace(request)}:"
    return identifier[len(prefix) :] if identifier.startswith(prefix) else None


# -- the envelope --------------------------------------------------------------------


def envelope(request: HttpRequest, args: dict[str, str] | None) -> tuple[Any, Any]:
    root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI} {OAI_SCHEMA}")
    etree.SubElement(root, f"{{{OAI}}}responseDate").text = stamp(timezone.now())
    req = etree.SubElement(root, f"{{{OAI}}}request")
    req.text = base_url(request)
    for key, value in sorted((args or {}).items()):
        req.set(key, value)
    return root, req


def xml_response(root: Any, status: int = 200) -> HttpResponse:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=False)
    response = HttpResponse(body, content_type="text/xml; charset=utf-8", status=status)
    response["Cache-Control"] = "no-cache"
    return response


def error_response(request: HttpRequest, args: dict[str, str] | None, error: OaiError) -> Any:
    # badVerb and badArgument echo the base URL only (the protocol says so).
    echo = None if error.code in ("badVerb", "badArgument") else args
    root, _ = envelope(request, echo)
    el = etree.SubElement(root, f"{{{OAI}}}error", code=error.code)
    el.text = error.message
    return xml_response(root)


def _sub(parent: Any, tag: str, text: str | None = None) -> Any:
    el = etree.SubElement(parent, f"{{{OAI}}}{tag}")
    if text is not None:
        el.text = text
    return el


# -- arguments ------------------------------------------------------------------------


def parse_args(request: HttpRequest) -> tuple[str, dict[str, str]]:
    query = request.POST if request.method == "POST" else request.GET
    verbs = query.getlist("verb")
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OaiError("badVerb", "The verb is missing, repeated or not an OAI-PMH verb.")
    verb = verbs[0]
    args: dict[str, str] = {}
    for key in query:
        values = query.getlist(key)
        if len(values) > 1:
            raise OaiError("badArgument", f"The argument {key} is repeated.")
        if key != "verb":
            args[key] = values[0]
    required, optional = VERBS[verb]
    unknown = set(args) - required - optional
    if unknown:
        raise OaiError("badArgument", f"{verb} does not take {', '.join(sorted(unknown))}.")
    if "resumptionToken" in args:
        if len(args) > 1:
            raise OaiError("badArgument", "resumptionToken must be the only argument.")
        return verb, args
    missing = required - set(args)
    if missing:
        raise OaiError("badArgument", f"{verb} needs {', '.join(sorted(missing))}.")
    return verb, args


def parse_stamp(value: str, *, end: bool) -> dt.datetime:
    """A from/until argument as an aware datetime; a day's "until" is its last second."""
    if DAY_RE.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise OaiError("badArgument", f"{value} is not a date.") from None
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        return start + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else start
    if SECONDS_RE.match(value):
        try:
            moment = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise OaiError("badArgument", f"{value} is not a date and time.") from None
        return moment + dt.timedelta(microseconds=999_999) if end else moment
    raise OaiError("badArgument", f"{value} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ.")


# -- items ---------------------------------------------------------------------------


def _prefetched(records: QuerySet[Any]) -> QuerySet[Any]:
    ready = Capture.objects.filter(state=CaptureState.READY).prefetch_related("derivatives")
    return records.prefetch_related(Prefetch("captures", queryset=ready))


def find_item(request: HttpRequest, identifier: str) -> tuple[str, Any]:
    ident = local_id(request, identifier)
    found = None
    kind = ""
    if ident and ident.startswith(items.RECORD_PREFIX):
        kind, found = "record", _prefetched(items.record_items()).filter(id=ident).first()
    elif ident and ident.startswith(items.SITE_PREFIX):
        kind, found = "site", items.site_items().filter(id=ident).first()
    if found is None:
        raise OaiError("idDoesNotExist", "There is no public item with this identifier.")
    return kind, found


def header(request: HttpRequest, parent: Any, kind: str, item: Any) -> Any:
    el = _sub(parent, "header")
    _sub(el, "identifier", oai_identifier(request, item.id))
    _sub(el, "datestamp", stamp(item.oai_datestamp))
    _sub(el, "setSpec", "records" if kind == "record" else "sites")
    site = item.site if kind == "record" else item
    for spec in items.set_specs_of(site):
        _sub(el, "setSpec", spec)
    return el


def record_element(request: HttpRequest, parent: Any, kind: str, item: Any, prefix: str) -> None:
    rec = _sub(parent, "record")
    header(request, rec, kind, item)
    metadata = _sub(rec, "metadata")
    metadata.append(WRITERS[(kind, prefix)](item, request))


PREFIX_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+$")


def check_prefix(prefix: str) -> None:
    if not PREFIX_RE.match(prefix):
        raise OaiError("badArgument", f"{prefix!r} is not a metadata prefix.")
    if prefix not in FORMATS:
        raise OaiError("cannotDisseminateFormat", f"The format {prefix} is not offered.")


# -- the verbs -----------------------------------------------------------------------


def earliest() -> dt.datetime:
    found = [
        items.record_items().aggregate(m=Min("oai_datestamp"))["m"],
        items.site_items().aggregate(m=Min("oai_datestamp"))["m"],
    ]
    dates = [d for d in found if d is not None]
    return min(dates) if dates else timezone.now().replace(microsecond=0)


EMAIL_RE = re.compile(r"^\S+@(\S+\.)+\S+$")


def admin_email(request: HttpRequest) -> str:
    """SPADOK_CONTACT_EMAIL; the protocol requires one, so a webmaster address stands in."""
    for address in (settings.SPADOK.contact_email, settings.DEFAULT_FROM_EMAIL):
        if address and EMAIL_RE.match(address):
            return str(address)
    host = namespace(request)
    return f"webmaster@{host}" if "." in host else "webmaster@localhost.localdomain"


def identify(request: HttpRequest, body: Any) -> None:
    _sub(body, "repositoryName", settings.SPADOK.organization)
    _sub(body, "baseURL", base_url(request))
    _sub(body, "protocolVersion", "2.0")
    _sub(body, "adminEmail", admin_email(request))
    _sub(body, "earliestDatestamp", stamp(earliest()))
    _sub(body, "deletedRecord", "no")  # hidden records vanish; see spadok.oai.items
    _sub(body, "granularity", GRANULARITY)


def list_metadata_formats(request: HttpRequest, body: Any, args: dict[str, str]) -> None:
    kind = ""
    if "identifier" in args:
        kind, _ = find_item(request, args["identifier"])
    for fmt in FORMATS.values():
        if kind == "site" and not fmt.for_sites:
            continue
        el = _sub(body, "metadataFormat")
        _sub(el, "metadataPrefix", fmt.prefix)
        _sub(el, "schema", fmt.schema)
        _sub(el, "metadataNamespace", fmt.namespace)


def all_sets() -> list[tuple[str, str]]:
    sets = [
        ("records", "Records (3D documentation)"),
        ("sites", "Heritage sites (places)"),
        ("type", "By type of site"),
    ]
    sets += [(f"type:{value}", f"Type: {label}") for value, label in SiteType.choices]
    sets.append(("region", "By region (ISO 3166-2)"))
    for region in Region.objects.order_by("code"):
        sets.append((f"region:{region.code}", localized(region.names, "en") or region.code))
    return sets


def list_sets(request: HttpRequest, body: Any, args: dict[str, str]) -> None:
    if "resumptionToken" in args:  # every set fits in one answer: no token is ever valid
        raise OaiError("badResumptionToken", "This list has no further pages.")
    for spec, name in all_sets():
        el = _sub(body, "set")
        _sub(el, "setSpec", spec)
        _sub(el, "setName", name)


def get_record(request: HttpRequest, body: Any, args: dict[str, str]) -> None:
    prefix = args["metadataPrefix"]
    check_prefix(prefix)
    kind, item = find_item(request, args["identifier"])
    if (kind, prefix) not in WRITERS:
        raise OaiError("cannotDisseminateFormat", f"A {kind} is not offered as {prefix}.")
    record_element(request, body, kind, item, prefix)


def _lists(state: tokens.ListState) -> tuple[Any, Any]:
    """The record and site lists this state selects (None: excluded)."""
    records: Any = items.record_items()
    sites: Any = items.site_items() if FORMATS[state.prefix].for_sites else None
    if state.set:
        records, set_sites = items.in_set(records, items.site_items(), state.set)
        sites = set_sites if sites is not None else None
    frozen = dt.datetime.fromisoformat(state.frozen)
    upper = frozen
    if state.until:
        upper = min(upper, parse_stamp(state.until, end=True))
    lower = parse_stamp(state.from_, end=False) if state.from_ else None
    out: list[Any] = []
    for qs in (records, sites):
        if qs is None:
            out.append(None)
            continue
        qs = qs.filter(oai_datestamp__lte=upper)
        if lower is not None:
            qs = qs.filter(oai_datestamp__gte=lower)
        out.append(qs)
    return out[0], out[1]


def list_items(request: HttpRequest, body: Any, verb: str, args: dict[str, str]) -> None:
    if "resumptionToken" in args:
        try:
            state = tokens.decode(args["resumptionToken"], verb)
        except tokens.BadToken:
            raise OaiError(
                "badResumptionToken", "The resumption token is invalid or expired."
            ) from None
    else:
        prefix = args["metadataPrefix"]
        check_prefix(prefix)
        spec = args.get("set")
        if spec is not None and not SET_RE.match(spec):
            raise OaiError("badArgument", f"{spec} is not a set spec.")
        lower, upper = args.get("from"), args.get("until")
        for value in (lower, upper):
            if value is not None:
                parse_stamp(value, end=False)
        if lower and upper:
            if len(lower) != len(upper):
                raise OaiError("badArgument", "from and until must have the same granularity.")
            if parse_stamp(lower, end=False) > parse_stamp(upper, end=False):
                raise OaiError("badArgument", "from is later than until.")
        state = tokens.ListState(
            verb=verb,
            prefix=prefix,
            set=spec,
            from_=lower,
            until=upper,
            frozen=timezone.now().isoformat(),
            last_id="",
            cursor=0,
            size=0,
        )
        records, sites = _lists(state)
        size = (records.count() if records is not None else 0) + (
            sites.count() if sites is not None else 0
        )
        if size == 0:
            raise OaiError("noRecordsMatch", "No items match these arguments.")
        state = tokens.ListState(**{**state.__dict__, "size": size})

    page_size = int(getattr(settings, "SPADOK_OAI_PAGE_SIZE", 100))
    records, sites = _lists(state)
    page: list[tuple[str, Any]] = []
    # Record ids ("r-…") sort before site ids ("s-…"): one id order over both lists.
    if records is not None:
        if verb == "ListRecords":
            records = _prefetched(records)
        rows = records.filter(id__gt=state.last_id)[: page_size + 1]
        page += [("record", r) for r in rows]
    if sites is not None and len(page) <= page_size:
        rows = sites.filter(id__gt=state.last_id)[: page_size + 1 - len(page)]
        page += [("site", s) for s in rows]
    more = len(page) > page_size
    page = page[:page_size]
    if not page:
        raise OaiError("noRecordsMatch", "No items match these arguments.")
    for kind, item in page:
        if verb == "ListRecords":
            record_element(request, body, kind, item, state.prefix)
        else:
            header(request, body, kind, item)
    sent = state.cursor + len(page)
    if more or state.cursor:
        token = _sub(body, "resumptionToken")
        token.set("cursor", str(state.cursor))
        token.set("completeListSize", str(max(state.size, sent)))
        if more:
            following = tokens.ListState(
                **{**state.__dict__, "last_id": page[-1][1].id, "cursor": sent}
            )
            token.text = tokens.encode(following)
            token.set("expirationDate", stamp(timezone.now() + tokens.lifetime()))


@csrf_exempt  # read-only; the protocol allows POST from harvesters, which have no cookie
@require_http_methods(["GET", "POST"])
def endpoint(request: HttpRequest) -> HttpResponse:
    args: dict[str, str] | None = None
    try:
        verb, args = parse_args(request)
        root, _ = envelope(request, {"verb": verb, **args})
        body = _sub(root, verb)
        if verb == "Identify":
            identify(request, body)
        elif verb == "ListMetadataFormats":
            list_metadata_formats(request, body, args)
        elif verb == "ListSets":
            list_sets(request, body, args)
        elif verb == "GetRecord":
            get_record(request, body, args)
        else:
            list_items(request, body, verb, args)
    except OaiError as error:
        echo = {"verb": verb, **args} if args is not None else None
        return error_response(request, echo, error)
    return xml_response(root)
