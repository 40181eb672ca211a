# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# System packages the test suite talks to (real servers, real browser), and the fonts of the daily report's PDF.
SYSTEM_PACKAGES := mosquitto postgresql chromium victoria-metrics nats-server fonts-dejavu-core fonts-wqy-microhei

.PHONY: demo cluster-demo test venv system-deps unit lint typecheck clean lock

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,demo]'
	touch $@

venv: $(STAMP)

# Installs what is missing through apt-get when we are root (CI, a fresh box); otherwise says what to install.
system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing system packages:$$missing (sudo apt-get install$$missing)"; exit 1; fi; \
	fi

demo: venv
	$(BIN)/pledgewatch demo $(ARGS)

# Three NATS nodes, two backend hosts, PostgreSQL, victoria-metrics and the demo gateways (docs/deploy.md).
CLUSTER_DIR ?= cluster-demo
cluster-demo: venv system-deps
	$(BIN)/pledgewatch cluster --config $(CLUSTER_DIR) $(ARGS)

test: venv system-deps lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint (ruff: errors, sure bugs, imports); the layering rules are a test (tests/unit/test_import_rules.py).
lint: venv
	$(BIN)/ruff check .

# mypy --strict on the contracts: backend/domain, backend/ports, edge/protocol ([tool.mypy] in pyproject.toml).
typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# Pin what the suite passes with now (after raising a bound in pyproject.toml).
lock: venv
	{ echo "# Exact versions the suite was last run with (make lock rewrites it); make installs with -c constraints.txt."; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .hypothesis test-artifacts
