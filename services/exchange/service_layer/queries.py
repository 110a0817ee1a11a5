"""What the views and the command line read: a department's request, the ledger's verdict, a
patient's disclosures and notifications. Each takes a unit of work and reads in it."""
from __future__ import annotations

from services.exchange.domain import ledger as chain
from services.exchange.domain.model import ExchangeRequest, Notification


def request_for(uow, request_id: str, department: str) -> ExchangeRequest | None:
    """Return DEPARTMENT's request REQUEST_ID, or None (another department's is None too)."""
    with uow:
        req = uow.requests.get(request_id)
    return req if req is not None and req.requester == department else None


def inbox(uow, department: str, limit: int, offset: int) -> tuple[list[ExchangeRequest], bool]:
    """Return one page of DEPARTMENT's requests (newest first) and whether more follow."""
    with uow:
        return uow.requests.for_requester(department, limit, offset)


def verify_ledger(uow, start: chain.Checkpoint | None = None) -> chain.Verdict:
    """Check every entry's hash and link, and the head, in sequence order; with START only the
    entries after that checkpoint, and that the entry at it is still the one checked then."""
    after = start.seq if start else 0
    with uow:
        links, head = uow.ledger.links(after), uow.ledger.head()
        stored = uow.ledger.hash_of(after) if after else None
    return chain.verify(links, head, start, stored)


def disclosures(uow, patient: str, limit: int, offset: int) -> tuple[list[dict], bool]:
    """Return one page of PATIENT's ledger entries (newest first) and whether more follow."""
    with uow:
        return uow.ledger.for_patient(patient, limit, offset)


def department_disclosures(uow, custodian: str, patient: str | None, limit: int, before: int | None
                           ) -> tuple[list[dict], bool]:
    """Return one page of the ledger entries of CUSTODIAN's patients (only PATIENT's when given),
    newest first (below sequence number BEFORE when given), and whether more follow."""
    with uow:
        return uow.ledger.for_custodian(custodian, patient, limit, before)


def notifications(uow, patient: str, limit: int, offset: int) -> tuple[list[Notification], bool]:
    """Return one page of PATIENT's notifications (newest first) and whether more follow."""
    with uow:
        return uow.notifications.for_patient(patient, limit, offset)


def notices(uow, department: str, limit: int, offset: int) -> tuple[list, dict, bool]:
    """Return one page of DEPARTMENT's notices (newest first), their webhook deliveries by notice
    id, and whether more follow."""
    with uow:
        page, more = uow.department_notices.for_department(department, limit, offset)
        return page, uow.webhooks.for_notices([n.id for n in page]), more


def notice(uow, notice_id: str, department: str) -> tuple[object, dict | None, list[dict]]:
    """Return DEPARTMENT's notice NOTICE_ID (None when it is not theirs), its delivery and its tries."""
    with uow:
        found = uow.department_notices.get(notice_id, department)
        if found is None:
            return None, None, []
        return found, uow.webhooks.for_notices([found.id]).get(found.id), uow.webhooks.attempts(found.id)


def deliveries(uow, notification_ids: list[str]) -> dict:
    """Each notification's deliveries outside the app ({notification id: [Delivery]})."""
    with uow:
        return uow.notices.for_notifications(notification_ids)
