"""The import-linter contract in pyproject.toml keeps the layers of docs/architecture.md.

The first test checks the real code. The others run the same contract over a small tree of
stub packages with one forbidden import each, to show that the contract does catch it.
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
PACKAGES = ("contracts", "contracts.schemas", "services", "services.common", "services.consent",
            "services.records", "services.exchange", "gateway", "gateway.proxy", "launcher", "bench")


def _lint(config: Path, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _stub_tree(tmp_path: Path, imports: dict[str, str]) -> Path:
    """Write empty stub packages, IMPORTS {module: import line} added, and our contract beside them."""
    for package in PACKAGES:
        folder = tmp_path.joinpath(*package.split("."))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("")
    for module, line in imports.items():
        tmp_path.joinpath(*module.split(".")).with_suffix(".py").write_text(line + "\n")
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    config = tmp_path / "layers.toml"
    config.write_text(_as_toml(table))
    return config


def _as_toml(table: dict) -> str:
    """Write the [tool.importlinter] TABLE back as TOML (flat strings and lists only)."""
    def value(v):
        return "[" + ", ".join(f'"{x}"' for x in v) + "]" if isinstance(v, list) else f'"{v}"'

    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {value(v)}" for k, v in table.items() if k != "contracts"]
    for contract in table["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{k} = {value(v)}" for k, v in contract.items()]
    return "\n".join(lines) + "\n"


def test_the_code_keeps_its_layers_and_the_four_services_never_import_each_other():
    result = _lint(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_the_contract_passes_a_stub_tree_that_imports_only_downward(tmp_path):
    config = _stub_tree(tmp_path, {
        "services.consent.views": "import contracts.schemas",
        "services.common.tools": "import contracts",
        "launcher.run": "import services.consent.views, gateway.proxy",
    })
    result = _lint(config, tmp_path, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module, line", [
    ("contracts.schemas.consent", "import services.consent"),
    ("contracts.asyncapi", "import services.common"),
    ("services.common.cli", "import services.records"),
    ("services.consent.views", "import services.records"),
    ("services.exchange.flow", "from gateway import proxy"),
    ("gateway.proxy.forward", "import services.exchange"),
    ("services.records.seed", "import launcher"),
], ids=["contracts-imports-a-service", "contracts-imports-the-platform", "the-platform-imports-a-service",
        "consent-imports-records", "exchange-imports-the-gateway", "the-gateway-imports-exchange",
        "a-service-imports-the-launcher"])
def test_the_contract_breaks_when_a_module_imports_upward_or_sideways(tmp_path, module, line):
    config = _stub_tree(tmp_path, {module: line})
    result = _lint(config, tmp_path, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and module in result.stdout
