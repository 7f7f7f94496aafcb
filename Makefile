# vitlab: build, test, run.
#
#   make              library, tests and tutorials into build/
#   make test         build and run the unit tests
#   make run          build and run the tutorials in order (make run T=03 runs one)
#   make SIMD=off test    the portable path: no -march=native (build/portable/)
#   make sanitize     tests under AddressSanitizer + UndefinedBehaviorSanitizer (build/sanitize/)
#   make bench        benchmark programs in bench/ (build/bench/)
#   make exercise N=1 build a classroom exercise against the library and run its checker
#   make vit          the vit command, build/vit (info, classify, run, summary, explain)
#   make fuzz         libFuzzer targets (clang); fuzz/run.sh [SECONDS] fuzzes each one
#   make format       clang-format every source file
#
# Dependencies: doctest and fmt, and stb for JPEG/PNG (installed with apt-get when missing on
# Debian/Ubuntu; on macOS: brew install doctest fmt stb).

CXX ?= g++
SIMD ?= on
MODE ?= release
JOBS ?= 2

ifeq ($(MODE),sanitize)
  BUILD := build/sanitize
  # GCC's -Wmaybe-uninitialized gives false positives inside libstdc++ (std::function, regex)
  # under -O1 + sanitizers; the release builds keep it as an error.
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	-Wno-maybe-uninitialized
  LDOPT := -fsanitize=address,undefined
else ifeq ($(SIMD),off)
  BUILD := build/portable
  OPT := -O2
else
  BUILD := build
  OPT := -O2
endif

ifeq ($(SIMD),on)
  ARCH := -march=native
endif

# Homebrew keeps headers outside the default search path.
BREW_PREFIX := $(firstword $(wildcard /opt/homebrew /usr/local/Homebrew))
ifneq ($(BREW_PREFIX),)
  EXTRA_INC := -I$(BREW_PREFIX)/include
  EXTRA_LIB := -L$(BREW_PREFIX)/lib
endif

CXXFLAGS_ALL := -std=c++17 $(OPT) $(ARCH) -Wall -Wextra -Werror -pthread -I. $(EXTRA_INC) \
	-DVITLAB_SOURCE_DIR=\"$(CURDIR)\" -MMD -MP $(CXXFLAGS)
LDLIBS_ALL := $(LDOPT) -pthread $(EXTRA_LIB) -lfmt -lz $(LDLIBS)

LIB_SRCS := $(shell find tensor nn vit vision dataset optim -name '*.cpp' 2>/dev/null | sort)
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
TUTORIALS := $(TUTORIAL_SRCS:tutorials/%.cpp=$(BUILD)/tutorials/%)
BENCHES := $(BENCH_SRCS:bench/%.cpp=$(BUILD)/bench/%)

.PHONY: all test run sanitize bench deps format clean exercise
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

run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(TUTORIALS)
	@for t in $(TUTORIALS); do \
	  case "$$(basename $$t)" in $(if $(T),$(T)*,*)) ;; *) continue ;; esac; \
	  echo; echo "==================== $$(basename $$t) ===================="; \
	  $$t || exit 1; \
	done

bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# ---- dependencies ---------------------------------------------------------------------------
# Checks that the headers compile; if not, installs them (Debian/Ubuntu) or says how (macOS).
HAVE_HEADER = $(shell printf '\#include <$(1)>\n' | $(CXX) -std=c++17 $(EXTRA_INC) -E -x c++ - >/dev/null 2>&1 && echo yes)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps:
	@if [ "$(call HAVE_HEADER,doctest/doctest.h)" != yes ] || [ "$(call HAVE_HEADER,fmt/format.h)" != yes ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "vitlab: installing doctest-dev and libfmt-dev with apt-get"; \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq doctest-dev libfmt-dev >/dev/null || exit 1; \
	  elif command -v brew >/dev/null 2>&1; then \
	    echo "vitlab: doctest and fmt are missing; install them with: brew install doctest fmt"; exit 1; \
	  else \
	    echo "vitlab: doctest and fmt headers are missing; install doctest and fmt with your package manager"; exit 1; \
	  fi; \
	fi
	@# stb_image (JPEG/PNG) is optional: without it, PPM still works and PNG/JPEG say how to get it.
	@if [ "$(call HAVE_HEADER,stb/stb_image.h)" != yes ] && [ "$(call HAVE_HEADER,stb_image.h)" != yes ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "vitlab: installing libstb-dev (JPEG/PNG reading) with apt-get"; \
	    $(SUDO) apt-get install -y -qq libstb-dev >/dev/null 2>&1 || \
	      echo "vitlab: could not install libstb-dev; JPEG/PNG reading is disabled (PPM works)"; \
	  else \
	    echo "vitlab: stb_image not found; JPEG/PNG reading is disabled (brew install stb to enable)"; \
	  fi; \
	fi

# ---- rules ----------------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(TEST_BIN): $(TEST_OBJS) $(CLI_LIB_OBJS) $(LIB)
	$(CXX) $(CXXFLAGS_ALL) $(TEST_OBJS) $(CLI_LIB_OBJS) $(LIB) -o $@ $(LDLIBS_ALL)

$(BUILD)/tutorials/%: $(BUILD)/obj/tutorials/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) $< $(LIB) -o $@ $(LDLIBS_ALL)

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
	$(CXX) $(CXXFLAGS_ALL) $< $(LIB) -o $@ $(LDLIBS_ALL) $(BENCH_LIBS)

format:
	clang-format -i $$(find tensor nn vit vision cli tests tutorials bench tools -name '*.cpp' -o -name '*.h' | grep -v fixtures)

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

.PHONY: vit fuzz
vit: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(VIT_BIN)

$(VIT_BIN): $(BUILD)/obj/cli/vit.o $(CLI_LIB_OBJS) $(LIB)
	$(CXX) $(CXXFLAGS_ALL) $^ -o $@ $(LDLIBS_ALL)

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
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libvitlab.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o $(FUZZ_DIR)/libvitlab.a
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer $^ -o $@ $(EXTRA_LIB) -lfmt
