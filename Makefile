# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
BENCH_SCALE ?= small

.PHONY: install run test test-postgres lint format openapi bench bench-small bench-streams profile instructions clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

run: install  ## migrate the embedded SQLite database, load demo data, serve on :8000
	$(BIN)/crm db upgrade
	$(BIN)/crm seed demo
	$(BIN)/crm serve --host 127.0.0.1 --port 8000

test: install  ## the whole suite; on PostgreSQL when CRM_TEST_DATABASE_URL is set
	$(BIN)/pytest

test-postgres: install
	CRM_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

lint: install  ## ruff (lint and format) and mypy, as CI runs them
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench migrations
	$(BIN)/ruff format src tests bench migrations

openapi: install  ## rewrite the committed contract from the app
	$(BIN)/crm openapi export --output openapi/openapi.json

bench: install  ## generate the bench data set at BENCH_SCALE (small|medium|full|N) unless present, then measure
	BENCH_SCALE=$(BENCH_SCALE) $(BIN)/python -m bench.run

bench-small: install  ## the quick run: 20,000 customers, 5 s per scenario
	$(BIN)/python -m bench.run --scale small --duration 5

profile: install  ## one worker sampled by py-spy while it serves SCENARIO (default: customer by id) under load
	$(BIN)/python -m bench.profile $(if $(SCENARIO),--scenario "$(SCENARIO)")

instructions: install  ## instructions per request of the hot scenarios, counted by callgrind (BENCH_DATABASE_URL)
	$(BIN)/python -m bench.instructions

bench-streams: install  ## worker memory with 1,000 idle notification streams (BENCH_DATABASE_URL, PostgreSQL)
	$(BIN)/python -m bench.streams --streams 1000

clean:
	rm -rf $(VENV) crm.db crm.db-shm crm.db-wal .pytest_cache
