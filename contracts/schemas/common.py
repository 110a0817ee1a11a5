"""Bodies every service shares: problem details (RFC 9457), health and readiness."""
from marshmallow import INCLUDE, Schema, fields, validate


class ProblemSchema(Schema):
    """RFC 9457 section 3.1 problem details; extension members are allowed."""

    class Meta:
        unknown = INCLUDE

    type = fields.Url(required=True, require_tld=False, metadata={"description": "A stable URI naming the kind of problem."})
    title = fields.String(required=True, metadata={"description": "Short summary in the negotiated language."})
    status = fields.Integer(required=True, validate=validate.Range(400, 599))
    detail = fields.String(metadata={"description": "What went wrong here, in the negotiated language."})
    instance = fields.String(allow_none=True)
    next_step = fields.String(metadata={"description": "For patients: what to do now, in plain words."})
    fields_ = fields.List(fields.String(), data_key="fields",
                          metadata={"description": "Request fields that caused the problem."})


class OperationOutcomeIssueSchema(Schema):
    """One FHIR OperationOutcome.issue."""

    severity = fields.String(required=True, validate=validate.OneOf(["fatal", "error", "warning", "information"]))
    code = fields.String(required=True)
    diagnostics = fields.String()
    expression = fields.List(fields.String())


class OperationOutcomeProblemSchema(ProblemSchema):
    """A problem that is also a FHIR R4 OperationOutcome (errors of the FHIR endpoints)."""

    resource_type = fields.String(required=True, data_key="resourceType",
                                  validate=validate.Equal("OperationOutcome"))
    issue = fields.List(fields.Nested(OperationOutcomeIssueSchema), required=True)


class HealthSchema(Schema):
    """The process is alive."""

    status = fields.String(required=True, validate=validate.Equal("ok"))
    service = fields.String(required=True)


class ReadinessSchema(Schema):
    """Whether every dependency answers (200 ready, 503 not ready)."""

    status = fields.String(required=True, validate=validate.OneOf(["ready", "not ready"]))
    service = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
