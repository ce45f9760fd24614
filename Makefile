# cpcrl — batched A2C + CPC in a built-in gridworld, in C11.
# `make train` and `make test` are the two commands; both run the set-up step
# first (installs missing Debian packages when root, else prints the line).

CC      ?= cc
PKGS    := sdl2 openblas zlib cmocka
OPT     ?= -O2 -march=native -fno-math-errno -fvect-cost-model=dynamic
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-format-truncation \
           -Werror=implicit-function-declaration
# (format-truncation: every snprintf into a fixed buffer is bounded on purpose;
#  gcc -O1 and -O2 disagree on which of them "may" truncate; an implicit
#  declaration is an error everywhere: built before set-up, a stray cblas.h
#  without OpenBLAS's extensions made openblas_get_corename return an int and
#  ./cpcrl crash)
ifdef CI
WARN    += -Werror
endif
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -I. $(WARN)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS  += $(PKG_LIBS) -lm -lpthread
# bf16 learner products (nn/gemm.c) when oneDNN's header is there
# (libdnnl-dev, installed by set-up); without it cpcrl builds and says bf16
# is unavailable. DNNL=0 builds without it on purpose.
DNNL    ?= $(shell echo '\#include <oneapi/dnnl/dnnl.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1 || echo 0)
ifeq ($(DNNL),1)
CFLAGS  += -DCPCRL_DNNL
LDLIBS  += -ldnnl -lgomp
endif

BUILD   ?= build
LIB_SRC := $(sort $(wildcard base/*.c env/*.c nn/*.c agent/*.c cpc/*.c lab/*.c replays/*.c cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/test_*.c)))
BIN     := cpcrl



.PHONY: memprobe
.PHONY: all setup test test-run train bench asan debug clean fixtures mpi test-mpi setup-mpi fuzz lib

# all: build ./cpcrl
all: $(BIN)

$(BIN): $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c $(wildcard */*.h) | $(BUILD)
	@test -n "$(PKG_LIBS)" || { echo "cpcrl: pkg-config finds no $(PKGS): run 'make setup' first" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB_OBJ) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(BUILD):
	@mkdir -p $(BUILD)

# lib: $(BUILD)/libcpcrl_env.so, the simulator alone for the Python binding (python/):
# env/ (and base/errs.c, the one helper it uses) plus its ctypes glue, -fPIC, no SDL, no BLAS (needs no set-up beyond a C compiler)
PYLIB     := $(BUILD)/libcpcrl_env.so
PYLIB_OBJ := $(patsubst %.c,$(BUILD)/pic/%.o,$(sort $(wildcard env/*.c)) base/errs.c python/capi.c)
PY_REF    := $(BUILD)/tests/python/ref_trace
lib: $(PYLIB)

$(PYLIB): $(PYLIB_OBJ)
	$(CC) $(CFLAGS) -shared -o $@ $^ -lm

$(BUILD)/pic/%.o: %.c $(wildcard env/*.h base/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c -o $@ $<

# the C side of the binding's equivalence test (tests/python/test_binding.py)
$(PY_REF): tests/python/ref_trace.c $(PYLIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lz -lm

# setup: install missing Debian packages (root) or print the apt-get line
setup:
	@sh scripts/setup.sh

# test: set up, build warning-free, run every cmocka program in tests/
test: setup
	@$(MAKE) --no-print-directory test-run

# end-to-end checks run after the unit programs (make asan runs them on the ASan binary)
E2E = "sh tests/window_smoke.sh ./$(BIN)" "bash tests/test_reliability.sh ./$(BIN)" \
      "bash tests/test_reliability_cli.sh ./$(BIN)" "bash tests/test_compare.sh ./$(BIN)"
# the run lock across hosts and compare --emit-slurm (no MPI, no Slurm needed)
E2E += "bash tests/test_dist.sh ./$(BIN)"
# train's evaluations (eval.csv, best.ckpt) and resume across interruptions
E2E += "bash tests/test_train_eval.sh ./$(BIN)"
# docs: the generated flag reference is current; every `cpcrl CMD --flag` in README.md and docs/ exists
E2E += "bash tests/test_docs.sh ./$(BIN)"
# the rooms include only downward (docs/design.md, "What may include what")
E2E += "sh tests/test_includes.sh"
# compare under faults: killed workers, trainers, probes, aggregators and a full disk end in the
# same results.csv (2 rounds here; FAULT_SEED=1 bash tests/fault_campaign.sh ./cpcrl 50 for the campaign)
E2E += "bash tests/fault_campaign.sh ./$(BIN) 2"
# set-up as a user who is not root: one `sudo apt-get install` line, nothing installed
E2E += "bash tests/test_setup.sh"
# portability: the unit programs again under every OpenBLAS kernel this CPU runs
# (Haswell/Zen = AVX2, Sandybridge, Prescott, SkylakeX where AVX-512) and with
# CPCRL_NO_BF16=1, so what fails on another kind of machine fails here too
PORT = "bash tests/test_kernels.sh $(TESTS)"
# the Python binding against the C side (Debian's python3 + python3-numpy; not under ASan)
PY_TEST = "/usr/bin/python3 tests/python/test_binding.py --cpcrl ./$(BIN) --lib $(PYLIB) --ref $(PY_REF)"
PY_DEPS = $(PYLIB) $(PY_REF)
FUZZ_REGRESS = "FUZZ_BUILD=$(BUILD)/fuzz bash scripts/fuzz.sh regress 3"
FUZZ_SECONDS ?= 600

test-run: $(BIN) $(TESTS) $(PY_DEPS)
	@sh scripts/run_tests.sh $(TESTS) $(E2E) $(PORT) $(PY_TEST) $(FUZZ_REGRESS)

# train: set up, build, train the default task headless into runs/
train: setup
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN) train $(TRAIN_ARGS)

# bench: set up (plus python3-torch, for the PyTorch twin of bench train), build, print
# env / BLAS / training throughput figures, then the Python binding's steps/s against
# the same envs in a C loop (B = 256)
bench: setup setup-bench
	@$(MAKE) --no-print-directory $(BIN) lib
	./$(BIN) bench all
	CPCRL_LIB=$(PYLIB) /usr/bin/python3 scripts/bench_python.py

.PHONY: setup-bench
# setup-bench: python3-torch, which only make bench needs (not make test)
setup-bench:
	@PKGS="python3-torch" sh scripts/setup.sh

# asan: ASan + UBSan build (in build-asan/) running the whole test suite
asan: setup
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/cpcrl \
	  OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  FUZZ_REGRESS= PY_TEST= PY_DEPS= PORT= test-run

# fuzz: libFuzzer campaign over every loader, FUZZ_SECONDS per target (corpus in tests/fuzz/)
fuzz: setup
	@$(MAKE) --no-print-directory $(BIN)
	bash scripts/fuzz.sh campaign $(FUZZ_SECONDS)

# debug: unoptimised build with symbols in build-debug/
debug:
	@$(MAKE) --no-print-directory BUILD=build-debug BIN=build-debug/cpcrl OPT="-O0" build-debug/cpcrl

# mpi: MPI-enabled ./cpcrl-mpi (mpicc, -DCPCRL_MPI) for `mpirun -np R ./cpcrl-mpi train ...`
# (./cpcrl stays the plain build)
mpi: setup setup-mpi
	@$(MAKE) --no-print-directory BUILD=build-mpi CC=mpicc OPT="$(OPT) -DCPCRL_MPI" BIN=cpcrl-mpi cpcrl-mpi

setup-mpi:
	@PKGS="openmpi-bin libopenmpi-dev" sh scripts/setup.sh

# test-mpi: 2 ranks of B/2 envs must equal 1 process of B envs (same env seeds); then
# `mpirun -np 2 ./cpcrl-mpi compare` of a tiny plan must equal `./cpcrl compare` of it
test-mpi: setup setup-mpi
	@$(MAKE) --no-print-directory BUILD=build-mpi CC=mpicc OPT="$(OPT) -DCPCRL_MPI" build-mpi/mpi_equiv
	@sh scripts/test_mpi.sh build-mpi/mpi_equiv
	@$(MAKE) --no-print-directory $(BIN)
	@$(MAKE) --no-print-directory BUILD=build-mpi CC=mpicc OPT="$(OPT) -DCPCRL_MPI" BIN=cpcrl-mpi cpcrl-mpi
	@bash tests/test_mpi_compare.sh ./cpcrl-mpi ./$(BIN)
	@bash tests/test_mpi_resume.sh ./cpcrl-mpi

build-mpi/mpi_equiv: tests/mpi/mpi_equiv.c $(LIB_OBJ)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# memprobe: the delayed-memory probe (tests/tools/memprobe.c) behind README's tmaze findings
memprobe: setup
	@$(MAKE) --no-print-directory $(BUILD)/memprobe

$(BUILD)/memprobe: tests/tools/memprobe.c $(LIB_OBJ)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# fixtures: regenerate the PyTorch reference fixtures under tests/fixtures/
fixtures:
	/usr/bin/python3 scripts/make_fixtures.py tests/fixtures
	/usr/bin/python3 scripts/make_fixtures_cpc.py tests/fixtures
	/usr/bin/python3 scripts/make_fixtures_cpca.py tests/fixtures
	/usr/bin/python3 scripts/make_fixtures_model.py tests/fixtures
	/usr/bin/python3 scripts/make_fixtures_ppo.py tests/fixtures

# clean: remove build products (never runs/)
clean:
	rm -rf build build-asan build-debug build-mpi build-fuzz $(BIN) cpcrl-mpi
