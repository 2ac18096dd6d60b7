# The two commands a newcomer runs: `make run` and `make test`. Every target sets up
# .venv itself when missing, installs the project with its extras and builds ext/.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.roarbase-installed
EXT_SRC := $(wildcard ext/*.pyx ext/*.pxi ext/*.pxd)
N ?= 1000000

.PHONY: all run test test-slow build bench bench-ops clean distclean

all: build

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Dependencies change rarely: reinstall only when the project metadata changes.
$(STAMP): pyproject.toml setup.py | $(PY)
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

# Rebuild the extension whenever a Cython source changes (incremental). The new .so is
# renamed into place, never copied over the old one: a process that has the old one
# loaded keeps its mapping instead of crashing.
ext/.built: $(STAMP) $(EXT_SRC)
	$(PY) setup.py -q build_ext --build-lib build/lib
	for so in build/lib/ext/_roaring*.so; do cp "$$so" "ext/.new.so" && mv -f "ext/.new.so" "ext/$${so##*/}"; done
	touch ext/.built

build: ext/.built

run: build
	$(PY) -m engine

test: build
	$(PY) -m pytest -q -m "not slow"

test-slow: build
	$(PY) -m pytest -q -m slow

bench: build
	$(PY) -m bench.run --n $(N)

bench-ops: build
	$(PY) -m bench.ops

clean:
	rm -rf build ext/*.c ext/*.so ext/*.html ext/.built

distclean: clean
	rm -rf $(VENV)
