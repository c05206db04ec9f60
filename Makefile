# The two commands a newcomer needs are `make run` and `make test`; the rest is what
# they are made of. Everything installs into .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install test test-postgres lint run demo clean messages compile-messages

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## Run the whole test suite (SQLite; set NEWSROOM_TEST_DATABASE_URL for PostgreSQL).
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Interface text (docs/translation.md): extract every string from the code and
## templates into the catalogue, then write the compiled catalogue the service reads.
LOCALE := workflow/locale
POT := $(VENV)/messages.pot
# Beside _(), gettext and the like: the templates of refusals, where they are raised
# (workflow/domain/errors.py), and names marked with a context (NC_).
MESSAGE_KEYWORDS := -k PermissionDenied -k Conflict -k DomainError -k ValidationFailed:2 \
	-k UnsupportedFile:2 -k InvalidTransition:4 -k NC_:1c,2 -k require_admin

messages: install
	$(BIN)/pybabel --quiet extract -F babel.cfg $(MESSAGE_KEYWORDS) --sort-output --add-location=file \
		--project=Newsroom --no-wrap -o $(POT) .
	$(BIN)/pybabel --quiet update -i $(POT) -d $(LOCALE) -D messages --ignore-obsolete --no-wrap
	@echo "now give each new msgid its Korean in $(LOCALE)/ko/LC_MESSAGES/messages.po, then: make compile-messages"

compile-messages: install
	$(BIN)/pybabel compile --statistics -d $(LOCALE) -D messages

## Create the embedded database and load the sample releases (`make run` does it too).
demo: install
	$(BIN)/newsroom db upgrade
	$(BIN)/newsroom demo

run: install
	$(BIN)/newsroom up

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
