# The two commands a newcomer runs: `make run` and `make test`. Every target sets up
# .venv itself when missing, installs the project with its extras and builds ext/.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.roarbase-installed
EXT_SRC := $(wildcard ext/*.pyx ext/*.pxi ext/*.pxd ext/*.h)
N ?= 1000000

.PHONY: all run lint test test-slow build browser bench bench-ops bench-ingest proto clean distclean

all: build

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Dependencies change rarely: reinstall only when the project metadata changes.
$(STAMP): pyproject.toml setup.py | $(PY)
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

# Rebuild the extension whenever a Cython source or a C header changes (incremental). The
# new .so is renamed into place, never copied over the old one: a process that has the old
# one loaded keeps its mapping instead of crashing.
ext/.built: $(STAMP) $(EXT_SRC)
	$(PY) setup.py -q build_ext --build-lib build/lib
	for so in build/lib/ext/_roaring*.so; do cp "$$so" "ext/.new.so" && mv -f "ext/.new.so" "ext/$${so##*/}"; done
	touch ext/.built

build: ext/.built

# Starts the server on loopback (gRPC 20101, HTTP 10101) with its data under var/data and a
# demo database; prints how to query it. Ctrl-C stops it. `python -m engine` is the
# embedded-engine demo without a server.
run: build
	$(PY) -m server.cli serve --demo --data-dir var/data

# ruff (pyflakes, pycodestyle's errors, no stale noqa) over the repository and mypy over
# engine/ and tests/ext (against ext/_roaring.pyi); both configured in pyproject.toml.
# `make test` runs it first.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

test: lint build browser
	$(PY) -m pytest -q -m "not slow"

# The web console's browser tests (tests/server/console) drive Debian's Chromium through
# Playwright (never `playwright install`, which downloads a browser). Installed here when it
# is missing and we are root, as in CI; otherwise those tests skip, saying why (never in CI,
# where a missing browser fails them).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the web console's browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "note: $(CHROMIUM) is missing and cannot be installed by this user (apt-get install chromium as root):" \
	       "the web console's browser tests will be skipped"; \
	fi

test-slow: build
	$(PY) -m pytest -q -m slow

bench: build
	$(PY) -m bench.run --n $(N)

bench-ops: build
	$(PY) -m bench.ops

# Generated protobuf/gRPC code, committed: proto/roarbase/v1/*.proto -> server/pb/roarbase/v1/
# (*_pb2.py, *_pb2.pyi, *_pb2_grpc.py) with the grpcio-tools pinned in pyproject.toml.
# -Iserver/pb=proto makes protoc see the files as server/pb/roarbase/v1/*.proto, and protoc
# names Python modules after that path, so the generated imports read server.pb.roarbase.v1.
# PROTO_OUT is the root the server/pb/... tree is written under;
# tests/server/test_proto_fresh.py runs this same protoc line into a temp dir.
PROTO_SRC := $(sort $(wildcard proto/roarbase/v1/*.proto))
PROTO_OUT ?= .

proto: $(STAMP)
	rm -f $(PROTO_OUT)/server/pb/roarbase/v1/*_pb2.py $(PROTO_OUT)/server/pb/roarbase/v1/*_pb2.pyi $(PROTO_OUT)/server/pb/roarbase/v1/*_pb2_grpc.py
	$(PY) -m grpc_tools.protoc -Iserver/pb=proto --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) --grpc_python_out=$(PROTO_OUT) $(PROTO_SRC)

bench-ingest: build
	$(PY) -m bench.ingest --n $(N)

clean:
	rm -rf build ext/*.c ext/*.so ext/*.html ext/.built

distclean: clean
	rm -rf $(VENV)
