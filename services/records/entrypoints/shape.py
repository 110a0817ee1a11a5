"""A quick look at a transaction Bundle's shape, before the contract's full check.

``contracts.schemas.BundleSchema`` describes the shape and words the errors; walking it with
marshmallow is a large share of an import's time outside the validation (README, "Benchmarks").
A Bundle that passes ``plainly_valid`` is one the schema accepts (tests/unit/test_records_bundle_shape.py
holds the two together); anything else still goes through the schema for its messages.
"""
from __future__ import annotations

_METHODS = ("POST", "PUT")


def plainly_valid(body: object) -> bool:
    """Say whether BODY certainly satisfies BundleSchema (False means: ask the schema)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle" or body.get("type") != "transaction":
        return False
    entries = body.get("entry")
    if not isinstance(entries, list) or not entries:
        return False
    return all(_plain_entry(entry) for entry in entries)


def _plain_entry(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    if "fullUrl" in entry and not isinstance(entry["fullUrl"], str):
        return False
    resource = entry.get("resource")
    if (not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str)
            or ("id" in resource and not isinstance(resource["id"], str))
            or ("meta" in resource and not isinstance(resource["meta"], dict))):
        return False
    if "request" not in entry:
        return True
    request = entry["request"]
    return (isinstance(request, dict) and request.get("method") in _METHODS
            and isinstance(request.get("url"), str))
