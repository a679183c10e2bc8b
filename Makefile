# Community Asset Marketplace: `make demo` to try it, `make test` to prove it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PEOPLE ?= 3000
PYTEST_ARGS ?=

export MARKETPLACE_DATABASE_URL ?= sqlite:///$(CURDIR)/var/marketplace.db

FUZZ_EXAMPLES ?= 1000

.PHONY: demo test fuzz install install-test assets compile-translations translations migrate serve clean

TRANSLATIONS := app/translations
PO_FILES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

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

install: $(VENV)/.installed assets compile-translations
install-test: $(VENV)/.installed-test assets compile-translations
assets: app/static/dist/manifest.json

# The compiled catalogues (.mo) are build artefacts, like the assets: made from the committed .po.
$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile --statistics --domain messages --input-file $< --output-file $@ --locale $*

compile-translations: $(MO_FILES)

# Extract every marked string (Python: N_, _, gettext, ngettext; templates: trans blocks and _()),
# update each language's catalogue (new entries come in untranslated, never guessed as fuzzy),
# then compile. Add a language with: $(BIN)/pybabel init -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l LANG
translations: $(VENV)/.installed
	$(BIN)/pybabel extract --mapping-file babel.cfg --output-file $(TRANSLATIONS)/messages.pot \
		--keywords N_ --keywords _ --keywords gettext --keywords ngettext:1,2 \
		--add-comments Translators: --sort-by-file --width 100 \
		--project "Community Asset Marketplace" --copyright-holder "Northbridge Borough Council" \
		--version 1 .
	$(BIN)/pybabel update --input-file $(TRANSLATIONS)/messages.pot --output-dir $(TRANSLATIONS) \
		--domain messages --no-fuzzy-matching --width 100
	$(BIN)/pybabel compile --statistics --directory $(TRANSLATIONS) --domain messages

migrate: install
	$(BIN)/marketplace migrate

# The demo's linker, staff and admin logins work without an authenticator app; production
# refuses to start with two-step sign-in off.
demo: export MARKETPLACE_SECOND_FACTOR_REQUIRED ?= false
demo: install migrate
	$(BIN)/marketplace seed-demo --people $(DEMO_PEOPLE) --seed 1
	@echo "Two-step sign-in for linkers, staff and admins: $(if $(filter false,$(MARKETPLACE_SECOND_FACTOR_REQUIRED)),off for this demo,on)"
	@echo "Serving on http://$(HOST):$(PORT), with a background worker for jobs  (Ctrl+C stops both)"
	@$(BIN)/marketplace worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	$(BIN)/marketplace serve --host $(HOST) --port $(PORT)

# Runs on SQLite always; on PostgreSQL too when TEST_DATABASE_URL is set; in Chromium when found.
# REQUIRE_POSTGRES=1 / REQUIRE_BROWSER=1 turn a missing one into a failure.
test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The full Schemathesis run: 1,000 examples per API operation for each caller (make test runs 100).
fuzz: install-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/resilience/test_api_fuzz.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules app/static/dist var .pytest_cache .hypothesis
