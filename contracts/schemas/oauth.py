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
