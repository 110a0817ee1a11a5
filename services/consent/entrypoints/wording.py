"""Plain words for consents in the patient's language (contracts/PATIENT_FACING.md).

Departments are named by the directory (each entry carries its names by language, kept from
phr.directory.v1: services/common/directory.py), so the functions that name a grantee take it
as NAMES, anything with ``name(id, lang)``. Purposes and data classes are named with the
message ids of ``contracts/vocabulary.py`` (the shared catalog); the sentences below are
English msgids marked with ``N_`` and kept in the consent service's catalog,
``services/consent/translations``. After changing marked text run ``make i18n`` and translate
the new empty Spanish entries.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from babel.dates import format_date
from babel.lists import format_list

from contracts import vocabulary as v
from services.common import i18n
from services.common.i18n import N_
from services.consent.domain.model import ACTIVE, EXPIRED, REVOKED, Consent


class Names(Protocol):
    """Where departments' display names come from: the service's Directory."""

    def name(self, department_id: str | None, lang: str) -> str: ...


def t(message: str, locale: str, **params) -> str:
    """Return MESSAGE in LOCALE with PARAMS filled in (unknown text stays English)."""
    return i18n.translate(message, locale, **params)


STATUS_TEXT = {ACTIVE: N_("In effect"), REVOKED: N_("Withdrawn by you"), EXPIRED: N_("Ended")}

SUMMARY_UNTIL = N_("{grantee} can see your {classes} {purposes} until {end}.")
SUMMARY_OPEN = N_("{grantee} can see your {classes} {purposes}. There is no end date.")
SPLIT_UNTIL = N_("{grantee} can see your {classes}. They may use them {purposes} until {end}.")
SPLIT_OPEN = N_("{grantee} can see your {classes}. They may use them {purposes}. There is no end date.")
SUMMARY_REVOKED = N_("{grantee} could see your {classes}. You took this back on {date}.")
SUMMARY_EXPIRED = N_("{grantee} could see your {classes}. This ended on {date}.")
PROXY_NAME = N_("Your caregiver {id}")
MANY_CLASSES = N_("records of {count} kinds")

TEXT_GRANT = N_("I allow {grantee} to see these records about me: {classes}.")
TEXT_MORE = N_("Also: {classes}.")
TEXT_PURPOSE = N_("They may use them {purposes}.")
TEXT_PERIOD = N_("This starts on {start} and ends on {end}.")
TEXT_OPEN = N_("This starts on {start}. It has no end date.")
TEXT_NOTIFY = N_("I want to be told each time they use it.")
TEXT_REVOKE = N_("I can take this back at any time. If I do, it stops at once.")


def grantee_name(consent: Consent, locale: str, names: Names) -> str:
    """The grantee as the patient reads it: the department's name in LOCALE from NAMES, or
    their caregiver."""
    if consent.grantee.kind == "department":
        return names.name(consent.grantee.id, locale)
    return t(PROXY_NAME, locale, id=consent.grantee.id)


def long_date(value: datetime, locale: str) -> str:
    """Return VALUE as a long-form date in LOCALE ("March 3, 2025", "3 de marzo de 2025")."""
    return format_date(value.date(), format="long", locale=locale)


def date_block(value: datetime | None, locale: str) -> dict | None:
    if value is None:
        return None
    return {"iso": value.isoformat(), "display": long_date(value, locale)}


def _join(items: list[str], locale: str) -> str:
    return format_list(items, locale=locale) if items else ""


def class_list(classes, locale: str) -> str:
    return _join([t(v.CLASS_NAMES[c], locale) for c in classes], locale)


def purpose_list(purposes, locale: str) -> str:
    return _join([t(v.PURPOSE_PHRASES[p], locale) for p in purposes], locale)


def plain_enough(text: str, locale: str) -> bool:
    """Tell whether TEXT reads at grade 8 or below (the rule in contracts/PATIENT_FACING.md)."""
    from contracts.accessibility import readability

    if readability.word_count(text) < 12:
        return True
    if locale == "es":
        return readability.fernandez_huerta(text) >= 60
    return readability.flesch_kincaid_grade(text) <= 8


def summary(consent: Consent, locale: str, now: datetime, names: Names) -> str:
    """One or two plain sentences: who may see what, why and until when.

    The classes are named while the sentence stays at grade 8 or below, then counted (the
    ``classes`` list of the view names each one).
    """
    grantee = grantee_name(consent, locale, names)
    named = class_list(consent.classes, locale)
    counted = t(MANY_CLASSES, locale, count=len(consent.classes))
    status = consent.status_at(now)
    if status in (REVOKED, EXPIRED):
        template = SUMMARY_REVOKED if status == REVOKED else SUMMARY_EXPIRED
        when = consent.revoked_at if status == REVOKED else (consent.expired_at or consent.end)
        options = [t(template, locale, grantee=grantee, classes=c, date=long_date(when, locale))
                   for c in (named, counted)]
    else:
        templates = (SUMMARY_OPEN, SPLIT_OPEN) if consent.end is None else (SUMMARY_UNTIL, SPLIT_UNTIL)
        end = long_date(consent.end, locale) if consent.end else None
        purposes = purpose_list(consent.purposes, locale)
        options = [t(template, locale, grantee=grantee, classes=c, purposes=purposes, end=end)
                   for c in (named, counted) for template in templates]
    return next((text for text in options if plain_enough(text, locale)), options[-1])


def consent_text(consent: Consent, locale: str, names: Names) -> str:
    """The exact words the patient agrees to, in LOCALE (kept with its SHA-256 as evidence).

    Short sentences: the classes go three to a sentence.
    """
    chunks = [consent.classes[i:i + 3] for i in range(0, len(consent.classes), 3)]
    parts = [t(TEXT_GRANT, locale, grantee=grantee_name(consent, locale, names),
               classes=class_list(chunks[0], locale))]
    parts += [t(TEXT_MORE, locale, classes=class_list(chunk, locale)) for chunk in chunks[1:]]
    purposes = _join([t(v.PURPOSE_PHRASES_FIRST_PERSON[p], locale) for p in consent.purposes], locale)
    parts.append(t(TEXT_PURPOSE, locale, purposes=purposes))
    start = long_date(consent.start, locale)
    if consent.end is None:
        parts.append(t(TEXT_OPEN, locale, start=start))
    else:
        parts.append(t(TEXT_PERIOD, locale, start=start, end=long_date(consent.end, locale)))
    if consent.notify:
        parts.append(t(TEXT_NOTIFY, locale))
    parts.append(t(TEXT_REVOKE, locale))
    return " ".join(parts)


def coded(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def patient_view(consent: Consent, locale: str, now: datetime, names: Names) -> dict:
    """The patient-facing shape of one consent (contracts/PATIENT_FACING.md)."""
    status = consent.status_at(now)
    grantee = {**consent.grantee.as_dict(), "display": grantee_name(consent, locale, names)}
    body = {
        "id": consent.id,
        "summary": summary(consent, locale, now, names),
        "status": {"code": status, "status_text": t(STATUS_TEXT[status], locale)},
        "grantee": grantee,
        "purposes": [coded(v.PURPOSE_SYSTEM, p, t(v.PURPOSE_NAMES[p], locale)) for p in consent.purposes],
        "classes": [coded(v.LABEL_SYSTEM if v.is_label(c) else v.RESOURCE_SYSTEM, c,
                          t(v.CLASS_NAMES[c], locale)) for c in consent.classes],
        "period": {"start": date_block(consent.start, locale), "end": date_block(consent.end, locale)},
        "notify": consent.notify,
        "version": consent.version,
        "created": date_block(consent.created_at, locale),
        "created_by": consent.created_by.as_dict(),
        "agreed_text": {"language": consent.language, "text": consent.text,
                        "sha256": consent.text_sha256},
    }
    if consent.revoked_at is not None:
        body["revoked"] = date_block(consent.revoked_at, locale)
        body["revoked_by"] = consent.revoked_by.as_dict() if consent.revoked_by else None
    if status == EXPIRED:
        body["expired"] = date_block(consent.expired_at or consent.end, locale)
    return body


# Problems: English message ids, translated here (the shared catalog does not know them).
NOT_FOUND = N_("There is no consent with this id that you may see.")
NOT_FOUND_NEXT = N_("Go back to your list of consents and pick one from there.")
INVALID = N_("The field {field} is not right: {reason}.")
INVALID_NEXT = N_("Check what you entered, then try again.")
PATIENT_ONLY = N_("Only a patient or their caregiver can do this.")
DEPARTMENT_ONLY = N_("Only a department can ask for this.")
OWN_DECISIONS_ONLY = N_("A department may ask only about its own access to a patient's records.")
NO_EMERGENCY_CLAIMS = N_("Your department may not claim an emergency for a patient.")
NO_EMERGENCY_CLAIMS_NEXT = N_("Ask the patient for consent. Or ask your administrator to let your "
                              "department claim emergencies.")
REASONS = [N_("unknown department"), N_("the department is not active"),
           N_("not a department that can receive records"), N_("unknown purpose"),
           N_("unknown data class or label"),
           N_("must be a non-empty list"), N_("must be a list of codes"),
           N_("the end is not after the start"), N_("the end is in the past"),
           N_("a patient id is required"), N_("a written reason is required"),
           N_("must be a whole number from 1 to 240"), N_("must be a date"),
           N_("must be a list of labels, each with a reason"), N_("unknown sensitivity label"),
           N_("a label is named twice"), N_("each label needs its own written reason"),
           N_("must be an object"), N_("the body is not a JSON object"), N_("must be true or false"),
           N_("a proxy grantee needs an id")]
# The bounds of contracts.limits (ID_MAX, REASON_MAX), as domain.model.within words them.
LENGTH_REASONS = [N_("must be at most 64 characters"), N_("must be at most 1000 characters")]


# -- sharing requests (services/consent/domain/sharing.py) ----------------------------------------
# What the patient reads: who asks, for what, why, for how long, and the consent they would give.
SHARING_STATUS = {"pending": N_("Waiting for your answer"), "approved": N_("You said yes"),
                  "declined": N_("You said no"), "expired": N_("No longer open")}
SHARING_SUMMARY = N_("{department} asks to see your {classes} {purposes}.")
SHARING_ASKER = N_("{role} at {department}")
SHARING_ASKER_UNKNOWN = N_("Staff at {department}")
SHARING_DAYS = N_("For {days} days after you say yes")
SHARING_ONE_DAY = N_("For one day after you say yes")
SHARING_UNTIL = N_("Until {end}")
SHARING_THEIR_WORDS = N_("Why they ask, in their own words:")
SHARING_NEXT = {
    "pending": N_("Read the consent below, then say yes or no. Nothing is shared unless you say yes."),
    "approved": N_("You can take this back at any time from your list of consents."),
    "declined": N_("Nothing was shared. You can still share later if you change your mind."),
    "expired": N_("You can no longer answer this. Nothing was shared."),
}
SHARING_NOT_FOUND = N_("There is no request with this id that you may see.")
SHARING_NOT_FOUND_NEXT = N_("Go back to your list of requests and pick one from there.")
SHARING_ANSWERED = N_("This request was already answered.")
SHARING_ANSWERED_NEXT = N_("Look at your list of consents to see what you share.")
SHARING_EXPIRED = N_("This request is no longer open, so it cannot be answered.")
SHARING_EXPIRED_NEXT = N_("If you still want to share, you can add a consent yourself.")
SHARING_TEXT_CHANGED = N_("The words of this consent changed since you read them.")
SHARING_TEXT_CHANGED_NEXT = N_("Read the new words, then answer again.")

# What the department's staff read (the console shows these words as they come).
STAFF_STATUS = {"pending": N_("Waiting for the patient"), "approved": N_("The patient said yes"),
                "declined": N_("The patient said no"), "expired": N_("Closed without an answer")}
STAFF_NEXT = {
    "pending": N_("Wait for the patient to answer. They can answer until {date}."),
    "approved": N_("Ask for the records again. The patient's consent now allows it."),
    "declined": N_("The patient said no. Do not ask again for the same records unless your reason changes."),
    "expired": N_("The patient did not answer in time. Ask again only if you still need the records."),
}
STAFF_ONLY = N_("Only a member of a department's staff can do this.")
STAFF_NOT_FOUND = N_("Your department has no sharing request with this id.")
STAFF_NOT_A_GRANTEE = N_("Your department may not hold a patient's consent, so it cannot ask for one.")
STAFF_DUPLICATE = N_("Your department already asked this patient to share these records for this purpose.")
STAFF_DUPLICATE_NEXT = N_("Wait for the patient to answer that request.")
STAFF_TOO_MANY = N_("Your department already has {count} requests waiting for this patient.")
STAFF_TOO_MANY_NEXT = N_("Wait for the patient to answer one of them.")
CHECK_FIELDS = N_("Check these fields: {fields}.")
SHARING_REASONS = [N_("name exactly one purpose"), N_("give either a number of days or an end date"),
                   N_("must be a whole number from 1 to 366"), N_("must be within a year"),
                   N_("must be the id of an exchange request")]


def role_name(role: str | None, locale: str) -> str | None:
    return t(v.ROLE_NAMES[role], locale) if role in v.ROLE_NAMES else None


def sharing_period(request, locale: str) -> dict:
    """How long the consent would last: days from the answer, or until a date, with its words."""
    if request.days is not None:
        words = t(SHARING_ONE_DAY, locale) if request.days == 1 else t(SHARING_DAYS, locale, days=request.days)
        return {"days": request.days, "end": None, "display": words}
    return {"days": None, "end": date_block(request.end, locale),
            "display": t(SHARING_UNTIL, locale, end=long_date(request.end, locale))}


def _coded_lists(request, locale: str) -> dict:
    return {"purposes": [coded(v.PURPOSE_SYSTEM, p, t(v.PURPOSE_NAMES[p], locale)) for p in request.purposes],
            "classes": [coded(v.LABEL_SYSTEM if v.is_label(c) else v.RESOURCE_SYSTEM, c,
                              t(v.CLASS_NAMES[c], locale)) for c in request.classes]}


def sharing_summary(request, locale: str, names: Names) -> str:
    """One plain sentence: who asks to see what and why (the kinds counted when naming them all
    would read above grade 8)."""
    department = names.name(request.department, locale)
    purposes = purpose_list(request.purposes, locale)
    options = [t(SHARING_SUMMARY, locale, department=department, classes=c, purposes=purposes)
               for c in (class_list(request.classes, locale),
                         t(MANY_CLASSES, locale, count=len(request.classes)))]
    return next((text for text in options if plain_enough(text, locale)), options[-1])


def patient_sharing_view(request, status: str, locale: str, names: Names, consent: Consent | None) -> dict:
    """A sharing request as the patient reads it; CONSENT is the one a yes now would grant (its
    exact text is shown), None once the request cannot be approved."""
    department = names.name(request.department, locale)
    role = role_name(request.requested_by.role, locale)
    asker = (t(SHARING_ASKER, locale, role=role, department=department) if role
             else t(SHARING_ASKER_UNKNOWN, locale, department=department))
    return {
        "id": request.id,
        "summary": sharing_summary(request, locale, names),
        "status": {"code": status, "status_text": t(SHARING_STATUS[status], locale)},
        "department": {"id": request.department, "display": department},
        "asked_by": {"role": {"code": request.requested_by.role, "display": role} if role else None,
                     "display": asker},
        **_coded_lists(request, locale),
        "period": sharing_period(request, locale),
        "reason": {"intro": t(SHARING_THEIR_WORDS, locale), "quote": request.reason},
        "consent_text": ({"language": consent.language, "text": consent.text, "sha256": consent.text_sha256}
                         if consent is not None else None),
        "created": date_block(request.created_at, locale),
        "expires": date_block(request.expires_at, locale),
        "answered": date_block(request.answered_at, locale),
        "consent_id": request.consent_id,
        "next_step": t(SHARING_NEXT[status], locale),
    }


def staff_sharing_view(request, status: str, locale: str, names: Names) -> dict:
    """A sharing request as its department's staff read it, with what to do next."""
    return {
        "id": request.id,
        "patient": request.patient,
        "department": {"id": request.department, "display": names.name(request.department, locale)},
        "requested_by": request.requested_by.as_dict(),
        **_coded_lists(request, locale),
        "period": sharing_period(request, locale),
        "reason": request.reason,
        "exchange_request": request.exchange_request,
        "status": {"code": status, "status_text": t(STAFF_STATUS[status], locale)},
        "created": date_block(request.created_at, locale),
        "expires": date_block(request.expires_at, locale),
        "answered": date_block(request.answered_at, locale),
        "answered_by": request.answered_by.as_dict() if request.answered_by else None,
        "consent_id": request.consent_id,
        "next_step": t(STAFF_NEXT[status], locale, date=long_date(request.expires_at, locale)),
    }
