"""Patient-facing exchange API: my disclosures and my notifications, in plain words."""
from __future__ import annotations

from babel.lists import format_list
from flask import Blueprint, Flask, g, jsonify

from services.common import i18n
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common.problem import Problem
from services.exchange.domain.model import Notification
from services.exchange.entrypoints import wording as w
from services.exchange.entrypoints.common import next_cursor, page_args, service
from services.exchange.service_layer import queries


blp = Blueprint("patient", __name__)


def register(app: Flask) -> None:
    """Add the patient-facing routes to APP."""
    app.register_blueprint(blp)


def _patient(resource: str) -> tuple[str, i18n.Language]:
    """Return the token's patient and the language to answer in (header, else the locale claim)."""
    claims = require_scope("patient", resource, "s")
    patient = claims.get("patient")
    language = i18n.use_preferred(claims.get("locale"))
    if not patient:
        raise Problem(403, N_("Forbidden"), N_("This token is not linked to a patient record."),
                      next_step=N_("Sign in to the patient portal again."))
    return str(patient), language


def _page(name: str, items: list[dict], more: bool, offset: int, language: i18n.Language):
    return jsonify({"items": items, "next": next_cursor(name, offset, items, more),
                    "language": i18n.language_block(language)})


def disclosure(entry: dict, lang: str, names: w.Names) -> dict:
    """One ledger entry in plain words: who saw what, when, why, under which consent (the
    department named by NAMES, the directory's names)."""
    dept = w.department(entry["recipient"], lang, names)
    emergency = entry.get("basis") == "break-glass"
    withheld = int(entry.get("redacted_count") or 0)
    kinds = list(dict.fromkeys(entry.get("resource_types") or []))
    return {
        "id": str(entry["seq"]), "kind": "disclosure",
        "title": w.t(w.DISCLOSURE_TITLE, lang, department=dept),
        "summary": w.t(w.DISCLOSURE_SUMMARY, lang, department=dept, count=entry.get("resource_count", 0),
                       purpose=w.purpose_phrase(entry["purpose"], lang)),
        "date": w.long_date(entry["released_at"], lang),
        "recipient": {"department": entry["recipient"], "display": dept},
        "purpose": w.purpose_coding(entry["purpose"], lang),
        "records": [w.record_kind(kind, lang) for kind in kinds],
        "consent": {"id": entry.get("consent_id"), "version": entry.get("consent_version"),
                    "text": w.t(w.EMERGENCY_TEXT if emergency else w.CONSENT_TEXT, lang)},
        "withheld": {"count": withheld,
                     "text": w.t(w.WITHHELD_SOME if withheld else w.WITHHELD_NONE, lang, count=withheld)},
        "emergency": emergency,
        "ledger": {"seq": entry["seq"], "hash": entry["hash"]},
    }


@blp.get("/patient/v1/disclosures")
def disclosures():
    patient, language = _patient("AuditEvent")
    limit, offset = page_args("disclosures")
    entries, more = queries.disclosures(service().uow(write=False), patient, limit, offset)
    names = service().directory.name
    return _page("disclosures", [disclosure(e, language.used, names) for e in entries], more, offset, language)


def notification(row: Notification, lang: str, names: w.Names) -> dict:
    """One notification in plain words (a department named by NAMES, the directory's names)."""
    params = row.params
    if params.get("grantee_kind") == "proxy":
        who = w.t(w.A_CAREGIVER, lang)
    else:
        who = w.department(params.get("department"), lang, names)
    title, message = w.NOTICES[row.kind]
    told = [{"department": {"department": t["department"], "display": w.department(t["department"], lang, names)},
             "date": w.long_date(t["told_at"], lang)} for t in params.get("told") or []]
    values = dict(department=who, count=params.get("resource_count", 0),
                  departments=format_list([t["department"]["display"] for t in told], locale=lang) if told else "",
                  purpose=w.purpose_phrase(params.get("purpose", "TREAT"), lang),
                  kinds=w.kinds_phrase(params.get("classes") or [], lang), reference=params.get("reference", ""))
    item = {"id": row.id, "kind": row.kind, "title": w.t(title, lang, **values),
            "message": w.t(message, lang, **values), "date": w.long_date(row.created_at, lang)}
    if told:  # a receipt: each department told that the consent ended, and when
        item["told"] = told
    return item


def delivered(deliveries: list, lang: str) -> dict:
    """How a notice reached the person beyond the app, item by item and in one sentence."""
    items = [{"channel": d.channel, "status": d.status, "attempts": d.attempts,
              "text": w.t(w.DELIVERY_TEXT[(d.channel, d.status)], lang)} for d in deliveries]
    summary = " ".join(i["text"] for i in items) or w.t(w.IN_APP_ONLY, lang)
    return {"delivery": items, "delivery_text": summary}


@blp.get("/patient/v1/notifications")
def list_notifications():
    patient, language = _patient("Communication")
    limit, offset = page_args("notifications")
    rows, more = queries.notifications(service().uow(write=False), patient, limit, offset)
    deliveries = queries.deliveries(service().uow(write=False), [r.id for r in rows])
    # each reader sees how the notice reached them: the patient theirs, a caregiver their own
    person = (g.claims.get("act") or {}).get("sub") or g.claims.get("sub")
    names = service().directory.name
    items = [{**notification(r, language.used, names),
              **delivered([d for d in deliveries.get(r.id, []) if d.person == person], language.used)}
             for r in rows]
    return _page("notifications", items, more, offset, language)
