# `make lab` and `make test` each create .venv when it is missing and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help install lab test lint typecheck unit notebooks bench classroom clean

help:
	@echo "make lab        create .venv, install, open JupyterLab on the course"
	@echo "make test       create .venv, install, run lint, type checks and every test (notebooks too)"
	@echo "make notebooks  re-execute every notebook in place (after changing code they use)"
	@echo "make bench      run the benchmarks: times, then instruction counts (not part of make test)"
	@echo "make classroom  a class of 12 students on a real JupyterHub here, at once (not part of make test)"

$(STAMP): pyproject.toml binder/postBuild binder/overrides.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[course,test,dev]'
	NB_PYTHON_PREFIX=$(VENV) binder/postBuild  # the classroom settings Binder gets: no news pop-ups
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00_start_here.ipynb

lint: $(STAMP)
	$(BIN)/ruff check kmslib tests setup.py $(wildcard benchmarks) deploy
	$(BIN)/ruff format --check kmslib tests setup.py $(wildcard benchmarks) deploy

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

notebooks: $(STAMP)
	$(BIN)/python -m kmslib.course.execute notebooks

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/instructions.py
	$(BIN)/python benchmarks/oracle.py

classroom: $(STAMP)
	$(BIN)/python deploy/classroom/run.py

clean:
	rm -rf $(VENV) .classroom deploy/classroom/node_modules .pytest_cache .mypy_cache .ruff_cache build *.egg-info .hypothesis
