# dropviz: `make run` starts the app, `make test` runs every test. Both create .venv when needed.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test bench clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev
	$(PY) -m pytest -q

bench: $(VENV)/.runtime
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) .pytest_cache
