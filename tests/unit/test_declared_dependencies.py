"""What the code imports is what pyproject.toml declares, and the shipped packages need no tests.

A package imported only because another one pulls it in breaks when that one stops doing so;
tests/e2e/test_installed_package.py checks the wheel itself.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import lru_cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("contracts", "services", "gateway", "launcher", "bench")
OURS = {*SHIPPED, "tests"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[=<>!~;\s]", requirement, maxsplit=1)[0]).lower()


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for e in extras for r in project["optional-dependencies"][e])]
    return {_name(r) for r in requirements}


@lru_cache(maxsize=None)
def _imports(*folders: str) -> dict[str, set[str]]:
    """{top-level module name: the files importing it}, absolute imports only."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return packages_distributions()


def _undeclared(imports: dict[str, set[str]], declared: set[str]) -> dict[str, set[str]]:
    distributions = _distributions()
    return {module: files for module, files in imports.items()
            if module not in sys.stdlib_module_names and module not in OURS
            and not {_name(d) for d in distributions.get(module, [])} & declared}


def test_every_module_the_packages_import_is_a_declared_dependency():
    assert _undeclared(_imports(*SHIPPED), _declared()) == {}


def test_every_module_the_tests_import_is_declared_with_the_test_extra():
    assert _undeclared(_imports("tests"), _declared("test")) == {}


def test_the_shipped_packages_import_nothing_from_the_tests():
    imports = _imports(*SHIPPED)
    assert imports.get("tests", set()) == set()
