# The two commands of the README, and the set-up they share.
#   make book   build the book into _build/html, executing every chapter (full size)
#   make test   lint, package tests, every chapter through nbval, and a quick site build
# Both create .venv/ from nothing on first use: Python >= 3.11 is all they need.
#   make lab    JupyterLab on 127.0.0.1, on copies of the chapters in _build/lab/
#   make pdf    the whole book as one PDF, _build/vae-book.pdf
#   make mutation   mutation testing (mutmut) of the core modules, report in benchmarks/mutation.md
#                   (not part of `make test`: hours on two cores; MUTANTS='vae_tutorial.elbo.*' narrows it)
#   make mutation-continue   go on with the mutants an interrupted run left unchecked
# For instructors:
#   make student                    the student edition, autograders and student site, in _build/student
#   make grade SUBMISSIONS=DIR      grade DIR's notebooks into _build/grades/grades.{csv,json}

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip install --quiet -c constraints.txt
LAB    := _build/lab
JB     := $(BIN)/jupyter-book build . --all -W -n --keep-going

SYSTEM_PACKAGES := dataset-fashion-mnist chromium bubblewrap

# JavaScript the site serves itself, from the npm packages pinned in package-lock.json:
# RequireJS + the ipywidgets HTML manager (widgets without a kernel) and MathJax 3 with
# its fonts. `html_static_path` in _config.yml points at $(ASSETS), so Sphinx copies it
# into _build/html/_static/.
ASSETS       := _build/site-assets
ASSETS_STAMP := $(ASSETS)/.stamp
WIDGETS_DIST := node_modules/@jupyter-widgets/html-manager/dist

.PHONY: install system-packages site-assets book test lint test-package test-notebooks \
	test-browser test-site test-pdf test-lab lab pdf student grade mutation mutation-continue clean

install: $(STAMP) system-packages site-assets

# Fashion-MNIST (Debian's dataset-fashion-mnist), the browser of the site tests (Debian's
# chromium) and the grading sandbox (Debian's bubblewrap), installed where apt is available
# and we are root; elsewhere vae_tutorial downloads Fashion-MNIST on first use, the browser
# tests say what to install, and `make grade` grades with resource limits only.
system-packages:
	@if { [ ! -d /usr/share/datasets/fashion-mnist ] || [ ! -x /usr/bin/chromium ] \
	      || [ ! -x /usr/bin/bwrap ]; } \
	    && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

site-assets: $(ASSETS_STAMP)

$(ASSETS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(ASSETS)
	mkdir -p $(ASSETS)/vendor/html-manager
	cp node_modules/requirejs/require.js $(ASSETS)/vendor/
	cp $(WIDGETS_DIST)/embed-amd.js $(WIDGETS_DIST)/*.woff2 $(WIDGETS_DIST)/*.woff \
	   $(WIDGETS_DIST)/*.ttf $(WIDGETS_DIST)/*.eot $(WIDGETS_DIST)/*.svg $(ASSETS)/vendor/html-manager/
	cp -r node_modules/mathjax/es5 $(ASSETS)/vendor/mathjax
	cp node_modules/mathjax/LICENSE $(ASSETS)/vendor/mathjax/
	touch $@

# constraints.txt pins every package to the versions the book is tested with (torch first,
# so that pip takes the pinned wheel); pyproject.toml only states compatible ranges.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) torch torchvision
	$(PIP) -e ".[dev,book,course,lab]"
	touch $(STAMP)

book: install
	$(JB)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The quick student edition: tests/test_course.py builds it here (and touches the stamp)
# while test-package runs, so test-site reuses it; alone, test-site builds it when the
# chapters or the course code are newer than the stamp.
EDITION := _build/quick/student

test-package: install
	VAE_TEST_EDITION=$(EDITION) $(BIN)/python -m pytest --ignore=tests/browser \
	  --ignore=tests/pdf --ignore=tests/lab

$(EDITION)/.stamp: $(wildcard book/*.ipynb) $(wildcard vae_tutorial/course/*.py)
	$(BIN)/vae-tutorial student --book book --out $(EDITION)
	touch $@

test-notebooks: install
	VAE_BOOK_QUICK=1 $(BIN)/python -m pytest --nbval-lax book/ -p no:cacheprovider

test-site: install
	VAE_BOOK_QUICK=1 $(JB) --path-output _build/quick
	$(MAKE) --no-print-directory $(EDITION)/.stamp
	$(STUDENT_SITE) --executed _build/quick/_build/jupyter_execute --edition $(EDITION)

# Real-browser tests of the site that test-site has just built (Debian chromium + Playwright);
# `make test-browser SITE_DIR=_build/html STUDENT_SITE_DIR=_build/student/html` tests the
# full builds instead.
SITE_DIR ?= _build/quick/_build/html
STUDENT_SITE_DIR ?= _build/quick/student/html
test-browser: install
	SITE_DIR=$(SITE_DIR) STUDENT_SITE_DIR=$(STUDENT_SITE_DIR) \
	  $(BIN)/python -m pytest tests/browser -p no:cacheprovider

test: lint test-package test-notebooks test-site test-browser test-pdf test-lab

# The whole book as one PDF: a one-page (singlehtml) build printed by Debian's Chromium.
PDF_BUILD ?= _build/pdf
PDF       ?= _build/vae-book.pdf
pdf: install
	$(JB) --builder singlehtml --path-output $(PDF_BUILD)
	$(BIN)/python site/print_pdf.py $(PDF_BUILD)/_build/singlehtml $(PDF)

test-pdf: install
	VAE_BOOK_QUICK=1 $(MAKE) pdf PDF_BUILD=_build/quick-pdf PDF=_build/quick-pdf/vae-book.pdf
	PDF_PATH=_build/quick-pdf/vae-book.pdf $(BIN)/python -m pytest tests/pdf -p no:cacheprovider

# JupyterLab runs on copies of the chapters (made once; your edits there are kept), so
# executing a chapter never writes outputs or .ipynb_checkpoints/ into book/.
lab: install
	mkdir -p $(LAB)
	cp -n book/*.ipynb $(LAB)/
	cd $(LAB) && $(CURDIR)/$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --no-browser --allow-root

# Chapter 7 in JupyterLab with a live kernel, in Chromium: cells run, the slider reaches the kernel.
test-lab: install
	VAE_BOOK_QUICK=1 $(BIN)/python -m pytest tests/lab -p no:cacheprovider

# Mutation testing: mutmut copies vae_tutorial/ into mutants/ (git-ignored; the sources are
# never changed), mutates the modules [tool.mutmut] in pyproject.toml names, and for each
# mutant runs the fast tests that call the mutated function. Starts afresh each time.
# MUTANTS='vae_tutorial.elbo.*' checks only the mutants whose names match (shell globs);
# MUTATION_JOBS is the number of test processes.
MUTANTS       ?=
MUTATION_JOBS ?= 2
mutation: install
	rm -rf mutants
	start=$$(date +%s); \
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS) \
	  || exit $$?; \
	echo $$(( $$(date +%s) - start )) > mutants/run-seconds
	$(BIN)/python benchmarks/mutation_report.py

# Go on with the mutants an interrupted `make mutation` left unchecked (results are kept
# per mutant in mutants/; a changed function is re-run); the run time adds up.
mutation-continue: install
	start=$$(date +%s); \
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS) \
	  || exit $$?; \
	echo $$(( $$(cat mutants/run-seconds 2>/dev/null || echo 0) + $$(date +%s) - start )) > mutants/run-seconds.new; \
	mv mutants/run-seconds.new mutants/run-seconds
	$(BIN)/python benchmarks/mutation_report.py

# The student site (vae_tutorial/course/student_site.py): the executed book's pages (from
# EXECUTED, the jupyter_execute folder of a build; `make book` runs first if there is none)
# with the student edition's cells, built without executing anything; its launch buttons
# open the chapters on STUDENT_BRANCH, where the student notebooks are published.
EXECUTED       ?= _build/jupyter_execute
STUDENT_BRANCH ?= student
STUDENT_SITE   := $(BIN)/python -m vae_tutorial.course.student_site --branch $(STUDENT_BRANCH)

student: install
	$(BIN)/vae-tutorial student --book book --out _build/student
	@test -d $(EXECUTED)/book || { echo "no executed book in $(EXECUTED): building the book first"; \
	  $(JB); }
	$(STUDENT_SITE) --executed $(EXECUTED) --edition _build/student

SUBMISSIONS ?=
grade: install
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=DIR (a folder of submitted notebooks)"; exit 2; }
	$(BIN)/vae-tutorial student --book book --out _build/student
	$(BIN)/vae-tutorial grade "$(SUBMISSIONS)" --autograder _build/student/autograder --out _build/grades

clean:
	rm -rf $(VENV) _build runs node_modules .pytest_cache .ruff_cache mutants
