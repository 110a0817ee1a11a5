"""Use cases of the records service: each opens a unit of work, changes state, records events."""
from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from services.common.envelope import new_event
from services.records.adapters.repository import ClaimCheck, StoredResource
from services.records.domain import corrections, demographics
from services.records.domain.bundle import (EntryError, InvalidBundle, PlannedResource, parse_identifier_query,
                                            check_references, patient_of, plan_transaction,
                                            validate_resource)
from services.records.domain.search import SearchQuery, index_of
from services.records.domain.sensitivity import Labeller, labels_of

SOURCE = "/services/records"
TOPIC = "phr.records.v1"
FETCH_TOPIC = "phr.records.fetch.v1"
# A prepared Bundle is a full copy of part of a record: it is kept only as long as it is
# needed. It expires CLAIM_CHECK_TTL after it was prepared, and CLAIM_CHECK_GRACE after its
# first download (so a download retried over a broken connection still works); then it is
# refused (410) and deleted (prune_claim_checks). The settings may say otherwise
# (CLAIM_CHECK_TTL_HOURS, CLAIM_CHECK_GRACE_MINUTES).
CLAIM_CHECK_TTL = timedelta(hours=24)
CLAIM_CHECK_GRACE = timedelta(minutes=10)


@dataclass
class ImportBundle:
    """Command: store a transaction Bundle on behalf of a custodian department."""

    bundle: object
    custodian: str


@dataclass
class UpdateResource:
    """Command: store a new version of Type/id if the caller holds the version it names (If-Match)."""

    resource_type: str
    id: str
    resource: object
    custodian: str
    if_match: str | None


@dataclass
class CreateResource:
    """Command: store a new resource of one type (FHIR create), unless IF_NONE_EXIST matches one."""

    resource_type: str
    resource: object
    custodian: str
    if_none_exist: str | None = None


@dataclass
class FetchRecords:
    """Command (phr.records.fetch): prepare a patient's records for a requester, minus redacted labels."""

    request_id: str
    patient: str
    resource_types: list[str]
    redact_labels: list[str]
    requester: str
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    ttl: timedelta = CLAIM_CHECK_TTL


class NotFound(Exception):
    """No resource the caller may see has that type and id."""


class PreconditionFailed(Exception):
    """If-Match names a version that is not the current one (RFC 9110 section 15.5.13: 412)."""

    def __init__(self, current: int):
        super().__init__(f"the current version is {current}")
        self.current = current


class Gone(Exception):
    """The claim check expired, or its grace after the first download is over."""


def import_bundle(cmd: ImportBundle, uow, labeller: Labeller | None = None) -> dict:
    """Store every entry of the Bundle atomically and answer with a transaction-response."""
    plan = plan_transaction(cmd.bundle)
    if labeller is not None:
        for planned in plan.resources:
            planned.content = labeller.apply(planned.content)
    now = datetime.now(timezone.utc)
    responses: list[dict] = []
    with uow:
        if plan.unresolved or any(p.if_none_exist for p in plan.resources):
            plan.bind(uow.resources.find_by_identifier)
        plan.check_stored(lambda pairs: set(uow.resources.get_many(pairs)))
        existing = uow.resources.get_many([(p.resource_type, p.reuse or p.id) for p in plan.resources])
        # A deleted id written again continues its history after the delete's version.
        gone = uow.resources.tombstones([(p.resource_type, p.id) for p in plan.resources
                                         if not p.reuse and (p.resource_type, p.id) not in existing])
        new, changed = [], []
        for planned in plan.resources:
            current = existing.get((planned.resource_type, planned.reuse or planned.id))
            if current is not None and (planned.reuse or planned.shared):
                responses.append(_response("200 OK", current))  # a directory resource already held
                continue
            version, status = 1, "201 Created"
            tomb = gone.get((planned.resource_type, planned.id))
            if tomb is not None:
                _check_replace(planned, tomb, cmd.custodian, deleted=True)
                version = tomb.version_id + 1
            if current is not None:
                _check_replace(planned, current, cmd.custodian)
                if _same(current.body(), planned.content):
                    responses.append(_response("200 OK", current))
                    continue
                version, status = current.version_id + 1, "200 OK"
            stored = _version(planned.resource_type, planned.id, planned.content, version, now,
                              cmd.custodian)
            (new if current is None else changed).append(stored)
            responses.append(_response(status, stored))
        uow.resources.forget_tombstones(list(gone))
        uow.resources.add_all(new)
        uow.resources.replace_all(changed)
        stored = {(r.resource_type, r.id): r for r in new + changed}
        for patient_id, items in plan.patients().items():
            # An entry whose ifNoneExist matched wrote nothing: it is not news (nor is a create
            # that matched, handlers.create_resource).
            written = [r.content for r in items if not r.reuse]
            if written:
                _announce_import(uow, patient_id, cmd.custodian, written, now,
                                 [stored[key] for key in ((r.resource_type, r.id) for r in items) if key in stored])
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}


def _announce_import(uow, patient_id: str, custodian: str, contents: list[dict], now: datetime,
                     written: list[StoredResource]) -> None:
    """Queue phr.records.imported for what a write added to or changed in PATIENT_ID's record:
    every write path (a transaction, a create, an update) tells the others the same way.
    WRITTEN are the versions it stored (an entry equal to what was held stores none): the event
    names each (type, id and sensitivity labels), so that a subscription's notification can name
    them and leave out those a consent keeps back (services/exchange/service_layer/subscriptions.py)."""
    types = Counter(c["resourceType"] for c in contents)
    uow.publish(TOPIC, new_event("phr.records.imported", SOURCE, patient_id, {
        "patient": patient_id, "custodian": custodian,
        "resource_count": len(contents), "resource_types": dict(sorted(types.items())),
        "imported_at": now.isoformat(),
        "demographics": demographics.of_import(contents),
        "resources": [written_item(r.resource_type, r.id, r.body()) for r in written]}))


def written_item(resource_type: str, rid: str, content: dict) -> dict:
    """One resource a write stored, as phr.records.imported names it."""
    return {"type": resource_type, "id": rid, "labels": sorted(labels_of(content))}


def create_resource(cmd: CreateResource, uow, labeller: Labeller | None = None) -> tuple[StoredResource, bool]:
    """Store RESOURCE as a new Type/<new id> (FHIR R4 3.1.0.6 create), or, when IF_NONE_EXIST
    (identifier=[system|]value) matches one the caller holds, return it (3.1.0.8 conditional
    create). Returns (stored, created). It runs as a one-entry transaction, so a create is checked,
    labelled, stored and announced exactly as an imported Bundle's entry is."""
    if not isinstance(cmd.resource, dict):
        raise InvalidBundle([EntryError(cmd.resource_type, "The body must be a JSON object.", "structure")], 400)
    if cmd.resource.get("resourceType") != cmd.resource_type:
        raise InvalidBundle([EntryError(f"{cmd.resource_type}.resourceType",
                                        f"The body must be a {cmd.resource_type}, as the URL says.")], 400)
    if cmd.if_none_exist is not None and parse_identifier_query(cmd.if_none_exist) is None:
        raise InvalidBundle([EntryError("If-None-Exist", "If-None-Exist takes one search: identifier=system|value.",
                                        "not-supported")], 400)
    # The server gives a created resource its id (R4 3.1.0.6): one in the body is ignored.
    resource = {k: v for k, v in cmd.resource.items() if k != "id"}
    request = {"method": "POST", "url": cmd.resource_type}
    if cmd.if_none_exist is not None:
        request["ifNoneExist"] = cmd.if_none_exist
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource, "request": request}]}
    try:
        answer = import_bundle(ImportBundle(bundle, cmd.custodian), uow, labeller)
    except InvalidBundle as exc:
        for error in exc.errors:  # name the body and the header, not the Bundle they were wrapped in
            error.expression = error.expression.replace("Bundle.entry[0].request.ifNoneExist", "If-None-Exist") \
                                               .replace("Bundle.entry[0].resource", cmd.resource_type) \
                                               .replace("Bundle.entry[0]", cmd.resource_type)
        raise
    response = answer["entry"][0]["response"]
    rtype, rid = response["location"].split("/")[:2]
    return read_resource(uow, rtype, rid, cmd.custodian), response["status"].startswith("201")


def _check_replace(planned: PlannedResource, current: StoredResource, custodian: str, deleted: bool = False) -> None:
    where = f"Bundle.entry[{planned.index}]"
    name = f"{planned.resource_type}/{planned.id}"
    if current.custodian != custodian:
        raise InvalidBundle([EntryError(where, f"{name} is held by another department.", "conflict")], 409)
    if deleted:
        return
    if planned.method == "POST" and not _same(current.body(), planned.content):
        raise InvalidBundle([EntryError(where, f"{name} already exists; use PUT to update it.", "duplicate")], 409)


def _version(rtype: str, rid: str, content: dict, version: int, now: datetime, custodian: str) -> StoredResource:
    content = {**content, "meta": {**content.get("meta", {}), "versionId": str(version),
                                   "lastUpdated": now.isoformat()}}
    return StoredResource(rtype, rid, version, now, patient_of(content), custodian, content=content,
                          index=index_of(content))


def update_resource(cmd: UpdateResource, uow, labeller: Labeller | None = None) -> StoredResource:
    """Store a new version of Type/id (FHIR R4 3.1.0.4 update, with version-aware If-Match)."""
    with uow:
        current = uow.resources.get(cmd.resource_type, cmd.id)
        if current is None or current.custodian != cmd.custodian:
            raise NotFound(f"{cmd.resource_type}/{cmd.id}")
        resource = checked_update(cmd.resource_type, cmd.id, cmd.resource, labeller,
                                  stored=lambda pairs: set(uow.resources.get_many(pairs)))
        stored = store_update(uow, current, resource, datetime.now(timezone.utc), cmd.if_match)
        if stored is not current and stored.patient_id:
            _announce_import(uow, stored.patient_id, cmd.custodian, [stored.body()], stored.last_updated,
                             [stored])
        if stored is not current:
            outcome = amendment_outcome(current.body(), stored.body(), cmd.custodian, stored.last_updated)
            if outcome is not None:
                uow.publish(TOPIC, new_event("phr.records.amendment-updated", SOURCE, outcome["patient"], outcome))
    return stored


@dataclass
class DeleteResource:
    """Command: delete Type/id, which only its custodian may do (FHIR R4 3.1.0.7)."""

    resource_type: str
    id: str
    custodian: str


def delete_resource(cmd: DeleteResource, uow) -> bool:
    """Delete Type/id of the custodian, keeping its history; return False when it was already
    deleted (a repeated delete succeeds, R4 3.1.0.7). NotFound for what the caller does not hold."""
    key = (cmd.resource_type, cmd.id)
    with uow:
        current = uow.resources.get(*key)
        if current is None:
            tomb = uow.resources.tombstones([key]).get(key)
            if tomb is None or tomb.custodian != cmd.custodian:
                raise NotFound(f"{cmd.resource_type}/{cmd.id}")
            return False
        if current.custodian != cmd.custodian:
            raise NotFound(f"{cmd.resource_type}/{cmd.id}")
        # No event: a transaction cannot delete, and phr.records.imported tells of what was
        # added; telling others of a delete needs an event of its own in contracts/events.
        uow.resources.delete(current, datetime.now(timezone.utc))
    return True


def deleted(uow, resource_type: str, rid: str, department: str) -> bool:
    """Whether DEPARTMENT deleted Type/id (a read is then 410 Gone, not 404)."""
    with uow:
        tomb = uow.resources.tombstones([(resource_type, rid)]).get((resource_type, rid))
    return tomb is not None and tomb.custodian == department


def checked_update(resource_type: str, rid: str, resource: object, labeller: Labeller | None = None,
                   stored=None) -> dict:
    """Return RESOURCE as an update of Type/id stores it (its id filled in, labelled), or raise
    InvalidBundle: 400 for a body that is not an object, 422 for one that is not a valid R4
    Type/id. The one check of every write of one resource (FHIR PUT, a records officer's answer).
    With STORED (pairs -> the set of those held), every 'Type/id' reference must name a stored
    resource too, as in a transaction."""
    if isinstance(resource, dict) and "id" not in resource:
        resource = {**resource, "id": rid}
    if stored is not None and isinstance(resource, dict):
        errors = check_references(resource, resource_type, stored)
    else:
        errors = validate_resource(resource, resource_type)
    if not errors and (resource["resourceType"] != resource_type or resource["id"] != rid):
        errors = [EntryError(f"{resource_type}.id",
                             f"The body must be the {resource_type} with id {rid} named in the URL.")]
    if errors:
        raise InvalidBundle(errors, 400 if not isinstance(resource, dict) else 422)
    if labeller is not None:
        resource = labeller.apply(resource)
    return resource


def store_update(uow, current: StoredResource, resource: dict, now: datetime,
                 if_match: str | None = None) -> StoredResource:
    """In UOW's transaction, store RESOURCE (checked_update's) as the next version of CURRENT,
    the old one kept in history; return CURRENT itself when nothing but meta changed. IF_MATCH,
    when given, must name CURRENT's version (else PreconditionFailed)."""
    if if_match is not None and _etag_version(if_match) != str(current.version_id):
        raise PreconditionFailed(current.version_id)
    if _same(current.body(), resource):
        return current
    stored = _version(current.resource_type, current.id, resource, current.version_id + 1, now,
                      current.custodian)
    uow.resources.replace_all([stored])
    return stored


def amendment_outcome(old: dict, new: dict, custodian: str, when: datetime) -> dict | None:
    """Return the phr.records.amendment-updated data when a correction request's status changed."""
    if new.get("resourceType") != "Task" or not _is_amendment(new):
        return None
    before, after = old.get("status", ""), new.get("status", "")
    patient = str((new.get("for") or {}).get("reference", "")).removeprefix("Patient/")
    if before == after or not patient:
        return None
    return {"patient": patient, "custodian": custodian, "task": f"Task/{new['id']}",
            "record": str((new.get("focus") or {}).get("reference", "")), "status": after,
            "previous_status": before, "updated_at": when.isoformat()}


def _is_amendment(task: dict) -> bool:
    codings = (task.get("code") or {}).get("coding") or []
    return any(c.get("code") == "change" for c in codings if isinstance(c, dict))


def _etag_version(value: str) -> str:
    """Return the version of an ETag such as W/"3" (or "3")."""
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def read_resource(uow, resource_type: str, rid: str, department: str) -> StoredResource:
    """Return Type/id if DEPARTMENT is its custodian; anything else is NotFound (no disclosure)."""
    with uow:
        stored = uow.resources.get(resource_type, rid)
    if stored is None or stored.custodian != department:
        raise NotFound(f"{resource_type}/{rid}")
    return stored


def search(uow, query: SearchQuery) -> tuple[list[StoredResource], int, str | None]:
    """Return one page of the department's matches, the total, and the id to resume after (or None)."""
    with uow:
        rows, total = uow.resources.search(query)
    more = len(rows) > query.count
    rows = rows[:query.count]
    return rows, total, (rows[-1].id if more and rows else None)


def history(uow, resource_type: str, rid: str, department: str) -> list[StoredResource]:
    """Return every version of Type/id, newest first, to its custodian."""
    with uow:
        versions = uow.resources.history(resource_type, rid)
    if not versions or versions[0].custodian != department:
        raise NotFound(f"{resource_type}/{rid}")
    return versions


def fetch_records(cmd: FetchRecords, uow) -> dict:
    """Prepare the claim-check Bundle once per request id and queue the phr.records.fetched reply."""
    with uow:
        check = uow.resources.claim_check_for_request(cmd.request_id)
        if check is None:
            marked = uow.resources.for_patient_containing(cmd.patient, "DocumentReference",
                                                          corrections.DISAGREEMENT_TYPE["code"])
            statements = [s.body() for s in marked if corrections.is_statement(s.body())]
            check = _claim_check(cmd, uow.resources.for_patient(cmd.patient, cmd.resource_types), statements)
            uow.resources.add_claim_check(check)
        reply = {"request_id": check.request_id, "patient": check.patient_id, "bundle_ref": check.ref,
                 "resource_count": check.resource_count, "redacted_count": check.redacted_count,
                 "expires_at": _utc(check.expires_at).isoformat()}
        uow.publish(FETCH_TOPIC, new_event("phr.records.fetched", SOURCE, check.patient_id, reply))
    return reply


def _claim_check(cmd: FetchRecords, stored: list[StoredResource], statements: list[dict] = ()) -> ClaimCheck:
    redact = set(cmd.redact_labels)
    kept = [s.body() for s in stored if not (labels_of(s.body()) & redact)]
    redacted = len(stored) - len(kept)
    # A patient's statement of disagreement travels with its record, right after it, whatever
    # types were asked for (45 CFR 164.526(d)(5)); never without it, nor when it is redacted.
    kept = corrections.with_statements(kept, [d for d in statements if not (labels_of(d) & redact)])
    ref = uuid.uuid4().hex
    bundle = {"resourceType": "Bundle", "id": ref, "type": "collection", "timestamp": cmd.now.isoformat(),
              "entry": [{"resource": r} for r in kept]}
    return ClaimCheck(ref, cmd.request_id, cmd.patient, cmd.requester, len(kept), redacted,
                      json.dumps(bundle, separators=(",", ":")), cmd.now,
                      cmd.now + cmd.ttl)


def read_claim_check(uow, ref: str, department: str, now: datetime | None = None,
                     grace: timedelta = CLAIM_CHECK_GRACE) -> ClaimCheck:
    """Return the prepared Bundle REF to the department that requested it; note the first download."""
    now = now or datetime.now(timezone.utc)
    with uow:
        check = uow.resources.claim_check(ref)
        if check is None or check.requester != department:
            raise NotFound(f"Bundle/{ref}")
        if _gone(check, now, grace):
            raise Gone(ref)
        uow.resources.mark_downloaded(ref, now)
    return check


def _gone(check: ClaimCheck, now: datetime, grace: timedelta) -> bool:
    if _utc(check.expires_at) <= now:
        return True
    return check.downloaded_at is not None and _utc(check.downloaded_at) + grace <= now


def prune_claim_checks(uow, now: datetime, grace: timedelta = CLAIM_CHECK_GRACE) -> int:
    """Delete the prepared Bundles no one may download any more; return how many."""
    with uow:
        return uow.resources.delete_claim_checks(now, now - grace)


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every stored moment is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _same(old: dict, new: dict) -> bool:
    strip = lambda d: json.dumps({k: v for k, v in d.items() if k != "meta"}, sort_keys=True)
    return strip(old) == strip(new)


def _response(status: str, stored: StoredResource) -> dict:
    return {"response": {"status": status,
                         "location": f"{stored.resource_type}/{stored.id}/_history/{stored.version_id}",
                         "etag": f'W/"{stored.version_id}"',
                         "lastModified": stored.last_updated.isoformat()}}
