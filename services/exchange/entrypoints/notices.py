"""How my notices reach me: /patient/v1/notification-preferences (contracts/operations/notices.py).

The person is the token's: the patient, or the caregiver acting for them (``act.sub``); each
keeps their own addresses and choices for that patient. An address gets a code when it is
added; no notice goes to it before the code comes back.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify

from contracts.schemas import notices as s
from services.common import i18n
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common.problem import Problem
from services.exchange.adapters.senders import Refused, Retry
from services.exchange.domain import notices as n
from services.exchange.entrypoints.common import load, service
from services.exchange.service_layer import notice_choices as choices
from services.exchange.service_layer.delivery import compose_code
from services.exchange.service_layer.flow import utc_now

log = logging.getLogger(__name__)
blp = Blueprint("notices", __name__)
PATH = "/patient/v1/notification-preferences"

TOPIC_WORDS = {
    "record-seen": (N_("Someone saw your record"),
                    N_("A department got some of your records.")),
    "emergency": (N_("Emergency access"),
                  N_("A department opened your records in an emergency, and what we found when we checked.")),
    "sharing": (N_("Sharing"),
                N_("You shared or stopped sharing, a consent ended, or a department asks you to share.")),
    "account": (N_("Your requests"),
                N_("Answers to your requests to fix a record, and to your reports.")),
}
VERIFIED, WAITING = N_("Confirmed"), N_("Waiting for the code")
INVALID_TEXT = {
    "choice": N_("Pick in the app only, email or text message for each topic."),
    "no-address": N_("Add and confirm an address first. Then you can get notices there."),
    "address": N_("Type an email address, or a mobile number that starts with + and the country code."),
    "code": N_("That code is not right, or it is too old. Check it or ask for a new one."),
}


def register(app: Flask) -> None:
    app.register_blueprint(blp)


def _who() -> tuple[str, str, i18n.Language]:
    """The token's patient, the person acting (a caregiver's act.sub, else sub), and the language.

    Reading needs the right to change too (patient/Communication.u): the addresses are a person's
    contact details, not their record, and a patient's app holding patient/*.rs must not read
    them (gateway/authz/registration.py never gives an app a write scope)."""
    claims = require_scope("patient", "Communication", "u")
    patient = claims.get("patient")
    language = i18n.use_preferred(claims.get("locale"))
    if not patient:
        raise Problem(403, N_("Forbidden"), N_("This token is not linked to a patient record."),
                      next_step=N_("Sign in to the patient portal again."))
    person = (claims.get("act") or {}).get("sub") or claims.get("sub")
    return str(patient), str(person), language


def _address(contact: n.Contact, lang: str) -> dict:
    return {"id": contact.id, "channel": contact.channel, "address": contact.address,
            "verified": contact.verified, "status": i18n.translate(VERIFIED if contact.verified else WAITING, lang)}


def _preferences(patient: str, person: str, language: i18n.Language):
    lang = language.used
    with service().uow(write=False) as uow:
        chosen, contacts = choices.preferences(uow, patient, person)
    topics = [{"topic": t, "channel": chosen[t], "title": i18n.translate(TOPIC_WORDS[t][0], lang),
               "text": i18n.translate(TOPIC_WORDS[t][1], lang), "always_in_app": t in n.PROTECTED}
              for t in n.TOPICS]
    return jsonify({"topics": topics, "addresses": [_address(c, lang) for c in contacts],
                    "language": i18n.language_block(language)})


def _invalid(exc: choices.Invalid) -> Problem:
    return Problem(422, N_("Unprocessable Content"), INVALID_TEXT[exc.reason], slug="invalid-input",
                   fields=exc.fields, next_step=INVALID_TEXT[exc.reason])


def _not_found() -> Problem:
    return Problem(404, N_("Not Found"), N_("You have no address with this id."),
                   next_step=N_("Go back to Notices and try again."))


def _too_soon() -> Problem:
    return Problem(429, N_("Too Many Requests"), N_("We sent a code a moment ago."),
                   next_step=N_("Wait a minute for it. Then ask for a new one if it did not come."),
                   headers={"Retry-After": str(n.CODE_GAP_SECONDS)})


def _send_code(contact: n.Contact, code: str) -> None:
    """Send CODE to the address now, so the person can type it while the page is open."""
    try:
        service().notice_senders[contact.channel].send(compose_code(contact, code))
    except (Retry, Refused) as exc:
        # The server's words may repeat the address: the log names the contact's id, not them.
        log.warning("verification code for %s address %s not sent (%s)", contact.channel, contact.id,
                    type(exc).__name__)
        raise Problem(503, N_("Service Unavailable"), N_("We could not send the code just now."),
                      next_step=N_("Check the address, then ask for a new code in a few minutes."),
                      address=contact.id) from exc


@blp.get(PATH)
def get_preferences():
    patient, person, language = _who()
    return _preferences(patient, person, language)


@blp.put(PATH)
def put_preferences():
    patient, person, language = _who()
    body = load(s.ChoicesBodySchema())
    try:
        with service().uow() as uow:
            choices.choose(uow, patient, person, body["choices"], utc_now())
    except choices.Invalid as exc:
        raise _invalid(exc) from exc
    return _preferences(patient, person, language)


@blp.post(f"{PATH}/addresses")
def add_address():
    patient, person, language = _who()
    body = load(s.AddressBodySchema())
    try:
        with service().uow() as uow:
            contact, code = choices.add_address(uow, patient, person, body["channel"], body["address"],
                                                language.used, utc_now())
    except choices.Invalid as exc:
        raise _invalid(exc) from exc
    except choices.TooSoon as exc:
        raise _too_soon() from exc
    _send_code(contact, code)
    return jsonify(_address(contact, language.used)), 201


@blp.post(f"{PATH}/addresses/<contact_id>/verify")
def verify_address(contact_id: str):
    patient, person, language = _who()
    body = load(s.CodeBodySchema())
    try:
        with service().uow() as uow:
            contact = choices.verify(uow, patient, person, contact_id, body["code"], utc_now())
    except choices.NotYours as exc:
        raise _not_found() from exc
    if contact is None:
        raise _invalid(choices.Invalid("code", ["code"]))
    return jsonify(_address(contact, language.used))


@blp.post(f"{PATH}/addresses/<contact_id>/resend")
def resend_code(contact_id: str):
    patient, person, language = _who()
    try:
        with service().uow() as uow:
            contact, code = choices.new_code(uow, patient, person, contact_id, utc_now())
    except choices.NotYours as exc:
        raise _not_found() from exc
    except choices.TooSoon as exc:
        raise _too_soon() from exc
    if code:
        _send_code(contact, code)
    return jsonify(_address(contact, language.used))


@blp.delete(f"{PATH}/addresses/<contact_id>")
def remove_address(contact_id: str):
    patient, person, _language = _who()
    try:
        with service().uow() as uow:
            choices.remove_address(uow, patient, person, contact_id, utc_now())
    except choices.NotYours as exc:
        raise _not_found() from exc
    return "", 204
