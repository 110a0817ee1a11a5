"""The built wheel, installed outside the repository, runs: its commands, its data, its checks.

The wheel is built from a copy of the source tree (so the checkout gets no build/ folder) and
installed with ``pip install --no-deps --target`` into a temporary folder; the commands then run
with this interpreter (its dependencies are this virtualenv's) with that folder first on
PYTHONPATH and another empty folder as the working directory, so nothing is found in the
checkout: each command prints where its modules came from, and the tests check it is the
installed copy. No network: ``--no-build-isolation`` builds with the pinned setuptools of the
test extra (pyproject.toml).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contracts", "services", "gateway", "launcher", "bench")
#: What is not part of the source a wheel is built from: the virtualenv, run-time state,
#: caches, earlier builds, and the bench's results (git-ignored too).
NOT_SOURCE = (".git", ".venv*", "venv", "var", "tests", "docs", "build", "dist", "node_modules",
              "__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".import_linter_cache", "results")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "phr"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "--quiet", "--wheel-dir", str(out), str(source)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("phr_exchange-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """{"target": where the wheel is installed, "env": the environment to run it with, "cwd": an
    empty folder outside the repository}."""
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    cwd = tmp_path_factory.mktemp("elsewhere")
    env = {**os.environ, "PYTHONPATH": str(target), "PHR_VAR_DIR": str(cwd / "var")}
    return {"target": target, "env": env, "cwd": cwd}


def run(installed: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=installed["cwd"], env=installed["env"],
                          capture_output=True, text=True, timeout=timeout)


def package_data() -> set[str]:
    """Every file of our packages in the checkout that is not Python code, as a wheel names it."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            relative = path.relative_to(ROOT)
            if (path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in relative.parts
                    and relative.parts[:2] != ("bench", "results")):
                found.add(relative.as_posix())
    return found


def test_the_wheel_carries_every_file_the_packages_read_and_the_licence(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = package_data()
    # What each part of the stack reads besides code, so that a lost glob shows here by name.
    for sample in ("contracts/openapi.yaml", "contracts/asyncapi.yaml", "contracts/events/phr.consent.granted.json",
                   "gateway/templates/portal/activate.html", "gateway/static/portal/portal.css",
                   "services/common/translations/es/LC_MESSAGES/messages.po",
                   "services/records/data/fhir-r4/rules.json", "services/records/data/sensitivity/hiv.csv",
                   "gateway/migrations/script.py.mako", "launcher/Procfile", "launcher/demo/staff.json"):
        assert sample in expected
    assert expected - names == set()
    licences = {n for n in names if ".dist-info/licenses/" in n}
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in licences), licences
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Python: <3.14,>=3.11" in metadata
    assert not any(n.startswith("tests/") for n in names)


def test_the_installed_commands_run_from_another_folder_with_the_installed_copy(installed):
    target, started = installed["target"], time.monotonic()
    assert not (installed["cwd"] / "contracts").exists()
    help_text = run(installed, str(target / "bin" / "phr-conformance"), "--help")
    assert help_text.returncode == 0 and "--base-url" in help_text.stdout, help_text.stderr
    imported = run(installed, str(target / "bin" / "phr"), "import", "--help")
    assert imported.returncode == 0 and "FOLDER" in imported.stdout.upper(), imported.stderr
    # The contract documents, rebuilt from the installed schemas and event JSON Schemas, are the
    # installed documents: every file they are built from was found.
    check = run(installed, "-m", "contracts", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert time.monotonic() - started < 60


PROBE = """
import json, sys
from importlib import resources
import contracts, gateway, launcher, services
from contracts.conformance.cli import DEFAULT_SPEC
from gateway.app import create_app
from launcher import stack
from services.common import i18n
from services.records.domain import plain_language, r4_rules, sensitivity

client = create_app().test_client()
page = client.get("/portal/activate", headers={"Accept-Language": "es"})
print(json.dumps({
    "modules": [m.__file__ for m in (contracts, gateway, launcher, services, r4_rules, sensitivity, plain_language)],
    "spec": DEFAULT_SPEC,
    "catalogs": [str(p) for p in i18n.catalogs()],
    "spanish": i18n.translate("Received", "es"),
    "processes": sorted(stack.processes({"PHR_EMBEDDED_BROKER": "1"})),
    "page": [page.status_code, page.headers.get("Content-Language"), page.get_data(as_text=True)],
}))
"""


def test_the_installed_gateway_serves_a_page_in_spanish_from_its_own_templates_and_catalogs(installed):
    # Every service's migrations (scripts and template) are found in the installed copy.
    migrated = run(installed, "-m", "launcher.migrate", "all")
    assert migrated.returncode == 0, migrated.stderr
    done = run(installed, "-c", PROBE)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    target = str(installed["target"])
    assert all(path.startswith(target + os.sep) for path in seen["modules"]), seen["modules"]
    assert seen["spec"].startswith(target) and Path(seen["spec"]).is_file()
    assert len(seen["catalogs"]) == 4 and all(c.startswith(target) for c in seen["catalogs"])
    assert seen["spanish"] == "Recibido"
    assert {"broker", "gateway", "gateway-worker", "records-worker"} <= set(seen["processes"])
    status, language, html = seen["page"]
    assert (status, language) == (200, "es")
    assert '<html lang="es">' in html and "Active su cuenta" in html
    assert "The portal's one stylesheet" in html  # gateway/static/portal/portal.css, inlined


# A few seconds: the security checks only (read-only, or undone by the kit). The whole kit runs
# from the checkout in test_whole_deployment_conformance.py; here what matters is that the
# installed copy, with its own contract, can check a deployment.
@pytest.mark.timeout(300)
def test_the_installed_conformance_kit_checks_the_running_stack(installed, stack, tmp_path):
    patients = stack.credentials()["patients"]
    junit = tmp_path / "conformance.xml"
    done = run(installed, str(installed["target"] / "bin" / "phr-conformance"), "--base-url", stack.gateway,
               "--credentials", str(stack.var_dir / "demo-credentials.json"),
               f"--patient-username={patients[2]['username']}", f"--patient-password={patients[2]['password']}",
               f"--other-patient-username={patients[0]['username']}",
               f"--other-patient-password={patients[0]['password']}",
               "--signing-key", str(stack.var_dir / "gateway-signing-key.json"),
               "--only", "security", "--junit-xml", str(junit), "--require-all", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    import xml.etree.ElementTree as ET

    root = ET.parse(junit).getroot()
    assert {s.get("name") for s in root} == {"security"}
    assert root.get("failures") == "0" and len(list(root.iter("testcase"))) > 5
