"""Build the AsyncAPI 3.0 document of the Kafka channels from ``contracts.events``."""
from __future__ import annotations

from contracts import events
from contracts.events import PARTITIONS, TOPICS

VERSION = "1.0.0"


def _channel_id(topic: str) -> str:
    return "".join(part.title() for part in topic.replace(".", " ").split())


def _message_id(event_type: str) -> str:
    return event_type.replace(".", "-")


def _payload(event_type: str) -> dict:
    return {k: v for k, v in events.schema(event_type).items()
            if k not in ("$schema", "$id") and not k.startswith("x-")}


def _key(schema: dict) -> str:
    """The Kafka key of an event: its subject (services.common.outbox.enqueue), as its schema says."""
    said = schema["properties"]["subject"].get("description", "The event's subject.")
    return said.replace(" (also the Kafka key)", "")


def build() -> dict:
    """Return the AsyncAPI document as a dict."""
    channels: dict[str, dict] = {}
    for topic in TOPICS:
        for address, kind in ((topic, "events"), (f"{topic}.dlq", "dead letters")):
            channels[_channel_id(address)] = {
                "address": address, "messages": {},
                "description": (f"{kind.capitalize()}, keyed by their subject (each message's key says "
                                f"which: a patient's id, or a department's) so one subject's events "
                                f"stay in order; {PARTITIONS} partitions." if kind == "events" else
                                f"Messages of {topic} that could not be processed after bounded retries; "
                                "headers dlq-reason and dlq-consumer say why and where."),
                "bindings": {"kafka": {"topic": address, "partitions": PARTITIONS}}}
    operations: dict[str, dict] = {}
    messages: dict[str, dict] = {}
    for event_type, where in events.catalogue().items():
        topic, producer = where["topic"], where["producer"]
        mid = _message_id(event_type)
        schema = events.schema(event_type)
        messages[mid] = {
            "name": event_type, "title": event_type, "summary": schema.get("description", ""),
            "contentType": "application/cloudevents+json",
            "headers": {"type": "object", "properties": {
                "traceparent": {"type": "string", "description": "W3C trace context."},
                "content-type": {"type": "string", "const": "application/cloudevents+json"}}},
            "payload": _payload(event_type),
            "bindings": {"kafka": {"key": {"type": "string", "description": _key(schema)}}}}
        cid = _channel_id(topic)
        channels[cid]["messages"][mid] = {"$ref": f"#/components/messages/{mid}"}
        ref = {"$ref": f"#/channels/{cid}/messages/{mid}"}
        operations[f"{producer}-sends-{mid}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{cid}"}, "messages": [ref],
            "summary": f"The {producer} service publishes {event_type} through its outbox."}
        for consumer in where["consumers"]:
            operations[f"{consumer}-receives-{mid}"] = {
                "action": "receive", "channel": {"$ref": f"#/channels/{cid}"}, "messages": [ref],
                "summary": f"The {consumer} worker consumes {event_type} idempotently."}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "PHR exchange — events v1", "version": VERSION,
                 "description": "CloudEvents 1.0 in structured JSON mode on Kafka; a transactional "
                                "outbox in every producer, idempotent consumers, dead-letter topics.",
                 "license": {"name": "Apache-2.0"}},
        "defaultContentType": "application/cloudevents+json",
        "servers": {"embedded": {"host": "127.0.0.1:9092", "protocol": "kafka",
                                 "description": "The embedded broker of make up."}},
        "channels": channels, "operations": operations,
        "components": {"messages": messages},
    }
