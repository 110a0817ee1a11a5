"""The HTTP operations of contract v1, served by the gateway at one origin (docs/architecture.md,
"The public contract").

Each module of ``contracts.operations`` declares ``OPERATIONS`` for one area (one row per
implemented operation); ``operations()`` gathers them all. The OpenAPI document is generated
from them and the schemas in ``contracts.schemas``.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field


JSON = "application/json"
FHIR_JSON = "application/fhir+json"
PROBLEM = "application/problem+json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Response:
    status: int
    description: str
    schema: type | None = None
    media_type: str = JSON


@dataclass(frozen=True)
class Operation:
    """One method on one path: who may call it, what it takes and what it answers."""

    method: str
    path: str
    summary: str
    tag: str
    responses: tuple[Response, ...]
    request: type | None = None
    request_media_type: str = JSON
    scopes: tuple[str, ...] = ()  # SMART scopes that allow it, any one of them; empty = no token needed
    parameters: tuple[dict, ...] = field(default_factory=tuple)
    patient_facing: bool = False


def problems(*statuses: int, schema: type | None = None, media_type: str = PROBLEM) -> tuple[Response, ...]:
    """The problem responses of STATUSES, each with SCHEMA (contracts.schemas.ProblemSchema), as
    MEDIA_TYPE (FHIR_JSON on /fhir, where a problem is an OperationOutcome too)."""
    if schema is None:
        # Imported here: the schemas import this module for the FHIR patterns below.
        from contracts.schemas import ProblemSchema as schema
    text = {400: "The request is malformed.", 401: "No valid access token.",
            403: "The token does not allow this.", 404: "Not found, or not yours to see.",
            409: "Conflicts with what is stored.", 410: "No longer valid.",
            412: "Changed since you read it (If-Match).", 413: "The body is too large.",
            428: "Send If-Match with the ETag you read.",
            422: "The body breaks the contract; the problem names the field.",
            429: "Too many requests; see Retry-After.", 501: "Not implemented yet."}
    return tuple(Response(code, text.get(code, "Error."), schema, media_type) for code in statuses)


#: FHIR R4 resource type names as the gateway routes them, and the FHIR R4 ``id`` datatype,
#: written here only: each as a part of larger patterns, whole (anchored), and compiled.
FHIR_TYPE_PART = r"[A-Z][A-Za-z]{1,63}"
FHIR_ID_PART = r"[A-Za-z0-9\-.]{1,64}"
FHIR_TYPE_PATTERN = f"^{FHIR_TYPE_PART}$"
FHIR_ID_PATTERN = f"^{FHIR_ID_PART}$"
FHIR_TYPE_RE = re.compile(FHIR_TYPE_PATTERN)
FHIR_ID_RE = re.compile(FHIR_ID_PATTERN)


#: The query parameters of every paged list (services/common/paging.py): a page size and the cursor.
PAGE_PARAMS = ({"name": "limit", "in": "query", "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
               {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
                "description": "The `next` of the page before (opaque)."})


def path_param(name: str, description: str, pattern: str | None = None) -> dict:
    """Describe a required string path parameter (matching PATTERN when given)."""
    schema = {"type": "string", **({"pattern": pattern} if pattern else {})}
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def operations() -> tuple[Operation, ...]:
    """Return every operation of every module in ``contracts.operations``, in module order."""
    import contracts.operations as package

    found: list[Operation] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        found.extend(importlib.import_module(f"{package.__name__}.{info.name}").OPERATIONS)
    return tuple(found)
