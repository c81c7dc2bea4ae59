"""The interface in Ukrainian (the default) and English, and the translation catalogue."""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from spadok.catalogue.models import Record

UK_HERO = "Резервні 3D-копії культурної спадщини під загрозою"
EN_HERO = "3D backups of cultural heritage under threat"


def _catalogue(suffix: str) -> Path:
    return Path(settings.LOCALE_PATHS[0]) / "uk" / "LC_MESSAGES" / f"django.{suffix}"


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), text)


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header first.

    Enough of the format for a catalogue written by gettext's tools: comments,
    flags, keywords and continuation lines; obsolete (#~) entries are skipped.
    """
    entries: list[Entry] = []
    entry: Entry | None = None
    key = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not line.startswith("#,")):
            continue
        if line.startswith("#,"):
            entry = Entry()
            entries.append(entry)
            entry.flags = {f.strip() for f in line[2:].split(",")}
        elif m := re.fullmatch(r'(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+"(.*)"', line):
            key, value = m[1], _unquote(m[2])
            if key == "msgid" and (entry is None or entry.msgstr):
                entry = Entry()
                entries.append(entry)
            assert entry is not None
            if key == "msgid":
                entry.msgid = value
            elif key == "msgid_plural":
                entry.msgid_plural = value
            elif key.startswith("msgstr"):
                entry.msgstr.append(value)
        elif line.startswith('"') and entry is not None:
            value = _unquote(line[1:-1])
            if key == "msgid":
                entry.msgid += value
            elif key == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + value
            elif key.startswith("msgstr"):
                entry.msgstr[-1] += value
        else:
            raise AssertionError(f"unparsed line in {path.name}: {line!r}")
    return entries


def _messages() -> list[Entry]:
    return [e for e in parse_po(_catalogue("po")) if e.msgid != ""]


@pytest.mark.django_db
def test_home_is_ukrainian_for_ukrainian_browsers(client, storage_root) -> None:
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert '<html lang="uk">' in body
    assert UK_HERO in body and EN_HERO not in body
    assert "Переглянути архів" in body


@pytest.mark.django_db
def test_home_is_english_for_english_browsers(client, storage_root) -> None:
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in body
    assert EN_HERO in body and UK_HERO not in body


@pytest.mark.django_db
def test_language_switcher_sets_the_cookie(client, storage_root) -> None:
    next_url = reverse("catalogue:browse") + "?page=1"
    response = client.post(reverse("set_language"), {"language": "en", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    # the cookie wins over the browser's Accept-Language
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert '<html lang="en">' in body and EN_HERO in body

    client.post(reverse("set_language"), {"language": "uk", "next": "/"})
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="uk">' in body and UK_HERO in body


@pytest.mark.django_db
def test_browse_count_uses_ukrainian_plurals(client, storage_root) -> None:
    for n in range(2):
        Record.objects.create(title=f"Record {n}")
    body = client.get(reverse("catalogue:browse"), HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "2 записи, спершу найновіші." in body


@pytest.mark.parametrize(
    ("n", "word"),
    [(1, "запис"), (2, "записи"), (4, "записи"), (5, "записів"), (11, "записів"),
     (12, "записів"), (21, "запис"), (22, "записи"), (25, "записів"), (111, "записів")],
)  # fmt: skip
def test_plural_forms(n: int, word: str) -> None:
    with translation.override("uk"):
        text = translation.ngettext(
            "%(n)s record, newest first.", "%(n)s records, newest first.", n
        ) % {"n": n}
    assert text == f"{n} {word}, спершу найновіші."


def test_every_message_is_translated() -> None:
    header = parse_po(_catalogue("po"))[0]
    assert header.msgid == "" and "fuzzy" not in header.flags
    assert "Plural-Forms: nplurals=3;" in header.msgstr[0]
    messages = _messages()
    assert len(messages) > 50
    for entry in messages:
        assert "fuzzy" not in entry.flags, entry.msgid
        assert entry.msgstr and all(s.strip() for s in entry.msgstr), (
            f"untranslated: {entry.msgid!r}"
        )
        if entry.msgid_plural is not None:
            assert len(entry.msgstr) == 3, f"Ukrainian has three plural forms: {entry.msgid!r}"
        # placeholders survive translation
        wanted = set(re.findall(r"%\(\w+\)s", entry.msgid))
        for s in entry.msgstr:
            assert set(re.findall(r"%\(\w+\)s", s)) == wanted, entry.msgid


def test_compiled_catalogue_matches_the_po() -> None:
    """django.mo is committed: it must be compiled from the current django.po."""
    with _catalogue("mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for entry in _messages():
        if entry.msgid_plural is not None:
            got = [compiled.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2, 5)]
            assert got == entry.msgstr, entry.msgid
        else:
            assert compiled.gettext(entry.msgid) == entry.msgstr[0], entry.msgid


def test_every_interface_string_is_in_the_catalogue(tmp_path: Path) -> None:
    """Extract the strings from the sources as they are now (xgettext through Django's
    makemessages, on a copy) and find each in the Ukrainian catalogue: a string added
    to a template or a view without a translation fails here, not in front of a reader."""
    import shutil
    import subprocess
    import sys

    package = Path(settings.LOCALE_PATHS[0]).parent
    copy = tmp_path / "spadok"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "uk", "--keep-pot", "-v", "0"],
        cwd=copy,
        check=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "spadok.site.settings"},
    )
    extracted = {e.msgid for e in parse_po(copy / "locale" / "django.pot") if e.msgid}
    translated = {e.msgid for e in _messages()}
    missing = sorted(extracted - translated)
    assert not missing, f"not in the Ukrainian catalogue: {missing[:10]}"
