"""What _include and _revinclude add to a page of search matches (FHIR R4 3.1.1.5.4): the
resources the matches point at, and those that point at the matches, through the reference
parameters of domain.search.REFERENCES; each only if the reader may see it, and once."""
from __future__ import annotations

from collections.abc import Callable

from services.records.adapters.repository import StoredResource
from services.records.domain.search import REFERENCES, SearchQuery, references


def related(uow, query: SearchQuery, rows: list[StoredResource],
            may_see: Callable[[StoredResource], bool]) -> list[StoredResource]:
    """Return the included resources of the page ROWS that MAY_SEE allows, without the matches."""
    if not rows or not (query.includes or query.revincludes):
        return []
    wanted: list[tuple[str, str]] = []
    for source, param in query.includes:
        element = REFERENCES[(source, param)][0]
        for row in rows:
            wanted += [tuple(ref.split("/")) for ref in references(row.body(), element)]
    targets = {f"{r.resource_type}/{r.id}" for r in rows}
    found: list[StoredResource] = []
    with uow:
        if wanted:
            found += uow.resources.get_many(list(dict.fromkeys(wanted))).values()
        for source, param in query.revincludes:
            element = REFERENCES[(source, param)][0]
            candidates = uow.resources.referring(source, sorted(targets), query.custodian, query.compartment)
            found += [c for c in candidates if set(references(c.body(), element)) & targets]
    seen = {(r.resource_type, r.id) for r in rows}
    out = []
    for r in found:
        if (r.resource_type, r.id) not in seen and may_see(r):
            seen.add((r.resource_type, r.id))
            out.append(r)
    return out
