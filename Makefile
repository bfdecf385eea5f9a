# Two commands on a fresh machine: `make run` (see the whole flow) and `make test` (everything, green).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
TEST_WORKERS ?= 2

.PHONY: install run test lint bench bench-quick migrate soak clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## gateway :8000 + ministry sandbox :8001 + province sandbox :8002 + population sandbox :8003 on SQLite; Ctrl-C stops all.
run: install
	$(PY) -m gateway.devrun

migrate: install
	$(VENV)/bin/gateway migrate

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	@# Medium+ severity. B610 is Django's QuerySet.extra(); this project has no Django, and anyio's
	@# stream.extra(SocketAttribute…) in adapters/province/fetch.py is a false positive of that name check.
	$(VENV)/bin/bandit -q -r gateway adapters mappings outbox -ll -s B610

## the suite on TEST_WORKERS processes (pytest-xdist, a module per worker at a time), then the reliability
## scenarios alone: they measure a running system under faults, so nothing else competes for the CPU.
## Under CI=true, promtool is fetched first (.ci/promtool): there its absence fails the rules check.
test: lint
	@if [ "$$CI" = "true" ]; then .ci/promtool; fi
	PATH="$(CURDIR)/var/tools:$$PATH" $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --ignore=tests/reliability
	$(VENV)/bin/pytest tests/reliability

## the long reliability run: 1,000 dossiers, 20 kills, full fault rates
soak: install
	RELIABILITY_SCALE=soak $(VENV)/bin/pytest -m reliability tests/reliability -p no:timeout

## every benchmark at full scale (tens of minutes; tables printed, JSON in bench/results/)
bench: install
	$(PY) -m bench --scale full

## every benchmark at reduced scale, a few minutes in all
bench-quick: install
	$(PY) -m bench --scale quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
