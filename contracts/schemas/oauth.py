"""OAuth 2.0 and SMART App Launch 2 bodies (RFC 6749, 7009, 7517, 7662; SMART 2.0)."""
from marshmallow import INCLUDE, Schema, fields, validate


class TokenResponseSchema(Schema):
    """RFC 6749 section 5.1 access token response."""

    class Meta:
        unknown = INCLUDE

    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)
    refresh_token = fields.String()
    patient = fields.String(metadata={"description": "SMART launch context: the patient the token may touch."})
    id_token = fields.String(metadata={
        "description": "OpenID Connect ID token (scope openid): signed RS256 with a key of /oauth/jwks, "
                       "aud the client id, fhirUser the person's FHIR resource, nonce as sent."})


class OAuthErrorSchema(Schema):
    """RFC 6749 section 5.2 error response (token, revocation and introspection endpoints)."""

    class Meta:
        unknown = INCLUDE

    error = fields.String(required=True)
    error_description = fields.String()


class IntrospectionSchema(Schema):
    """RFC 7662 section 2.2 introspection response."""

    class Meta:
        unknown = INCLUDE

    active = fields.Boolean(required=True)
    scope = fields.String()
    client_id = fields.String()
    sub = fields.String()
    exp = fields.Integer()
    iat = fields.Integer()
    iss = fields.String()
    aud = fields.Raw()
    jti = fields.String()
    token_type = fields.String()
    patient = fields.String()
    dept = fields.String()


class JwkSchema(Schema):
    class Meta:
        unknown = INCLUDE

    kty = fields.String(required=True)
    kid = fields.String(required=True)
    use = fields.String()
    alg = fields.String()


class JwksSchema(Schema):
    """RFC 7517 section 5 JWK Set (public keys only)."""

    keys = fields.List(fields.Nested(JwkSchema), required=True, validate=validate.Length(min=1))


class RevokedTokenSchema(Schema):
    jti = fields.String(required=True, metadata={"description": "The revoked access token's id."})
    exp = fields.Integer(required=True, metadata={"description": "When it would have expired (seconds since the epoch)."})


class RevokedTokensSchema(Schema):
    """The access tokens revoked before their expiry, for services that validate tokens themselves.

    Open like the JWK Set: a token id names a token without being one, and nothing here says
    whose it was. Copy it every second (with If-None-Match) to refuse revoked tokens too.
    """

    revoked = fields.List(fields.Nested(RevokedTokenSchema), required=True)


class SmartConfigurationSchema(Schema):
    """SMART App Launch 2 `.well-known/smart-configuration` (section 2.0.0 Conformance)."""

    class Meta:
        unknown = INCLUDE

    issuer = fields.String(required=True)
    jwks_uri = fields.String(required=True)
    authorization_endpoint = fields.String(required=True)
    token_endpoint = fields.String(required=True)
    grant_types_supported = fields.List(fields.String(), required=True)
    token_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    token_endpoint_auth_signing_alg_values_supported = fields.List(fields.String())
    scopes_supported = fields.List(fields.String(), required=True)
    response_types_supported = fields.List(fields.String(), required=True)
    code_challenge_methods_supported = fields.List(fields.String(validate=validate.Equal("S256")),
                                                   required=True, validate=validate.Length(equal=1))
    capabilities = fields.List(fields.String(), required=True)
    introspection_endpoint = fields.String()
    revocation_endpoint = fields.String()


JWKS_DESCRIPTION = "The app's public keys (RFC 7517), for private_key_jwt; jwks_uri is not supported."


class ClientRegistrationRequestSchema(Schema):
    """RFC 7591 section 2 client metadata, as a patient's own app may register it."""

    class Meta:
        unknown = INCLUDE

    redirect_uris = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=5),
                                metadata={"description": "https, or http on 127.0.0.1, [::1] or localhost."})
    client_name = fields.String(validate=validate.Length(min=1, max=64),
                                metadata={"description": "Shown to the patient on the approval page."})
    token_endpoint_auth_method = fields.String(validate=validate.OneOf(["none", "private_key_jwt"]))
    grant_types = fields.List(fields.String(validate=validate.OneOf(["authorization_code", "refresh_token"])))
    response_types = fields.List(fields.String(validate=validate.Equal("code")))
    scope = fields.String(metadata={
        "description": "Only launch/patient, openid, fhirUser, offline_access and patient read scopes "
                       "(patient/*.rs, patient/Observation.r, ...). Default: launch/patient openid "
                       "fhirUser patient/*.rs."})
    jwks = fields.Dict(metadata={"description": JWKS_DESCRIPTION})


class ClientRegistrationSchema(ClientRegistrationRequestSchema):
    """RFC 7591 section 3.2.1: the registered metadata with the client id (never a secret)."""

    client_id = fields.String(required=True)
    client_id_issued_at = fields.Integer(required=True)


class UserInfoSchema(Schema):
    """OpenID Connect Core section 5.3 UserInfo response."""

    class Meta:
        unknown = INCLUDE

    sub = fields.String(required=True)
    patient = fields.String(required=True)
    fhirUser = fields.String(metadata={"description": "Patient/<id> for the patient's own token."})


class ConnectedAppSchema(Schema):
    """One app the patient approved."""

    id = fields.String(required=True, metadata={"description": "The app's client id."})
    name = fields.String(required=True)
    scope = fields.String(required=True, metadata={"description": "What the patient approved."})
    reads = fields.List(fields.String(), required=True,
                        metadata={"description": "FHIR types the app may read; [\"*\"] for all."})
    approved_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(required=True, allow_none=True,
                                   metadata={"description": "When the app last got a token (sign-in or refresh)."})


class ConnectedAppListSchema(Schema):
    items = fields.List(fields.Nested(ConnectedAppSchema), required=True)
    next = fields.String(required=True, allow_none=True)
