"""python -m contracts.accessibility checks a JSON file and exits non-zero on violations."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from contracts.accessibility.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"items": [{"summary": "Your blood pressure was normal.",
                   "date": {"iso": "2024-03-03", "display": "3 de marzo de 2024"}}], "next": None}
BAD = {"items": [{"value": {"value": 5, "unit": "mg", "display": "5 mg"}}]}


def write(tmp_path: Path, payload) -> str:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return str(path)


def test_a_clean_file_exits_zero(tmp_path, capsys):
    assert main([write(tmp_path, GOOD), "--locale", "es"]) == 0
    assert capsys.readouterr().out == ""


def test_the_locale_option_changes_the_verdict(tmp_path, capsys):
    assert main([write(tmp_path, GOOD)]) == 1
    assert "display-date at $.items[0].date.display" in capsys.readouterr().out


def test_violations_are_printed_as_json_on_request(tmp_path, capsys):
    assert main([write(tmp_path, BAD), "--json"]) == 1
    [violation] = json.loads(capsys.readouterr().out)
    assert violation["rule"] == "quantity-units" and violation["path"] == "$.items[0].value.display"


def test_an_unreadable_file_exits_two(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert main([str(tmp_path / "broken.json")]) == 2
    assert main([str(tmp_path / "missing.json")]) == 2


def test_the_rules_are_listed_with_thresholds_and_standards(capsys):
    assert main(["--rules"]) == 0
    out = capsys.readouterr().out
    assert "plain-language" in out and "SC 3.1.5" in out and "SC 1.4.1" in out


def test_the_module_runs_as_a_command(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "contracts.accessibility", write(tmp_path, BAD),
                          "--content-language", "en"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "quantity-units at $.items[0].value.display" in bad.stdout
    assert "1 violation(s)" in bad.stderr
