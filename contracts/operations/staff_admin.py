"""Operations a department's admins use for its staff (``/staff/v1/admin/``), and the platform
administrators' first invite of a department; the gateway serves them itself (it keeps the
staff accounts) and never forwards them."""
from contracts.http import Operation, Response, path_param, problems
from contracts.schemas import staff_admin as s
from contracts.schemas.directory import DepartmentEntrySchema, DepartmentWebhookSchema
from contracts.vocabulary import DEPARTMENT_ID_PATTERN

STAFF = ("user/Staff.cruds",)
_STAFF_ID = (path_param("id", "The staff account's id.", "^[A-Za-z0-9-]{1,64}$"),)
_DEPT = (path_param("id", "The department's id.", f"^{DEPARTMENT_ID_PATTERN}$"),)

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/staff/v1/admin/staff", "The department's staff: names, usernames, roles, status",
              "staff-admin",
              (Response(200, "Every member of the token's department (dept), in the order they joined.",
                        s.StaffListSchema), *problems(401, 403, 429)),
              scopes=STAFF),
    Operation("post", "/staff/v1/admin/invites",
              "Invite a person to the department's staff (the code is shown once)", "staff-admin",
              (Response(201, "The invite and its code; its phr.accounts.staff-invited event is queued.",
                        s.StaffInviteSchema), *problems(400, 401, 403, 413, 422, 429)),
              request=s.StaffInviteRequestSchema, scopes=STAFF),
    Operation("put", "/staff/v1/admin/staff/{id}/roles",
              "Set a member of staff's roles (their live tokens end)", "staff-admin",
              (Response(200, "The member of staff with the new roles.", s.StaffAccountSchema),
               *problems(400, 401, 403, 404, 409, 413, 422, 429)),
              request=s.StaffRolesSchema, scopes=STAFF, parameters=_STAFF_ID),
    Operation("post", "/staff/v1/admin/staff/{id}/disable",
              "Turn off a member of staff's account: no sign-in, and their tokens end (again is harmless)",
              "staff-admin",
              (Response(200, "The member of staff, disabled.", s.StaffAccountSchema),
               *problems(400, 401, 403, 404, 409, 413, 422, 429)),
              request=s.NoBodySchema, scopes=STAFF, parameters=_STAFF_ID),
    Operation("put", "/staff/v1/admin/webhook",
              "Set where the department takes signed notices when a consent it received records under ends",
              "staff-admin",
              (Response(200, "The department's directory entry with its webhook URL (a new version and "
                             "registered event when it changed).", DepartmentEntrySchema),
               *problems(400, 401, 403, 409, 413, 422, 429)),
              request=DepartmentWebhookSchema, scopes=STAFF),
    Operation("post", "/admin/v1/departments/{id}/invites",
              "Invite a department's first admin, or anyone to its staff (the code is shown once)", "admin",
              (Response(201, "The invite and its code.", s.StaffInviteSchema),
               *problems(400, 401, 403, 404, 409, 413, 422, 429)),
              request=s.StaffInviteRequestSchema, scopes=("admin/Departments.crus",), parameters=_DEPT),
)
