# The two commands of the README, and the set-up they share.
#   make book   build the book (for now: install the package, train the default model)
#   make test   lint and run every test
# Both create .venv/ from nothing on first use: Python >= 3.11 is all they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: install book test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

book: install
	$(BIN)/vae-tutorial train --config configs/mnist-z16.toml --out runs/mnist-z16 --resume

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) _build runs .pytest_cache .ruff_cache
