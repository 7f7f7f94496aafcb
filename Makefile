# vitlab: build, test, run.
#
#   make              library, tests and tutorials into build/
#   make test         build and run the unit tests
#   make run          build and run the tutorials in order (make run T=03 runs one)
#   make CXX=clang++ test   the same with clang (build/clang/)
#   make V=1 ...      print every command in full (the default prints "  CXX file")
#   make sanitize     tests under AddressSanitizer + UndefinedBehaviorSanitizer (build/sanitize/)
#   make bench        benchmark programs in bench/ (build/bench/)
#   make exercise N=1 build a classroom exercise against the library and run its checker
#   make vit          the vit command, build/vit (info, classify, run, summary, explain)
#   make fuzz         libFuzzer targets (clang); fuzz/run.sh [SECONDS] fuzzes each one
#   make format       clang-format every source file
#
# Dependencies: doctest, fmt and zlib, and stb for JPEG/PNG (installed with apt-get when missing on
# Debian/Ubuntu; on macOS: brew install doctest fmt zlib stb).

CXX ?= g++
MODE ?= release
JOBS ?= 2

ifeq ($(MODE),sanitize)
  BUILD := build/sanitize
  # GCC's -Wmaybe-uninitialized gives false positives inside libstdc++ (std::function, regex)
  # under -O1 + sanitizers; the release builds keep it as an error.
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	-Wno-maybe-uninitialized
  LDOPT := -fsanitize=address,undefined
else
  BUILD := build
  OPT := -O2
endif
# clang's objects go beside g++'s, not over them: make CXX=clang++ test builds into build/clang/.
ifneq ($(findstring clang,$(notdir $(CXX))),)
  BUILD := $(BUILD)/clang
endif

# ---- instruction sets ------------------------------------------------------------------------
# Everything is compiled for the baseline CPU of the target (x86-64: SSE2), never -march=native,
# so one build runs on every x86 CPU and a program's correctness never depends on the host's
# flags. The SIMD kernel files, tensor/cpu/*_kernels.cpp, are compiled once more per instruction
# set (tensor/cpu/isa.h picks one at start-up): the baseline copy is the portable one (NEON on
# ARM), and on x86 hosts each also goes into obj/...<file>.avx2.o and .avx512.o.
# Why not -march=native: g++ 12.2 with -mavx512f (or -march=native on an AVX-512 CPU)
# miscompiles ordinary code. Its SLP vectoriser merges a std::vector<float> initializer list
# {1, 1, 1, 1, 0, 0, 0, 0} into one wrong 256-bit store of eight 1s (a 9-line program with a
# class derived from std::vector<long> shows it; fixed in GCC 13, not seen with clang). So the
# AVX-512 kernels are compiled with -fno-tree-slp-vectorize on g++ < 13: they are intrinsics,
# and lose nothing by it.
IS_X86 := $(shell $(CXX) -dumpmachine 2>/dev/null | grep -qE '^(x86_64|amd64|i[3-6]86)' && echo yes)
GCC_BEFORE_13 := $(shell $(CXX) -dM -E -x c++ /dev/null 2>/dev/null | \
	awk '/__clang__/ {c = 1} /define __GNUC__ / {g = $$3} END {if (!c && g < 13) print "yes"}')
ISA_FLAGS_avx2 := -DVITLAB_CPU_AVX2 -mavx2 -mfma
ISA_FLAGS_avx512 := -DVITLAB_CPU_AVX512 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma \
	$(if $(GCC_BEFORE_13),-fno-tree-slp-vectorize)
ifeq ($(IS_X86),yes)
  ISA_SRCS := $(sort $(wildcard tensor/cpu/*_kernels.cpp))
  ISA_OBJS := $(foreach i,avx2 avx512,$(ISA_SRCS:%.cpp=$(BUILD)/obj/%.$(i).o))
  $(BUILD)/libvitlab.a: $(ISA_OBJS)
  $(BUILD)/obj/tensor/cpu/isa.o: CXXFLAGS_ALL += -DVITLAB_CPU_X86_VARIANTS
endif
# Every global or shared (weak) symbol of a per-set object must be in that set's namespace
# (vitlab::cpu::avx2, vitlab::simd::avx2): an inline function of a header (std::, fmt::)
# compiled here could be chosen by the linker for ordinary code too, and run AVX-512
# instructions on a CPU without them. (Sanitizers add data symbols of their own: allowed.)
ISA_CHECK = nm -C --defined-only $@ | awk '$$2 ~ /^[A-TV-Zuvw]$$/ && !/::$(1)::/ && \
	!/ (DW\.ref\.__gxx_personality|__odr_asan\.)/ {print; bad = 1} END {exit bad}' || \
	{ echo "$@: the symbols above are outside namespace $(1)"; rm -f $@; exit 1; }
$(BUILD)/obj/%.avx2.o: %.cpp
	@mkdir -p $(dir $@)
	$(call quiet,CXX,$< [avx2])
	$(Q)$(CXX) $(CXXFLAGS_ALL) $(ISA_FLAGS_avx2) -c $< -o $@
	@$(call ISA_CHECK,avx2)
$(BUILD)/obj/%.avx512.o: %.cpp
	@mkdir -p $(dir $@)
	$(call quiet,CXX,$< [avx512])
	$(Q)$(CXX) $(CXXFLAGS_ALL) $(ISA_FLAGS_avx512) -c $< -o $@
	@$(call ISA_CHECK,avx512)

# Homebrew keeps headers outside the default search path.
BREW_PREFIX := $(firstword $(wildcard /opt/homebrew /usr/local/Homebrew))
ifneq ($(BREW_PREFIX),)
  EXTRA_INC := -I$(BREW_PREFIX)/include
  EXTRA_LIB := -L$(BREW_PREFIX)/lib
endif

# Quiet by default ("  CXX tensor/ops/gelu.cpp"); make V=1 prints every command in full.
ifeq ($(V),1)
  Q :=
  quiet :=
else
  Q := @
  quiet = @printf '  %-4s %s\n' '$(1)' '$(2)'
endif

CXXFLAGS_ALL := -std=c++17 $(OPT) $(ARCH) -Wall -Wextra -Werror -pthread -I. $(EXTRA_INC) \
	-DVITLAB_SOURCE_DIR=\"$(CURDIR)\" -MMD -MP $(CXXFLAGS)
LDLIBS_ALL := $(LDOPT) -pthread $(EXTRA_LIB) -lfmt -lz $(LDLIBS)

LIB_SRCS := $(shell find tensor nn vit vision dataset optim train -name '*.cpp' 2>/dev/null | sort)
TEST_SRCS := $(sort $(wildcard tests/*.cpp))
TUTORIAL_SRCS := $(sort $(wildcard tutorials/[0-9]*.cpp))
BENCH_SRCS := $(sort $(wildcard bench/*.cpp))

LIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
# The vit command (cli/): everything but main() also links into the tests (tests/test_cli.cpp).
CLI_SRCS := $(sort $(wildcard cli/*.cpp))
CLI_LIB_OBJS := $(filter-out $(BUILD)/obj/cli/vit.o,$(CLI_SRCS:%.cpp=$(BUILD)/obj/%.o))
VIT_BIN := $(BUILD)/vit
TEST_OBJS := $(TEST_SRCS:%.cpp=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libvitlab.a
TEST_BIN := $(BUILD)/vitlab_tests
TUTORIAL_NAMES := $(TUTORIAL_SRCS:tutorials/%.cpp=%)
TUTORIALS := $(TUTORIAL_NAMES:%=$(BUILD)/tutorials/%)
BENCHES := $(BENCH_SRCS:bench/%.cpp=$(BUILD)/bench/%)

.PHONY: all test run sanitize bench deps deps-data format clean exercise
# Keep object files of tutorials and benches (make would delete them as intermediates).
.SECONDARY:
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(LIB) $(TEST_BIN) $(TUTORIALS) $(VIT_BIN)

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(TEST_BIN)
	$(TEST_BIN) $(TEST_ARGS)

sanitize: deps
	@$(MAKE) --no-print-directory MODE=sanitize test

# T=1, T=01 and T=01_patch_embedding all pick tutorial 01; an unknown T lists the tutorials.
# Each tutorial is built just before it runs, under its heading (the first one builds the
# library, so its heading comes first and the compiler's lines after).
run: deps deps-data
	@t='$(T)'; pick=''; \
	if [ -z "$$t" ]; then pick='$(TUTORIAL_NAMES)'; else \
	  case "$$t" in ''|*[!0-9]*) ;; *) t=$$(printf '%02d' "$$(expr "$$t" + 0)") ;; esac; \
	  for n in $(TUTORIAL_NAMES); do case "$$n" in "$$t"|"$$t"_*) pick="$$pick $$n" ;; esac; done; \
	fi; \
	if [ -z "$$pick" ]; then \
	  echo "make run: there is no tutorial T=$(T); the tutorials are:" >&2; \
	  for n in $(TUTORIAL_NAMES); do echo "  $$n  (T=$${n%%_*})" >&2; done; exit 2; \
	fi; \
	for n in $$pick; do \
	  echo; echo "==================== $$n ===================="; \
	  $(MAKE) $(if $(Q),-s) --no-print-directory -j$(JOBS) $(BUILD)/tutorials/$$n || exit 1; \
	  $(BUILD)/tutorials/$$n; rc=$$?; \
	  if [ $$rc -eq 77 ]; then echo "($$n skipped: it needs Fashion-MNIST, see above)"; \
	  elif [ $$rc -ne 0 ]; then exit 1; fi; \
	done

bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# ---- dependencies ---------------------------------------------------------------------------
# tools/deps.sh checks that doctest and fmt (and, optionally, stb) compile with $(CXX), and
# installs what is missing (apt-get, with sudo when not root) or says how (macOS).
deps:
	@CXX='$(CXX)' EXTRA_INC='$(EXTRA_INC)' tools/deps.sh

# The Fashion-MNIST files (dataset-fashion-mnist) for the targets that train: make run (tutorial
# 11) and make train. Never for make test: the tests make their own small IDX files.
deps-data:
	@tools/deps.sh --data

# ---- rules ----------------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(call quiet,CXX,$<)
	$(Q)$(CXX) $(CXXFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(call quiet,AR,$@)
	$(Q)ar rcs $@ $^

$(TEST_BIN): $(TEST_OBJS) $(CLI_LIB_OBJS) $(LIB)
	$(call quiet,LD,$@)
	$(Q)$(CXX) $(CXXFLAGS_ALL) $(TEST_OBJS) $(CLI_LIB_OBJS) $(LIB) -o $@ $(LDLIBS_ALL)

$(BUILD)/tutorials/%: $(BUILD)/obj/tutorials/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CXX) $(CXXFLAGS_ALL) $< $(LIB) -o $@ $(LDLIBS_ALL)

# bench/ prints OpenBLAS's sgemm beside ours when libopenblas (libopenblas-dev) is installed.
OPENBLAS_LIB := $(firstword $(wildcard /usr/lib/*/libopenblas.so /usr/lib/libopenblas.so \
	/usr/local/lib/libopenblas.so))
ifneq ($(OPENBLAS_LIB),)
  BENCH_FLAGS := -DVITLAB_HAVE_OPENBLAS
  BENCH_LIBS := -lopenblas
endif
$(BUILD)/obj/bench/%.o: CXXFLAGS_ALL += $(BENCH_FLAGS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CXX) $(CXXFLAGS_ALL) $< $(LIB) -o $@ $(LDLIBS_ALL) $(BENCH_LIBS)

format:
	clang-format -i $$(find tensor nn vit vision dataset optim train cli tests tutorials bench tools -name '*.cpp' -o -name '*.h' | grep -v fixtures)

clean:
	rm -rf build

-include tutorials/exercises/exercises.mk

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- the vit command (cli/) -----------------------------------------------------------------
# build/vit is cli/*.cpp and the library. The test binary links cli/ too (all of it but main()
# in cli/vit.cpp) so that tests/test_cli.cpp runs vit_main() in-process.
#   make vit       build/vit
#   make fuzz      libFuzzer targets fuzz/fuzz_*.cpp with clang, ASan and UBSan (build/fuzz/);
#                  fuzz/run.sh [SECONDS] builds and runs each one (default 20 s)

.PHONY: vit fuzz train
vit: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(VIT_BIN)

# make train: the vit_fmnist preset on Fashion-MNIST with the default recipe into runs/fmnist/.
# EPOCHS, BATCH, LR and OUT change those flags; TRAIN_ARGS adds others
# (make train EPOCHS=20 TRAIN_ARGS="--hflip --crop-padding 2 --label-smoothing 0.1").
EPOCHS ?= 10
BATCH ?= 128
LR ?= 3e-3
OUT ?= runs/fmnist/
TRAIN_ARGS ?=
train: deps deps-data
	@$(MAKE) --no-print-directory -j$(JOBS) $(VIT_BIN)
	$(VIT_BIN) train --data fashion-mnist --model vit_fmnist --epochs $(EPOCHS) --batch $(BATCH) \
	  --lr $(LR) --out $(OUT) $(TRAIN_ARGS)

$(VIT_BIN): $(BUILD)/obj/cli/vit.o $(CLI_LIB_OBJS) $(LIB)
	$(call quiet,LD,$@)
	$(Q)$(CXX) $(CXXFLAGS_ALL) $^ -o $@ $(LDLIBS_ALL)

FUZZ_CXX ?= clang++
FUZZ_DIR := build/fuzz
FUZZ_CXXFLAGS := -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -Wall -Wextra -Werror -pthread -I. $(EXTRA_INC) \
	-DVITLAB_SOURCE_DIR=\"$(CURDIR)\" -MMD -MP
FUZZ_LIB_OBJS := $(LIB_SRCS:%.cpp=$(FUZZ_DIR)/obj/%.o)
FUZZ_TARGETS := $(patsubst fuzz/%.cpp,$(FUZZ_DIR)/%,$(sort $(wildcard fuzz/fuzz_*.cpp)))

fuzz: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(FUZZ_TARGETS)

$(FUZZ_DIR)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(call quiet,CXX,$<)
	$(Q)$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libvitlab.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	$(call quiet,AR,$@)
	$(Q)ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o $(FUZZ_DIR)/libvitlab.a
	$(call quiet,LD,$@)
	$(Q)$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer $^ -o $@ $(EXTRA_LIB) -lfmt -lz
