"""Schemathesis against /api/openapi.json, in process through the WSGI app, as three
callers: anonymous, a contributor with a Bearer API token, and a curator with one.

Every answer must be as the schema says and no server error, and no answer to any
of them may carry what that caller may not see: the ids, titles and descriptions
of records outside :func:`spadok.catalogue.selectors.visible_records` for that user
(the contributor sees their own draft, but not the sealed or the embargoed record;
the curator sees drafts and embargoes, but not the sealed record, of which they are
no named reader), nor anyone's e-mail address or user name. The generated ids are
half the time the seeded archive's real ids, so that the hidden records are asked for.

The schema is loaded with ``schemathesis.openapi.from_wsgi`` and each operation's
Hypothesis strategy is run here (schemathesis' lazy pytest fixture loader does
not work with this pytest version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import EMAIL, USERNAME

pytestmark = pytest.mark.django_db

SEARCH = "/api/search"
EXAMPLES = 15  # per operation and caller: the whole run stays well under a minute
CURATOR, CURATOR_EMAIL = "curator_hidden_login", "curator.private@example.org"
ID_PARAMETERS = ("record_id", "capture_id", "site_id")


@dataclass
class Caller:
    name: str
    headers: dict[str, str]
    forbidden: list[str]  # strings no answer to this caller may contain


@pytest.fixture
def wsgi_in_test_transaction():  # type: ignore[no-untyped-def]
    """Keep the test's connection open across WSGI calls, as Django's test client does."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _curator(django_user_model: Any) -> tuple[Any, str]:
    from spadok.accounts import services as accounts
    from spadok.accounts.models import Profile
    from tests.accounts.mfa import add_totp

    user = django_user_model.objects.create_user(CURATOR, CURATOR_EMAIL, "x-long-password-3")
    accounts.profile_ensure(user=user, display_name="curator-hidden")
    Profile.objects.filter(user=user).update(role="curator")
    add_totp(user)  # curators must have a second factor, tokens too
    _, token = accounts.token_create(user=user, name="tests")
    return django_user_model.objects.get(pk=user.pk), token  # without the cached profile


def _hidden_from(user: Any) -> list[str]:
    """What ``user`` may not see, by the archive's own rule."""
    from spadok.catalogue.models import Capture, Record
    from spadok.catalogue.selectors import visible_records

    hidden = Record.objects.exclude(pk__in=visible_records(user).values("pk"))
    out: list[str] = []
    for record in hidden:
        out += [record.id, record.title]
        if record.description:
            out.append(record.description)
        out += list(Capture.objects.filter(record=record).values_list("id", flat=True))
    return out


def _identities(archive: Any) -> list[str]:
    people = [EMAIL, USERNAME, CURATOR, CURATOR_EMAIL, "credited@example.org", "credited_user"]
    return [p for p in people if p]


def test_api_conforms_to_its_schema_and_leaks_nothing(  # type: ignore[no-untyped-def]
    archive, django_user_model, wsgi_in_test_transaction
) -> None:
    from spadok.catalogue.models import Capture, Record
    from spadok.site.wsgi import application
    from spadok.sites.models import Site

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {
        "/api/sites",
        "/api/records",
        "/api/records/{record_id}",
        "/api/oembed",
        SEARCH,
    } <= paths
    curator, curator_token = _curator(django_user_model)
    people = _identities(archive)
    callers = [
        Caller("anonymous", {}, [*_hidden_from(None), *people]),
        Caller(
            "contributor",
            {"Authorization": f"Bearer {archive.token}"},
            [*_hidden_from(archive.contributor), *people],
        ),
        Caller(
            "curator",
            {"Authorization": f"Bearer {curator_token}"},
            [*_hidden_from(curator), *people],
        ),
    ]
    # The seed must make the three differ, or the sweep proves little.
    assert archive.draft.id in callers[0].forbidden
    assert archive.draft.id not in callers[1].forbidden
    assert len(callers[2].forbidden) < len(callers[1].forbidden) < len(callers[0].forbidden)
    real_ids = {
        "record_id": list(Record.objects.values_list("id", flat=True)),
        "capture_id": list(Capture.objects.values_list("id", flat=True)),
        "site_id": list(Site.objects.values_list("id", flat=True)),
    }
    seen: dict[str, int] = {}
    for operation in operations:
        # Search takes its filters as strings and checks them in the parser the
        # search page shares (a documented 400 with a ``search.*`` code), so a
        # schema-valid value such as damage=Damaged may be refused.
        excluded = [positive_data_acceptance] if operation.path.startswith(SEARCH) else []
        _checker(operation, callers, excluded, real_ids, seen)()
    # And every real id, deterministically, through every operation that takes one.
    for operation in operations:
        names = [n for n in ID_PARAMETERS if "{" + n + "}" in operation.path]
        for name in names:
            for value in real_ids[name]:
                case = operation.Case(path_parameters={name: value})
                _call(case, callers, [], seen)
    # Real content was seen: each caller got public records, and the contributor
    # and the curator also got the records only they may see.
    assert all(seen.get(c.name, 0) > 0 for c in callers), seen
    assert seen.get("contributor:draft", 0) > 0 and seen.get("curator:embargoed", 0) > 0, seen


def _checker(operation, callers, excluded, real_ids, seen):  # type: ignore[no-untyped-def]
    ids = {name: st.sampled_from(values) for name, values in real_ids.items() if values}

    @given(case=operation.as_strategy(), data=st.data())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case, data) -> None:  # type: ignore[no-untyped-def]
        for name in ID_PARAMETERS:
            if name in (case.path_parameters or {}) and name in ids and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(ids[name])
        _call(case, callers, excluded, seen)

    return run


def _call(case, callers, excluded, seen) -> None:  # type: ignore[no-untyped-def]
    """One case as each caller: as the schema says, no server error, nothing hidden."""
    for caller in callers:
        response = case.call_and_validate(headers=caller.headers, excluded_checks=excluded)
        text = response.content.decode("utf-8", "replace")
        leaked = [s for s in caller.forbidden if s in text]
        assert not leaked, f"{caller.name}: {case.method} {case.formatted_path} shows {leaked}"
        if response.status_code == 200 and "Public record" in text:
            seen[caller.name] = seen.get(caller.name, 0) + 1
        for title, key in (("DRAFT-fresco-3307", "draft"), ("EMBARGOED-vault-8812", "embargoed")):
            if title in text:
                seen[f"{caller.name}:{key}"] = seen.get(f"{caller.name}:{key}", 0) + 1
