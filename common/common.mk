# common/: the small library both programs share (JSON logging, command line, build identity,
# syscall tables, text buffers, the policy model and its wire codec; common/http.mk and controller/controller.mk
# add the HTTP server, metrics, JSON helpers and the Kubernetes client).
COMMON_SRCS := common/log.c common/syscall_table.c common/cli.c common/build_info.c common/duration.c \
	       common/json_reader.c common/json_writer.c common/ebpf_config.c common/policy_codec.c \
	       common/policy_answers.c common/text_buffer.c
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/common/%.o: common/%.c $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpcmc-common.a: $(COMMON_OBJS)
	ar rcs $@ $^

ALL_TARGETS += $(BUILD)/libpcmc-common.a

# Syscall name <-> number tables of x86_64 and arm64, generated from linux-libc-dev's headers.
SYSCALL_TABLE := $(BUILD)/common/syscall_table_generated.h
$(SYSCALL_TABLE): common/syscall_table.sh
	@mkdir -p $(dir $@)
	bash $< $@
$(BUILD)/common/syscall_table.o: $(SYSCALL_TABLE)

# Version and source revision for --version and *_build_info; GIT_REVISION=... where there is no .git.
BUILD_INFO_H := $(BUILD)/common/build_info_generated.h
$(BUILD_INFO_H): common/build_info.sh VERSION FORCE
	@mkdir -p $(dir $@)
	@bash $< $@ $(GIT_REVISION)
$(BUILD)/common/build_info.o: $(BUILD_INFO_H)
TEST_SUITES += test/common/binaries.sh
TEST_SUITES += test/common/logcheck.sh
