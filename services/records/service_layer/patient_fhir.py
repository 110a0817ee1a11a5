"""A patient's own app reading their record over FHIR (SMART ``patient/`` scopes): the same
rules as the patient's own views (service_layer.patient), on FHIR's reads.

What the patient sees is their compartment (their Patient resource and what refers to it as
its subject or patient), of the types their views show (plain_language.VISIBLE_TYPES); anything
else, another patient's above all, is NotFound, as on /patient/v1. Which types a caregiver may
read is their token's scopes, checked by the view as /patient/v1 does (entrypoints.patient).
"""
from __future__ import annotations

from services.records.adapters import patient_queries as q
from services.records.adapters.repository import StoredResource
from services.records.domain import plain_language as pl
from services.records.domain.search import SearchQuery
from services.records.service_layer.handlers import NotFound

#: The types a patient's app may read: their Patient (as /patient/v1/me) and what their views show.
TYPES = ("Patient", *pl.VISIBLE_TYPES)


def visible(stored: StoredResource | None, patient_id: str) -> bool:
    """Whether the patient PATIENT_ID's app may see STORED."""
    return stored is not None and stored.resource_type in TYPES and stored.patient_id == patient_id


def read(uow, patient_id: str, resource_type: str, rid: str) -> StoredResource:
    """Return Type/id if it is in PATIENT_ID's compartment and of a type they see, else NotFound."""
    with uow:
        stored = q.own_record(uow.conn, patient_id, rid, resource_type) if resource_type in TYPES else None
    if not visible(stored, patient_id):
        raise NotFound(f"{resource_type}/{rid}")
    return stored


def history(uow, patient_id: str, resource_type: str, rid: str) -> list[StoredResource]:
    """Every version of Type/id, newest first, on the same terms as read."""
    with uow:
        versions = uow.resources.history(resource_type, rid) if resource_type in TYPES else []
    if not versions or not visible(versions[0], patient_id):
        raise NotFound(f"{resource_type}/{rid}")
    return versions


def search(uow, query: SearchQuery) -> tuple[list[StoredResource], int, str | None]:
    """One page of QUERY (whose compartment is the patient's): nothing for a type they do not see."""
    if query.resource_type not in TYPES or query.compartment is None:
        return [], 0, None
    with uow:
        rows, total = uow.resources.search(query)
    more = len(rows) > query.count
    rows = rows[:query.count]
    return rows, total, (rows[-1].id if more and rows else None)
