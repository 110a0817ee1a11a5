"""A widely used FHIR client library from PyPI (fhirpy) against the running stack, through the
gateway: a department creates, updates and searches with _include, as such scripts do."""
import uuid

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from tests.support.client import Department


def _client(stack) -> SyncFHIRClient:
    creds = stack.credentials()["departments"]["primary-care"]
    dept = Department(stack.gateway, creds["client_id"], creds["client_secret"])
    return SyncFHIRClient(f"{stack.gateway}/fhir", authorization=f"Bearer {dept.token}")


def test_a_department_creates_updates_and_searches_with_include_with_fhirpy(stack):
    client = _client(stack)
    tag = uuid.uuid4().hex
    patient = client.resource("Patient", name=[{"family": "Library", "given": ["Test"]}], birthDate="1970-01-01",
                              identifier=[{"system": "urn:test", "value": tag}])
    patient.save()  # POST /fhir/Patient
    assert patient.id and patient.meta.versionId == "1"
    obs = client.resource("Observation", status="final", code={"text": "Heart rate"},
                          subject={"reference": f"Patient/{patient.id}"},
                          valueQuantity={"value": 70, "unit": "/min"})
    obs.save()
    obs.valueQuantity = {"value": 72, "unit": "/min"}
    obs.save()  # PUT /fhir/Observation/{id}, no If-Match
    assert client.reference("Observation", obs.id).to_resource().valueQuantity["value"] == 72
    bundle = client.resources("Observation").search(patient=patient.id).include("Observation", "subject").fetch_raw()
    modes = {(e.resource.resourceType, e.search.mode) for e in bundle.entry}
    assert modes == {("Observation", "match"), ("Patient", "include")}
    # A department that writes records deletes what it holds (system/*.cud): the resource then
    # reads 410 Gone (tests/integration/test_records_fhir_interactions.py checks the status).
    obs.delete()
    with pytest.raises(ResourceNotFound):  # fhirpy raises it for 404 and 410 alike
        client.reference("Observation", obs.id).to_resource()
    # and the patient it made, so the stack's other tests count only their own patients
    patient.delete()
    with pytest.raises(ResourceNotFound):
        client.reference("Patient", patient.id).to_resource()
