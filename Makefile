# The two commands of the README: `make demo` (the main job on the local stack) and `make test`.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
# checkov in a venv of its own: it pins boto3/packaging/networkx older than the project's (see pyproject.toml).
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
# The import core's hot modules compiled with mypyc, in place (infra/compiled.py); rebuilt when they change. Where
# nothing can be compiled the manifest is not written and the pure-Python modules are used.
CORE_SOURCES := services/imports/matching.py services/imports/normalise.py services/imports/rows.py shared/phones.py
CORE_STAMP := shared/_core.json

.PHONY: demo up test lint template bench clean fuzz core

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH"; exit 1; }
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $(STAMP)

$(SCAN_STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH"; exit 1; }
	$(PY) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install -q --upgrade pip
	$(SCAN_VENV)/bin/pip install -q --group scan
	@touch $(SCAN_STAMP)

$(CORE_STAMP): $(STAMP) $(CORE_SOURCES) infra/compiled.py shared/compiled.py
	$(VENV)/bin/python -m infra.compiled

core: $(CORE_STAMP)

demo: $(STAMP) $(CORE_STAMP)
	$(VENV)/bin/finview demo

up: $(STAMP) $(CORE_STAMP)
	$(VENV)/bin/finview up

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The imports unit tests and the phone reader's (with its cache's) run a second time on the pure-Python core: both builds must decide alike.
test: $(STAMP) $(CORE_STAMP) $(SCAN_STAMP) lint
	$(VENV)/bin/pytest -q
	$(VENV)/bin/python -X pure_core -m pytest -q -p no:cacheprovider tests/unit/imports tests/unit/shared/test_phones.py tests/unit/shared/test_caches.py

# A longer schemathesis campaign over the contacts API than CI's (same test, more examples per operation).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(VENV)/bin/pytest -q -p no:cacheprovider tests/integration/contacts/test_fuzz.py

template: $(STAMP)
	$(VENV)/bin/finview template

bench: $(STAMP) $(CORE_STAMP)
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(SCAN_VENV) build .finview
	rm -f services/imports/*.so shared/*.so $(CORE_STAMP) services/imports/_core.json
