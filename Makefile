# haechi - one binary, two commands: `make run` and `make test`.
# Plain make, strict warnings, sanitizers for the test build, -MMD deps.

CC       ?= cc
CSTD     := -std=c17
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla
CPPFLAGS := -D_GNU_SOURCE -Ischeduler -Iadapters -Ibuild/gen
OPT      ?= -O2 -g
# `make V=1` shows the commands.
Q        := $(if $(V),,@)
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -fno-omit-frame-pointer
LDLIBS   := -lcurl -levent -ljansson -lhiredis -lcrypto -lm

SRC      := $(wildcard scheduler/*.c adapters/*.c)
LIB_SRC  := $(filter-out scheduler/main.c,$(SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)

REL_OBJ  := $(SRC:%.c=build/release/%.o)
TST_OBJ  := $(SRC:%.c=build/test/%.o)
TST_LIB  := $(LIB_SRC:%.c=build/test/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/test/unit/%)

.PHONY: all run test bench fuzz clean deps test-build check-banned stop format

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

build/test/%.o: %.c
	@mkdir -p $(@D)
	@echo "CC   $< (sanitizers)"
	$(Q)$(CC) $(CSTD) $(WARN) $(CPPFLAGS) -O1 -g $(SANITIZE) -MMD -MP -c -o $@ $<

build/test/haechi: $(TST_OBJ)
	@echo "LINK $@"
	$(Q)$(CC) $(SANITIZE) -o $@ $^ $(LDLIBS)

build/test/unit/%: tests/unit/%.c $(TST_LIB)
	@mkdir -p $(@D)
	@echo "LINK $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(CPPFLAGS) -Itests/unit -O1 -g $(SANITIZE) -MMD -MP \
	    -o $@ $< $(TST_LIB) $(LDLIBS)

# The engine's Redis functions are written in Lua and compiled in as a string.
build/gen/engine_lua.h: scheduler/engine.lua
	@mkdir -p $(@D)
	$(Q)sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@

build/release/scheduler/engine.o build/test/scheduler/engine.o: build/gen/engine_lua.h

# Functions that invite overflows or silent errors stay out of the tree.
check-banned:
	@if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok)\s*\(' \
	    scheduler/*.[ch] adapters/*.[ch] tests/unit/*.[ch] 2>/dev/null; then \
	    echo "banned function used (see above)"; exit 1; fi

test-build: deps check-banned build/test/haechi $(UNIT_BIN)

test: test-build
	@./tests/run.sh

run: deps all
	@./deploy/run.sh

stop:
	@./deploy/run.sh --stop

bench: deps all
	@./tests/bench/run.sh

fuzz:
	@echo "make fuzz: no fuzz targets yet"

# The house style lives in .clang-format.
format:
	clang-format -i scheduler/*.[ch] adapters/*.[ch] tests/unit/*.[ch]

clean:
	rm -rf build bin

-include $(REL_OBJ:.o=.d) $(TST_OBJ:.o=.d) $(UNIT_BIN:=.d)
