"""The gateway's own import-linter contracts (pyproject.toml): its subpackages import one way
(app, wiring, pages and admin, directory, authorization server, accounts, proxy, shared tables)
and no two of its modules import each other.

The real code is checked by tests/unit/test_layers.py, which runs every contract. Here the
gateway's contracts run alone over stub trees with one import each, to show what they refuse.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("gateway", "gateway.authz", "gateway.accounts", "gateway.proxy", "gateway.portal",
            "gateway.admin", "gateway.directory")
MODULES = ("gateway.app", "gateway.bootstrap", "gateway.worker", "gateway.storage", "gateway.schema",
           "gateway.authz.oauth", "gateway.accounts.activation", "gateway.accounts.caregivers",
           "gateway.proxy.guard", "gateway.portal.views", "gateway.admin.clients",
           "gateway.directory.store")


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"'


def _lint(tmp_path: Path, imports: dict[str, str]) -> subprocess.CompletedProcess:
    """Lint a stub gateway whose modules hold IMPORTS {module: import line} with our contracts."""
    for package in PACKAGES:
        folder = tmp_path.joinpath(*package.split("."))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("")
    for module in set(MODULES) | set(imports):
        tmp_path.joinpath(*module.split(".")).with_suffix(".py").write_text(imports.get(module, "") + "\n")
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    lines = ["[tool.importlinter]", 'root_packages = ["gateway"]']
    for contract in contracts:
        if contract["id"].startswith("gateway"):
            lines += ["", "[[tool.importlinter.contracts]]"]
            lines += [f"{k} = {_toml(v)}" for k, v in contract.items()]
    config = tmp_path / "gateway.toml"
    config.write_text("\n".join(lines) + "\n")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)


def test_the_gateway_contracts_pass_imports_that_run_down_the_layers(tmp_path):
    result = _lint(tmp_path, {
        "gateway.app": "import gateway.bootstrap, gateway.portal.views",
        "gateway.bootstrap": "import gateway.authz.oauth, gateway.accounts.activation",
        "gateway.portal.views": "import gateway.authz.oauth, gateway.directory.store",
        "gateway.admin.clients": "import gateway.directory.store",
        "gateway.directory.store": "import gateway.authz.oauth",
        "gateway.authz.oauth": "import gateway.accounts.caregivers",
        "gateway.accounts.activation": "import gateway.accounts.caregivers, gateway.proxy.guard",
        "gateway.proxy.guard": "import gateway.storage",
    })
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("imports", [
    {"gateway.proxy.guard": "import gateway.authz.oauth"},
    {"gateway.accounts.caregivers": "import gateway.authz.oauth"},
    {"gateway.authz.oauth": "import gateway.portal.views"},
    {"gateway.storage": "import gateway.accounts.caregivers"},
    {"gateway.portal.views": "import gateway.bootstrap"},
    {"gateway.authz.oauth": "import gateway.directory.store"},
    {"gateway.directory.store": "import gateway.portal.views"},
    {"gateway.accounts.activation": "import gateway.accounts.caregivers",
     "gateway.accounts.caregivers": "import gateway.accounts.activation"},
    {"gateway.billing": ""},
], ids=["the-proxy-imports-the-authorization-server", "accounts-import-the-authorization-server",
        "the-authorization-server-imports-the-portal", "the-shared-tables-import-accounts",
        "the-portal-imports-the-wiring", "the-authorization-server-imports-the-directory",
        "the-directory-imports-the-portal", "two-modules-import-each-other",
        "a-new-module-has-no-layer"])
def test_the_gateway_contracts_break_on_an_upward_import_a_cycle_or_an_unplaced_module(tmp_path, imports):
    result = _lint(tmp_path, imports)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
