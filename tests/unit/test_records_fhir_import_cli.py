"""`phr import`: the summary, the failure reason from an OperationOutcome, and the exit code."""
import argparse
import json
from collections import Counter

import requests

from services.records.entrypoints import cli


def _response(status, body):
    resp = requests.Response()
    resp.status_code, resp._content = status, json.dumps(body).encode()
    return resp


def test_a_failure_reason_names_the_entry_from_the_operation_outcome():
    resp = _response(422, {"resourceType": "OperationOutcome", "issue": [
        {"expression": ["Bundle.entry[2].resource.valueQuantity.value"], "diagnostics": "not a number"}]})
    assert cli.reason(resp) == "HTTP 422: Bundle.entry[2].resource.valueQuantity.value: not a number"


def test_the_summary_counts_types_rate_and_failures():
    s = cli.Summary(bundles=2, resources=3, types=Counter(Patient=1, Observation=2),
                    failures=[("b.json", "HTTP 409: taken")], seconds=1.5)
    text = "\n".join(s.lines())
    assert "imported 1 of 2 bundles, 3 resources in 1.5 s (2 resources/s)" in text
    assert "Observation" in text and "FAILED b.json: HTTP 409: taken" in text


def test_any_failure_makes_a_non_zero_exit(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "import_folder", lambda *a, **k: cli.Summary(bundles=1, failures=[("x", "y")]))
    args = argparse.Namespace(folder=tmp_path, gateway="http://g", client_id="c", client_secret="s",
                              credentials=tmp_path / "none.json")
    assert cli.run(args) == 1
    monkeypatch.setattr(cli, "import_folder", lambda *a, **k: cli.Summary(bundles=1))
    assert cli.run(args) == 0


def test_credentials_default_to_primary_care_in_the_demo_file(tmp_path):
    path = tmp_path / "demo-credentials.json"
    path.write_text(json.dumps({"departments": {"primary-care": {"client_id": "pc", "client_secret": "pw"}}}))
    args = argparse.Namespace(client_id=None, client_secret=None, credentials=path)
    assert cli.credentials(args) == ("pc", "pw")
