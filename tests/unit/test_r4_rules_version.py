"""The R4 rules generator (services/records/entrypoints/r4_rules.py) builds only from FHIR 4.0.1.

That the committed services/records/data/fhir-r4/rules.json is what the generator makes of its two
sources today is checked by `make fhir-rules-check`, not here: it fetches them from PyPI and the
npm registry, and the test suite's traffic stays on 127.0.0.1."""
import pytest

from services.records.entrypoints import r4_rules


def test_the_generator_refuses_definitions_of_another_fhir_version():
    with pytest.raises(SystemExit, match="not FHIR 4.0.1"):
        r4_rules.build({"version.info": "[FHIR]\nversion=4.3.0\n"}, "sha512-x")
