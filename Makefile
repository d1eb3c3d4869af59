# One command sets up and runs the main job, one sets up and runs the tests.
#   make train   # creates .venv when missing, installs tfnn, trains an MNIST MLP
#   make test    # creates .venv when missing, installs tfnn[test], runs pytest
#   make test-fast  # the fast tier (pytest -m "not slow"), under 2 minutes
#   make lint    # ruff (configured in pyproject.toml)
#   make notebooks  # runs notebooks/*.py (full mode) into the committed .ipynb
# Offline MNIST: export TFNN_MANUAL_DIR=/path/to/folder/with/the/four/mnist/files

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tfnn-installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup train test test-fast lint notebooks clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

train: $(STAMP)
	$(BIN)/tfnn train $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check tfnn tests scripts notebooks

# The jupytext "percent" .py files are the source; each .ipynb is generated
# from its .py and executed (full mode, outputs kept) with this venv's
# python3 kernel. tests/test_notebooks.py fails when the two drift apart.
# TFNN_QUICK=1 make notebooks runs the quick mode instead (not to commit);
# make notebooks NOTEBOOK_SOURCES=notebooks/000_week2_review.py runs one.
# Don't edit a .py while it runs: jupytext then refuses to write.
NOTEBOOK_SOURCES ?= $(sort $(wildcard notebooks/*.py))

notebooks: $(STAMP)
	@set -e; for nb in $(NOTEBOOK_SOURCES); do \
	  echo "== $$nb"; \
	  PATH="$(abspath $(BIN)):$$PATH" PYTHONPATH="$(CURDIR)" \
	    $(BIN)/jupytext --to ipynb --set-kernel python3 --execute "$$nb"; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
