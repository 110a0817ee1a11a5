"""Word-level tests the rules share: unit symbols, month names, file names, BCP 47 tags."""
from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

# Unit symbols and abbreviations (UCUM codes, common print forms) that a display must spell
# out. Compared case-insensitively, one whitespace-separated token at a time. Tokens that are
# also ordinary words in English or Spanish ("in", "a", "y", "o", "u", "e") are left out.
UNIT_SYMBOLS = frozenset("""
    mmhg cmh2o kpa pa atm bpm lpm rpm ppm rr
    mg mcg µg μg ug ng pg g kg lb lbs oz gr
    ml cl dl l µl μl ul fl cc mmol µmol μmol umol nmol pmol mol meq osm mosm
    iu ui miu mui u/l ui/l iu/l
    km m cm mm µm μm nm ft
    kcal cal j kj w
    °c °f ℃ ℉ cel degc degf
    h hr hrs min mins s sec secs seg ms wk wks mo yr yrs
""".split())

# Characters that only occur in symbols and UCUM expressions ("mm[Hg]", "kg/m2", "10*3/uL").
SYMBOL_CHARACTERS = set("[]{}^/*·")

_NUMBER = re.compile(r"^[<>≤≥~±+\-–]?[\d.,:/\-–]+%?$")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_EDGE_PUNCTUATION = ".,;:!?()\"'¡¿"

# Dimensionless units a screen reader already reads aloud ("percent", "por ciento").
DIMENSIONLESS = frozenset({"%", "1"})


def unit_symbols_in(text: str, code: str | None = None) -> list[str]:
    """Return the tokens of TEXT that are unit symbols rather than words (CODE: the UCUM code)."""
    found = []
    for raw in text.split():
        token = raw.strip(_EDGE_PUNCTUATION)
        if not token or token == "%" or _NUMBER.match(token):
            continue
        if (token.lower() in UNIT_SYMBOLS or SYMBOL_CHARACTERS & set(token)
                or (_DIGIT.search(token) and _LETTER.search(token))
                or (code and code not in DIMENSIONLESS and token == code)):
            found.append(raw)
    return found


def has_words(text: str) -> bool:
    """Say whether TEXT has at least one word of letters."""
    return any(_LETTER.search(token) for token in text.split())


# -- dates --------------------------------------------------------------------------------

_NUMERIC_DATE = re.compile(
    r"\b\d{4}-\d{1,2}(-\d{1,2})?\b"             # 2024-03-03, 2024-03
    r"|\b\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b"     # 03/03/2024, 3/3/24, 3.3.2024, 03-03-2024
    r"|\b\d{4}/\d{1,2}/\d{1,2}\b")                # 2024/03/03
_ISO_PARTIAL = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")


def numeric_date_in(text: str) -> str | None:
    """Return the first all-numeric date in TEXT, if any."""
    match = _NUMERIC_DATE.search(text)
    return match.group(0) if match else None


def iso_precision(value: object) -> str | None:
    """Return "year", "month" or "day" for an ISO 8601 date or date-time, None if it is not one."""
    if not isinstance(value, str):
        return None
    if _ISO_PARTIAL.match(value):
        return "year" if len(value) == 4 else "month"
    try:
        (date.fromisoformat if len(value) == 10 else datetime.fromisoformat)(value)
    except ValueError:
        return None
    return "day"


@lru_cache(maxsize=32)
def month_names(locale: str) -> tuple[str, ...]:
    """Return the wide month names of LOCALE (CLDR via babel), lower-cased, both contexts."""
    from babel import Locale, UnknownLocaleError, dates

    try:
        parsed = Locale.parse(locale.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError):
        parsed = Locale.parse("en")
    names = set()
    for context in ("format", "stand-alone"):
        names.update(name.lower() for name in dates.get_month_names("wide", context, parsed).values())
    return tuple(sorted(names, key=len, reverse=True))


def has_month_name(text: str, locale: str) -> bool:
    """Say whether TEXT names a month in words in LOCALE."""
    return _month_pattern(locale).search(text.lower()) is not None


@lru_cache(maxsize=64)
def _month_pattern(locale: str) -> re.Pattern:
    """One pattern for every month name of LOCALE, each as a whole word (longest first)."""
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(name) for name in month_names(locale)) + r")(?!\w)")


# -- titles and tags ----------------------------------------------------------------------

_FILE_NAME = re.compile(r"^\S+\.[A-Za-z0-9]{1,5}$")


def looks_like_file_name(title: str) -> bool:
    """Say whether TITLE is a file name or an identifier ("scan_001.pdf", "IMG_2041") rather than words."""
    title = title.strip()
    if _FILE_NAME.match(title):
        return True
    return " " not in title and ("_" in title or bool(_DIGIT.search(title)))


def is_bcp47(tag: object) -> bool:
    """Say whether TAG is a well-formed, valid BCP 47 language tag (RFC 5646; hyphens only)."""
    import langcodes

    return (isinstance(tag, str) and tag == tag.strip() and tag != ""
            and "_" not in tag and " " not in tag and langcodes.tag_is_valid(tag))
