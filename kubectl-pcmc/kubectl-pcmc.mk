# kubectl-pcmc/: the kubectl plugin (build/kubectl-pcmc, objects in build/plugin/), linking the controller's library for its
# caches, selector, merge and agent discovery, and common/ for the Kubernetes client and policy codec.
KPCMC_SRCS := $(filter-out kubectl-pcmc/main.c,$(wildcard kubectl-pcmc/*.c))
KPCMC_OBJS := $(KPCMC_SRCS:kubectl-pcmc/%.c=$(BUILD)/plugin/%.o)
KPCMC_LIB  := $(BUILD)/libpcmc-kubectl.a

$(BUILD)/plugin/%.o: kubectl-pcmc/%.c $(wildcard kubectl-pcmc/*.h) $(wildcard controller/*.h) $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libcurl) -c $< -o $@

$(KPCMC_LIB): $(KPCMC_OBJS)
	ar rcs $@ $^

$(BUILD)/kubectl-pcmc: $(BUILD)/plugin/main.o $(KPCMC_LIB) $(CONTROLLER_LIB) $(HTTP_LIB) $(BUILD)/libpcmc-common.a
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(KPCMC_LIB) $(CONTROLLER_LDLIBS)

ALL_TARGETS += $(BUILD)/kubectl-pcmc
PROGRAMS    += $(BUILD)/kubectl-pcmc

# Unit tests of the pure parts (Check, TAP) and the suite on the local cluster.
KPCMC_TESTS := $(BUILD)/test/kubectl-pcmc/verdict_test $(BUILD)/test/kubectl-pcmc/prom_text_test
$(KPCMC_TESTS): $(BUILD)/test/kubectl-pcmc/%_test: test/kubectl-pcmc/test_%.c $(KPCMC_LIB) $(CONTROLLER_LIB) \
		$(HTTP_LIB) $(BUILD)/libpcmc-common.a $(wildcard kubectl-pcmc/*.h) test/common/tap_main.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags check) $< -o $@ $(LDFLAGS) $(KPCMC_LIB) $(CONTROLLER_LDLIBS) \
		$(shell pkg-config --libs check)
ALL_TARGETS += $(KPCMC_TESTS)
TEST_SUITES += $(KPCMC_TESTS) test/kubectl-pcmc/plugin.sh
