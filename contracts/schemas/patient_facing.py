"""The shapes every patient-facing body shares (contracts/PATIENT_FACING.md), declared once."""
from marshmallow import INCLUDE, Schema, fields


class LanguageBlockSchema(Schema):
    """The `language` member: what was asked for, what is used, and the interpreter offer."""

    class Meta:
        unknown = INCLUDE

    requested = fields.String(allow_none=True, metadata={"description": "BCP 47 tag asked for."})
    used = fields.String(required=True, metadata={"example": "es"})
    fallback = fields.Boolean(required=True)
    message = fields.String()
    interpreter = fields.Dict()


class DisplayDateSchema(Schema):
    """A date twice: ISO 8601 for machines, long form in the locale for people."""

    iso = fields.String(required=True, metadata={"description": "ISO 8601."})
    display = fields.String(required=True, metadata={"description": "Long-form date in the locale.",
                                                     "example": "March 3, 2024"})


class StatusTextSchema(Schema):
    """A status with its words (never information by colour alone)."""

    code = fields.String(required=True)
    status_text = fields.String(required=True, metadata={"description": "The status in words."})


class CodedSchema(Schema):
    """A code that never stands alone: system, code and its display."""

    system = fields.String(required=True)
    code = fields.String(required=True)
    display = fields.String(required=True)
