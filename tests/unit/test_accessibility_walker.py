"""The walker finds the contract's shapes at any depth and names them by JSON path."""
from __future__ import annotations

from contracts.accessibility import check
from contracts.accessibility.walker import child_path, walk


def test_the_walker_visits_every_value_in_document_order_with_its_path():
    document = {"items": [{"summary": "a"}, 3], "next": None}
    assert [node.path for node in walk(document)] == [
        "$", "$.items", "$.items[0]", "$.items[0].summary", "$.items[1]", "$.next"]


def test_list_elements_inherit_the_key_that_holds_the_list():
    [*_, element] = walk({"language": ["en"]})
    assert (element.path, element.key, element.parent.key) == ("$.language[0]", "language", "language")


def test_keys_that_are_not_identifiers_use_bracket_notation():
    assert child_path("$", "content-type") == "$['content-type']"
    assert child_path("$.a", "it's") == "$.a['it\\'s']"


def test_shapes_are_found_deep_inside_lists_and_objects():
    payload = {"items": [
        {"ok": True},
        {"entries": [{"resource": {"valueQuantity": {"value": 5, "unit": "mg", "display": "5 mg"}}}]},
        {"page": {"sections": [[{"status": {"status": "low", "colour": "amber"}}]]}},
        {"x": {"y": {"z": {"iso": "2024-03-03", "display": "03/03/2024"}}}},
    ]}
    assert [(v.rule, v.path) for v in check(payload)] == [
        ("quantity-units", "$.items[1].entries[0].resource.valueQuantity.display"),
        ("colour-only", "$.items[2].page.sections[0][0].status"),
        ("display-date", "$.items[3].x.y.z.display"),
    ]


def test_a_deeply_nested_document_does_not_exhaust_the_stack():
    document: dict = {"summary": "ok"}
    for _ in range(5000):
        document = {"child": document}
    assert check(document) == []


def test_scalars_and_empty_documents_have_no_violations():
    assert check(None) == [] and check([]) == [] and check("text") == [] and check(3) == []
