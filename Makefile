# The suite's commands. Two of them do all the set-up on a fresh clone:
#   make demo    create .venv, install requirements.txt, run every built assignment on sample data
#   make test    same install, then the test suite
#   make notebook Jupyter Lab in .venv, on the assignments' notebooks, with this venv as its kernel
# Real data: DATA_DIR=/path/to/data make assignment1  (DATA_DIR defaults to the cache in data/).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=
# pytest-xdist workers for make test: one per core of the 2-core machine the suite is measured on.
TEST_WORKERS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: help install demo tensorboard test test-real bench lint data list clean grade new-assignment submit check release notebook \
        assignment1 assignment2 assignment3 assignment4 assignment5 assignment6 assignment7

help:
	@echo "make demo          set up .venv and run every built assignment on sample data"
	@echo "make install GPU=1 set up .venv with TensorFlow's CUDA libraries (Linux, NVIDIA driver)"
	@echo "make test          set up .venv and run the test suite (no data or network needed)"
	@echo "make notebook      start Jupyter Lab on the assignments' notebooks, with this venv as its kernel"
	@echo "make tensorboard   TensorBoard on every run's training curves (runs/)"
	@echo "make assignmentN   run assignment N (1-7) at its defaults; pass flags with ARGS=\"--epochs 5\"."
	@echo "                   By default 1, 4, 5, 6 run on real public data in DATA_DIR (USPS, MedMNIST, Kaggle brain MRI, ISBI 2012 EM);"
	@echo "                   2 and 3 on synthetic stand-ins, unless ARGS=\"--data PATH\" (yours) or, for 3, --dataset adrenalmnist3d_64"
	@echo "                   7 on PneumoniaMNIST (downloaded into DATA_DIR), or ARGS=\"--npz FILE\" / ARGS=\"--data KERMANY_FOLDER\""
	@echo "make data          download every public data set into DATA_DIR (default: data/)"
	@echo "make bench         training speed of every assignment's main models, float32 against auto (under 10 min)"
	@echo "make test-real     slow checks on real data in DATA_DIR (e.g. DATA_DIR=/path/to/data make test-real)"
	@echo "make check ASSIGNMENT=3                        the student checks of an assignment's parts to write (no ASSIGNMENT: all)"
	@echo "make release DEST=../course-2027 [GIT_URL=...] a student copy: every solution block becomes a TODO"
	@echo "make grade RUN=runs/<assignment>/<timestamp>   score a run (or a .zip, or a folder of them) against its rubric"
	@echo "make new-assignment NAME=my_project FROM=1     copy an assignment to start your own project"
	@echo "make submit ASSIGNMENT=1                       pack the code and latest finished run into submissions/"
	@echo "make lint          ruff"
	@echo "make clean         remove .venv, caches and sample data (keeps runs/ and downloaded data)"

# The virtual environment is rebuilt whenever its requirements file changes. GPU=1 installs TensorFlow with its
# CUDA libraries (requirements-gpu.txt) into a stamp of its own, so switching between the two reinstalls.
REQUIREMENTS := $(if $(GPU),requirements-gpu.txt,requirements.txt)
INSTALLED := $(VENV)/.installed-$(basename $(REQUIREMENTS))
$(INSTALLED): $(REQUIREMENTS) requirements.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 13) else \
		"TensorFlow 2.21 needs Python 3.10-3.13, but $(PYTHON) is %d.%d. Run make with PYTHON=python3.11 (or another supported version)." % v)'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	@rm -f $(VENV)/.installed-requirements $(VENV)/.installed-requirements-gpu
	@touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	$(PY) -m assignments demo

# --dist loadfile keeps each test file on one worker, so each file's shared runs are made once.
test: $(INSTALLED)
	$(PY) -m pytest $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)

# Jupyter Lab from the venv: its "Python 3" kernel is the venv's own Python, with the suite importable.
# (As root, in a container, Jupyter needs --allow-root.)
notebook: $(INSTALLED)
	$(VENV)/bin/jupyter lab --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

tensorboard: $(INSTALLED)
	$(PY) -m assignments tensorboard

test-real: $(INSTALLED)
	$(PY) -m pytest -m slow -p no:cacheprovider

# The precision table of the README: float32 against the machine's 16-bit precision, interleaved, per model.
bench: $(INSTALLED)
	$(PY) -m assignments bench $(ARGS)

lint: $(INSTALLED)
	$(PY) -m ruff check common assignments tests

data: $(INSTALLED)
	$(PY) -m common.datasets download

list: $(INSTALLED)
	@$(PY) -m assignments list

assignment1 assignment2 assignment3 assignment4 assignment5 assignment6 assignment7: $(INSTALLED)
	$(PY) -m assignments run $(subst assignment,,$@) $(ARGS)

# Grading and the student workflow (see README, "Grading" and "Your own project").
grade: $(INSTALLED)
	@test -n "$(RUN)" || { echo 'usage: make grade RUN=runs/<assignment>/<timestamp> (or a .zip, or a folder of runs) [ARGS="--csv grades.csv"]'; exit 2; }
	$(PY) -m assignments grade $(RUN) $(ARGS)

check: $(INSTALLED)
	@$(PY) -m assignments check $(or $(ASSIGNMENT),all)

release: $(INSTALLED)
	@test -n "$(DEST)" || { echo 'usage: make release DEST=../course-release (a new folder)'; exit 2; }
	$(PY) -m assignments release $(DEST) $(if $(GIT_URL),--git-url $(GIT_URL))

new-assignment: $(INSTALLED)
	@test -n "$(NAME)" -a -n "$(FROM)" || { echo 'usage: make new-assignment NAME=my_project FROM=1'; exit 2; }
	$(PY) -m assignments new $(NAME) --from $(FROM)

submit: $(INSTALLED)
	@test -n "$(ASSIGNMENT)" || { echo 'usage: make submit ASSIGNMENT=1 [RUN=runs/a1_usps_fcnet/<timestamp>]'; exit 2; }
	$(PY) -m assignments submit $(ASSIGNMENT) $(if $(RUN),--run $(RUN))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache data/samples
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
