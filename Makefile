# The two commands of the README: `make demo` (the main job on the local stack) and `make test`.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
# checkov in a venv of its own: it pins boto3/packaging/networkx older than the project's (see pyproject.toml).
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed

.PHONY: demo up test lint template bench clean fuzz

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

demo: $(STAMP)
	$(VENV)/bin/finview demo

up: $(STAMP)
	$(VENV)/bin/finview up

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(STAMP) $(SCAN_STAMP) lint
	$(VENV)/bin/pytest -q

# A longer schemathesis campaign over the contacts API than CI's (same test, more examples per operation).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(VENV)/bin/pytest -q -p no:cacheprovider tests/integration/contacts/test_fuzz.py

template: $(STAMP)
	$(VENV)/bin/finview template

bench: $(STAMP)
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(SCAN_VENV) build .finview
