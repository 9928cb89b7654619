# NN Studio developer commands.  `make run` launches the app, `make test` runs the whole suite headless.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
QT_DEBS := libglib2.0-0 libgl1 libxkbcommon0 libegl1 libfreetype6 libfontconfig1 libdbus-1-3 fonts-noto-cjk
# On a desktop (X11) Qt's xcb platform plugin needs these as well.
GUI_DEBS := $(QT_DEBS) libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 \
	libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libxcb-xkb1
TEST_DEBS := $(QT_DEBS) dataset-fashion-mnist

# $(call install_debs,LIST): apt-get install the packages of LIST that are missing, when we are root.
define install_debs
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi
endef

.PHONY: run test venv dev-venv test-debs gui-debs bench dist selftest clean i18n

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip setuptools wheel

venv: $(VPY)
	$(VPY) -m pip install -e .

# torch is only a test oracle (layers and exports are compared with it), never a dependency of the product.
# Pinned exactly: this version's CPU build is at hand; other specs pull a multi-GB CUDA build.
dev-venv: $(VPY)
	$(VPY) -m pip install -e ".[dev]"
	$(VPY) -m pip install torch==2.13.0

run: venv gui-debs
	$(VENV)/bin/nnstudio

gui-debs:
	$(call install_debs,$(GUI_DEBS))

# The Debian packages the tests need: Qt's offscreen libraries, a CJK font, Fashion-MNIST.
test-debs:
	$(call install_debs,$(TEST_DEBS))

# The core tests (with the PyTorch oracles required: a skipped oracle cannot fail), then the whole GUI suite in
# one process: Qt objects are freed deterministically, so one file's tests cannot crash another's.
test: dev-venv test-debs
	NNSTUDIO_REQUIRE_TORCH=1 QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q -rs --ignore=tests/ui
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q -p no:cacheprovider tests/ui

# The translation catalogues: extract the messages from the code into the .po files, compile the .mo files.
i18n: dev-venv
	$(VPY) tools/i18n.py

bench: venv
	$(VENV)/bin/nnstudio bench

# The standalone one-folder app (docs/standalone.md): dist/nnstudio/nnstudio, with its size printed.
dist: dev-venv
	$(VENV)/bin/pyinstaller --noconfirm --clean nnstudio.spec
	@du -sh dist/nnstudio | sed 's/\t/  /'

# The frozen app checks itself headless, then its cold start to the first paint must stay under 3 s.
selftest: dist test-debs
	QT_QPA_PLATFORM=offscreen dist/nnstudio/nnstudio --self-test
	$(VPY) tools/bench_startup.py --frozen --runs 5 --limit 3

clean:
	rm -rf build dist .pytest_cache
