"""Ukraine's 27 first-level regions (ISO 3166-2:UA) and how lists spell them.

Published lists name a region in many ways: "Kyiv Oblast", "Kiev region",
"Київська область", "Kharkivska", "Odes'ka oblast", "Dnipropetrovs’k region",
or just the regional centre ("Lviv"). The codes and names below are facts
(ISO 3166-2:UA as amended in 2018/2020); :func:`region_code` reduces any such
spelling to a code by the stems of the name in Latin and Cyrillic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RegionInfo:
    code: str
    uk: str
    en: str
    # Word stems that identify the region, Latin (several romanisations) and Cyrillic.
    stems: tuple[str, ...]


REGIONS: tuple[RegionInfo, ...] = (
    RegionInfo(
        "UA-05", "Вінницька область", "Vinnytsia Oblast", ("vinnyts", "vinnits", "вінниц", "винниц")
    ),
    RegionInfo("UA-07", "Волинська область", "Volyn Oblast", ("volyn", "волин", "volhyn")),
    RegionInfo(
        "UA-09",
        "Луганська область",
        "Luhansk Oblast",
        ("luhansk", "lugansk", "луганськ", "луганск"),
    ),
    RegionInfo(
        "UA-12",
        "Дніпропетровська область",
        "Dnipropetrovsk Oblast",
        ("dnipropetrovs", "dnepropetrovs", "дніпропетровськ", "днепропетровск", "dnipro", "дніпро"),
    ),
    RegionInfo("UA-14", "Донецька область", "Donetsk Oblast", ("donets", "донецьк", "донецк")),
    RegionInfo(
        "UA-18", "Житомирська область", "Zhytomyr Oblast", ("zhytomyr", "zhitomir", "житомир")
    ),
    RegionInfo(
        "UA-21",
        "Закарпатська область",
        "Zakarpattia Oblast",
        ("zakarpat", "transcarpath", "закарпат", "uzhhorod", "ужгород"),
    ),
    RegionInfo(
        "UA-23",
        "Запорізька область",
        "Zaporizhzhia Oblast",
        ("zaporiz", "zaporozh", "запоріз", "запорож"),
    ),
    RegionInfo(
        "UA-26",
        "Івано-Франківська область",
        "Ivano-Frankivsk Oblast",
        ("ivano frank", "івано франк", "ивано франк"),
    ),
    RegionInfo("UA-30", "Київ", "Kyiv", ()),  # the city; Kyiv is matched in region_code
    RegionInfo("UA-32", "Київська область", "Kyiv Oblast", ()),  # the oblast; likewise
    RegionInfo(
        "UA-35",
        "Кіровоградська область",
        "Kirovohrad Oblast",
        (
            "kirovohrad",
            "kirovograd",
            "kropyvnyts",
            "kropivnits",
            "кіровоград",
            "кировоград",
            "кропивницьк",
        ),
    ),
    RegionInfo("UA-40", "Севастополь", "Sevastopol", ("sevastopol", "севастопол")),
    RegionInfo(
        "UA-43",
        "Автономна Республіка Крим",
        "Autonomous Republic of Crimea",
        ("crimea", "krym", "крим", "крым", "simferopol", "сімферопол"),
    ),
    RegionInfo(
        "UA-46",
        "Львівська область",
        "Lviv Oblast",
        ("lviv", "l viv", "lvov", "lwow", "львів", "львов"),
    ),
    RegionInfo(
        "UA-48",
        "Миколаївська область",
        "Mykolaiv Oblast",
        ("mykolai", "mykolay", "nikolaev", "миколаїв", "николаев"),
    ),
    RegionInfo("UA-51", "Одеська область", "Odesa Oblast", ("odes", "одес")),
    RegionInfo("UA-53", "Полтавська область", "Poltava Oblast", ("poltav", "полтав")),
    RegionInfo(
        "UA-56",
        "Рівненська область",
        "Rivne Oblast",
        ("rivne", "rivnens", "rovno", "рівне", "рівнен", "ровно"),
    ),
    RegionInfo("UA-59", "Сумська область", "Sumy Oblast", ("sumy", "sums", "сум")),
    RegionInfo(
        "UA-61", "Тернопільська область", "Ternopil Oblast", ("ternopil", "тернопіл", "тернопол")
    ),
    RegionInfo(
        "UA-63", "Харківська область", "Kharkiv Oblast", ("kharkiv", "kharkov", "харків", "харьков")
    ),
    RegionInfo("UA-65", "Херсонська область", "Kherson Oblast", ("kherson", "херсон")),
    RegionInfo(
        "UA-68",
        "Хмельницька область",
        "Khmelnytskyi Oblast",
        ("khmelnyts", "khmelnits", "хмельниц"),
    ),
    RegionInfo("UA-71", "Черкаська область", "Cherkasy Oblast", ("cherkas", "черкас")),
    RegionInfo(
        "UA-74",
        "Чернігівська область",
        "Chernihiv Oblast",
        ("chernihiv", "chernigov", "чернігів", "чернигов"),
    ),
    RegionInfo(
        "UA-77",
        "Чернівецька область",
        "Chernivtsi Oblast",
        ("chernivt", "chernovt", "чернівец", "чернівц", "черновц"),
    ),
)

BY_CODE: dict[str, RegionInfo] = {r.code: r for r in REGIONS}

_APOSTROPHES = "'’ʼ`´‘ʹ"
_KYIV = ("kyiv", "kiev", "kyjiv", "київ", "киев")
_KYIV_OBLAST_FORMS = ("kyivs", "kyivsk", "kievs", "київськ", "киевск")
_OBLAST_WORDS = ("oblast", "region", "obl", "province", "область", "обл", "регіон", "край")


def _clean(text: str) -> str:
    """Lower case, apostrophes dropped, punctuation to spaces, single spaces."""
    text = text.lower().replace("ё", "е")
    for a in _APOSTROPHES:
        text = text.replace(a, "")
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def region_code(text: str | None) -> str | None:
    """The ISO 3166-2:UA code a place or region name points to, or None.

    "Kyiv"/"Київ" alone is the city (UA-30); with "oblast"/"region" or in the
    adjective form ("Kyivska", "Київська") it is the oblast (UA-32).
    A code given as such ("UA-46") is accepted as it is.
    """
    if not text:
        return None
    raw = text.strip()
    if re.fullmatch(r"(?i)ua-\d\d", raw) and raw.upper() in BY_CODE:
        return raw.upper()
    clean = _clean(raw)
    if not clean:
        return None
    words = clean.split()
    has_oblast_word = any(w.startswith(_OBLAST_WORDS) for w in words)
    for word in words:
        if word.startswith(_KYIV_OBLAST_FORMS):
            return "UA-32"
        if word in _KYIV or word.startswith(("kyiv", "kiev", "київ", "киев")):
            return "UA-32" if has_oblast_word else "UA-30"
    padded = f" {clean}"
    for info in REGIONS:
        for stem in info.stems:
            if f" {stem}" in padded:
                return info.code
    return None


def region_names(code: str) -> dict[str, str]:
    """{"uk": ..., "en": ...} for a code, or {} when the code is not Ukrainian."""
    info = BY_CODE.get(code)
    return {"uk": info.uk, "en": info.en} if info else {}
