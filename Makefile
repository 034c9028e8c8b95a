# pcmc build: every component adds its targets through a fragment (*.mk) beside its sources.
# Outputs go to build/ (git-ignored). `make` builds the programs, `make test` runs every suite.

BUILD     := build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
PREFIX    ?= /usr/local

# `make` builds release programs (no sanitizers); `make test` and `make test-build` build the whole
# tree with ASan+UBSan (TEST_SANITIZE), as the suites run. $(BUILD)/.flags records the flags of the
# last build: a change of flags rebuilds everything, the same flags rebuild nothing.
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANITIZE       ?=
TEST_SANITIZE  ?= $(SANITIZE_FLAGS)
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -I$(BUILD) $(SANITIZE) \
             $(shell pkg-config --cflags libcjson)
LDFLAGS   += $(SANITIZE)

TEST_SUITES :=
BENCHES     :=
# Fuzzers: each also runs briefly (fixed seed) in TEST_SUITES; `make fuzz` runs them long.
FUZZERS     :=
ALL_TARGETS :=
# What a user installs (`make install`).
PROGRAMS    := $(BUILD)/pcmc-agent $(BUILD)/pcmc-controller

.PHONY: programs all test test-build bench fuzz demo clean setup install FORCE
programs:

-include $(wildcard bpf/*.mk common/*.mk agent/*.mk agent/*/*.mk controller/*.mk kubectl-pcmc/*.mk test/*.mk test/*/*.mk)

programs: $(PROGRAMS)
all: $(ALL_TARGETS) $(PROGRAMS)

setup:
	bash test/setup.sh

# Each suite is an executable that prints TAP lines ("ok N - ..."/"not ok N - ...").
# setup first: on a fresh machine `make test` is a complete start (test/setup.sh is idempotent).
test: setup
	$(MAKE) SANITIZE='$(TEST_SANITIZE)' all
	bash test/run-suites.sh $(TEST_SUITES)

test-build:
	$(MAKE) SANITIZE='$(TEST_SANITIZE)' all

bench: all
	bash test/run-benches.sh $(BENCHES)

# Every fuzzer in FUZZERS, long (PCMC_FUZZ=long: each picks a random seed, prints it, and runs its
# long budget; PCMC_FUZZ_SEED repeats a run). Built like the tests (sanitizers on).
fuzz: setup
	$(MAKE) SANITIZE='$(TEST_SANITIZE)' all
	PCMC_FUZZ=long bash test/run-suites.sh $(FUZZERS)

install: programs
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/

$(BUILD):
	mkdir -p $@

clean:
	rm -rf $(BUILD)

# Every target depends on the flags stamp (not in $^), which is rewritten only when the flags change.
FLAGS_STAMP    := $(BUILD)/.flags
.EXTRA_PREREQS := $(FLAGS_STAMP)
$(FLAGS_STAMP) FORCE clean setup test test-build install: .EXTRA_PREREQS :=
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(CFLAGS) | $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) | $(LDFLAGS)' >$@
FORCE:
