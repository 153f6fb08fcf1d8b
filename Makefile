# Two entry points: `make demo` runs the whole job on the bundled sample, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU build of torch that installs from the local wheel cache; override for a GPU machine.
TORCH_SPEC ?= torch==2.13.0
RUN ?= runs/demo

.PHONY: install demo test lint bench clean serve

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[train,dask,service,dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/curate run examples/demo.yaml --run $(RUN)
	@echo "Results: $(RUN)/  (report: $(RUN)/report/index.html)"

# The job service on http://127.0.0.1:8080 (state and runs in ./.curate, inputs under this folder).
serve: install
	$(VENV)/bin/curate serve

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf runs .pytest_cache
