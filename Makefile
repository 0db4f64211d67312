# The project's front door: `make demo` and `make test` work on a machine that
# has only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-all test-newest lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[vcard,cli]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/n2net-privacy demo

test: $(VENV)/.test-installed
	$(BIN)/ruff check n2net_privacy tests benchmarks examples
	$(BIN)/mypy --strict n2net_privacy
	$(BIN)/pytest -q

# The newest CPython this machine has (pyenv's 3.13, else whatever python3.13 is on
# PATH). CI runs `make test-all`: the suite on 3.11 (make test) and on the newest.
NEWEST_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) \
                  $(shell command -v python3.13 2>/dev/null))
NEWEST_VENV   := .venv-3.13

test-all: test test-newest

test-newest:
ifeq ($(strip $(NEWEST_PYTHON)),)
	@echo "test-newest: SKIPPED, no CPython 3.13 found (set NEWEST_PYTHON=/path/to/python3.13)"
else
	$(MAKE) --no-print-directory test PYTHON=$(NEWEST_PYTHON) VENV=$(NEWEST_VENV)
endif

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(NEWEST_VENV) build dist *.egg-info
