# Two commands: `make up` runs the whole stack with demo data, `make test` passes every test.
# The interpreter the virtualenv is made with, and where: Python 3.11 to 3.13 are supported, e.g.
# `make test PYTHON=python3.13 VENV=.venv-3.13` (a virtualenv keeps the Python it was made with).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install up test test-fast browser bench loadgen contracts fhir-rules fhir-rules-check i18n wording-review announce-corrections announce-staff clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the pinned dependencies

up: install ## run broker, gateway and services (HTTP + worker each) in the foreground
	$(PY) -m launcher.stack up

test: install browser ## every test tier (unit, integration, e2e on SQLite and PostgreSQL, browser, ...)
	$(PY) -m pytest

CHROMIUM := /usr/bin/chromium

browser: ## Debian's Chromium for the browser tests (installed with apt-get when missing and root)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	else echo "The browser tests need $(CHROMIUM). Run: sudo apt-get install -y chromium"; fi

test-fast: install ## unit tests only
	$(PY) -m pytest tests/unit -q

contracts: install ## regenerate contracts/openapi.yaml and contracts/asyncapi.yaml
	$(PY) -m contracts generate

fhir-rules: install ## rebuild services/records/data/fhir-r4/rules.json from the FHIR R4 definitions (needs pip and npm)
	$(PY) -m services.records.entrypoints.r4_rules

fhir-rules-check: install ## check services/records/data/fhir-r4/rules.json is what the FHIR R4 definitions give today (needs pip and npm)
	$(PY) -m services.records.entrypoints.r4_rules --check

i18n: install ## re-extract marked text into the catalogs and merge them (then translate the new entries)
	$(PY) -m services.common.i18n extract
	$(PY) -m services.common.i18n update
	$(PY) -m services.common.i18n check

wording-review: install ## the words readers found hard, next to the catalog entries that hold them
	$(PY) -m services.exchange.entrypoints.wording_review

announce-corrections: install ## records announces every correction request again (an exchange that missed older ones learns them)
	$(PY) -m services.records.entrypoints.announce corrections

announce-staff: install ## the gateway sends every active member of staff's roles again (an exchange that missed them learns who may be assigned a report)
	$(PY) -m gateway.admin announce-staff

bench: install loadgen ## benchmark table (ratios against a baseline measured in the same run)
	$(PY) -m bench $(ARGS)

loadgen: ## Debian's wrk, the bench's load generator (installed with apt-get when missing and root)
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; \
	else echo "The bench drives HTTP with wrk when installed (else a slower Python client). Run: sudo apt-get install -y wrk"; fi

clean:
	rm -rf var/ .pytest_cache
