"""FHIR R4 bodies at the level the contract fixes; resources themselves are validated by
fhir.resources (module R4B) in the records service, not re-described here."""
from marshmallow import INCLUDE, Schema, fields, validate


class ResourceSchema(Schema):
    """Any FHIR R4 resource (JSON)."""

    class Meta:
        unknown = INCLUDE

    resource_type = fields.String(required=True, data_key="resourceType")
    id = fields.String()
    meta = fields.Dict()


class BundleRequestSchema(Schema):
    """Bundle.entry.request of a transaction."""

    class Meta:
        unknown = INCLUDE

    method = fields.String(required=True, validate=validate.OneOf(["POST", "PUT"]))
    url = fields.String(required=True)


class BundleEntrySchema(Schema):
    class Meta:
        unknown = INCLUDE

    full_url = fields.String(data_key="fullUrl")
    resource = fields.Nested(ResourceSchema, required=True)
    request = fields.Nested(BundleRequestSchema)


class BundleSchema(Schema):
    """A transaction Bundle (FHIR R4 section 3.1.0.11.2)."""

    class Meta:
        unknown = INCLUDE

    resource_type = fields.String(required=True, data_key="resourceType", validate=validate.Equal("Bundle"))
    type = fields.String(required=True, validate=validate.Equal("transaction"))
    entry = fields.List(fields.Nested(BundleEntrySchema), required=True, validate=validate.Length(min=1))


class EntryResponseSchema(Schema):
    status = fields.String(required=True, metadata={"example": "201 Created"})
    location = fields.String(required=True, metadata={"example": "Observation/123/_history/1"})
    etag = fields.String(required=True)
    last_modified = fields.String(required=True, data_key="lastModified")


class ResponseEntrySchema(Schema):
    response = fields.Nested(EntryResponseSchema, required=True)


class TransactionResponseSchema(Schema):
    """The transaction-response Bundle: one entry per request entry, in order."""

    resource_type = fields.String(required=True, data_key="resourceType", validate=validate.Equal("Bundle"))
    type = fields.String(required=True, validate=validate.Equal("transaction-response"))
    entry = fields.List(fields.Nested(ResponseEntrySchema), required=True)


class CapabilityStatementSchema(ResourceSchema):
    """The server's FHIR CapabilityStatement."""

    fhir_version = fields.String(required=True, data_key="fhirVersion")
    status = fields.String(required=True)
    kind = fields.String(required=True)


class BundleLinkSchema(Schema):
    relation = fields.String(required=True, metadata={"example": "next"})
    url = fields.String(required=True, metadata={"example": "/fhir/Observation?patient=p1&_cursor=WyJzZWFyY2giLCJvYnMtMSJd"})


class SearchEntrySchema(Schema):
    class Meta:
        unknown = INCLUDE

    full_url = fields.String(data_key="fullUrl")
    resource = fields.Nested(ResourceSchema, required=True)
    search = fields.Dict()


class SearchsetBundleSchema(Schema):
    """A page of search results (FHIR R4 3.1.1.5): total matches, self and next links (opaque cursor)."""

    resource_type = fields.String(required=True, data_key="resourceType", validate=validate.Equal("Bundle"))
    type = fields.String(required=True, validate=validate.Equal("searchset"))
    total = fields.Integer(required=True)
    link = fields.List(fields.Nested(BundleLinkSchema), required=True)
    entry = fields.List(fields.Nested(SearchEntrySchema), required=True)


class HistoryEntrySchema(Schema):
    class Meta:
        unknown = INCLUDE

    full_url = fields.String(data_key="fullUrl")
    resource = fields.Nested(ResourceSchema, required=True)
    request = fields.Dict(required=True)
    response = fields.Dict(required=True)


class HistoryBundleSchema(Schema):
    """Every version of one resource, newest first (FHIR R4 3.1.0.9)."""

    resource_type = fields.String(required=True, data_key="resourceType", validate=validate.Equal("Bundle"))
    type = fields.String(required=True, validate=validate.Equal("history"))
    total = fields.Integer(required=True)
    link = fields.List(fields.Nested(BundleLinkSchema))
    entry = fields.List(fields.Nested(HistoryEntrySchema), required=True)


class CollectionBundleSchema(Schema):
    """A prepared Bundle of type collection (the phr.records.fetched claim check)."""

    class Meta:
        unknown = INCLUDE

    resource_type = fields.String(required=True, data_key="resourceType", validate=validate.Equal("Bundle"))
    type = fields.String(required=True, validate=validate.Equal("collection"))
    entry = fields.List(fields.Nested(SearchEntrySchema), required=True)
