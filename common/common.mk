# common/: the small library both programs share (JSON logging, syscall tables; common/http.mk and
# controller/controller.mk add the HTTP server, metrics, JSON helpers and the Kubernetes client).
COMMON_SRCS := common/log.c common/syscall_table.c
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
