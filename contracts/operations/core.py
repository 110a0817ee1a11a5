"""Operations of the walking skeleton: discovery, OAuth, accounts, FHIR import and read, ops."""
from contracts import schemas as s
from contracts.http import FHIR_JSON, FORM, Operation, Response, path_param, problems

OPERATIONS: tuple[Operation, ...] = (
    # discovery and auth (RFC 6749, 7009, 7517, 7662; SMART App Launch 2)
    Operation("get", "/.well-known/smart-configuration", "SMART App Launch 2 discovery", "auth",
              (Response(200, "Endpoints and capabilities.", s.SmartConfigurationSchema),)),
    Operation("get", "/oauth/jwks", "Public keys that sign access tokens (RFC 7517)", "auth",
              (Response(200, "The JWK Set.", s.JwksSchema),)),
    Operation("post", "/oauth/token", "Token endpoint (RFC 6749 section 3.2)", "auth",
              (Response(200, "An access token.", s.TokenResponseSchema),
               Response(400, "An OAuth error.", s.OAuthErrorSchema),
               Response(401, "Client authentication failed.", s.OAuthErrorSchema)),
              request_media_type=FORM),
    Operation("post", "/oauth/introspect", "Token introspection (RFC 7662)", "auth",
              (Response(200, "Whether the token is active, and its claims.", s.IntrospectionSchema),
               Response(401, "Client authentication failed.", s.OAuthErrorSchema)),
              request_media_type=FORM),
    Operation("post", "/oauth/revoke", "Token revocation (RFC 7009)", "auth",
              (Response(200, "Revoked (or unknown: the answer is the same)."),
               Response(401, "Client authentication failed.", s.OAuthErrorSchema)),
              request_media_type=FORM),
    # accounts
    Operation("post", "/accounts/v1/activation-codes", "A custodian department asks for a patient's activation code",
              "accounts", (Response(201, "The code and when it expires.", s.ActivationCodeSchema),
                           *problems(401, 403, 404, 422)),
              request=s.ActivationCodeRequestSchema, scopes=("system/Patient.r",)),
    Operation("post", "/accounts/v1/activate", "A patient opens a portal account", "accounts",
              (Response(201, "The account is open.", s.ActivatedAccountSchema),
               *problems(400, 409, 410, 422, 429)),
              request=s.ActivateRequestSchema),
    # FHIR for departments (records)
    Operation("get", "/fhir/metadata", "FHIR CapabilityStatement", "fhir",
              (Response(200, "What this FHIR server supports.", s.CapabilityStatementSchema, FHIR_JSON),)),
    Operation("post", "/fhir", "Store a transaction Bundle atomically (FHIR R4 3.1.0.11.2)", "fhir",
              (Response(200, "The transaction-response Bundle.", s.TransactionResponseSchema, FHIR_JSON),
               *problems(400, 401, 403, 409, 422, schema=s.OperationOutcomeProblemSchema)),
              request=s.BundleSchema, request_media_type=FHIR_JSON, scopes=("system/*.c",)),
    Operation("get", "/fhir/{type}/{id}", "Read one resource held by the calling department", "fhir",
              (Response(200, "The current version (ETag W/\"<versionId>\").", s.ResourceSchema, FHIR_JSON),
               Response(304, "Not modified (If-None-Match)."),
               *problems(401, 403, 404, schema=s.OperationOutcomeProblemSchema)),
              scopes=("system/{type}.r",),
              parameters=(path_param("type", "A FHIR resource type, e.g. Observation."),
                          path_param("id", "The resource id."))),
    # every service
    Operation("get", "/healthz", "The process is alive", "ops", (Response(200, "Alive.", s.HealthSchema),)),
    Operation("get", "/readyz", "Database and broker answer", "ops",
              (Response(200, "Ready.", s.ReadinessSchema), Response(503, "Not ready.", s.ReadinessSchema))),
    Operation("get", "/metrics", "Prometheus metrics", "ops",
              (Response(200, "Metrics in the Prometheus text format.", None, "text/plain"),)),
)
