# voipadmin — two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# `make test` uses the shared PostgreSQL and Redis of the machine (see README).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/voipadmin
TEST_BROKER_URL   ?= redis://127.0.0.1:6379/15
# pytest-xdist workers (each starts its own Kamailio and Asterisks); TEST_WORKERS=0 runs serially
TEST_WORKERS      ?= 2

.PHONY: run test venv migrate demo check clean catalogues

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## The Spanish (and any other) catalogue, compiled from locale/*/LC_MESSAGES/django.po (pure Python, no gettext)
catalogues: venv
	$(PY) manage.py compile_catalogues

migrate: catalogues
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo_estate

## Serve the portal on http://127.0.0.1:8000 with the Celery workers, beat and the media application service
## (run_media_apps; VOIPADMIN_MEDIA_APPS=0 leaves it out), on an embedded SQLite + filesystem broker.
## HOST=... PORT=8080 make run listens elsewhere; Ctrl-C stops everything and make reports no error.
run: demo
	$(PY) manage.py ensure_admin
	bin/run-portal

## Run the whole suite (PostgreSQL, Redis, a real Kamailio, real Asterisks, headless Chromium), on TEST_WORKERS workers.
test: catalogues
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	$(VENV)/bin/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

check: venv
	$(PY) manage.py check

clean:
	rm -rf $(VENV) var
