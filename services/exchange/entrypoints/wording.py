"""The exchange service's words: reasons for departments, plain sentences for patients.

Departments are named by the directory (their names in each language are data: a NAMES
function such as ``Directory.name`` is passed in); purposes and record kinds with the message
ids of ``contracts/vocabulary.py`` (the shared catalog); every other text is an English msgid
marked with N_ and translated from the service's catalog.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Callable

from babel.dates import format_date, format_timedelta
from babel.lists import format_list

from contracts import vocabulary as v
from services.common.i18n import N_, translate

#: A department's display name: NAMES(department id, language), e.g. ``Directory.name``.
Names = Callable[[str | None, str], str]

OUTCOMES = {
    "pending": N_("The request is being handled."),
    "released": N_("The records were released."),
    "no-consent": N_("The patient has not agreed to share these records with you for this purpose."),
    "consent-withdrawn": N_("The patient withdrew consent before release, so nothing was released."),
    "consent-narrowed": N_("The patient's consent changed before release, so nothing was released. Ask again."),
    "consent-unavailable": N_("The consent service did not answer in time, so nothing was released."),
    "records-unavailable": N_("The records service did not answer in time, so nothing was released."),
    "refused-by-consent": N_("The consent service could not judge this request, so nothing was released."),
    "department-disabled": N_("This department was closed in the directory, so nothing was released."),
}

OTHER_RECORDS = N_("Other records")

#: What the member of staff who asked can do next, by outcome code (domain/staff.py NEXT_STEPS
#: gives the step's code); {kinds} are the kinds of record asked for, {department} the asker.
NEXT_STEP_TEXTS = {
    "pending": N_("Nothing to do yet. Look again in a minute."),
    "released": N_("Nothing to do. The records were released."),
    "no-consent": N_("The patient has not shared {kinds} with {department}. You can ask them to share."),
    "consent-withdrawn": N_("The patient stopped sharing {kinds} with {department}. You can ask them to share again."),
    "consent-narrowed": N_("The patient changed what they share. Ask for the records again."),
    "consent-unavailable": N_("A service did not answer, so nothing was shared. Try again in a few minutes."),
    "records-unavailable": N_("A service did not answer, so nothing was shared. Try again in a few minutes."),
    "refused-by-consent": N_("A service did not answer, so nothing was shared. Try again in a few minutes."),
    "department-disabled": N_("{department} is closed in the directory. Nothing more can be done."),
}

DISCLOSURE_TITLE = N_("{department} saw your records")
DISCLOSURE_SUMMARY = N_("{department} got {count} of your records {purpose}.")
CONSENT_TEXT = N_("Your consent allowed it.")
EMERGENCY_TEXT = N_("Emergency access. We will check it was needed.")
WITHHELD_NONE = N_("No private records were kept back.")
WITHHELD_SOME = N_("{count} private records were kept back.")

NOTICES = {
    "disclosure": (DISCLOSURE_TITLE, DISCLOSURE_SUMMARY),
    "break-glass": (N_("Emergency access to your records"),
                    N_("{department} opened your records in an emergency. We will check it.")),
    "consent-granted": (N_("You shared your records"), N_("You let {department} see some of your records.")),
    "consent-revoked": (N_("You stopped sharing"), N_("{department} can no longer see your records.")),
    "consent-expired": (N_("A consent ended"), N_("Your consent for {department} has ended.")),
    "amendment-accepted": (N_("Your correction request was accepted"),
                           N_("{department} agreed to correct your record.")),
    "amendment-rejected": (N_("Your correction request was turned down"),
                           N_("{department} did not change your record. You can ask them why.")),
    "amendment-completed": (N_("Your record was corrected"), N_("{department} corrected your record.")),
    "break-glass-justified": (N_("We checked the emergency access"),
                              N_("We checked the emergency access by {department}. It was needed to treat you.")),
    "break-glass-not-justified": (N_("We checked the emergency access"),
                                  N_("We checked the emergency access by {department}. We found it was not "
                                     "needed. We are looking into it.")),
    "sharing-requested": (N_("A request to share your records"),
                          N_("{department} asks you to share {kinds} {purpose}. Open the portal to answer.")),
    "sharing-approved": (N_("You answered a request to share"),
                         N_("You agreed to share your records with {department}.")),
    "sharing-declined": (N_("You answered a request to share"),
                         N_("You said no to sharing your records with {department}.")),
    "department-disabled": (N_("A request for your records was stopped"),
                            N_("{department} asked for your records. It was closed before it got them, "
                               "so nothing was shared.")),
    "report-closed": (N_("Your report was closed"),
                      N_("We closed your report {reference}. See what we did under My reports.")),
}
A_CAREGIVER = N_("A caregiver")
# The patient's receipt after a consent ended (service_layer/receipts.py): {departments} is the
# list of departments told, each also named with the date in the item's "told".
NOTICES.update({
    "receipt-revoked": (N_("We told who had your records"),
                        N_("You stopped sharing. We told {departments}. They got some of your records before.")),
    "receipt-expired": (N_("We told who had your records"),
                        N_("Your consent ended. We told {departments}. They got some of your records before.")),
})

#: A department's inbox notice when a consent it received records under ended ({department}: its name).
ENDED_NOTICES = {
    "consent-revoked": (N_("The patient stopped sharing"),
                        N_("The patient stopped sharing records with {department}. You got records under "
                           "this consent before it ended. Ask the patient before you ask for more.")),
    "consent-expired": (N_("The patient's consent ended"),
                        N_("The patient's consent for {department} ended. You got records under this "
                           "consent before it ended. Ask the patient before you ask for more.")),
}
#: A notice's webhook delivery, in words (domain/receipts.py states).
DELIVERY_STATES = {"pending": N_("Being sent"), "delivered": N_("Sent"),
                   "failed": N_("Could not be sent. We stopped trying.")}

#: How a notice went out beyond the app: (channel, delivery status) -> words.
DELIVERY_TEXT = {
    ("email", "pending"): N_("We are still trying to send this by email."),
    ("email", "delivered"): N_("Sent to you by email."),
    ("email", "dead"): N_("We could not send this by email."),
    ("sms", "pending"): N_("We are still trying to send this by text message."),
    ("sms", "delivered"): N_("Sent to you by text message."),
    ("sms", "dead"): N_("We could not send this by text message."),
}
IN_APP_ONLY = N_("Shown here only.")

#: A privacy officer's finding on a break-the-glass claim, in words.
REVIEW_OUTCOMES = {"justified": N_("The emergency access was needed."),
                   "not-justified": N_("The emergency access was not needed.")}
#: What a privacy officer does next with a claim: by domain/staff.py state (open, overdue, reviewed).
REVIEW_NEXT_STEPS = {
    "review": N_("Read the reason and what was shared. Then record if it was needed."),
    "review-now": N_("This review is late. Read the reason and what was shared today."),
    "none": N_("Nothing more to do. The review is recorded."),
}


def t(message: str, lang: str, **params) -> str:
    return translate(message, lang, **params)


def outcome(code: str | None, lang: str) -> dict:
    code = code or "pending"
    return {"code": code, "text": t(OUTCOMES.get(code, OUTCOMES["pending"]), lang)}


def department(department_id: str | None, lang: str, names: Names) -> str:
    """The department's name in LANG, as the directory gives it (NAMES); a department it never
    held is named by its id."""
    return names(department_id, lang) or (department_id or "")


def purpose_coding(code: str, lang: str) -> dict:
    return {"system": v.PURPOSE_SYSTEM, "code": code,
            "display": t(v.PURPOSE_NAMES.get(code, code), lang)}


def purpose_phrase(code: str, lang: str) -> str:
    return t(v.PURPOSE_PHRASES.get(code, v.PURPOSE_PHRASES["TREAT"]), lang)


def record_kind(resource_type: str, lang: str) -> dict:
    """Name a kind of record as a list item: the contract's class name with a capital letter."""
    name = v.CLASS_NAMES.get(resource_type)
    display = t(name, lang) if name else t(OTHER_RECORDS, lang)
    return {"system": v.RESOURCE_SYSTEM, "code": resource_type, "display": display[:1].upper() + display[1:]}


def long_date(value: datetime | str, lang: str) -> dict:
    """A display date (PATIENT_FACING.md): ISO 8601 and the long form in LANG."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    day = moment.date() if isinstance(moment, datetime) else moment
    return {"iso": moment.isoformat(), "display": format_date(day if isinstance(day, date) else moment,
                                                              format="long", locale=lang)}


def kinds_phrase(codes: list[str], lang: str) -> str:
    """The kinds of record CODES (resource types, sensitivity labels) inside a sentence, as a
    list in LANG: "lab results and vaccines"."""
    names = [t(v.CLASS_NAMES[c], lang) if c in v.CLASS_NAMES else t(OTHER_RECORDS, lang).lower()
             for c in dict.fromkeys(codes)]
    return format_list(names, locale=lang) if names else t(OTHER_RECORDS, lang).lower()


def next_step_text(outcome: str | None, codes: list[str], department_name: str, lang: str) -> str:
    """What the person who asked can do after OUTCOME, in LANG, naming what was asked (CODES) and
    who asked (DEPARTMENT_NAME)."""
    message = NEXT_STEP_TEXTS.get(outcome or "pending", NEXT_STEP_TEXTS["pending"])
    return t(message, lang, kinds=kinds_phrase(codes, lang), department=department_name)


def duration(delta: timedelta, lang: str) -> str:
    """A length of time in words in LANG ("3 days", "5 hours")."""
    return format_timedelta(delta, locale=lang, threshold=2)


def label_coding(label: str, lang: str) -> dict:
    """A sensitivity label as a list item: its class name with a capital letter."""
    name = v.CLASS_NAMES.get(label)
    display = t(name, lang) if name else label
    return {"system": v.LABEL_SYSTEM, "code": label, "display": display[:1].upper() + display[1:]}
