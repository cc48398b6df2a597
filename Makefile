# The two commands: `make run` (the whole system on embedded defaults) and `make test`.
# Each sets itself up from a fresh clone: a virtualenv with the exact pins.
# DEBUG is off unless set (dealsite/settings.py): development turns it on here.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite lint bench setup clean chromium

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	DEBUG=1 $(PY) manage.py runstack $(RUN_ARGS)

test: $(STAMP) chromium
	DEBUG=1 $(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# The browser test drives Debian's chromium: installed here when missing and we are root;
# otherwise that test skips with a message (and fails under CI=true).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; } \
	      || echo "could not install chromium: the browser test will skip (fail under CI=true)"; \
	  else echo "chromium is missing and we are not root: the browser test will skip (fail under CI=true)"; fi; \
	fi

# The model and constraint tests again on SQLite, whatever DATABASE_URL says.
test-sqlite: $(STAMP)
	DEBUG=1 DATABASE_URL= $(PY) -m pytest deals/tests/test_models.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
