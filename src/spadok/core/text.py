"""Words for search: one normal form, lemmas, and both scripts (no Django here).

Search must find "собор" from "соборів", "Пирятин" from "Pyriatyn" and back,
and "Пʼятничани" whichever apostrophe was typed. Everything the index stores
and every query passes through the same functions here, so that both
database backends see exactly the same tokens:

* :func:`normalise` folds the apostrophes (' ’ ʼ ` ′ ...) to one form and the case;
* :func:`words` splits text into words (an apostrophe inside a word is kept);
* :func:`lemmas` gives the dictionary forms (simplemma, Ukrainian or English);
* :func:`transliterate` is the national Ukrainian→Latin standard (Cabinet of
  Ministers resolution No. 55 of 27 January 2010);
* :func:`to_cyrillic` is a best-effort way back from Latin, for queries;
* :func:`index_terms` and :func:`query_terms` put these together.

Tokens are lowercase letters and digits only (the apostrophe is dropped), so
that SQLite's unicode61 tokenizer and a PostgreSQL tsvector literal both take
them as they are.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Every apostrophe people type in Ukrainian words: ASCII, right single quote,
# modifier letter apostrophe, grave, prime, left quote, acute, modifier prime.
APOSTROPHES = "'\u2019\u02bc`\u2032\u2018\u00b4\u02b9"
APOSTROPHE = "'"
_APOSTROPHE_TABLE = str.maketrans({c: APOSTROPHE for c in APOSTROPHES})
# A word: letters and digits, with apostrophes inside (not at its ends).
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")

# Resolution 55 (2010): letters with a different form at the start of a word.
_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_LETTERS = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie",
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "",
    "ю": "iu", "я": "ia", APOSTROPHE: "",
    # Letters of other Cyrillic alphabets that turn up in names, read the Ukrainian way.
    "ы": "y", "э": "e", "ё": "io", "ъ": "",
}  # fmt: skip

# The way back, longest sequences first. Ambiguous by nature (и/і/й, ї/і):
# good enough to find a name, which the index also holds transliterated.
_BACK_INITIAL = [("ye", "є"), ("yi", "ї"), ("yu", "ю"), ("ya", "я")]
_BACK = [
    ("shch", "щ"), ("zgh", "зг"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"),
    ("sh", "ш"), ("ie", "є"), ("iu", "ю"), ("ia", "я"), ("yi", "ий"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("h", "г"), ("g", "г"), ("d", "д"), ("e", "е"),
    ("z", "з"), ("y", "и"), ("i", "і"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"),
    ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"),
    ("c", "ц"), ("w", "в"), ("x", "кс"), ("q", "к"), ("j", "й"),
]  # fmt: skip

# Shorter query words are matched whole only (a 1-2 letter prefix matches everything).
MIN_PREFIX = 3


def normalise(text: str) -> str:
    """NFC, one apostrophe, case-folded: the form every comparison starts from."""
    text = unicodedata.normalize("NFC", text or "").translate(_APOSTROPHE_TABLE)
    return text.casefold()


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (hyphens and spaces split, apostrophes stay)."""
    return _WORD.findall(normalise(text))


def is_cyrillic(word: str) -> bool:
    return bool(_CYRILLIC.search(word))


def token(word: str) -> str:
    """The index token of a normalised word: without apostrophes."""
    return word.replace(APOSTROPHE, "")


def transliterate(text: str) -> str:
    """Ukrainian Cyrillic to Latin by resolution 55 (2010); other characters unchanged.

    Kyiv, Pyriatyn, Zghurskyi, Yizhakevych, Yenakiieve; lower case in, lower case out
    (upper case is kept for a capital first letter of each word).
    """
    out: list[str] = []
    for match in re.finditer(r"[^\W_]+(?:['\u2019\u02bc][^\W_]+)*|.", text, flags=re.S):
        chunk = match.group(0)
        out.append(_transliterate_word(chunk) if is_cyrillic(chunk) else chunk)
    return "".join(out)


def _transliterate_word(word: str) -> str:
    word = unicodedata.normalize("NFC", word).translate(_APOSTROPHE_TABLE)
    lower = word.lower()
    result: list[str] = []
    i = 0
    while i < len(lower):
        ch = lower[i]
        if ch == "з" and lower[i + 1 : i + 2] == "г":
            latin = "zgh"
            i += 2
        else:
            latin = _INITIAL[ch] if i == 0 and ch in _INITIAL else _LETTERS.get(ch, ch)
            i += 1
        result.append(latin)
    latin_word = "".join(result)
    if word[:1].isupper() and latin_word:
        latin_word = latin_word[0].upper() + latin_word[1:]
        if word.isupper() and len(word) > 1:
            latin_word = latin_word.upper()
    return latin_word


def to_cyrillic(word: str) -> str:
    """A Latin word back to Ukrainian Cyrillic (best effort, lower case)."""
    word = normalise(word)
    out: list[str] = []
    i = 0
    while i < len(word):
        pairs = (_BACK_INITIAL + _BACK) if i == 0 else _BACK
        for latin, cyr in pairs:
            if word.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


@lru_cache(maxsize=200_000)
def lemmas(word: str) -> tuple[str, ...]:
    """Dictionary forms of a normalised word (itself when unknown).

    simplemma knows proper nouns by their capital ("Києві" → "Київ", while
    "києві" → "кий"), so both spellings are asked and both answers kept.
    """
    import simplemma

    lang = "uk" if is_cyrillic(word) else "en"
    found: list[str] = []
    for form in (word, word[:1].upper() + word[1:]):
        lemma = normalise(simplemma.lemmatize(form, lang=lang))
        if lemma and lemma not in found:
            found.append(lemma)
    return tuple(found)


def load_dictionaries() -> None:
    """Load the lemmatiser's Ukrainian and English dictionaries now.

    simplemma reads each language's dictionary on its first word (about 3 s and
    100 MB for Ukrainian, half a second for English): a web process does it once
    as it starts, or its first search pays for it.
    """
    import simplemma

    simplemma.lemmatize("собор", lang="uk")
    simplemma.lemmatize("church", lang="en")


def word_terms(word: str) -> list[str]:
    """Every token a document's word is indexed under: form, lemmas, their transliterations."""
    terms: list[str] = []
    forms = [word, *lemmas(word)]
    if is_cyrillic(word):
        forms += [transliterate(f).lower() for f in list(forms)]
    for form in forms:
        t = token(form)
        if t and t not in terms:
            terms.append(t)
    return terms


def index_terms(text: str) -> list[list[str]]:
    """For each word of ``text`` (in order), the tokens it is indexed under."""
    return [word_terms(w) for w in words(text)]


@dataclass(frozen=True)
class QueryWord:
    """One query word: tokens to match whole, and tokens to match as a prefix."""

    exact: tuple[str, ...]
    prefix: tuple[str, ...]


def query_terms(q: str) -> list[QueryWord]:
    """The words of a query with their alternatives (all words must match).

    A word matches its own form and its transliteration as prefixes (typing
    "Харк" finds Харків, "Khark" too), and its lemmas whole in both scripts; a
    Latin word also matches its guessed Cyrillic form and that form's lemmas.
    """
    found: list[QueryWord] = []
    for word in words(q):
        exact: list[str] = []
        prefix: list[str] = []
        forms = [word]
        lemma_forms = list(lemmas(word))
        if is_cyrillic(word):
            forms.append(transliterate(word).lower())
            lemma_forms += [transliterate(f).lower() for f in lemma_forms]
        elif word.isascii() and word.isalpha():
            back = to_cyrillic(word)
            lemma_forms += [back, *lemmas(back)]
        # The typed word's length decides (its transliteration may be longer: "ха" → "kha").
        target = prefix if len(token(word)) >= MIN_PREFIX else exact
        for form in forms:
            t = token(form)
            if t and t not in target:
                target.append(t)
        for form in lemma_forms:
            t = token(form)
            if t and t not in exact and t not in prefix:
                exact.append(t)
        if exact or prefix:
            found.append(QueryWord(tuple(exact), tuple(prefix)))
    return found
