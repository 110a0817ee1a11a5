"""Language negotiation and message catalogs (docs/architecture.md, "Language"; RFC 9110 section 12.5.4).

Messages are gettext-style: the msgid is the English text, with ``{name}`` placeholders that
are filled in after translation. Mark text where it is written with ``N_`` (the one marker,
``contracts.vocabulary.N_``, re-exported here; it returns the text unchanged) or translate it
for the current request with ``_``; both are found by the babel extractor (``babel.cfg``).
Catalogs are the ``.po`` files under ``translations/`` (the shared catalog, beside this module:
the vocabulary of ``contracts/`` and the gateway's text) and under
``services/<service>/translations/`` (a service's own texts: every message marked in a service
that has such a folder belongs to its catalog).
They are read directly with babel the first time a locale is needed (no compiled ``.mo``
files), and merged.

Regenerate the catalogs after changing marked text (see ``main`` below)::

    python -m services.common.i18n extract   # source -> translations/messages.pot
    python -m services.common.i18n update    # messages.pot -> every <locale>/.../messages.po
    python -m services.common.i18n check     # exit 1 when a key is missing, empty or fuzzy
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import langcodes
from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from flask import Flask, Response, g, has_request_context, request
from markupsafe import Markup, escape
from werkzeug.datastructures import Headers

from contracts.vocabulary import N_  # the one marker: re-exported for services and the gateway

SUPPORTED = ("en", "es")
DEFAULT = "en"
DOMAIN = "messages"
TRANSLATIONS = Path(__file__).with_name("translations")
#: The services' package folder, where each service's own translations/ sits beside its code.
SERVICES = Path(__file__).resolve().parents[1]
#: The source checkout: only catalog maintenance (extract, update, check) reads it, through
#: babel.cfg; serving text needs the catalogs above and nothing else.
ROOT = SERVICES.parent
MAPPING = ROOT / "babel.cfg"
KEYWORDS = {"_": None, "N_": None, "gettext": None}


@dataclass(frozen=True)
class Language:
    """The outcome of negotiation: what the caller asked for, what we use, and whether we fell back."""

    requested: str | None
    used: str
    fallback: bool


# --- negotiation -------------------------------------------------------------------------
#
# Accept-Language comes from anyone, on every request (the gateway's fast path labels each
# answer), so what it may cost is bounded: a header longer than MAX_HEADER characters is cut
# at its last comma before the limit (whole ranges only; with no comma there it counts as
# absent), and only its first MAX_RANGES ranges are ranked. A browser sends a few ranges in
# well under a hundred characters; 40 KB of unique tags once cost seconds.

#: Characters of Accept-Language (or of a preferred language) read at most.
MAX_HEADER = 256
#: Language ranges of one Accept-Language header considered at most, in the order sent.
MAX_RANGES = 8
#: Distinct tags kept standardised; langcodes' own caches are kept within a few times this.
TAGS_KEPT = 256


def _bounded(value: str | None) -> str | None:
    """Return VALUE cut to MAX_HEADER characters at a comma, or None when no comma allows it."""
    if value is None or len(value) <= MAX_HEADER:
        return value
    cut = value.rfind(",", 0, MAX_HEADER + 1)
    return value[:cut] if cut > 0 else None


def _tag(value: str) -> str | None:
    """Return VALUE as a standard BCP 47 tag ('es_mx' -> 'es-MX'), or None when it is not one."""
    value = value.strip().replace("_", "-")
    if not value:
        return None
    return _standard_tag(value)


# langcodes keeps every tag it ever parsed in class-level dicts (Language._PARSE_CACHE and
# Language._INSTANCES), without bound, so tags from headers would grow them for good. Our
# calls go one at a time through this lock, behind a bounded cache, and empty those dicts
# when they pass a bound (they are caches: langcodes parses again what it no longer finds);
# the lock keeps a clear from landing between langcodes' "is it cached" and "get it".
_LANGCODES = threading.Lock()


@lru_cache(maxsize=TAGS_KEPT)
def _standard_tag(value: str) -> str | None:
    with _LANGCODES:
        try:
            return langcodes.standardize_tag(value) if langcodes.tag_is_valid(value) else None
        finally:
            _bound_langcodes_caches()


def _bound_langcodes_caches(limit: int = 4 * TAGS_KEPT) -> None:
    for cache in (langcodes.Language._PARSE_CACHE, langcodes.Language._INSTANCES):
        if len(cache) > limit:
            cache.clear()


def _ranked(accept_language: str) -> list[str]:
    """Return the acceptable tags among the first MAX_RANGES ranges of an Accept-Language
    value, best first (RFC 9110 section 12.5.4)."""
    ranges = []
    for index, item in enumerate(accept_language.split(",", MAX_RANGES)[:MAX_RANGES]):
        tag, _sep, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        tag = tag.strip()
        if quality > 0 and tag:
            ranges.append((-quality, index, tag))
    return [tag for _q, _i, tag in sorted(ranges)]


def _choose(tags: list[str]) -> Language:
    """Negotiate TAGS (best first, '*' allowed) against SUPPORTED."""
    requested = None
    for tag in tags:
        if tag == "*":  # any language will do: ours is as good as any, so this is no fallback
            return Language(requested, DEFAULT, False)
        standard = _tag(tag)
        if standard is None:
            continue
        requested = requested or standard
        match = negotiate_locale([standard], SUPPORTED, sep="-")
        if match:
            return Language(standard, match.lower(), False)
    return Language(requested, DEFAULT, requested is not None)


def negotiate(accept_language: str | None, preferred: str | None = None) -> Language:
    """Pick the response language: the Accept-Language header, else PREFERRED, else DEFAULT.

    PREFERRED is the patient's language (FHIR ``Patient.communication``), e.g. ``es`` or
    ``en-US``. When the deciding source names only unsupported languages the result falls
    back to DEFAULT and ``requested`` is its best-ranked valid tag. A wildcard (``*``) accepts
    DEFAULT without a fallback. Only the first MAX_RANGES ranges of at most MAX_HEADER
    characters of the header count.
    """
    return _negotiate(_bounded(accept_language), _bounded(preferred))


@lru_cache(maxsize=1024)  # asked on every request; keyed on the bounded strings only
def _negotiate(accept_language: str | None, preferred: str | None) -> Language:
    if accept_language and accept_language.strip():
        chosen = _choose(_ranked(accept_language))
        if chosen.requested is not None or chosen.used != DEFAULT or "*" in accept_language:
            return chosen
    if preferred and preferred.strip():
        return _choose([preferred])
    return Language(None, DEFAULT, False)


# --- catalogs ----------------------------------------------------------------------------

def catalog_path(locale: str, translations: Path | None = None) -> Path:
    return (translations or TRANSLATIONS) / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def service_catalogs() -> dict[Path, Path]:
    """Return {translations folder: the source folder it covers} for services with their own."""
    return {folder: folder.parent for folder in sorted(SERVICES.glob("*/translations"))
            if folder.is_dir() and folder.parent.name != "common"}


def catalogs() -> list[Path]:
    """Every translations folder: the shared one first, then the services' own."""
    return [TRANSLATIONS, *service_catalogs()]


@lru_cache(maxsize=None)
def _messages(locale: str) -> dict[str, str]:
    """Read LOCALE's .po files once per process and merge them; fuzzy and empty entries do not count."""
    from babel.messages.pofile import read_po

    merged: dict[str, str] = {}
    for folder in catalogs():
        path = catalog_path(locale, folder)
        if not path.exists():
            continue
        with path.open("rb") as fileobj:
            catalog = read_po(fileobj, locale=locale, domain=DOMAIN)
        merged.update({m.id: m.string for m in catalog
                       if m.id and isinstance(m.id, str) and m.string and not m.fuzzy})
    return merged


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format(text: str, params: dict) -> str:
    if not params:
        return text
    try:
        return text.format_map(_Keep(params))
    except (ValueError, IndexError, AttributeError):  # stray braces: show the text as it is
        return text


def translate(message: str, locale: str, **params) -> str:
    """Return MESSAGE in LOCALE (unknown text stays as it is), with PARAMS filled in."""
    text = _messages(locale).get(message, message) if message else message
    return _format(text, params)


def _(message: str, **params) -> str:
    """Translate MESSAGE into the current request's language."""
    return translate(message, current_language().used, **params)


def _html(message: str, **params) -> Markup:
    """Translate MESSAGE for a template: the text is escaped, Markup parameters are kept."""
    text = _messages(current_language().used).get(message, message)
    try:
        return escape(text).format(**params)
    except (KeyError, ValueError, IndexError):
        return escape(text)


def language_name(tag: str, locale: str) -> str | None:
    """Return the name of language TAG in LOCALE's words ('pt', 'es' -> 'portugués')."""
    try:
        return Locale.parse(locale).languages.get(Locale.parse(tag, sep="-").language)
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def language_block(lang: Language) -> dict:
    """Return the ``language`` member of a patient-facing body (contracts/PATIENT_FACING.md)."""
    block = {"requested": lang.requested, "used": lang.used, "fallback": lang.fallback}
    if not lang.fallback:
        return block
    name = language_name(lang.requested, lang.used) if lang.requested else None
    if name:
        message = translate(N_("We do not have this in {language} yet, so we show it in English."),
                            lang.used, language=name)
    else:
        message = translate(N_("We do not have this in your language yet, so we show it in English."),
                            lang.used)
    block["message"] = message
    block["interpreter"] = {"offered": True, "message": translate(
        N_("You can have an interpreter for free. Call your care team and say which language "
           "you speak. They will set it up for you."), lang.used)}
    return block


# --- Flask -------------------------------------------------------------------------------

def current_language() -> Language:
    """Return the language of the current request (DEFAULT outside a request)."""
    if not has_request_context():
        return Language(None, DEFAULT, False)
    lang = g.get("language")
    if lang is None:
        lang = g.language = negotiate(request.headers.get("Accept-Language"))
    return lang


def use_preferred(code: str | None) -> Language:
    """Re-negotiate with the patient's preferred language CODE; the header still wins."""
    g.language = negotiate(request.headers.get("Accept-Language"), code)
    return g.language


def install(app: Flask) -> None:
    """Negotiate each request's language and label every response with Content-Language."""

    @app.before_request
    def _negotiate():
        g.language = negotiate(request.headers.get("Accept-Language"))

    @app.after_request
    def _label(resp: Response) -> Response:
        label(resp.headers, current_language().used)
        return resp

    app.jinja_env.globals.update(_=_html, current_language=current_language)


def label(headers: Headers | dict[str, str], language: str) -> None:
    """Label a response in LANGUAGE (RFC 9110 sections 8.5 and 12.5.5): Content-Language,
    unless it has one (a proxied response keeps its service's), and Accept-Language in Vary.

    HEADERS is a response's Werkzeug Headers (a view's), or a new dict (a fast path's, which
    appends its items). The one place a response is labelled: views and fast paths alike.
    """
    if "Content-Language" not in headers:
        headers["Content-Language"] = language
    # What resp.vary.add does, without parsing and re-serialising the header each time.
    vary = headers.get("Vary")
    if not vary:
        headers["Vary"] = "Accept-Language"
    elif "accept-language" not in vary.lower():
        headers["Vary"] = vary + ", Accept-Language"


# --- catalog maintenance -----------------------------------------------------------------

def _owner(filename: str) -> Path:
    """Return the translations folder a source file's messages belong to."""
    path = (ROOT / filename).resolve()
    for folder, source in service_catalogs().items():
        if path.is_relative_to(source.resolve()):
            return folder
    return TRANSLATIONS


def extract_catalog(translations: Path | None = None):
    """Extract the marked messages of one catalog (default: the shared one) into a fresh Catalog."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with MAPPING.open() as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, str(MAPPING))
    # A fixed creation date keeps regenerated templates byte-identical when no text changed.
    catalog = Catalog(project="phr-exchange", domain=DOMAIN, charset="utf-8",
                      creation_date=datetime(2026, 1, 1, tzinfo=timezone.utc))
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True):
        if _owner(filename) == (translations or TRANSLATIONS):
            catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _read(path: Path, locale: str | None = None):
    from babel.messages.pofile import read_po

    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale, domain=DOMAIN)


def _write(path: Path, catalog) -> None:
    from babel.messages.pofile import write_po

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fileobj:
        write_po(fileobj, catalog, width=100, omit_header=False, sort_output=True,
                 include_previous=True)


def extract() -> list[Path]:
    """Write every catalog's messages.pot from the source."""
    written = []
    for folder in catalogs():
        pot = folder / f"{DOMAIN}.pot"
        _write(pot, extract_catalog(folder))
        written.append(pot)
    return written


def update(folders: list[Path] | None = None) -> list[Path]:
    """Merge each messages.pot into its locales' .po; English text is its own translation."""
    written = []
    for folder in folders or catalogs():
        written += _update(folder)
    _messages.cache_clear()
    return written


def _update(folder: Path) -> list[Path]:
    from babel.messages.catalog import Catalog

    written = []
    for locale in SUPPORTED:
        # A fresh template each time: Catalog.update adds the template's own Message objects.
        pot = folder / f"{DOMAIN}.pot"
        template = _read(pot) if pot.exists() else extract_catalog(folder)
        path = catalog_path(locale, folder)
        catalog = _read(path, locale) if path.exists() else Catalog(locale=locale, domain=DOMAIN)
        catalog.update(template, update_header_comment=False)
        catalog.obsolete.clear()
        catalog.project, catalog.fuzzy = "phr-exchange", False
        if locale == DEFAULT:
            for message in catalog:
                if message.id and (not message.string or message.fuzzy):
                    message.string, message.flags = message.id, message.flags - {"fuzzy"}
        _write(path, catalog)
        written.append(path)
    return written


def check() -> list[str]:
    """Return what is wrong with the catalogs: stale .pot, missing, empty or fuzzy entries."""
    errors = []
    for folder in catalogs():
        prefix = "" if folder == TRANSLATIONS else f"{folder.parent.name}: "
        errors += [prefix + e for e in _check(folder)]
    return errors


def _check(folder: Path) -> list[str]:
    errors = []
    source = {m.id for m in extract_catalog(folder) if m.id}
    pot_path = folder / f"{DOMAIN}.pot"
    pot = {m.id for m in _read(pot_path) if m.id} if pot_path.exists() else set()
    for msgid in sorted(source - pot):
        errors.append(f"messages.pot: missing {msgid!r} (run extract)")
    for msgid in sorted(pot - source):
        errors.append(f"messages.pot: stale {msgid!r} (run extract)")
    for locale in SUPPORTED:
        path = catalog_path(locale, folder)
        entries = {m.id: m for m in _read(path, locale) if m.id} if path.exists() else {}
        for msgid in sorted(source):
            entry = entries.get(msgid)
            if entry is None:
                errors.append(f"{locale}: missing {msgid!r}")
            elif not entry.string:
                errors.append(f"{locale}: untranslated {msgid!r}")
            elif entry.fuzzy:
                errors.append(f"{locale}: fuzzy {msgid!r}")
        for msgid in sorted(set(entries) - source):
            errors.append(f"{locale}: stale {msgid!r} (run update)")
    return errors


def containing(words: str, locale: str) -> list[tuple[str, str, str]]:
    """The catalog entries whose text in LOCALE contains WORDS (case and spacing ignored), as
    (the catalog: "shared" for services/common/translations, which holds the gateway's and the
    contracts' text too, else the service's name; msgid; its text in LOCALE): where a
    translator finds the words a reader found hard (services/exchange/entrypoints/wording_review.py)."""
    wanted = " ".join(words.split()).casefold()
    if not wanted or locale not in SUPPORTED:
        return []
    found = []
    for folder in catalogs():
        path = catalog_path(locale, folder)
        if not path.exists():
            continue
        owner = "shared" if folder == TRANSLATIONS else folder.parent.name
        for message in _read(path, locale):
            if not message.id or isinstance(message.id, tuple):
                continue
            text = message.string or message.id
            if isinstance(text, tuple):
                text = text[0]
            if wanted in " ".join(str(text).split()).casefold():
                found.append((owner, str(message.id), str(text)))
    return found


def main(argv: list[str]) -> int:
    """``extract`` | ``update`` | ``check``."""
    command = argv[0] if argv else ""
    if command == "extract":
        for path in extract():
            print(path)
    elif command == "update":
        for path in update():
            print(path)
    elif command == "check":
        errors = check()
        print("\n".join(errors) or "catalogs complete")
        return 1 if errors else 0
    else:
        print("usage: python -m services.common.i18n extract|update|check", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
