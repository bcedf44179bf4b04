# dropviz: `make run` starts the app, `make test` runs every test. Both create .venv when needed.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint browser bench screenshots clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

# plotly.js's basic bundle for the page (package.json, dropviz/web/plotly_js.py), installed by npm's own client as locked.
# Without npm the page loads the plotly package's full bundle; no stamp then, so the note shows on every run.
PLOTLY := node_modules/.installed
$(PLOTLY): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund && touch $@; \
	else echo "plotly.js: npm not found; the page will load the plotly package's full bundle (draws the same, loads slower)"; fi

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime $(PLOTLY)
	OPENBLAS_NUM_THREADS=1 $(VENV)/bin/streamlit run server.py --server.port $(PORT)  # one BLAS thread per session: fair under load

test: $(VENV)/.dev $(PLOTLY) browser lint
	$(PY) -m pytest -q

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The browser tests need Chromium: the system's if present, else Debian's package (as root), else Playwright's download.
# The deployment test needs nginx: Debian's nginx-light, as root (without it that test is skipped, or fails under CI=true).
browser: $(VENV)/.dev
	@if command -v chromium >/dev/null 2>&1; then echo "browser: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser: installing Debian's chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "browser: installing Playwright's Chromium"; $(PY) -m playwright install chromium; fi
	@if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then echo "nginx: found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "nginx: installing Debian's nginx-light"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
	else echo "nginx: not found (tests/e2e/test_nginx.py will skip)"; fi

bench: $(VENV)/.dev
	$(PY) bench/engine.py

screenshots: $(VENV)/.dev $(PLOTLY) browser
	$(PY) scripts/screenshot.py assets/dropviz.png --query epochs=5000 --play 4 --width 1400 --height 900
	$(PY) scripts/screenshot.py assets/screen-projector-1280.png --query epochs=5000 --play 4 --width 1280 --height 720 --present --window
	$(PY) scripts/screenshot.py assets/screen-laptop-1440.png --query epochs=5000 --play 4 --width 1440 --height 900 --window
	$(PY) scripts/screenshot.py assets/screen-phone-390.png --query epochs=5000 --play 4 --width 390 --height 2300  # the page scrolls in Streamlit's main element: a tall phone shows all of it

clean:
	rm -rf $(VENV) .pytest_cache node_modules
