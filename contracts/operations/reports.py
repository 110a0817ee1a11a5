"""Operations of reports (feedback and incidents), kept by the exchange service."""
from contracts.http import PAGE_PARAMS, Operation, Response, path_param, problems
from contracts.schemas import reports as r
from contracts.vocabulary import REPORT_KINDS, REPORT_STATUSES

_LANG = {"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "en or es; for a patient, else the token's locale claim."}
_ID = path_param("id", "The report's id.")
_IF_MATCH = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
             "description": "The ETag of the report as read (W/\"<version>\"): a change made since is refused."}

OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/patient/v1/reports", "Report a problem: wrong information, hard words, wrong access",
              "patient", (Response(201, "Received: the reference, and what happens next, in my language.",
                                   r.FiledReportSchema), *problems(401, 403, 413, 422)),
              request=r.ReportBodySchema, scopes=("patient/Report.c",), parameters=(_LANG,), patient_facing=True),
    Operation("get", "/patient/v1/reports", "My reports, with their status in words", "patient",
              (Response(200, "One page, newest first.", r.ReportPageSchema), *problems(401, 403, 422)),
              scopes=("patient/Report.s",), parameters=(*PAGE_PARAMS, _LANG), patient_facing=True),
    Operation("get", "/patient/v1/reports/{id}", "One of my reports", "patient",
              (Response(200, "Its status and the quality team's note.", r.ReportSchema), *problems(401, 403, 404)),
              scopes=("patient/Report.r",), parameters=(_ID, _LANG), patient_facing=True),
    Operation("post", "/staff/v1/reports", "Report a problem or a near miss, maybe anonymously", "staff",
              (Response(201, "Received: the reference to follow it by.", r.FiledReportSchema),
               *problems(401, 403, 413, 422)), request=r.ReportBodySchema, scopes=("user/Report.c",)),
    Operation("get", "/staff/v1/reports/mine", "The reports I made with my name", "staff",
              (Response(200, "One page, newest first.", r.ReportPageSchema), *problems(401, 403, 422)),
              scopes=("user/Report.r",), parameters=(*PAGE_PARAMS, _LANG)),
    Operation("get", "/staff/v1/reports/follow/{ref}", "A report's status by its reference (anonymous ones too)",
              "staff", (Response(200, "Kind, status, note and dates; never the text or who reported.",
                                 r.ReportSchema), *problems(401, 403, 404)),
              scopes=("user/Report.r",), parameters=(path_param("ref", "The reference, e.g. R-7KQ2-M9XD-4HTW."),)),
    Operation("get", "/staff/v1/reports", "My department's quality queue", "staff",
              (Response(200, "One page: open reports first, then the oldest.", r.StaffReportPageSchema),
               *problems(401, 403, 422)), scopes=("user/Report.rs",),
              parameters=(*PAGE_PARAMS, _LANG,
                          {"name": "kind", "in": "query", "required": False, "schema": {"enum": list(REPORT_KINDS)}},
                          {"name": "status", "in": "query", "required": False,
                           "schema": {"enum": list(REPORT_STATUSES)}})),
    Operation("get", "/staff/v1/reports/hard-words", "Words readers found hard, for the wording review", "staff",
              (Response(200, "Counted by language and page, the most named first.", r.HardWordsPageSchema),
               *problems(401, 403)), scopes=("user/Report.rs",)),
    Operation("get", "/staff/v1/reports/{id}", "One report to triage (its ETag for the change)", "staff",
              (Response(200, "The report, who reported (nothing if anonymous), links and version.",
                        r.StaffReportSchema), *problems(401, 403, 404)),
              scopes=("user/Report.rs",), parameters=(_ID, _LANG)),
    Operation("post", "/staff/v1/reports/{id}", "Triage a report: assign, status with a note, link, close", "staff",
              (Response(200, "Changed; the new ETag comes back.", r.StaffReportSchema),
               *problems(401, 403, 404, 409, 412, 422, 428)),
              request=r.TriageBodySchema, scopes=("user/Report.u",), parameters=(_ID, _IF_MATCH, _LANG)),
)
