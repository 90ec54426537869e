# Two commands: `make demo` (set up and run the main job) and `make test` (set up and run the tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the Spark extra (pyspark, about 0.5 GB) for the tests only: `make demo` does not install it
SPARK_STAMP := $(VENV)/.installed-spark

.PHONY: demo test lint bench docs browser clean lock

# Every install takes the tested versions pinned in constraints.txt (`make lock` refreshes it).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,spark]'
	touch $(SPARK_STAMP)

demo: $(STAMP)
	$(BIN)/mrdtrack demo --out demo-out

# Browser tests use Debian's chromium; install it when we are root and it is missing.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	  || echo "warning: could not install chromium; browser tests will be skipped"; fi

test: $(SPARK_STAMP) browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

docs: $(STAMP)
	$(BIN)/python -m mrdtrack.contract > docs/data-model.md
	$(BIN)/python -m mrdtrack.issue_codes > docs/issues.md

# The registry-scenario stages at 1,000 / 10,000 / 100,000 patients; then 100,000 default-scenario
# patients through analyze with default options (round two's first target) and as an OMOP DuckDB
# file beside their Parquet folder (the OMOP target); then 1,000,000 registry patients (about 15
# minutes on 2 cores). docs/performance.md is regenerated after every stage.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --stages validate,analyze,report,fhir,simulate_cli,naive,startup,report_demo
	$(BIN)/python benchmarks/run.py --scenario default --sizes 100000 --stages analyze,omop
	$(BIN)/python benchmarks/run.py --sizes "" --stages none --million

# Resolve the dependencies afresh (newest versions pyproject.toml allows) in a scratch venv and pin
# what was installed: run it, then `make test`, and commit constraints.txt when the tests pass.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[test,spark]'
	(echo '# The tested versions: make demo, make test and CI install with -c constraints.txt.'; \
	 echo '# Refresh with `make lock` (resolves afresh, then run make test and commit this file).'; \
	 .lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^mrdtrack') > constraints.txt
	rm -rf .lock-venv
	rm -f $(STAMP) $(SPARK_STAMP)

clean:
	rm -rf $(VENV) demo-out .pytest_cache
