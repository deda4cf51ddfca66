# make run  - set everything up and serve the app on $(PARALAB_HOST):$(PARALAB_PORT)
# make test - set everything up and run the whole suite, browser tests included
# make lint - ruff and mypy (strict)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test lint openapi system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --progress-bar on -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --progress-bar on -e '.[dev,cluster]'
	touch $@ $(RUNTIME_STAMP)

run: $(RUNTIME_STAMP)
	$(PY) -m paralab serve

# Debian packages the tests drive: chromium (browser tests).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing \
	    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; }; \
	  else echo "missing$$missing and apt-get is not usable: the browser tests will fail"; fi; \
	fi

test: $(DEV_STAMP) system-deps
	$(PY) -m pytest

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check backend tests bench
	$(VENV)/bin/ruff format --check backend tests bench
	$(VENV)/bin/mypy

openapi: $(RUNTIME_STAMP)
	$(PY) -m paralab export-openapi

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
