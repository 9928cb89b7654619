# NN Studio developer commands.  `make run` launches the app, `make test` runs the whole suite headless.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
QT_DEBS := libglib2.0-0 libgl1 libxkbcommon0 libegl1 libfreetype6 libfontconfig1 libdbus-1-3 fonts-noto-cjk

.PHONY: run test venv dev-venv qt-libs bench dist selftest clean

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip

venv: $(VPY)
	$(VPY) -m pip install -e .

dev-venv: $(VPY)
	$(VPY) -m pip install -e ".[dev]"

run: venv
	$(VENV)/bin/nnstudio

# Install the Debian libraries Qt needs offscreen, only when one is missing and we are root.
qt-libs:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  missing=""; for p in $(QT_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi

test: dev-venv qt-libs
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q

bench: venv
	$(VENV)/bin/nnstudio bench

dist: dev-venv
	$(VENV)/bin/pyinstaller --noconfirm --clean nnstudio.spec

selftest: dist
	QT_QPA_PLATFORM=offscreen dist/nnstudio/nnstudio --self-test

clean:
	rm -rf build dist .pytest_cache
