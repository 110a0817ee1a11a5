"""The official SMART Python client from PyPI (fhirclient, smart-on-fhir/client-py) as a patient's
own app against the running stack: it registers itself (RFC 7591), finds the authorize and token
endpoints in /fhir/metadata, launches standalone, and the patient signs in and approves it on
the real HTML pages. The app then reads its own patient's Observations through fhirclient's
models, is refused another patient's, and is shut out at once when the patient disconnects it.

fhirclient always sends PKCE (S256) and sends a client secret only when it is given one, so the
app registers as a public client ("token_endpoint_auth_method": "none") with PKCE, as a phone
app does. It does not check the id_token (it logs "Received an id_token, ignoring" and keeps it
in its launch context), so the test checks it as an app would, against the JWKS.
"""
import pytest
import requests
from fhirclient import client as smart_client
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRNotFoundException, FHIRUnauthorizedException
from joserfc import jwt
from joserfc.jwk import KeySet

from contracts.conformance.client import sign_in_and_allow
from tests.support.client import Department
from tests.support.portal import forms, signed_in

REDIRECT = "https://steps.example/callback"
SCOPE = "openid fhirUser offline_access patient/Observation.rs patient/Patient.rs"
PAGE = 3  # small pages, so the search follows `next` links


def _app(stack, client_id: str) -> smart_client.FHIRClient:
    saved = {}
    return smart_client.FHIRClient(settings={
        "app_id": client_id, "api_base": stack.gateway + "/fhir", "redirect_uri": REDIRECT,
        "scope": SCOPE}, save_func=saved.update)


def _register(stack) -> str:
    resp = requests.post(stack.gateway + "/oauth/register", timeout=30, json={
        "client_name": "Step Counter (fhirclient)", "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"],
        "response_types": ["code"], "scope": "launch/patient " + SCOPE})
    assert resp.status_code == 201, resp.text
    assert "client_secret" not in resp.json()
    return resp.json()["client_id"]


def _launch(app: smart_client.FHIRClient, who: dict) -> None:
    """The standalone launch: fhirclient builds the authorize link, the patient's browser signs
    in and approves on the pages, fhirclient handles the redirect (state, code, PKCE verifier)."""
    answer = sign_in_and_allow(requests.Session(), app.authorize_url, who["username"], who["password"])
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    assert answer.headers["Location"].startswith(REDIRECT + "?")
    app.handle_callback(answer.headers["Location"])


def _others_observation(stack, patient: str) -> str:
    """An Observation of PATIENT, found as a department that holds their record."""
    creds = stack.credentials()["departments"]["primary-care"]
    dept = Department(stack.gateway, creds["client_id"], creds["client_secret"])
    found = dept.get("/fhir/Observation", params={"patient": patient, "_count": 1})
    assert found.status_code == 200, found.text
    return found.json()["entry"][0]["resource"]["id"]


def test_a_patients_app_launches_standalone_and_disconnects_with_the_smart_client(stack):
    patients = stack.credentials()["patients"]
    who, other = patients[0], patients[1]
    client_id = _register(stack)
    app = _app(stack, client_id)

    # Discovery: fhirclient reads the endpoints from CapabilityStatement.rest.security (oauth-uris).
    authorize_url = app.authorize_url
    assert authorize_url.startswith(stack.gateway + "/oauth/authorize?")
    assert app.server.auth._token_uri == stack.gateway + "/oauth/token"
    assert "launch%2Fpatient" in authorize_url and "code_challenge_method=S256" in authorize_url

    _launch(app, who)
    assert app.ready
    assert app.patient_id == who["patient"]  # `patient` in the token response

    # openid fhirUser: the id_token, signed with the JWKS's key, for this app, naming the patient.
    id_token = app.launch_context["id_token"]
    keys = KeySet.import_key_set(requests.get(stack.gateway + "/oauth/jwks", timeout=30).json())
    claims = jwt.decode(id_token, keys, algorithms=["RS256"]).claims
    assert claims["iss"] == stack.gateway and claims["aud"] == client_id
    assert claims["fhirUser"] == f"Patient/{who['patient']}"
    # fhirUser is relative to the FHIR base (the launch's aud): the app reads it as such.
    me = Patient.read_from(claims["fhirUser"], app.server)
    assert me.id == who["patient"]
    assert app.patient.id == who["patient"]  # fhirclient's own read of the launch's patient

    # Its own Observations, through fhirclient's models and search, page after page.
    search = Observation.where(struct={"patient": app.patient_id, "_count": str(PAGE)})
    pages = list(search.perform_iter(app.server))
    observations = [e.resource for page in pages for e in page.entry or []]
    assert len(pages) > 1, "fewer Observations than one page: the paging is not exercised"
    assert len(observations) > PAGE
    assert len({o.id for o in observations}) == len(observations)
    assert {o.subject.reference for o in observations} == {f"Patient/{who['patient']}"}
    assert Observation.read(observations[0].id, app.server).id == observations[0].id

    # offline_access: fhirclient trades its refresh token for a new access token, which reads.
    first = app.server.auth.access_token
    assert app.reauthorize() and app.server.auth.access_token != first
    assert app.patient_id == who["patient"]
    assert Observation.read(observations[0].id, app.server).id == observations[0].id

    # Another patient's Observation is not there for this app (404, as on /patient/v1).
    with pytest.raises(FHIRNotFoundException):
        Observation.read(_others_observation(stack, other["patient"]), app.server)

    # The patient disconnects the app on the portal's Connected apps page ...
    portal = signed_in(stack.gateway, who["username"], who["password"])
    listing = portal.get(stack.gateway + "/portal/apps", timeout=30)
    assert "Step Counter (fhirclient)" in listing.text
    form = next(f for f in forms(listing) if f["action"].endswith(f"/portal/apps/{client_id}/disconnect"))
    done = portal.post(form["action"], data=form["fields"], timeout=30)
    assert done.status_code == 200 and "Step Counter (fhirclient)" not in done.text
    # ... and the same access token is refused at once, and its refresh token gets no other.
    with pytest.raises(FHIRUnauthorizedException):
        Observation.read(observations[0].id, app.server)
    with pytest.raises(requests.HTTPError) as refused:
        app.reauthorize()
    assert refused.value.response.status_code == 400
    assert refused.value.response.json()["error"] == "invalid_grant"
