# common/: the small library both programs share (logging today; HTTP and JSON helpers later).
COMMON_SRCS := common/log.c
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/common/%.o: common/%.c $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpcmc-common.a: $(COMMON_OBJS)
	ar rcs $@ $^

ALL_TARGETS += $(BUILD)/libpcmc-common.a
