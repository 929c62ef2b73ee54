# Set-up and checks. `make demo` and `make test` work from a fresh clone on Debian
# with Python 3.11: they create .venv, install what they need, then run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages: libmagic for intake; age, poppler and qpdf as independent checks in tests.
DEMO_DEBS := libmagic1
TEST_DEBS := libmagic1 age poppler-utils qpdf fonts-dejavu-core tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-fra libimage-exiftool-perl

.PHONY: demo test stress bench docs check-debs clean

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
	@start=$$(date +%s); $(BIN)/pytest -n 2 -q -m "not slow" --durations=15; status=$$?; \
	  echo "make test: $$(( $$(date +%s) - start )) s of pytest on $$(nproc) cores"; exit $$status

stress: $(BIN)/refuge
	$(call need_debs,$(TEST_DEBS))
	$(BIN)/pytest -q -m slow

bench: $(BIN)/refuge
	$(call need_debs,$(TEST_DEBS))
	$(BIN)/python bench/run.py

docs: $(BIN)/refuge
	$(BIN)/python -m refuge._docgen

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
