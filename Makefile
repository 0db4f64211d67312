# The project's front door: `make demo` and `make test` work on a machine that
# has only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-all test-newest lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo tells every chapter, Oblivious HTTP included, so it installs the
# extras those chapters use: cli (progress bars) and ohttp (pyhpke). A bare
# `pip install .` runs the demo too; it then skips chapter 5 in one line.
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[cli,ohttp]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# mitmproxy 12 needs Python 3.12+ (11.0.2, the last for 3.11, pins a cryptography
# older than ours), so its real-proxy tests get their own venv where such a
# Python exists; tests/test_mitm_real.py finds mitmdump there, or skips saying why.
_PY312 := import sys; sys.version_info >= (3, 12) and print(sys.executable)
PYTHON_MITM ?= $(firstword $(foreach p,python3.13 python3.12 \
	$(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python) \
	$(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python),$(shell $(p) -c '$(_PY312)' 2>/dev/null)))
VENV_MITM := .venv-mitm

$(VENV_MITM)/.installed: pyproject.toml
ifneq ($(PYTHON_MITM),)
	$(PYTHON_MITM) -m venv $(VENV_MITM)
	$(VENV_MITM)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_MITM)/bin/python -m pip install --quiet -e '.[mitm]'
	touch $@
else
	@echo "no Python 3.12+ found: the mitmproxy tests will be skipped"
endif

demo: $(VENV)/.demo-installed
	$(BIN)/n2net-privacy demo

test: $(VENV)/.test-installed $(VENV_MITM)/.installed
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

# `make bench BENCH="peers idle"` runs some of them; benchmarks/README.md has the rules.
bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks $(BENCH)

clean:
	rm -rf $(VENV) $(NEWEST_VENV) $(VENV_MITM) build dist *.egg-info
