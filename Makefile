# Two commands matter: `make run` (the main job) and `make test` (the suite).
# Both install what is missing: host packages, the Python venv, Debian's Xen.

SUITE   ?= bookworm
VENV    := .venv
PY      := $(VENV)/bin/python
BUILD   := $(CURDIR)/build
INCLUDE := $(BUILD)/debian/$(SUITE)/dev/usr/include
PYTEST_ARGS ?=

.PHONY: run test unit lint setup host-deps venv fetch guest bench matrix clean

run: setup
	$(PY) -m orchestrator --suite $(SUITE) run

test: setup lint
	$(PY) -m pytest --suite=$(SUITE) $(PYTEST_ARGS)

# The pure-Python tests alone: no Xen, no QEMU.
unit: venv
	$(PY) -m pytest tests/unit

lint: venv
	$(VENV)/bin/ruff check orchestrator tests
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m orchestrator --suite $(SUITE) bench

# The suite against each Xen in MATRIX, then a comparison (build/matrix/<time>/matrix.md).
MATRIX ?= bookworm trixie
matrix: host-deps venv
	for s in $(MATRIX); do $(MAKE) --no-print-directory fetch guest SUITE=$$s || exit 1; done
	$(PY) -m orchestrator matrix --suites $(shell echo $(MATRIX) | tr ' ' ',')

setup: host-deps venv fetch guest

host-deps:
	@tools/host-deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | host-deps
	@echo "==> creating the Python virtual environment in $(VENV)"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

fetch: venv
	$(PY) -m orchestrator --suite $(SUITE) fetch

guest: fetch
	$(MAKE) -C guest XEN_INCLUDE=$(INCLUDE) O=$(BUILD)/guest/$(SUITE)

clean:
	rm -rf $(BUILD)
