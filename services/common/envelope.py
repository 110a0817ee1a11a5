"""CloudEvents 1.0 envelopes in structured JSON mode (docs/architecture.md, "Events")."""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

CONTENT_TYPE = "application/cloudevents+json"
_FORMAT = JSONFormat()


def new_event(type_: str, source: str, subject: str, data: dict) -> dict:
    """Return a structured CloudEvent as a dict, validated by the CloudEvents SDK."""
    attributes = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
                  "type": type_, "time": datetime.now(timezone.utc),
                  "subject": subject, "datacontenttype": "application/json"}
    event = CloudEvent(attributes, data)
    return json.loads(_FORMAT.write(event))


def parse(raw: bytes) -> dict:
    """Parse and validate a structured CloudEvent; raise ValueError when it is not one."""
    try:
        event = _FORMAT.read(None, raw)
    except Exception as exc:  # the SDK raises several unrelated types for bad input
        raise ValueError(f"not a CloudEvent: {exc}") from exc
    doc = dict(event.get_attributes())
    doc["time"] = doc["time"].isoformat() if hasattr(doc.get("time"), "isoformat") else doc.get("time")
    doc["data"] = event.get_data()
    return doc


def new_traceparent() -> str:
    """Return a fresh W3C traceparent (trace-context section 3.2)."""
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"
