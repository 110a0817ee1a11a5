"""The public contract v1: HTTP and event schemas, generated OpenAPI/AsyncAPI, and the rules.

- ``contracts.schemas``: marshmallow schemas of every request and response body;
- ``contracts.http``: the operations of contract v1 (paths, methods, scopes, schemas);
- ``contracts.events``: JSON Schemas of every CloudEvent type (``contracts/events/*.json``);
- ``contracts.openapi`` / ``contracts.asyncapi``: build ``openapi.yaml`` / ``asyncapi.yaml``
  (``make contracts`` writes them);
- ``contracts.accessibility``: the accessibility and language rules.
"""
