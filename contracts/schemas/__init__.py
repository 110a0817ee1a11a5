"""Marshmallow schemas of every request and response body of contract v1.

FHIR and OAuth names stay as the specifications spell them on the wire (``data_key``);
Python attributes are snake_case. The services load requests with these schemas and the
OpenAPI document is generated from them, so validation and documentation agree.
"""
from contracts.schemas.accounts import (ActivateRequestSchema, ActivatedAccountSchema,
                                        ActivationCodeRequestSchema, ActivationCodeSchema)
from contracts.schemas.common import (HealthSchema, OperationOutcomeProblemSchema, ProblemSchema,
                                      ReadinessSchema)
from contracts.schemas.fhir import (BundleSchema, CapabilityStatementSchema, ResourceSchema,
                                    TransactionResponseSchema)
from contracts.schemas.oauth import (IntrospectionSchema, JwksSchema, OAuthErrorSchema,
                                     RevokedTokensSchema, SmartConfigurationSchema,
                                     TokenResponseSchema)

__all__ = [name for name in dir() if name.endswith("Schema")]
