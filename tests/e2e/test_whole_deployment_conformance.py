"""phr-conformance against the real stack: it conforms to its own contract, in every category.

This module's name sorts after the other e2e modules on purpose: fuzzing writes (entries and
correction requests in patient A's record, refused exchange requests, break-the-glass for
patient A), so it runs when the other modules are done with the shared stack. Patient A is the
third demo patient, whom no other module signs in as; the kit revokes what it can undo.

On SQLite the kit fuzzes with at least 2,000 generated cases in total (README, "Tests"). On PostgreSQL it
fuzzes every operation in both modes too, with fewer cases each: the HTTP contract code is the
same on both databases, and what only PostgreSQL refuses (a NUL byte, an over-long value) shows
with few cases, so the 2,000-case budget is spent once and the suite stays within its time.
"""
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

CASES_PER_OPERATION = {"sqlite": 50, "postgres": 8}


# About 60-90 s on an idle two-core machine; the margin is for a machine shared with other work.
@pytest.mark.timeout(900)
def test_the_stack_passes_every_check_of_the_conformance_kit(stack, tmp_path):
    database = "postgres" if stack.database_url("records").startswith("postgresql") else "sqlite"
    patients = stack.credentials()["patients"]
    patient_a, patient_b = patients[2], patients[0]
    junit = tmp_path / "conformance.xml"
    started = time.monotonic()
    # The console script, as an integrator runs it (and out of reach of this suite's own plugins).
    done = subprocess.run([
        str(Path(sys.executable).with_name("phr-conformance")), "--base-url", stack.gateway,
        "--credentials", str(stack.var_dir / "demo-credentials.json"),
        # --name=value: a generated password may begin with "-", which argparse would take for an option
        f"--patient-username={patient_a['username']}", f"--patient-password={patient_a['password']}",
        f"--other-patient-username={patient_b['username']}", f"--other-patient-password={patient_b['password']}",
        "--signing-key", str(stack.var_dir / "gateway-signing-key.json"),
        "--max-examples", str(CASES_PER_OPERATION[database]), "--junit-xml", str(junit), "--require-all",
    ], capture_output=True, text=True, timeout=840)
    summary = done.stdout + done.stderr
    print(summary, f"kit run time: {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, summary
    root = ET.parse(junit).getroot()
    assert {s.get("name") for s in root} == {"openapi", "accessibility", "security", "consent"}
    assert root.get("failures") == "0"
    # Every check runs, the staff ones included: the demo's staff (launcher/demo/staff.json) are
    # in the credentials file, and the kit signs them in with codes from their authenticator keys.
    not_run = {case.get("name") for case in root.iter("testcase") if case.find("skipped") is not None}
    assert not_run == set(), summary
    cases = sum(int(p.get("value")) for p in root.iter("property") if p.get("name") == "generated_cases")
    if database == "sqlite":
        assert cases >= 2000, summary
    operations = sum(len(methods) for methods in _spec_paths().values())
    assert len(next(s for s in root if s.get("name") == "openapi")) == operations  # every operation fuzzed


def _spec_paths() -> dict:
    import yaml

    from contracts.conformance.cli import DEFAULT_SPEC
    doc = yaml.safe_load(open(DEFAULT_SPEC))
    return {path: [m for m in item if m in ("get", "post", "put", "delete", "patch")]
            for path, item in doc["paths"].items()}
