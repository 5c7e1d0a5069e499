# griddispatch: the commands. `make test` is what CI runs; `make demo` is the main job.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help install system-deps oidc-provider asyncapi-parser test unit lint infra-up infra-down up down status demo bench chaos lock clean

help:
	@echo "make test        install what is missing, start Kafka + PostgreSQL, run every test, stop them"
	@echo "make demo        install, start everything, replay a realistic day of reports (stop: make down)"
	@echo "make infra-up    start Kafka and PostgreSQL only      make infra-down  stop them"
	@echo "make lint        ruff and mypy                        make bench       benchmarks (prints figures)"
	@echo "make chaos       the fault suite, minutes (CHAOS_SCENARIOS=kill9,broker,postgres,pause,sever,poison,cluster selects)"

# Python packages from the hashed lock (requirements-dev.lock: runtime and development; requirements.lock, the
# runtime alone, is the image's), every file checked against its hash; then the project itself, editable and
# without dependencies (they are all in the lock). Reinstalled when the lock or pyproject.toml changes.
$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

# PostgreSQL's server, Java 17, Maven, Node.js, Chromium, promtool from Debian's packages, when missing.
system-deps:
	@bash deploy/local/install-system-deps.sh

# The local OpenID Connect provider the single sign-on tests start (npm ci, only when its lock changed).
oidc-provider: system-deps
	@bash deploy/local/install-oidc-provider.sh

# The AsyncAPI Initiative's parser, which a unit test runs on docs/asyncapi.yaml (npm ci, only when its lock changed).
asyncapi-parser: system-deps
	@bash deploy/local/install-asyncapi-parser.sh

install: system-deps oidc-provider asyncapi-parser $(STAMP)

# The session fixture in tests/conftest.py starts Kafka and PostgreSQL unless they already run,
# and stops at the end exactly what it started.
test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check griddispatch services shared chaos
	$(BIN)/mypy griddispatch services shared chaos

infra-up: install
	$(BIN)/griddispatch infra up

infra-down: $(STAMP)
	$(BIN)/griddispatch infra down

up: install
	$(BIN)/griddispatch up

# The main job's entry point: the stack, the sample district, then a realistic day of reports replayed at
# DEMO_SPEEDUP x (480: the day and its tail in about 4 minutes) with its summary. DEMO_HOURS=2 DEMO_START=8
# replays a morning; DEMO_SCALE=5 a busier district. The services keep running: see 'make status', 'make down'.
# The services 'up' starts here shorten every deadline to DEMO_DEADLINE_SCALE (1/DEMO_SPEEDUP), so the day's
# warnings and escalations happen within the replay; DEMO_DEADLINE_SCALE=1 keeps the real clock. A stack already
# running keeps the scale it was started with: the replay says so when that is not this one.
DEMO_SPEEDUP ?= 480
DEMO_HOURS ?= 24
DEMO_START ?= 0
DEMO_SCALE ?= 1
DEMO_DEADLINE_SCALE ?= $(shell awk 'BEGIN { printf "%.6g", 1 / $(DEMO_SPEEDUP) }')
demo: export GRIDDISPATCH_DISPATCH_DEADLINE_SCALE = $(DEMO_DEADLINE_SCALE)
demo: up
	$(BIN)/griddispatch registry import data/sample-district --by demo
	$(BIN)/griddispatch demo replay --speedup $(DEMO_SPEEDUP) --hours $(DEMO_HOURS) --start-hour $(DEMO_START) --scale $(DEMO_SCALE) --deadline-scale $(DEMO_DEADLINE_SCALE)
	@echo "still running; later warnings and escalations: '$(BIN)/griddispatch demo summary'; stop with 'make down'"

down: $(STAMP)
	$(BIN)/griddispatch down

status: $(STAMP)
	$(BIN)/griddispatch status

bench: install
	$(BIN)/python -m bench.run

# The fault suite (docs/chaos.md) on a private broker and database (ports 29392/29393, 25732, 18320-18349),
# and a three-broker cluster of its own for `cluster` (29401-29406, services 18400-18419, docs/cluster.md);
# exits non-zero on any ledger violation. `make chaos CHAOS_SCENARIOS=pause,broker` selects.
CHAOS_SCENARIOS ?= kill9,broker,postgres,pause,sever,poison,cluster
chaos: install
	$(BIN)/python -m chaos --scenarios $(CHAOS_SCENARIOS)

# Recompile both hashed locks (from PyPI) after changing pyproject.toml's ranges or constraints.txt's chosen
# versions: requirements.lock the runtime, requirements-dev.lock runtime and development at the same versions.
# tests/unit/test_lock_files.py fails while they disagree with pyproject.toml or constraints.txt.
PIP_COMPILE = $(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links -c constraints.txt
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/pip-compile || $(BIN)/python -m pip install -q -c constraints.txt pip-tools
	$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev -c requirements.lock -o requirements-dev.lock pyproject.toml

clean: down
	@if [ -L .local/postgres ]; then rm -rf "$$(dirname "$$(readlink .local/postgres)")"; fi
	rm -rf .local
