# The two commands of the README, and the set-up they share.
#   make book   build the book into _build/html, executing every chapter (full size)
#   make test   lint, package tests, every chapter through nbval, and a quick site build
# Both create .venv/ from nothing on first use: Python >= 3.11 is all they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.14.1 torchvision==0.29.1
JB     := $(BIN)/jupyter-book build . --all -W -n --keep-going

SYSTEM_PACKAGES := dataset-fashion-mnist

.PHONY: install system-packages book test lint test-package test-notebooks test-site clean

install: $(STAMP) system-packages

# Fashion-MNIST comes from Debian's dataset-fashion-mnist where apt is available and we
# are root; elsewhere vae_tutorial downloads it on first use.
system-packages:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null \
	    && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev,book]"
	touch $(STAMP)

book: install
	$(JB)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-package: install
	$(BIN)/python -m pytest

test-notebooks: install
	VAE_BOOK_QUICK=1 $(BIN)/python -m pytest --nbval-lax book/ -p no:cacheprovider

test-site: install
	VAE_BOOK_QUICK=1 $(JB) --path-output _build/quick

test: lint test-package test-notebooks test-site

clean:
	rm -rf $(VENV) _build runs .pytest_cache .ruff_cache
