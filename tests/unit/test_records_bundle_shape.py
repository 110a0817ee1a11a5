"""The records service's quick shape look never accepts a Bundle the contract's schema refuses."""
import copy

from contracts.schemas import BundleSchema
from services.records.entrypoints.shape import plainly_valid
from tests.support.fhir import demo_bundle, small_bundle

ODD_VALUES = (None, 0, 1.5, True, "", "x", "Bundle", "POST", [], ["x"], {}, {"a": 1})


def _variants(bundle: dict):
    """BUNDLE with one member at a time replaced by an odd value or removed."""
    places = [(), ("entry", 0), ("entry", 0, "resource"), ("entry", 0, "request")]
    for place in places:
        parent = bundle
        for step in place:
            parent = parent[step]
        for key in list(parent) + ["fullUrl", "id", "meta"]:
            for value in ODD_VALUES + ("<removed>",):
                body = copy.deepcopy(bundle)
                target = body
                for step in place:
                    target = target[step]
                if value == "<removed>":
                    target.pop(key, None)
                else:
                    target[key] = value
                yield body
    for value in ODD_VALUES:
        yield value
        yield {**bundle, "entry": [value]}


def test_every_bundle_the_quick_look_accepts_the_schema_accepts_too():
    bundle = small_bundle(observations=1)
    checked = accepted = 0
    for body in _variants(bundle):
        checked += 1
        if plainly_valid(body):
            accepted += 1
            assert BundleSchema().validate(body) == {}, body
    assert checked > 200 and 0 < accepted < checked


def test_a_synthea_bundle_passes_the_quick_look():
    assert plainly_valid(demo_bundle("Liz_Conn"))
    assert BundleSchema().validate(demo_bundle("Liz_Conn")) == {}
