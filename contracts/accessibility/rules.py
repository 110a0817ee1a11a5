"""The accessibility and language rules of contract v1, one function per rule
(docs/architecture.md, "Accessibility and equity").

Each rule receives a node already recognised as its shape (see ``shapes.py``) and yields
its violations. ``RULES`` lists them with their threshold and the standard they come from.
"""
from __future__ import annotations

from typing import Callable, Iterator

from contracts.accessibility import readability, shapes, wording
from contracts.accessibility.model import Context, Node, Rule, RuleFunction, Violation

RULES: list[Rule] = []
HEADER_PATH = "header:Content-Language"

# Below this many words a string is a label, not prose; readability formulas mean little there.
MIN_PROSE_WORDS = 12
MAX_ENGLISH_GRADE = 8.0
# Fernández-Huerta keeps Flesch's reading-ease scale: 60-70 is "normal", the band Flesch maps to
# grades 8-9, so 60 is the boundary of plain text ("≈ grade 8", contracts/PATIENT_FACING.md).
MIN_SPANISH_EASE = 60.0


def rule(id: str, title: str, shape: str, threshold: str, standard: str,
         recognise: Callable[[Node], bool], on: type = dict) -> Callable[[RuleFunction], RuleFunction]:
    """Register the decorated function as rule ID, applied to nodes that RECOGNISE accepts.

    ON is the JSON type (dict or str) of every value RECOGNISE can accept; ``check`` asks only
    the rules of a value's type.
    """

    def register(function: RuleFunction) -> RuleFunction:
        function.rule = Rule(id, title, shape, threshold, standard, function)
        function.recognise = recognise
        function.on = on
        RULES.append(function.rule)
        return function

    return register


@rule("language-tag", "Language tags are valid BCP 47",
      shape="the Content-Language header; strings under `language`, `lang`, `locale`",
      threshold="every tag valid per BCP 47 (langcodes.tag_is_valid; hyphens, not underscores)",
      standard="WCAG 2.2 SC 3.1.1 Language of Page, SC 3.1.2 Language of Parts; "
               "BCP 47 (RFC 5646); RFC 9110 section 8.5 Content-Language",
      recognise=shapes.is_language_tag, on=str)
def language_tag(node: Node, ctx: Context) -> Iterator[Violation]:
    """Each language tag is a valid BCP 47 tag; the header must be present when headers are given.

    Threshold: valid per ``langcodes.tag_is_valid``, with hyphens only (``en_US`` is not BCP 47).
    Standard: WCAG 2.2 SC 3.1.1 and SC 3.1.2 (the language must be programmatically determined).
    """
    this = language_tag.rule
    if node.value is None:
        yield this.violation(node, "The response has no Content-Language header.")
        return
    # A header may list several languages (RFC 9110 section 8.5); a JSON value holds one.
    tags = [t.strip() for t in node.value.split(",")] if node.path == HEADER_PATH else [node.value]
    for tag in tags:
        if not wording.is_bcp47(tag):
            yield this.violation(node, f"'{tag}' is not a valid BCP 47 language tag.", tag)


@rule("plain-language", "Patient prose reads at grade 8 or below",
      shape="strings under summary, explanation, message, detail, description, next_step, "
            "text (not a coded value's text)",
      threshold=f"en: Flesch-Kincaid grade <= {MAX_ENGLISH_GRADE:g}; es: Fernández-Huerta "
                f">= {MIN_SPANISH_EASE:g} (≈ grade 8); under {MIN_PROSE_WORDS} words exempt; "
                "a code (reference, number) counts as one word of one syllable; "
                "other languages not scored",
      standard="WCAG 2.2 SC 3.1.5 Reading Level (AAA); health-literacy guidance for patient "
               "materials (AMA, NIH/NLM plain language: grade 8 or below)",
      recognise=shapes.is_prose, on=str)
def plain_language(node: Node, ctx: Context) -> Iterator[Violation]:
    """Patient-facing prose reads at US grade 8 or below, scored with a formula of its language.

    Threshold: English Flesch-Kincaid grade <= 8; Spanish Fernández-Huerta reading ease >= 60
    (the Flesch-scale band for grades 8-9; the English grade formula is never used on Spanish).
    Strings under 12 words are exempt; languages other than en and es are not scored.
    Standard: WCAG 2.2 SC 3.1.5 Reading Level; AMA and NIH plain-language guidance.
    """
    this = plain_language.rule
    text = node.value
    if ctx.language not in ("en", "es") or readability.word_count(text) < MIN_PROSE_WORDS:
        return
    if ctx.language == "en":
        grade = readability.flesch_kincaid_grade(text)
        if ctx.observe_grade is not None:
            ctx.observe_grade("en", grade)
        if grade > MAX_ENGLISH_GRADE:
            yield this.violation(node, f"This reads at grade {grade:g}. Use shorter words and "
                                       "sentences.", grade,
                                 f"Flesch-Kincaid grade <= {MAX_ENGLISH_GRADE:g}")
    else:
        ease = readability.fernandez_huerta(text)
        if ctx.observe_grade is not None:
            ctx.observe_grade("es", readability.grade_of_ease(ease))
        if ease < MIN_SPANISH_EASE:
            yield this.violation(node, f"This scores {ease:g} for reading ease. Use shorter "
                                       "words and sentences.", ease,
                                 f"Fernández-Huerta >= {MIN_SPANISH_EASE:g} (≈ grade 8)")


@rule("coded-value-text", "Codes never stand alone",
      shape="an object with `code` and `system` (Coding) or with `coding` (CodeableConcept)",
      threshold="a non-empty `text` or `display` (a CodeableConcept may rely on a coding's display)",
      standard="FHIR R4 CodeableConcept.text and Coding.display; contracts/PATIENT_FACING.md",
      recognise=lambda node: shapes.is_coded_value(node.value))
def coded_value_text(node: Node, ctx: Context) -> Iterator[Violation]:
    """A Coding or CodeableConcept carries words: a non-empty `text` or `display`.

    Threshold: CodeableConcept.text, its own display or a coding's display; Coding.display
    (a Coding inside a CodeableConcept is answered for by the concept).
    Standard: FHIR R4 CodeableConcept.text / Coding.display.
    """
    value = node.value
    if _filled(value.get("text")) or _filled(value.get("display")):
        return
    if shapes.is_codeable_concept(value):
        codings = value.get("coding") if isinstance(value.get("coding"), list) else []
        if any(isinstance(c, dict) and _filled(c.get("display")) for c in codings):
            return
    elif shapes.is_coding_in_concept(node):
        return
    yield coded_value_text.rule.violation(
        node, "This code has no words with it. Add a `text` or a `display`.",
        value.get("code") if "code" in value else value)


@rule("quantity-units", "Quantities carry units, spelled out for display",
      shape="an object with a numeric `value` and any of `unit`, `code`, `unit_display`",
      threshold="`unit` present; `display`/`unit_display` name the unit in words, no "
                "UCUM/abbreviated symbols (mm[Hg], mmHg, mg, kg/m2, /min); `%` is accepted",
      standard="FHIR R4 Quantity.unit; UCUM; WCAG 2.2 SC 3.1.4 Abbreviations (AAA); "
               "contracts/PATIENT_FACING.md (units spelled out)",
      recognise=lambda node: shapes.is_quantity(node.value))
def quantity_units(node: Node, ctx: Context) -> Iterator[Violation]:
    """A quantity has a `unit`, and its display strings spell the unit out in words.

    Threshold: no token of `display` or `unit_display` is a unit symbol ("mmHg", "mg"), a UCUM
    expression ("mm[Hg]", "kg/m2", "/min") or the quantity's UCUM `code`; a display names
    the unit in words. `%` (and the dimensionless "1") is accepted: screen readers say
    "percent"/"por ciento" in every locale, so it is not an abbreviation to expand.
    Standard: FHIR R4 Quantity; UCUM; WCAG 2.2 SC 3.1.4 Abbreviations.
    """
    this = quantity_units.rule
    value = node.value
    unit = value.get("unit")
    if not _filled(unit):
        yield this.violation(node, "This number has no unit.", value.get("value"))
    code = value.get("code") if isinstance(value.get("code"), str) else None
    dimensionless = unit in wording.DIMENSIONLESS or code in wording.DIMENSIONLESS
    for key in ("display", "unit_display"):
        text = value.get(key)
        if text is None:
            continue
        where = Node(f"{node.path}.{key}", key, text, node)
        if not isinstance(text, str) or not text.strip():
            yield this.violation(where, f"The {key} is empty.", text)
            continue
        symbols = wording.unit_symbols_in(text, code)
        if symbols:
            yield this.violation(where, "Spell the unit out in words, not "
                                        + ", ".join(f"'{s}'" for s in symbols) + ".", text)
        elif not dimensionless and not wording.has_words(text):
            yield this.violation(where, "Name the unit in words.", text)


@rule("display-date", "Display dates are long-form in the locale; machine dates are ISO 8601",
      shape="an object with `iso` and `display`",
      threshold="`iso` is ISO 8601; `display` names the month in words in the locale (CLDR "
                "wide month names via babel) and has no all-numeric date",
      standard="ISO 8601 (machine dates); Unicode CLDR long date formats; contracts/PATIENT_FACING.md",
      recognise=lambda node: shapes.is_display_date(node.value))
def display_date(node: Node, ctx: Context) -> Iterator[Violation]:
    """A date object has an ISO 8601 `iso` and a long-form `display` with the month in words.

    Threshold: `display` contains a wide month name of the payload's locale ("March",
    "marzo") when `iso` has a month, and no numeric date (2024-03-03, 03/03/2024, 3/3/24).
    Standard: ISO 8601 for `iso`; CLDR (babel) month names for the locale's long form.
    """
    this = display_date.rule
    iso, text = node.value.get("iso"), node.value.get("display")
    precision = wording.iso_precision(iso)
    if precision is None:
        yield this.violation(Node(f"{node.path}.iso", "iso", iso, node),
                             "The machine date is not ISO 8601.", iso)
    where = Node(f"{node.path}.display", "display", text, node)
    if not isinstance(text, str) or not text.strip():
        yield this.violation(where, "The date has no display text.", text)
        return
    numeric = wording.numeric_date_in(text)
    if numeric:
        yield this.violation(where, f"Write the date with the month in words, not '{numeric}'.",
                             text)
    elif precision != "year" and not wording.has_month_name(text, ctx.locale):
        yield this.violation(where, f"Name the month in words in '{ctx.locale}'.", text)


@rule("colour-only", "No information by colour alone",
      shape="an object with `colour`/`color`, or with `status` and `severity_colour`",
      threshold="a non-empty `status_text`, `text` or `label` in words",
      standard="WCAG 2.2 SC 1.4.1 Use of Color",
      recognise=lambda node: shapes.is_coloured_status(node.value))
def colour_only(node: Node, ctx: Context) -> Iterator[Violation]:
    """A coloured status also says its meaning in words (`status_text`, `text` or `label`).

    Threshold: one of those keys holds text with letters. Standard: WCAG 2.2 SC 1.4.1.
    """
    value = node.value
    if any(isinstance(value.get(k), str) and wording.has_words(value[k])
           for k in ("status_text", "text", "label")):
        return
    colour = next((value[k] for k in ("colour", "color", "severity_colour") if k in value), None)
    yield colour_only.rule.violation(node, "This status is shown only by colour. Add "
                                           "`status_text` in words.", colour)


@rule("attachment-metadata", "Attachments have a content type, a language and a real title",
      shape="an object with `contentType` (FHIR Attachment)",
      threshold="`contentType` is type/subtype; `language` present (its validity is "
                "language-tag's); `title` non-empty words, not a file name or identifier",
      standard="WCAG 2.2 SC 1.1.1 Non-text Content, SC 2.4.4 Link Purpose, SC 3.1.2 Language "
               "of Parts; FHIR R4 Attachment.contentType/.language/.title",
      recognise=lambda node: shapes.is_attachment(node.value))
def attachment_metadata(node: Node, ctx: Context) -> Iterator[Violation]:
    """An attachment says what it is: content type, language and a descriptive title.

    Threshold: `contentType` looks like type/subtype; `language` is present; `title` has
    words and is not a file name ("scan_001.pdf") or an identifier ("IMG_2041").
    Standard: WCAG 2.2 SC 1.1.1 (text alternative), SC 3.1.2; FHIR R4 Attachment.
    """
    this = attachment_metadata.rule
    value = node.value
    content_type = value.get("contentType")
    if not isinstance(content_type, str) or "/" not in content_type.strip("/ "):
        yield this.violation(node, "The attachment has no valid content type.", content_type)
    if not _filled(value.get("language")):
        yield this.violation(node, "The attachment does not say its language.", None)
    title = value.get("title")
    if not _filled(title) or not wording.has_words(title):
        yield this.violation(node, "The attachment has no title. Say what it is in words.",
                             title)
    elif wording.looks_like_file_name(title):
        yield this.violation(Node(f"{node.path}.title", "title", title, node),
                             "The title is a file name. Say what the file is in words.", title)


@rule("media-transcript", "Audio and video have a transcript",
      shape="an attachment whose `contentType` is audio/* or video/*",
      threshold="a non-empty `transcript` (text, or an object that references one)",
      standard="WCAG 2.2 SC 1.2.1 Audio-only and Video-only, SC 1.2.3 Media Alternative "
               "(captions, SC 1.2.2, are inside the media and not checked here)",
      recognise=lambda node: shapes.is_attachment(node.value)
      and isinstance(node.value.get("contentType"), str)
      and node.value["contentType"].lower().startswith(("audio/", "video/")))
def media_transcript(node: Node, ctx: Context) -> Iterator[Violation]:
    """An audio or video attachment has a transcript, as text or a reference to one.

    Threshold: `transcript` is a non-empty string or a non-empty object.
    Standard: WCAG 2.2 SC 1.2.1 and SC 1.2.3 (a media alternative for time-based media).
    """
    transcript = node.value.get("transcript")
    if _filled(transcript) or (isinstance(transcript, dict) and transcript):
        return
    yield media_transcript.rule.violation(
        node, "This recording has no transcript.", node.value.get("contentType"))


def _filled(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


FUNCTIONS: list[RuleFunction] = [language_tag, plain_language, coded_value_text, quantity_units,
                                 display_date, colour_only, attachment_metadata, media_transcript]
#: FUNCTIONS by the JSON type of the values they apply to, in FUNCTIONS' order.
BY_TYPE: dict[type, list[RuleFunction]] = {t: [f for f in FUNCTIONS if f.on is t] for t in (dict, str)}
