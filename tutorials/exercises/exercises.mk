# exercises.mk: build a classroom exercise against the library and run its checker.
# Included by the top Makefile (after its variables and rules):
#   -include tutorials/exercises/exercises.mk
# It uses the top Makefile's CXX, CXXFLAGS_ALL, LDLIBS_ALL, LIB, BUILD, JOBS and `deps` target.
#
#   make exercise N=1               tutorials/exercises/01_*/starter.cpp + check.cpp, then run
#                                   (N=1, N=01 and N=01_conv2d are the same)
#   make exercise N=1 SOLUTION=1    the same with the project's solution.cpp
#   make exercise-1                 short for make exercise N=1 (also exercise-1 SOLUTION=1)
#   make exercise-build N=1         build only; `make -s exercise-path N=1` prints the binary
#   make exercises SOLUTION=1       every exercise in order (stops at the first failing one)
#   EX_ARGS='-tc=*stride*'          extra doctest arguments for the checker (e.g. run one check)

EX_ROOT := tutorials/exercises
EX_DIRS := $(sort $(patsubst %/check.cpp,%,$(wildcard $(EX_ROOT)/[0-9][0-9]_*/check.cpp)))
EX_NAMES := $(notdir $(EX_DIRS))
EX_OBJ = $(BUILD)/exercises/obj
# The top Makefile's flags, which hold no host-specific ones (-march=native): a checker gives
# the same verdict on every machine (Debian's g++ 12.2 miscompiled exercise 05's own solution
# when AVX-512 was enabled). An untouched starter ignores its arguments: that must not stop it
# from compiling.
EX_CXXFLAGS = $(CXXFLAGS_ALL) -Wno-unused-parameter
# The student's file is work in progress: an unused variable or a missing return is a warning
# to read, not an error that hides the checks (-Werror stays on for everything else).
$(EX_OBJ)/%/starter.o: EX_CXXFLAGS += -Wno-error

# N=1, N=01 and N=01_conv2d all name the folder 01_conv2d; SOLUTION=1 picks solution.cpp.
EX_NUM = $(shell printf '%s' '$(N)' | sed -e 's/^0*//' -e 's/^\([0-9]\)$$/0\1/')
EX_NAME = $(if $(filter $(N),$(EX_NAMES)),$(N),$(notdir $(patsubst %/check.cpp,%,$(firstword \
            $(wildcard $(EX_ROOT)/$(EX_NUM)_*/check.cpp)))))
EX_ROLE = $(if $(filter-out 0 no false,$(SOLUTION)),solution,starter)
EX_BIN = $(BUILD)/exercises/$(EX_NAME)/$(EX_ROLE)

.PHONY: exercise exercise-build exercise-path exercises

exercise-build: deps
	@if [ -z "$(N)" ]; then \
	  echo "usage: make exercise N=<number> [SOLUTION=1]; the exercises are:"; \
	  for e in $(EX_NAMES); do echo "  $$e"; done; exit 2; fi
	@if [ -z "$(EX_NAME)" ]; then \
	  echo "make exercise: there is no exercise N=$(N); the exercises are:" >&2; \
	  for e in $(EX_NAMES); do echo "  $$e  (N=$${e%%_*})" >&2; done; exit 2; fi
	@$(MAKE) --no-print-directory -j$(JOBS) $(EX_BIN)

exercise: exercise-build
	@echo "==== exercise $(EX_NAME): checking $(EX_ROLE).cpp ===="
	@$(EX_BIN) $(EX_ARGS)

# The binary that exercise-build makes (used by .ci/extra).
exercise-path:
	@echo $(EX_BIN)

exercise-%:
	@$(MAKE) --no-print-directory exercise N=$*

exercises:
	@for e in $(EX_NAMES); do \
	  $(MAKE) --no-print-directory exercise N=$${e%%_*} || exit 1; done

# ---- rules ----------------------------------------------------------------------------------
# Keep the objects: built only through the pattern rules below, make would otherwise treat them
# as intermediate files and delete them after linking (and rebuild them every time).
.PRECIOUS: $(EX_OBJ)/%.o
# One shared main() (the doctest runner with the pass/FAIL checklist), one object per file.
$(EX_OBJ)/%.o: $(EX_ROOT)/%.cpp
	@mkdir -p $(dir $@)
	$(call quiet,CXX,$<)
	$(Q)$(CXX) $(EX_CXXFLAGS) -c $< -o $@

$(BUILD)/exercises/%/starter: $(EX_OBJ)/%/starter.o $(EX_OBJ)/%/check.o \
                              $(EX_OBJ)/checker_main.o $(LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CXX) $(EX_CXXFLAGS) $(filter %.o,$^) $(LIB) -o $@ $(LDLIBS_ALL)

$(BUILD)/exercises/%/solution: $(EX_OBJ)/%/solution.o $(EX_OBJ)/%/check.o \
                               $(EX_OBJ)/checker_main.o $(LIB)
	@mkdir -p $(dir $@)
	$(call quiet,LD,$@)
	$(Q)$(CXX) $(EX_CXXFLAGS) $(filter %.o,$^) $(LIB) -o $@ $(LDLIBS_ALL)

# Header dependencies of the exercise objects (the top Makefile only looks under build/).
-include $(wildcard $(EX_OBJ)/*.d $(EX_OBJ)/*/*.d)
