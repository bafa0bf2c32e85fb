# The two commands: `make run` (demo service on SQLite + filesystem broker, or on
# PostgreSQL/Redis when DATABASE_URL / REDIS_URL are set) and `make test` (whole suite).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PYTEST_ARGS ?= -n auto

export PORT

.PHONY: install run test lint format check messages bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# A development .env (DEBUG=1) so plain `python manage.py ...` works in this checkout.
.env:
	printf '# Local development settings; the real environment overrides them.\nDEBUG=1\n' > .env

install: $(VENV)/.installed .env

# Set up everything and start web, Celery worker and Celery beat (Procfile, via honcho).
run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py load_demo
	DEBUG=1 $(BIN)/python manage.py compliance_sweep
	DEBUG=1 $(BIN)/python manage.py ensure_admin
	DEBUG=1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Style, the architecture (the import contracts in .importlinter: layers, no cycles), then
# types: mypy, strict where pyproject.toml says, elsewhere held to mypy-baseline.txt.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m tools.mypy_gate

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Schema and deployment checks, as CI runs them.
check: install
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

# Translations (a developer step; needs system gettext: apt-get install gettext). Re-extracts
# every package's strings into its <package>/locale/zh_Hans/LC_MESSAGES/django.po, then compiles
# the .mo files in pure Python (tools/catalogues.py); both are committed, so `make run` and
# `make test` never need gettext. README "Languages".
messages: install
	@for dir in $(patsubst %/locale,%,$(wildcard */locale)); do \
		echo "== $$dir"; \
		(cd $$dir && DEBUG=1 ../$(BIN)/python ../manage.py makemessages -l zh_Hans --no-obsolete --no-wrap --add-location file -e html,txt,py) || exit 1; \
	done
	$(BIN)/python -m tools.catalogues compile

# The benchmark suite on a scratch database (never the demo's): BENCH_DATABASE_URL, or a
# SQLite file under var/. BENCH_ARGS sets the size, e.g. "--companies 10000 --shipments 1000000".
BENCH_DATABASE_URL ?= sqlite:///$(CURDIR)/var/bench.sqlite3
BENCH_ARGS ?= --companies 500 --shipments 20000 --runs 3
bench: install
	DEBUG=1 DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py migrate --noinput -v0
	DEBUG=1 DATABASE_URL=$(BENCH_DATABASE_URL) DJANGO_SETTINGS_MODULE=config.settings_bench \
		$(BIN)/python manage.py bench $(BENCH_ARGS)

clean:
	rm -rf var/ .pytest_cache .ruff_cache
