# pcmc build: every component adds its targets through a fragment (*.mk) beside its sources.
# Outputs go to build/ (git-ignored). `make test` runs every suite, `make bench` every benchmark.

BUILD     := build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# Sanitizers are on by default (tests and CI); `make SANITIZE=` builds plain binaries (images, benches).
SANITIZE  ?= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -I$(BUILD) $(SANITIZE) \
             $(shell pkg-config --cflags libcjson)
LDFLAGS   += $(SANITIZE)

TEST_SUITES :=
BENCHES     :=
ALL_TARGETS :=

.PHONY: all test bench demo clean setup
all:

-include $(wildcard bpf/*.mk common/*.mk agent/*.mk agent/*/*.mk controller/*.mk test/*.mk test/*/*.mk)

all: $(ALL_TARGETS)

setup:
	bash test/setup.sh

# Each suite is an executable that prints TAP lines ("ok N - ..."/"not ok N - ...").
test: all
	bash test/run-suites.sh $(TEST_SUITES)

bench: all
	bash test/run-benches.sh $(BENCHES)

$(BUILD):
	mkdir -p $@

clean:
	rm -rf $(BUILD)
