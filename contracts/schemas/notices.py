"""A person's choices of how notices reach them outside the app, and their addresses
(README, "Notices by email and text message"). Every notice stays in the in-app list."""
from marshmallow import Schema, fields, validate

from contracts.schemas.patient_facing import LanguageBlockSchema

TOPICS = ("record-seen", "emergency", "sharing", "account")
CHANNELS = ("in-app", "email", "sms")
ADDRESS_CHANNELS = ("email", "sms")


class TopicChoiceSchema(Schema):
    topic = fields.String(required=True, validate=validate.OneOf(TOPICS))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    title = fields.String(required=True, metadata={"description": "The topic in words."})
    text = fields.String(required=True, metadata={"description": "What notices it holds, in words."})
    always_in_app = fields.Boolean(required=True, metadata={
        "description": "True for the topics that can never be switched off (emergency access, someone "
                       "saw my record); every notice stays in the in-app list anyway."})


class AddressSchema(Schema):
    id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(ADDRESS_CHANNELS))
    address = fields.String(required=True)
    verified = fields.Boolean(required=True)
    status = fields.String(required=True, metadata={"description": "Whether it is confirmed, in words."})


class NoticePreferencesSchema(Schema):
    topics = fields.List(fields.Nested(TopicChoiceSchema), required=True)
    addresses = fields.List(fields.Nested(AddressSchema), required=True)
    language = fields.Nested(LanguageBlockSchema)


class ChoicesBodySchema(Schema):
    """{topic: channel} for the topics to change; email or sms needs a confirmed address."""

    choices = fields.Dict(keys=fields.String(validate=validate.OneOf(TOPICS)),
                          values=fields.String(validate=validate.OneOf(CHANNELS)), required=True,
                          validate=validate.Length(min=1, max=len(TOPICS)))


class AddressBodySchema(Schema):
    """An email address, or a mobile phone number in E.164 (+ and digits); a code is sent to it."""

    channel = fields.String(required=True, validate=validate.OneOf(ADDRESS_CHANNELS))
    address = fields.String(required=True, validate=validate.Length(min=3, max=254))


class CodeBodySchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\s*[0-9]{6}\s*$"))
