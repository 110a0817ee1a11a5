"""Use cases of the patient-facing API: my details, my records in plain words, my entries and
my correction requests. Every use case is confined to one patient's compartment."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from services.common import i18n, paging
from services.common.directory import Directory
from services.common.envelope import new_event
from services.common.i18n import N_
from services.common.lru import LruCache
from services.records.adapters import patient_queries as q
from services.records.adapters.repository import SqlResourceRepository, StoredResource
from services.records.domain import corrections as rules
from services.records.domain import plain_language as pl
from services.records.domain.bundle import validate_resource
from services.records.service_layer.handlers import written_item

SOURCE = "/services/records"
TOPIC = "phr.records.v1"
DEFAULT_PAGE, MAX_PAGE = paging.DEFAULT_PAGE, paging.MAX_PAGE
TASK_TYPES = ("Task",)
INTERPRETER_URL = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"

AMENDMENT_STATUS = {
    "draft": N_("Not sent yet"), "requested": N_("Sent. Waiting for review."),
    "received": N_("Received. Waiting for review."), "accepted": N_("Accepted. We will fix it."),
    "rejected": N_("Not accepted"), "cancelled": N_("Cancelled"),
    "in-progress": N_("Being fixed"), "completed": N_("Done. Your record was corrected."),
    "on-hold": N_("On hold"), "failed": N_("Could not be done"),
}
YOUR_DETAILS = N_("Your personal details")
MAY_DISAGREE = N_("If you do not agree, you can tell us why. We will keep your words with this record.")
STATEMENT_KEPT = N_("We keep your words with this record. They go with it each time it is shared.")
# Two short sentences: a long clinical title after a colon made one sentence past grade 8.
AMENDMENT_SUMMARY = N_("You asked {department} to fix a record. It is about: {title}.")


class NotFound(Exception):
    """Nothing the patient may see has that id (or the patient has no record here)."""


BadCursor = paging.BadCursor


# -- language -----------------------------------------------------------------------------------

def translator(locale: str):
    """Return translate(message, **params) into LOCALE (the shared and this service's catalogs)."""

    def translate(message: str, **params) -> str:
        return i18n.translate(message, locale, **params)

    return translate


def department_names(directory: Directory, locale: str) -> pl.Names:
    """Return names(department id) in LOCALE from the service's copy of the directory; None for
    a department it does not hold (the item then shows the id in words, plain_language.source).
    A disabled department keeps its name: the records it kept are still the patient's."""

    def name(department: str) -> str | None:
        found = directory.get(department)
        return found.name(locale) if found is not None else None

    return name


def directory_stamp(directory: Directory) -> tuple:
    """What changes whenever an entry of the directory changes (each entry's version grows)."""
    return tuple((d.id, d.version) for d in directory.all())


def preferred_language(patient: dict | None) -> str | None:
    """Return the BCP 47 code of the patient's preferred language (FHIR Patient.communication)."""
    comms = [c for c in (patient or {}).get("communication") or [] if isinstance(c, dict)]
    comms.sort(key=lambda c: not c.get("preferred", False))
    for comm in comms:
        for coding in (comm.get("language") or {}).get("coding") or []:
            if coding.get("code"):
                return coding["code"]
    return None


def patient_language(uow, patient_id: str) -> str | None:
    with uow:
        stored = q.patient(uow.conn, patient_id)
    return preferred_language(stored.body()) if stored else None


# -- me -----------------------------------------------------------------------------------------

def me(uow, patient_id: str, lang: i18n.Language, directory: Directory) -> tuple[dict, str]:
    """Return (my details, their ETag) or raise NotFound."""
    with uow:
        stored = q.patient(uow.conn, patient_id)
    if stored is None:
        raise NotFound(patient_id)
    patient = stored.body()
    t = translator(lang.used)
    preferred = preferred_language(patient)
    flag = next((e.get("valueBoolean") for e in patient.get("extension") or []
                 if isinstance(e, dict) and e.get("url") == INTERPRETER_URL), None)
    if flag is None:  # not recorded: assume an interpreter helps when we cannot speak their language
        flag = preferred is not None and i18n.negotiate(None, preferred).fallback
    body = {"id": patient_id, "name": _name(patient),
            "birth_date": pl.long_date(patient.get("birthDate"), lang.used),
            "preferred_language": {"code": preferred,
                                   "display": i18n.language_name(preferred, lang.used) if preferred else None},
            "interpreter_needed": bool(flag), "proxies": [],
            "custodian": pl.source(stored.custodian, department_names(directory, lang.used)),
            "language": i18n.language_block(lang)}
    return body, _etag("me", patient_id, stored.version_id, lang, body["custodian"]["display"])


def display_name(patient: dict) -> str:
    """The patient's name as people read it (the official name first)."""
    return _name(patient)


def _name(patient: dict) -> str:
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    names.sort(key=lambda n: n.get("use") != "official")
    for n in names:
        if n.get("text"):
            return n["text"]
        parts = [*(n.get("given") or []), n.get("family") or ""]
        if any(parts):
            return " ".join(p for p in parts if p)
    return ""


# -- records ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListRecords:
    """Query: one page of my records, newest first."""

    patient_id: str
    lang: i18n.Language
    category: str | None = None
    cursor: str | None = None
    limit: int = DEFAULT_PAGE


#: Pages built recently, by (patient, ETag): the ETag names the page's whole state, so a page
#: read again (a reload, a patient paging back) is neither queried nor mapped again.
_pages: LruCache[dict] = LruCache(256)


def list_records(uow, query: ListRecords, vocab: pl.Vocabulary, directory: Directory,
                 if_none_match: str | None = None) -> tuple[str, dict | None]:
    """Return (ETag, {items, next, language}) for one page, newest first; the body is None
    when IF_NONE_MATCH already names this page (RFC 9110 section 13.1.2).

    Items name their departments, so the page's state is the compartment's and the directory's.
    """
    after = decode_cursor(query.cursor) if query.cursor else None
    with uow:
        stamp = (q.stamp(uow.conn, query.patient_id), directory_stamp(directory))
        etag = _etag("records", query.patient_id, stamp, query.lang, query.category,
                     query.cursor, query.limit)
        if if_none_match and etag in [v.strip() for v in if_none_match.split(",")]:
            return etag, None
        cached = _pages.get((query.patient_id, etag))
        if cached is not None:
            return etag, cached
        rows = q.page(uow.conn, query.patient_id, pl.VISIBLE_TYPES, query.limit + 1, query.category,
                      tuple(after) if after is not None else None)
    page, more = rows[:query.limit], len(rows) > query.limit
    t, names = translator(query.lang.used), department_names(directory, query.lang.used)
    return etag, _pages.put((query.patient_id, etag), {
        "items": [pl.to_item(row.body(), row.custodian, query.lang.used, vocab, t, names) for row, _key in page],
        "next": encode_cursor(list(page[-1][1])) if more and page else None,
        "language": i18n.language_block(query.lang)})


def read_record(uow, patient_id: str, record_id: str, lang: i18n.Language,
                vocab: pl.Vocabulary, directory: Directory) -> tuple[str, dict]:
    """Return (ETag, one of my records in plain words) or raise NotFound."""
    rtype, _, rid = record_id.rpartition("/")
    with uow:
        row = q.own_record(uow.conn, patient_id, rid, rtype or None)
        if row is None or row.resource_type not in pl.VISIBLE_TYPES or pl.kind_of(row.body()) is None:
            raise NotFound(record_id)
        reference = f"{row.resource_type}/{row.id}"
        statements = [d for d in statements_of(uow.conn, patient_id) if rules.statement_about(d) == reference]
    item = pl.to_item(row.body(), row.custodian, lang.used, vocab, translator(lang.used),
                      department_names(directory, lang.used))
    if statements:  # the patient's statements of disagreement are shown with the record
        item["disagreements"] = [statement_item(d, lang.used) for d in statements]
    return (_etag("record", row.resource_type, row.id, row.version_id, lang, item["source"]["display"],
                  [d["id"] for d in statements]),
            {**item, "language": i18n.language_block(lang)})


def encode_cursor(key: list) -> str:
    """Return the cursor that resumes my records after KEY (date, resource type, id)."""
    return paging.encode("records", *key)


def decode_cursor(cursor: str) -> list:
    """Return the key a records cursor resumes after, or raise BadCursor (services.common.paging)."""
    return paging.decode(cursor, "records", str, str, str)


def _etag(*parts) -> str:
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
    return f'W/"{digest}"'


# -- entries ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AddEntry:
    """Command: store a home reading or a symptom note the patient entered."""

    patient_id: str
    data: dict  # loaded by contracts.schemas.patient_records.EntryRequestSchema


ENTRY_CODES = {
    "blood-pressure": ("http://loinc.org", "55284-4", "Blood Pressure", "vital-signs"),
    "weight": ("http://loinc.org", "29463-7", "Body Weight", "vital-signs"),
    "glucose:mg/dL": ("http://loinc.org", "2339-0", "Glucose [Mass/volume] in Blood", "laboratory"),
    "glucose:mmol/L": ("http://loinc.org", "15074-8", "Glucose [Moles/volume] in Blood", "laboratory"),
    "symptom": ("http://loinc.org", "75325-1", "Symptom", "survey"),
}
UNIT_TEXT = {"mm[Hg]": "mm[Hg]", "kg": "kg", "[lb_av]": "lb", "mg/dL": "mg/dL", "mmol/L": "mmol/L"}


def entry_observation(cmd: AddEntry, rid: str, now: datetime) -> dict:
    """Build the FHIR R4 Observation for an entry (patient as performer, tagged patient-reported)."""
    data = cmd.data
    kind = data["kind"]
    key = f"glucose:{data['unit']}" if kind == "glucose" else kind
    system, code, display, category = ENTRY_CODES[key]
    me = {"reference": f"Patient/{cmd.patient_id}"}
    obs = {"resourceType": "Observation", "id": rid,
           "meta": {"tag": [dict(pl.PATIENT_REPORTED)]},
           "status": "final",
           "category": [{"coding": [{"system": pl.OBSERVATION_CATEGORY, "code": category}]}],
           "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
           "subject": me, "performer": [me],
           "effectiveDateTime": (data.get("when") or now).isoformat(), "issued": now.isoformat()}
    if kind == "blood-pressure":
        obs["component"] = [
            {"code": {"coding": [{"system": "http://loinc.org", "code": c, "display": d}], "text": d},
             "valueQuantity": _ucum(data[name], "mm[Hg]")}
            for c, d, name in ((pl.SYSTOLIC, "Systolic Blood Pressure", "systolic"),
                               (pl.DIASTOLIC, "Diastolic Blood Pressure", "diastolic"))]
    elif kind == "symptom":
        obs["valueString"] = data["note"]
    else:
        obs["valueQuantity"] = _ucum(data["value"], data["unit"])
        if data.get("note"):
            obs["note"] = [{"text": data["note"]}]
    return obs


def _ucum(value, unit: str) -> dict:
    return {"value": value, "unit": UNIT_TEXT.get(unit, unit), "system": "http://unitsofmeasure.org",
            "code": unit}


def add_entry(cmd: AddEntry, uow, vocab: pl.Vocabulary, directory: Directory, lang: i18n.Language) -> dict:
    """Store the entry in the patient's compartment under the patient's custodian; return the item."""
    now = datetime.now(timezone.utc)
    with uow:
        patient = q.patient(uow.conn, cmd.patient_id)
        if patient is None:
            raise NotFound(cmd.patient_id)
        content = entry_observation(cmd, str(uuid.uuid4()), now)
        problems = validate_resource(content, "Observation")
        if problems:  # our own mapping is wrong: never store an invalid resource
            raise ValueError("; ".join(f"{p.expression}: {p.message}" for p in problems))
        content["meta"].update(versionId="1", lastUpdated=now.isoformat())
        stored = StoredResource("Observation", content["id"], 1, now, cmd.patient_id,
                                patient.custodian, content=content)
        uow.resources.add(stored)
        uow.publish(TOPIC, new_event("phr.records.imported", SOURCE, cmd.patient_id, {
            "patient": cmd.patient_id, "custodian": patient.custodian, "resource_count": 1,
            "resource_types": {"Observation": 1}, "imported_at": now.isoformat(),
            "demographics": {},  # no Patient in this import: consumers keep what they knew
            "resources": [written_item("Observation", content["id"], content)]}))
    return pl.to_item(content, patient.custodian, lang.used, vocab, translator(lang.used),
                      department_names(directory, lang.used))


# -- amendments ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RequestAmendment:
    """Command: ask the custodian of one of my records to correct it."""

    patient_id: str
    record_id: str
    what_is_wrong: str
    correction: str
    proxy: str | None = None  # the caregiver's account id when a caregiver asks for the patient


CAREGIVER_SYSTEM = "https://phr.example.org/caregivers"
ENTERED_BY_PROXY = {"system": "https://phr.example.org/fhir/CodeSystem/record-source",
                    "code": "entered-by-proxy", "display": "Entered by a caregiver for the patient"}
TASK_CODE = {"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "change",
             "display": "Change the focal resource"}
DEPARTMENT_SYSTEM = "https://phr.example.org/departments"
INPUT_WHAT = {"text": "What is wrong"}
INPUT_CORRECTION = {"text": "Correction asked for"}


def request_amendment(cmd: RequestAmendment, uow, vocab: pl.Vocabulary, directory: Directory,
                      lang: i18n.Language) -> dict:
    """Store a Task for the record's custodian (FHIR R4 Task, code `change`); return it in plain words."""
    rtype, _, rid = cmd.record_id.rpartition("/")
    now = datetime.now(timezone.utc)
    with uow:
        record = q.own_record(uow.conn, cmd.patient_id, rid, rtype or None)
        if record is None or record.resource_type == "Task":
            raise NotFound(cmd.record_id)
        me = {"reference": f"Patient/{cmd.patient_id}"}
        task = {"resourceType": "Task", "id": str(uuid.uuid4()),
                "meta": {"versionId": "1", "lastUpdated": now.isoformat(),
                         "tag": [dict(pl.PATIENT_REPORTED)]},
                "status": "requested", "intent": "order",
                "code": {"coding": [TASK_CODE], "text": "Correction request"},
                "description": "The patient asks for a correction of this record.",
                "focus": {"reference": f"{record.resource_type}/{record.id}"},
                "for": me, "requester": me,
                "owner": {"identifier": {"system": DEPARTMENT_SYSTEM, "value": record.custodian},
                          "display": record.custodian},
                "authoredOn": now.isoformat(), "lastModified": now.isoformat(),
                "input": [{"type": INPUT_WHAT, "valueString": cmd.what_is_wrong},
                          {"type": INPUT_CORRECTION, "valueString": cmd.correction}]}
        if cmd.proxy:
            task["requester"] = {"identifier": {"system": CAREGIVER_SYSTEM, "value": cmd.proxy},
                                 "display": "A caregiver acting for the patient"}
            task["meta"]["tag"].append(dict(ENTERED_BY_PROXY))
        problems = validate_resource(task, "Task")
        if problems:
            raise ValueError("; ".join(f"{p.expression}: {p.message}" for p in problems))
        uow.resources.add(StoredResource("Task", task["id"], 1, now, cmd.patient_id,
                                         record.custodian, content=task))
        uow.publish(TOPIC, new_event("phr.records.amendment-requested", SOURCE, cmd.patient_id, {
            "patient": cmd.patient_id, "custodian": record.custodian, "task": f"Task/{task['id']}",
            "record": f"{record.resource_type}/{record.id}", "requested_at": now.isoformat()}))
    return amendment_item(task, record, lang.used, vocab, directory)


def list_amendments(uow, patient_id: str, lang: i18n.Language, vocab: pl.Vocabulary,
                    directory: Directory) -> dict:
    """Return my correction requests, newest first, with their status in words."""
    with uow:
        tasks = [t for t in q.compartment(uow.conn, patient_id, TASK_TYPES)
                 if (t.body().get("code") or {}).get("coding", [{}])[0].get("code") == "change"]
        records = {}
        for task in tasks:
            ref = (task.body().get("focus") or {}).get("reference", "")
            rtype, _, rid = ref.partition("/")
            records[ref] = q.own_record(uow.conn, patient_id, rid, rtype)
        statements = {f"DocumentReference/{d['id']}": d for d in statements_of(uow.conn, patient_id)}
    items = [amendment_item(t.body(), records.get(t.body().get("focus", {}).get("reference", "")),
                            lang.used, vocab, directory, t.custodian,
                            statements.get(rules.correction_of(t.body()).statement or ""))
             for t in tasks]
    items.sort(key=lambda i: i["date"]["iso"] if i["date"] else "", reverse=True)
    return {"items": items, "next": None, "language": i18n.language_block(lang)}


def amendment_item(task: dict, record: StoredResource | None, lang: str, vocab: pl.Vocabulary,
                   directory: Directory, custodian: str | None = None, statement: dict | None = None) -> dict:
    t, names = translator(lang), department_names(directory, lang)
    inputs = {(i.get("type") or {}).get("text"): i.get("valueString") for i in task.get("input") or []}
    owner = (task.get("owner") or {}).get("identifier", {}).get("value") or custodian or ""
    focus = (task.get("focus") or {}).get("reference", "")
    if record is not None and pl.kind_of(record.body()):
        title = pl.to_item(record.body(), record.custodian, lang, vocab, t, names)["title"]
    elif record is not None and record.resource_type == "Patient":
        title = t(YOUR_DETAILS)
    else:
        title = focus
    source = pl.source(owner, names)
    code = task.get("status") or "requested"
    return {"id": task["id"], "record_id": focus.rpartition("/")[2], "record": focus, "title": title,
            "summary": t(AMENDMENT_SUMMARY, department=source["display"], title=title),
            "what_is_wrong": inputs.get(INPUT_WHAT["text"], ""),
            "correction": inputs.get(INPUT_CORRECTION["text"], ""),
            "date": pl.long_date(task.get("authoredOn"), lang),
            "status": {"code": code, "status_text": t(AMENDMENT_STATUS.get(code, pl.UNKNOWN_STATUS))},
            "source": source,
            "reason": (task.get("statusReason") or {}).get("text"),
            # After a denial the patient may file one statement of disagreement (45 CFR 164.526(d)).
            "can_disagree": code == "rejected" and statement is None,
            "next_step": t(MAY_DISAGREE) if code == "rejected" and statement is None else None,
            "disagreement": statement_item(statement, lang) if statement is not None else None}


def statements_of(conn, patient_id: str) -> list[dict]:
    """The patient's statements of disagreement (DocumentReferences; domain.corrections)."""
    found = SqlResourceRepository(conn).for_patient_containing(patient_id, "DocumentReference",
                                                               rules.DISAGREEMENT_TYPE["code"])
    return [d.body() for d in found if rules.is_statement(d.body())]


def statement_item(doc: dict, lang: str) -> dict:
    """A statement of disagreement as the patient reads it."""
    task = next((r.get("reference") for r in (doc.get("context") or {}).get("related") or []
                 if str(r.get("reference", "")).startswith("Task/")), None)
    return {"statement": rules.statement_text(doc), "date": pl.long_date(doc.get("date"), lang),
            "request": task.removeprefix("Task/") if task else None,
            "explanation": translator(lang)(STATEMENT_KEPT)}
