"""Operations of the directory of departments, served by the gateway itself for its
administrators (the scope admin/Departments.crus, which no wildcard scope covers)."""
from contracts.http import PAGE_PARAMS, Operation, Response, path_param, problems
from contracts.schemas import directory as d
from contracts.vocabulary import DEPARTMENT_ID_PATTERN

SCOPES = ("admin/Departments.crus",)
_ID = (path_param("id", "The department's id.", f"^{DEPARTMENT_ID_PATTERN}$"),)
_PAGE = PAGE_PARAMS

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/admin/v1/departments", "Every department, active and disabled, by id", "admin",
              (Response(200, "A page of entries.", d.DepartmentListSchema), *problems(401, 403, 422, 429)),
              scopes=SCOPES, parameters=_PAGE),
    Operation("post", "/admin/v1/departments",
              "Register a department and create its OAuth client (its secret is shown once)", "admin",
              (Response(201, "The entry (version 1) and its client's credentials; Location names it; "
                             "its phr.directory.department-registered event is queued.",
                        d.RegisteredDepartmentSchema),
               *problems(400, 401, 403, 409, 422, 429)),
              request=d.DepartmentRegistrationSchema, scopes=SCOPES),
    Operation("get", "/admin/v1/departments/{id}", "One department's entry", "admin",
              (Response(200, "The entry.", d.DepartmentEntrySchema), *problems(401, 403, 404, 429)),
              scopes=SCOPES, parameters=_ID),
    Operation("put", "/admin/v1/departments/{id}",
              "Set a department's names and rights (its client's scopes follow)", "admin",
              (Response(200, "The entry, with a new version and a new registered event when anything "
                             "changed. Taking a right away also revokes the department's live tokens.",
                        d.DepartmentEntrySchema),
               *problems(400, 401, 403, 404, 409, 422, 429)),
              request=d.DepartmentRightsSchema, scopes=SCOPES, parameters=_ID),
    Operation("put", "/admin/v1/departments/{id}/webhook",
              "Set where a department takes signed notices when a consent it received records under ends",
              "admin",
              (Response(200, "The entry, with a new version and a new registered event when the URL "
                             "changed (the exchange learns it from the event).", d.DepartmentEntrySchema),
               *problems(400, 401, 403, 404, 409, 422, 429)),
              request=d.DepartmentWebhookSchema, scopes=SCOPES, parameters=_ID),
    Operation("post", "/admin/v1/departments/{id}/disable",
              "Disable a department: its tokens are revoked and it gets no new ones (again is harmless)",
              "admin",
              (Response(200, "The disabled entry; its phr.directory.department-disabled event is queued "
                             "(disabling it again changes nothing and answers the entry as it is).",
                        d.DepartmentEntrySchema),
               *problems(400, 401, 403, 404, 422, 429)),
              request=d.DisableDepartmentSchema, scopes=SCOPES, parameters=_ID),
)
