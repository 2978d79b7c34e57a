# haechi - one binary, two commands: `make run` and `make test`.
# Plain make, strict warnings, sanitizers for the test build, -MMD deps.

CC       ?= cc
CSTD     := -std=c17
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla -Wwrite-strings
CPPFLAGS := -D_GNU_SOURCE -Ischeduler -Iadapters -Ibuild/gen
OPT      ?= -O2 -g
# `make V=1` shows the commands.
Q        := $(if $(V),,@)
# The test build's sanitizers: SANITIZER=address, undefined, none, or the
# default of both. Objects of different choices do not mix: `make clean`.
comma    := ,
SANITIZER ?= address,undefined
# Each choice builds in its own folder, so that objects never mix.
TDIR     := $(if $(filter address$(comma)undefined,$(SANITIZER)),build/test,build/test-$(SANITIZER))
ifeq ($(SANITIZER),none)
SANITIZE :=
else ifneq ($(filter-out address undefined address$(comma)undefined,$(SANITIZER)),)
$(error SANITIZER must be address, undefined, address$(comma)undefined or none)
else
SANITIZE := -fsanitize=$(SANITIZER) -fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif
LDLIBS   := -lcurl -levent -ljansson -lhiredis -lcrypto -lunistring -lm

SRC      := $(wildcard scheduler/*.c adapters/*.c)
LIB_SRC  := $(filter-out scheduler/main.c,$(SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TGT := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)

REL_OBJ  := $(SRC:%.c=build/release/%.o)
TST_OBJ  := $(SRC:%.c=$(TDIR)/%.o)
TST_LIB  := $(LIB_SRC:%.c=$(TDIR)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(TDIR)/unit/%)
REPLAY_BIN := $(FUZZ_TGT:%=$(TDIR)/fuzz/replay_%)
# The stand-ins of outside services: tests/fakes/fake_NAME.c on the core
# fake.c, built optimised and without sanitizers so that they keep up with
# the benchmarks, for the tests and for `make run` alike.
FAKE_SRC := $(wildcard tests/fakes/fake_*.c)
FAKE_BIN := $(FAKE_SRC:tests/fakes/fake_%.c=build/fakes/fake-%)
FAKE_OBJ := $(FAKE_SRC:tests/fakes/%.c=build/fakes/obj/%.o) build/fakes/obj/fake.o

.PHONY: all run test bench soak fuzz fuzz-build clean deps test-build check-banned stop format \
        valgrind fakes

all: bin/haechi

deps:
	@./deploy/install-deps.sh

bin/haechi: $(REL_OBJ)
	@mkdir -p $(@D)
	@echo "LINK $@"
	$(Q)$(CC) $(OPT) -o $@ $^ $(LDLIBS)

build/release/%.o: %.c
	@mkdir -p $(@D)
	@echo "CC   $<"
	$(Q)$(CC) $(CSTD) $(WARN) $(CPPFLAGS) $(OPT) -MMD -MP -c -o $@ $<

$(TDIR)/%.o: %.c
	@mkdir -p $(@D)
	@echo "CC   $< (sanitizers)"
	$(Q)$(CC) $(CSTD) $(WARN) $(CPPFLAGS) -O1 -g $(SANITIZE) -MMD -MP -c -o $@ $<

$(TDIR)/haechi: $(TST_OBJ)
	@echo "LINK $@"
	$(Q)$(CC) $(SANITIZE) -o $@ $^ $(LDLIBS)

$(TDIR)/unit/%: tests/unit/%.c $(TST_LIB)
	@mkdir -p $(@D)
	@echo "LINK $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CPPFLAGS) -Itests/unit -O1 -g $(SANITIZE) -MMD -MP \
	    -o $@ $< $(TST_LIB) $(LDLIBS)

# Each fuzz target also builds with the test compiler and a replay main(),
# so that `make test` runs it over its committed corpus without clang.
$(TDIR)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(TST_LIB)
	@mkdir -p $(@D)
	@echo "LINK $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CPPFLAGS) -Itests/fuzz -O1 -g $(SANITIZE) -MMD -MP \
	    -o $@ $< tests/fuzz/replay.c $(TST_LIB) $(LDLIBS)

build/fakes/obj/%.o: tests/fakes/%.c
	@mkdir -p $(@D)
	@echo "CC   $< (stand-in)"
	$(Q)$(CC) $(CSTD) $(WARN) -D_GNU_SOURCE -Itests/fakes $(OPT) -MMD -MP -c -o $@ $<

build/fakes/fake-%: build/fakes/obj/fake_%.o build/fakes/obj/fake.o
	@echo "LINK $@"
	$(Q)$(CC) $(OPT) -o $@ $^ -levent -ljansson

fakes: $(FAKE_BIN)

# The engine's Redis functions are written in Lua and compiled in as a string.
build/gen/engine_lua.h: scheduler/engine.lua
	@mkdir -p $(@D)
	$(Q)sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@

build/release/scheduler/engine.o $(TDIR)/scheduler/engine.o build/fuzz/scheduler/engine.o: \
    build/gen/engine_lua.h

# The audience lists' functions, the same way.
build/gen/audience_lua.h: scheduler/audience.lua
	@mkdir -p $(@D)
	$(Q)sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@

build/release/scheduler/audience.o $(TDIR)/scheduler/audience.o build/fuzz/scheduler/audience.o: \
    build/gen/audience_lua.h

# Functions that invite overflows or silent errors stay out of the tree.
check-banned:
	@if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok)\s*\(' \
	    scheduler/*.[ch] adapters/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] \
	    tests/fakes/*.[ch] 2>/dev/null; then \
	    echo "banned function used (see above)"; exit 1; fi

test-build: deps check-banned $(TDIR)/haechi $(UNIT_BIN) $(REPLAY_BIN) $(FAKE_BIN)

test: test-build
	@HAECHI_TEST_DIR=$(TDIR) ./tests/run.sh

run: deps all fakes
	@./deploy/run.sh

stop:
	@./deploy/run.sh --stop

bench: deps all fakes
	@./tests/bench/run.sh

# The full-size runs (a 350,000-member list) on the release build.
soak: deps all fakes
	@./tests/soak/run.sh

# libFuzzer with clang (installed by install-deps --fuzz when missing).
# Each target runs FUZZ_SECONDS (default 60) from its committed seeds in
# tests/fuzz/corpus/NAME; what it learns goes to build/fuzz/corpus/NAME,
# crash inputs to build/fuzz/crashes/NAME/. FUZZ_TARGETS picks a subset.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(FUZZ_TGT)
FUZZ_FLAGS   := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_LIB     := $(LIB_SRC:%.c=build/fuzz/%.o)
# clang's -Wshadow also counts libc's globals (worker.c's `tzname` meets
# <time.h>'s); gcc's, which the other builds use, does not.
FUZZ_WARN    := $(WARN) -Wno-shadow

.SECONDARY: $(FUZZ_LIB) $(FUZZ_TGT:%=build/fuzz/tests/fuzz/fuzz_%.o)

build/fuzz/%.o: %.c
	@mkdir -p $(@D)
	@echo "CC   $< (libFuzzer)"
	$(Q)$(FUZZ_CC) $(CSTD) $(FUZZ_WARN) $(CPPFLAGS) -Itests/fuzz $(FUZZ_FLAGS) \
	    -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	@echo "LINK $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build:
	@./deploy/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

fuzz: fuzz-build
	@./tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The unit tests and the corpus replays under valgrind, on a build without
# sanitizers (they and valgrind do not mix), then a short integration subset
# against a daemon built the same way.
valgrind:
	@./deploy/install-deps.sh --valgrind
	@$(MAKE) --no-print-directory SANITIZER=none test-build
	@HAECHI_TEST_DIR=build/test-none ./tests/valgrind.sh

# The house style lives in .clang-format; `make test` checks it.
FORMAT_SRC = scheduler/*.[ch] adapters/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] \
             tests/fakes/*.[ch]
format:
	clang-format -i $(FORMAT_SRC)

clean:
	rm -rf build bin

-include $(REL_OBJ:.o=.d) $(TST_OBJ:.o=.d) $(UNIT_BIN:=.d) $(REPLAY_BIN:=.d) $(FAKE_OBJ:.o=.d) \
    $(wildcard build/fuzz/*/*.d build/fuzz/*/*/*.d)
