"""FHIR operations for departments beyond import and read: search, history, vread, update, create, delete.

vread (``GET /fhir/{type}/{id}/_history/{vid}``) is served and routed but not listed yet: the
contract test fills in only {type} and {id}. Not here because the gateway does not route it
(service to service only):
``GET /internal/v1/bundles/{ref}`` on the records service, which returns the claim-check
Bundle of a phr.records.fetched reply (see contracts/events/phr.records.fetched.json).
"""
from contracts import schemas as s
from contracts.http import FHIR_ID_PATTERN, FHIR_JSON, FHIR_TYPE_PATTERN, Operation, Response, path_param, problems
from contracts.schemas.fhir import HistoryBundleSchema, SearchsetBundleSchema


def _query(name: str, description: str, type_: str = "string") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": {"type": type_},
            "description": description}


def _header(name: str, description: str, required: bool) -> dict:
    return {"name": name, "in": "header", "required": required, "schema": {"type": "string"},
            "description": description}


_TYPE = path_param("type", "A FHIR resource type, e.g. Observation.", FHIR_TYPE_PATTERN)
_ID = path_param("id", "The resource id.", FHIR_ID_PATTERN)
_OUTCOME = s.OperationOutcomeProblemSchema

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/fhir/{type}", "Search the calling department's resources of one type (FHIR R4 3.1.1.5)",
              "fhir",
              (Response(200, "A searchset Bundle: total, link self/next (opaque _cursor), one page of entries.",
                        SearchsetBundleSchema, FHIR_JSON),
               *problems(400, 401, 403, schema=_OUTCOME, media_type=FHIR_JSON)),
              scopes=("system/{type}.s", "patient/{type}.s"),
              parameters=(_TYPE,
                          _query("patient", "Patient id (or Patient/id) whose compartment to search."),
                          _query("_count", "Page size, 1 to 100 (default 20).", "integer"),
                          _query("_since", "Only resources changed at or after this instant (ISO 8601)."),
                          _query("date", "The resource's main date with an optional prefix eq, ge, le, gt or lt, "
                                         "e.g. ge2020-01-01."),
                          _query("code", "The main code: system|code or code."),
                          _query("category", "Observation or Condition category: system|code or code."),
                          _query("identifier", "An identifier: system|value or value."),
                          _query("_cursor", "Opaque cursor from a next link; do not build it yourself."),
                          _query("_include", "Add what the matches point at, e.g. Observation:subject, "
                                             "MedicationRequest:medication (entries with search.mode include)."),
                          _query("_revinclude", "Add what points at the matches, e.g. Observation:encounter."),
                          _query("_summary", "count: the total alone, no entries."),
                          _query("_elements", "Only these elements, comma-separated; marked SUBSETTED."))),
    Operation("get", "/fhir/{type}/{id}/_history", "Every version of one resource, newest first (FHIR R4 3.1.0.9)",
              "fhir",
              (Response(200, "A history Bundle; each resource carries meta.versionId and meta.lastUpdated.",
                        HistoryBundleSchema, FHIR_JSON),
               *problems(401, 403, 404, schema=_OUTCOME, media_type=FHIR_JSON)),
              scopes=("system/{type}.r", "patient/{type}.r"), parameters=(_TYPE, _ID)),
    Operation("put", "/fhir/{type}/{id}", "Store a new version of one resource (FHIR R4 3.1.0.4, version-aware)",
              "fhir",
              (Response(200, "The stored version (ETag W/\"<versionId>\").", s.ResourceSchema, FHIR_JSON),
               *problems(400, 401, 403, 404, 412, 413, 422, schema=_OUTCOME, media_type=FHIR_JSON)),
              request=s.ResourceSchema, request_media_type=FHIR_JSON, scopes=("system/{type}.u",),
              parameters=(_TYPE, _ID,
                          _header("If-Match", 'Optional: the version you read, as its ETag: W/"<versionId>"; '
                                              "when it is not the current version: 412.", False))),
    Operation("post", "/fhir/{type}", "Store a new resource; the server gives its id (FHIR R4 3.1.0.6 create)",
              "fhir",
              (Response(201, "The stored resource (Location .../_history/1, ETag W/\"1\").", s.ResourceSchema,
                        FHIR_JSON),
               Response(200, "If-None-Exist matched a resource you hold: that one, nothing stored.",
                        s.ResourceSchema, FHIR_JSON),
               *problems(400, 401, 403, 404, 409, 412, 413, 422, schema=_OUTCOME, media_type=FHIR_JSON)),
              request=s.ResourceSchema, request_media_type=FHIR_JSON, scopes=("system/{type}.c",),
              parameters=(_TYPE,
                          _header("If-None-Exist", "Optional conditional create: identifier=system|value "
                                                   "(R4 3.1.0.8). A match held by another department: 412.",
                                  False))),
    Operation("delete", "/fhir/{type}/{id}", "Delete one resource you hold; its history stays (FHIR R4 3.1.0.7)",
              "fhir",
              (Response(204, "Deleted (or already deleted by you); a read is now 410 Gone."),
               *problems(401, 403, 404, schema=_OUTCOME, media_type=FHIR_JSON)),
              scopes=("system/{type}.d",), parameters=(_TYPE, _ID)),
)
