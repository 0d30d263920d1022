# Two commands: `make demo` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime
INSTALLED := $(VENV)/.installed

# Python's bytecode cache, kept in one tree under .venv instead of beside the sources. Some
# machines (CI images among them) set PYTHONDONTWRITEBYTECODE, and then every process
# compiles Django and the portal from source again: 2.3 s to start instead of 0.7 s, and
# pytest rewrites every test module again in each worker (17 s instead of 3 s).
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test install lint typecheck test-sqlite test-postgres messages bench clean

# The demo needs only what the portal runs on; the test tools come with `make test`.
demo: $(RUNTIME)
	$(PY) -m portal demo

test: $(INSTALLED)
	bash tools/test.sh

# Reinstall whenever the pinned dependencies change. uv (pinned, from PyPI) installs in a
# fraction of pip's time (about 20 s against 75 s for the portal's dependencies); where uv
# cannot be installed, pip does the same job.
UV_PIN := uv==0.9.7
UV := $(VENV)/bin/uv
define pip_install
	($(PY) -m pip install --quiet $(UV_PIN) && $(UV) pip install --quiet --python $(PY) $(1)) \
		|| $(PY) -m pip install --quiet $(1)
endef

$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(call pip_install,-e .)
	touch $@

$(INSTALLED): $(RUNTIME)
	$(call pip_install,-e '.[dev]')
	touch $@

install: $(INSTALLED)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PORTAL_ENV=test $(PY) manage.py makemigrations --check --dry-run

typecheck: $(INSTALLED)
	PORTAL_ENV=test $(VENV)/bin/mypy portal benchmarks tools

test-sqlite: $(INSTALLED)
	PORTAL_ENV=test $(VENV)/bin/pytest -n auto

test-postgres: $(INSTALLED)
	bash tools/test.sh postgres

messages: $(INSTALLED)
	$(PY) manage.py makemessages -l es --ignore=.venv --ignore=var --ignore=benchmarks
	$(PY) manage.py compilemessages --ignore=.venv

# The whole suite on a 100,000-patient organisation, then on a 1,000-patient one with the
# same heavy patient: docs/benchmarks.md gets both runs and the scaling table.
bench: $(INSTALLED)
	$(PY) -m benchmarks.generate --patients 100000
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.generate --patients 1000 --data-dir var/bench-1k
	$(PY) -m benchmarks.run --data-dir var/bench-1k

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
