"""The conformance kit: check any deployment of the public contract v1 from outside.

``phr-conformance --base-url URL`` runs four groups of checks against a running gateway and
reports each as passed, failed or not run (with the reason):

- ``openapi``: every operation of the OpenAPI document fuzzed by schemathesis with valid
  tokens (no 5xx, documented status codes, content types and response schemas);
- ``accessibility``: the rules of ``contracts.accessibility`` on every patient-facing GET in
  every supported language;
- ``security``: no token, an expired token, a forged token, ``alg: none``, one patient's
  token on another's data, a token without the needed scope;
- ``consent``: no consent is denied, consent is fulfilled, revocation denies again,
  break-the-glass notifies the patient.

The kit needs only the gateway's URL and credentials; it does not import the services.
"""
