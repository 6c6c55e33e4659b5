# Two entry points for a fresh machine: `make search` (the main job) and `make test`.
# Each creates the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: search test env

env: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU build first (lies on disk here): keeps a multi-GB CUDA torch from being pulled.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Main job: the default search (search_spaces/vov3d.yaml) into runs/vov3d/. Run again, it
# resumes that search: another time budget of trials, up to the space's trial count.
search: $(STAMP)
	@if [ -e runs/vov3d/space.yaml ]; then \
		$(VENV)/bin/archspace search --space search_spaces/vov3d.yaml --resume; \
	else \
		$(VENV)/bin/archspace search --space search_spaces/vov3d.yaml; \
	fi

test: $(STAMP)
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadgroup tests
