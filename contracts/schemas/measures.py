"""Human measures as data for the staff console's dashboard (``GET /staff/v1/measures/{service}``,
scope ``user/Measure.rs``): the very values each service shows on its /metrics
(services/common/measures.py), so the two views cannot disagree. A measure labelled with a
department is given only for the caller's own department; the others are whole-system figures."""
from marshmallow import Schema, fields, validate

#: The processes that keep human measures, each answering for its own.
MEASURED_SERVICES = ("gateway", "consent", "records", "exchange")


class MeasureSchema(Schema):
    """One figure: NAME{LABELS} = VALUE."""

    name = fields.String(required=True, metadata={"example": "phr_correction_requests_open"})
    help = fields.String(required=True, metadata={"description": "What the figure counts, in one line."})
    value = fields.Float(required=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"example": {"department": "cardiology"}})


class MeasuresSchema(Schema):
    """A service's human measures now, as the caller may see them."""

    service = fields.String(required=True, validate=validate.OneOf(MEASURED_SERVICES))
    department = fields.String(required=True, metadata={
        "description": "The caller's department: the only one whose department-labelled figures are given."})
    measures = fields.List(fields.Nested(MeasureSchema), required=True)
