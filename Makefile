# Set-up and checks. `make demo` and `make test` work from a fresh clone on Debian
# with Python 3.11: they create .venv, install what they need, then run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages: libmagic for intake; age, poppler and qpdf as independent checks in tests.
DEMO_DEBS := libmagic1
# Every packet's pages are read back by Tesseract before signing (the demo builds one): it needs them too.
DEMO_DEBS += tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-fra
TEST_DEBS := libmagic1 age poppler-utils qpdf fonts-dejavu-core tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-fra chromium chromium-driver libreoffice-writer-nogui libimage-exiftool-perl zbar-tools
# Benchmarks also compare with Ghostscript (bench/bench_fit.py: gs -dPDFSETTINGS=/ebook).
BENCH_DEBS := $(TEST_DEBS) ghostscript

.PHONY: demo test stress bench docs check-debs clean screenshots

$(BIN)/refuge: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

define need_debs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
endef

demo: $(BIN)/refuge
	$(call need_debs,$(DEMO_DEBS))
	$(BIN)/refuge demo

test: $(BIN)/refuge
	$(call need_debs,$(TEST_DEBS))
	@start=$$(date +%s); $(BIN)/pytest -n 2 --dist worksteal -q -m "not slow" --durations=25; status=$$?; \
	  echo "make test: $$(( $$(date +%s) - start )) s of pytest on $$(nproc) cores"; exit $$status

stress: $(BIN)/refuge
	$(call need_debs,$(TEST_DEBS))
	$(BIN)/pytest -q -m slow

bench: $(BIN)/refuge
	$(call need_debs,$(BENCH_DEBS))
	$(BIN)/python bench/run.py

# The web desk's main screens, taken by Debian's chromium with the browser tests' set-up.
screenshots: $(BIN)/refuge
	$(call need_debs,$(TEST_DEBS))
	$(BIN)/python tests/test_web_browser.py --screenshots docs/screenshots

docs: $(BIN)/refuge
	$(BIN)/python -m refuge._docgen

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
