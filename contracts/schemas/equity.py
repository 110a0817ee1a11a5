"""The equity report for the oversight team (docs/architecture.md, "Accessibility and equity").

Staff-facing: labels are English, codes (groupings, groups, measures) are stable and never
translated. services/exchange/domain/equity.py says how each number is computed.
"""
from marshmallow import Schema, fields, validate

GROUPINGS = ("language", "age_band", "sex", "proxy_managed", "interpreter_needed")
MEASURES = ("activation", "permitted_exchanges", "time_to_fulfil_p50")


class EquityThresholdsSchema(Schema):
    ratio = fields.Float(required=True, metadata={"description": "A judged group below this ratio "
                                                                 "to the best group is flagged."})
    min_cases = fields.Integer(required=True, metadata={"description": "Fewer cases: listed, not judged."})
    min_share = fields.Float(required=True, metadata={"description": "A smaller share of the grouping's "
                                                                     "cases: listed, not judged."})


class EquityMeasureSchema(Schema):
    measure = fields.String(required=True, validate=validate.OneOf(MEASURES))
    label = fields.String(required=True)
    better = fields.String(required=True, validate=validate.OneOf(["higher", "lower"]))
    unit = fields.String(required=True, validate=validate.OneOf(["share", "seconds"]))


class _EquityCellSchema(Schema):
    cases = fields.Integer(required=True, metadata={"description": "Patients or requests counted."})
    ratio = fields.Float(required=True, allow_none=True,
                         metadata={"description": "This group against the best judged group (1.0 = as good)."})
    judged = fields.Boolean(required=True, metadata={"description": "False when the group is too small."})
    flagged = fields.Boolean(required=True, metadata={"description": "Judged and below the threshold ratio."})


class EquityRateCellSchema(_EquityCellSchema):
    count = fields.Integer(required=True, metadata={"description": "Cases that went well."})
    rate = fields.Float(required=True, allow_none=True, metadata={"description": "count / cases."})


class EquityMedianCellSchema(_EquityCellSchema):
    p50_seconds = fields.Float(required=True, allow_none=True)


class EquityGroupSchema(Schema):
    group = fields.String(required=True, metadata={"description": "e.g. es, 65+, female, yes, unknown."})
    activation = fields.Nested(EquityRateCellSchema, required=True)
    permitted_exchanges = fields.Nested(EquityRateCellSchema, required=True)
    time_to_fulfil_p50 = fields.Nested(EquityMedianCellSchema, required=True)


class EquityGroupingSchema(Schema):
    grouping = fields.String(required=True, validate=validate.OneOf(GROUPINGS))
    label = fields.String(required=True)
    groups = fields.List(fields.Nested(EquityGroupSchema), required=True)


class EquityFlagSchema(Schema):
    grouping = fields.String(required=True, validate=validate.OneOf(GROUPINGS))
    group = fields.String(required=True)
    measure = fields.String(required=True, validate=validate.OneOf(MEASURES))
    ratio = fields.Float(required=True)


class EquityPopulationSchema(Schema):
    patients = fields.Integer(required=True, metadata={"description": "Patients the report knows of."})
    exchanges = fields.Integer(required=True, metadata={"description": "Decided exchange requests counted."})


class EquityReportSchema(Schema):
    """Per grouping of patients, how each group fares on each measure, and the gaps to act on."""

    generated_at = fields.DateTime(required=True)
    since = fields.Date(required=True, allow_none=True,
                        metadata={"description": "Exchange requests made from this day on; null = all."})
    thresholds = fields.Nested(EquityThresholdsSchema, required=True)
    measures = fields.List(fields.Nested(EquityMeasureSchema), required=True)
    population = fields.Nested(EquityPopulationSchema, required=True)
    groupings = fields.List(fields.Nested(EquityGroupingSchema), required=True)
    flags = fields.List(fields.Nested(EquityFlagSchema), required=True,
                        metadata={"description": "Every flagged group and measure, in report order."})
