# Community Asset Marketplace: `make demo` to try it, `make test` to prove it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PEOPLE ?= 3000
PYTEST_ARGS ?=

export MARKETPLACE_DATABASE_URL ?= sqlite:///$(CURDIR)/var/marketplace.db

.PHONY: demo test install install-test assets migrate serve clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

app/static/dist/manifest.json: node_modules/.package-lock.json scripts/build-assets.mjs $(wildcard app/assets/*)
	npm run --silent build

install: $(VENV)/.installed assets
install-test: $(VENV)/.installed-test assets
assets: app/static/dist/manifest.json

migrate: install
	$(BIN)/marketplace migrate

demo: install migrate
	$(BIN)/marketplace seed-demo --people $(DEMO_PEOPLE) --seed 1
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl+C to stop)"
	$(BIN)/marketplace serve --host $(HOST) --port $(PORT)

# Runs on SQLite always; on PostgreSQL too when TEST_DATABASE_URL is set; in Chromium when found.
# REQUIRE_POSTGRES=1 / REQUIRE_BROWSER=1 turn a missing one into a failure.
test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules app/static/dist var .pytest_cache .hypothesis
