import json

import pytest

from services.common import envelope


def test_a_new_event_carries_every_required_cloudevents_attribute():
    event = envelope.new_event("phr.records.imported", "/services/records", "p-1", {"n": 1})
    for attribute in ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"):
        assert attribute in event
    assert event["specversion"] == "1.0" and event["subject"] == "p-1"


def test_an_event_survives_the_round_trip_through_json():
    event = envelope.new_event("phr.records.imported", "/services/records", "p-1", {"n": 1})
    parsed = envelope.parse(json.dumps(event).encode())
    assert parsed["id"] == event["id"] and parsed["data"] == {"n": 1}


@pytest.mark.parametrize("raw", [b"not json", b"{}", b'{"specversion": "1.0", "id": "x"}'])
def test_anything_but_a_cloudevent_is_refused(raw):
    with pytest.raises(ValueError):
        envelope.parse(raw)


def test_a_traceparent_follows_the_w3c_format():
    version, trace, span, flags = envelope.new_traceparent().split("-")
    assert (version, len(trace), len(span), flags) == ("00", 32, 16, "01")
