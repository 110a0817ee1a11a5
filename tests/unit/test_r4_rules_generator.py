"""The generator of services/records/data/fhir-r4/rules.json on a tiny source written here (the real
source is fetched by tests/integration/test_r4_rules_source.py)."""
import json

from services.records.entrypoints import r4_rules

VS = "http://hl7.org/fhir/ValueSet/"


def _el(path, *types, max_="1", binding=None, **more):
    el = {"path": path, "max": max_, "type": [{"code": t} if isinstance(t, str) else t for t in types], **more}
    if binding:
        el["binding"] = {"strength": binding[0], "valueSet": binding[1]}
    return el


def _sd(name, kind, *elements, version="4.0.1"):
    return {"resourceType": "StructureDefinition", "type": name, "kind": kind, "fhirVersion": version,
            "derivation": "specialization", "snapshot": {"element": [{"path": name}, *elements]}}


def _source():
    widget = _sd("Widget", "resource",
                 _el("Widget.status", "code", binding=("required", VS + "widget-status|4.0.1")),
                 _el("Widget.colour", "code", binding=("extensible", VS + "colours")),
                 _el("Widget.owner", {"code": "Reference", "targetProfile": [
                     "http://hl7.org/fhir/StructureDefinition/Patient"]}),
                 _el("Widget.value[x]", "Quantity", "string"),
                 _el("Widget.part", "BackboneElement", max_="*"),
                 _el("Widget.part.kind", "code", binding=("required", VS + "part-kind")),
                 _el("Widget.part.part", contentReference="#Widget.part", max_="*"))
    return {
        "version.info": "[FHIR]\nversion=4.0.1\n",
        "StructureDefinition": [widget, _sd("code", "primitive-type"),
                                _sd("Gadget", "resource", version="4.3.0")],
        "valuesets.json": {"entry": [{"resource": r} for r in [
            {"resourceType": "ValueSet", "url": VS + "widget-status",
             "compose": {"include": [{"system": "s"}], "exclude": [{"system": "s", "concept": [{"code": "gone"}]}]}},
            {"resourceType": "ValueSet", "url": VS + "part-kind",
             "compose": {"include": [{"system": "k", "filter": [{"property": "concept", "op": "descendent-of",
                                                                 "value": "any"}]}]}},
            {"resourceType": "CodeSystem", "url": "s", "content": "complete",
             "concept": [{"code": "on"}, {"code": "off", "concept": [{"code": "gone"}]}]},
            {"resourceType": "CodeSystem", "url": "k", "content": "complete",
             "concept": [{"code": "any", "concept": [{"code": "gear"}, {"code": "wheel"}]}]},
        ]]},
        "v3-codesystems.json": {"entry": []},
    }


def test_the_generator_keeps_names_types_required_value_sets_and_reference_targets():
    table = r4_rules.build(_source(), "sha512-test")
    widget = table["types"]["Widget"]
    assert widget["status"] == ["code", False, VS + "widget-status", None]
    assert widget["colour"] == ["code", False, None, None]  # extensible: not checked
    assert widget["owner"] == ["Reference", False, None, ["Patient"]]
    assert widget["valueQuantity"][0] == "Quantity" and widget["valueString"][0] == "string"
    assert widget["part"] == ["Widget.part", True, None, None]
    assert table["types"]["Widget.part"]["part"] == ["Widget.part", True, None, None]
    assert table["valueSets"] == {VS + "part-kind": {"k": ["gear", "wheel"]},
                                  VS + "widget-status": {"s": ["off", "on"]}}
    assert table["resources"] == ["Widget"]  # Gadget is 4.3.0


def test_a_value_set_the_definitions_cannot_list_is_marked_uncheckable():
    source = _source()
    source["valuesets.json"]["entry"][0]["resource"]["compose"]["include"] = [{"system": "urn:ietf:bcp:13"}]
    table = r4_rules.build(source, "sha512-test")
    assert "uncheckable" in table["valueSets"][VS + "widget-status"]


def test_the_stored_table_has_one_line_per_type_and_parses_back():
    table = r4_rules.build(_source(), "sha512-test")
    text = r4_rules.dumps(table)
    assert json.loads(text) == table
    assert '"Widget.part": {"kind":' in text
