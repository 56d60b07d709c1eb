# MentorHub: `make run` sets everything up and serves http://127.0.0.1:5000; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
DEMO_LEARNERS ?= 400
DEMO_MENTORS ?= 80
DEMO_DAYS ?= 120

.PHONY: run test venv chromium mlflow-ui prefect-ui pipeline-serve clean

# each step prints a line or two; the details (library logs, warnings, progress) go to var/log/commands.log
run: $(STAMP)
	@$(BIN)/mentorhub db upgrade
	@$(BIN)/mentorhub seed --learners $(DEMO_LEARNERS) --mentors $(DEMO_MENTORS) --days $(DEMO_DAYS) --if-empty
	@$(BIN)/mentorhub payments reconcile
	@if test -f var/.first-pipeline-done; then echo "ML pipeline: trained before (retrain: .venv/bin/mentorhub pipeline all)."; \
	else $(BIN)/mentorhub pipeline all && touch var/.first-pipeline-done; fi
	@$(BIN)/mentorhub demo-logins
	@$(BIN)/mentorhub serve --host $(HOST) --port $(PORT)

test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "Installing MentorHub into $(VENV) (the first time takes a few minutes; details in var/log/install.log)..."
	@mkdir -p var/log
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install --upgrade pip setuptools wheel \
	   && $(BIN)/python -m pip install -c constraints.txt -e '.[test]'; } > var/log/install.log 2>&1 \
	  || { tail -n 30 var/log/install.log; echo "Install failed: see var/log/install.log"; exit 1; }
	@touch $(STAMP)
	@echo "Installed."

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's Chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "Could not install chromium: browser tests will skip (or fail under REQUIRE_SERVICES=1)"; }

mlflow-ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///var/mlflow.db --port 5001

prefect-ui: $(STAMP)
	PREFECT_HOME=var/prefect $(BIN)/prefect server start --port 4200

# continuous retraining: a Prefect deployment on the admin panel's schedule (needs `make prefect-ui` running)
pipeline-serve: $(STAMP)
	PREFECT_API_URL=http://127.0.0.1:4200/api $(BIN)/mentorhub pipeline serve

clean:
	rm -rf $(VENV) var .pytest_cache
