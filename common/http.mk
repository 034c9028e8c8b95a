# common/http.mk: the HTTP server, Prometheus metrics registry (and the standard process_*/build_info
# metrics) and JSON helpers both programs link, as
# build/libpcmc-http.a. Link a program with: $(HTTP_LIB) $(BUILD)/libpcmc-common.a $(HTTP_LDLIBS)
HTTP_SRCS   := common/http_server.c common/http_conn.c common/http_parse.c common/metrics.c common/metrics_standard.c common/json_util.c
HTTP_OBJS   := $(HTTP_SRCS:%.c=$(BUILD)/%.o)
HTTP_LIB    := $(BUILD)/libpcmc-http.a
HTTP_LDLIBS := $(shell pkg-config --libs libcjson) -lpthread -lm

$(HTTP_LIB): $(HTTP_OBJS)
	ar rcs $@ $^

ALL_TARGETS += $(HTTP_LIB)

# Tests: Check suites printing TAP, talking real HTTP over 127.0.0.1 with libcurl.
HTTP_TESTS := $(BUILD)/test/common/http_server_test $(BUILD)/test/common/metrics_test \
	      $(BUILD)/test/common/json_util_test $(BUILD)/test/common/prometheus_scrape_test \
	      $(BUILD)/test/common/cli_test $(BUILD)/test/common/metrics_standard_test $(BUILD)/test/common/log_test
HTTP_TEST_FLAGS := $(shell pkg-config --cflags check libcurl)
HTTP_TEST_LIBS  := $(shell pkg-config --libs check libcurl)

$(HTTP_TESTS): $(BUILD)/test/common/%_test: test/common/test_%.c test/common/tap_main.h test/common/promtool_check.h \
		$(HTTP_LIB) $(BUILD)/libpcmc-common.a $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HTTP_TEST_FLAGS) $< -o $@ $(LDFLAGS) $(HTTP_LIB) $(BUILD)/libpcmc-common.a \
		$(HTTP_LDLIBS) $(HTTP_TEST_LIBS)

ALL_TARGETS += $(HTTP_TESTS)
TEST_SUITES += $(HTTP_TESTS)

# Benchmark: the agent's /metrics load (250 pods x 10 series): render, scrape, memory.
HTTP_BENCHES := $(BUILD)/test/common/metrics_bench
$(HTTP_BENCHES): $(BUILD)/test/common/%_bench: test/common/bench_%.c $(HTTP_LIB) $(BUILD)/libpcmc-common.a \
		$(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HTTP_TEST_FLAGS) $< -o $@ $(LDFLAGS) $(HTTP_LIB) $(BUILD)/libpcmc-common.a \
		$(HTTP_LDLIBS) $(HTTP_TEST_LIBS)

ALL_TARGETS += $(HTTP_BENCHES)
BENCHES += $(HTTP_BENCHES)
