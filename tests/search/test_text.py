"""The words search is made of: apostrophes, lemmas and both scripts (no database)."""

from __future__ import annotations

import pytest

from spadok.core import text


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Пирятин", "Pyriatyn"),
        ("Згурський", "Zghurskyi"),
        ("Їжакевич", "Yizhakevych"),
        ("Київ", "Kyiv"),
        ("Харків", "Kharkiv"),
        ("Єнакієве", "Yenakiieve"),
        ("Юрій", "Yurii"),
        ("Яготин", "Yahotyn"),
        ("Знам’янка", "Znamianka"),
        ("Щорс", "Shchors"),
        ("Стрийська", "Stryiska"),
        ("Гайове", "Haiove"),
    ],
)
def test_transliteration_follows_resolution_55(cyrillic: str, latin: str) -> None:
    assert text.transliterate(cyrillic) == latin


def test_transliteration_keeps_other_characters() -> None:
    assert text.transliterate("Собор (1756), м. Пирятин") == "Sobor (1756), m. Pyriatyn"


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [("Pyriatyn", "пирятин"), ("Kharkiv", "харків"), ("Zghurskyi", "згурский"), ("Lviv", "лвів")],
)
def test_back_mapping_guesses_cyrillic(latin: str, cyrillic: str) -> None:
    assert text.to_cyrillic(latin) == cyrillic


@pytest.mark.parametrize("apostrophe", list(text.APOSTROPHES))
def test_every_apostrophe_gives_one_token(apostrophe: str) -> None:
    word = f"П{apostrophe}ятничани"
    assert text.words(word) == ["п'ятничани"]
    assert text.word_terms(text.words(word)[0])[0] == "пятничани"


@pytest.mark.parametrize(
    ("form", "lemma"),
    [
        ("соборів", "собор"),
        ("Києві", "київ"),
        ("церкви", "церква"),
        ("церкву", "церква"),
        ("музеєм", "музей"),
        ("Харкові", "харків"),
        ("churches", "church"),
    ],
)
def test_inflected_forms_are_indexed_under_their_lemma(form: str, lemma: str) -> None:
    [terms] = text.index_terms(form)
    assert lemma in terms


def test_query_words_match_prefixes_in_both_scripts() -> None:
    [word] = text.query_terms("Харк")
    assert set(word.prefix) == {"харк", "khark"}
    [word] = text.query_terms("Kharkiv")
    assert "kharkiv" in word.prefix and "харків" in word.exact


def test_short_query_words_match_whole() -> None:
    [word] = text.query_terms("Св")
    assert word.prefix == () and "св" in word.exact
