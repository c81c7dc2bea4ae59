"""Site types from the labels lists use, in Ukrainian or English.

Wikidata gives the label of an item's class ("Orthodox church", "burial mound",
"painting", "coat of arms"); the UNESCO list has its own coarse classes
("religious site", "building of historical and/or artistic interest"). The
first rule whose word occurs in the label wins, so more specific phrases come
first ("house of culture" before "house", "house museum" before "house").

Some Wikidata classes in heritage queries are not places or objects at all
(titles, awards, flags and coats of arms as designs, periodicals, websites,
television); :func:`site_type` returns None for them and readers skip the row.
"""

from __future__ import annotations

import re
from functools import lru_cache

# (words, type). Words match at the start of a word of the normalised label.
RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("manuscript", "рукопис", "medallion", "медальйон"), "object"),
    # not heritage places or objects: designs, distinctions, media, abstractions
    (("coat of arms", "герб", "flag", "прапор", "anthem", "гімн", "sports title",
      "title", "order of", "order", "award", "prize", "decoration", "medal", "badge",
      "орден", "медаль", "нагород", "website", "journal", "periodical", "television",
      "article", "eurovision", "events in", "territorial entity", "aspect in",
      "sports club", "спортивний клуб", "coin", "banknote", "монет", "puppetry",
      "exhibition", "island", "weapon of honor", "musical work", "literary work",
      "organization", "organisation", "human", "wikimedia"), ""),
    (("house of culture", "palace of culture", "center of culture", "centre of culture",
      "culture center", "cultural centre", "cultural center", "будинок культури",
      "палац культури", "theatre", "theater", "театр", "cinema", "кінотеатр",
      "concert hall", "philharmonic", "філармон", "club", "клуб"), "theatre"),
    (("museum", "музей", "gallery", "галере", "exhibit hall"), "museum"),
    (("library", "бібліотек", "archive", "архів"), "library"),
    (("archaeolog", "археолог", "burial mound", "kurgan", "курган", "barrow", "hillfort",
      "городище", "stone women", "hand axe", "hoard", "скарб", "ruins", "ancient",
      "settlement site", "tumulus"), "archaeological"),
    (("religious", "church", "церкв", "cathedral", "собор", "monaster", "монастир",
      "chapel", "каплиц", "mosque", "мечет", "synagogue", "синагог", "temple", "храм",
      "kostel", "костел", "костьол", "kingdom hall", "prayer house", "молитовн", "lavra",
      "лавр", "convent", "abbey", "parish", "bell tower", "дзвіниц"), "church"),
    (("monument", "пам ятник", "памятник", "memorial", "меморіал", "statue", "статуя",
      "obelisk", "обеліск", "grave", "могил", "cemetery", "кладовищ", "цвинтар",
      "fountain", "фонтан", "stele", "стела", "bust", "погруддя", "mausoleum",
      "мавзолей", "column", "колона", "triumphal arch", "арка"), "monument"),
    (("painting", "картин", "drawing", "малюнок", "watercolor", "icon", "ікон", "mosaic",
      "мозаїк", "sculpture", "скульптур", "work of art", "artwork", "artefact",
      "artifact", "locomotive", "локомотив", "паровоз", "vehicle", "diorama",
      "scale model", "map", "мапа", "карта", "exhibit", "експонат", "cult image",
      "series", "bell", "дзвін", "sword", "saber", "sabre", "pectoral", "пектораль",
      "etching", "print", "poster", "diptych", "triptych", "inscription", "напис"),
     "object"),
    (("building", "будів", "будин", "house", "palace", "палац", "manor", "садиб", "estate",
      "mansion", "особняк", "residential", "castle", "замок", "fortress", "фортец",
      "tower", "вежа", "gate", "брама", "station", "вокзал", "architectur", "архітектур",
      "landmark", "school", "школ", "gymnasium", "гімназі", "university", "університет",
      "education", "освіт", "college", "коледж", "mill", "млин", "hotel", "structure",
      "споруд", "warehouse", "shop", "store", "institute", "інститут", "hospital",
      "лікарн", "bridge", "міст"), "building"),
    (("historic site", "cultural property", "heritage", "спадщин", "tourist attraction",
      "park", "парк", "garden", "сад"), "other"),
)  # fmt: skip


def _normalise(label: str) -> str:
    label = label.casefold()
    for a in "'’ʼ`":
        label = label.replace(a, " ")
    return " " + " ".join(re.sub(r"[^\w]+", " ", label).split()) + " "


# One pattern per rule, words at the start of a word of the normalised label.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile("|".join(" " + re.escape(_normalise(w).strip()) for w in words)), kind)
    for words, kind in RULES
)


@lru_cache(maxsize=4096)
def site_type(label: str) -> str | None:
    """The SiteType value for a class label; "other" when unknown; None when not a site."""
    text = _normalise(label or "")
    if not text.strip():
        return "other"
    for pattern, kind in _PATTERNS:
        if pattern.search(text):
            return kind or None
    return "other"
