# controller/: pcmc-controller (kube client, list/watch caches, workqueue, leader election,
# ConfigMap reconciler, status, pushes, metrics). Also adds common/kube_*.c and curl_pool.c (Kubernetes
# config + REST client, pooled connections; shared with the agent) to libpcmc-common.a.
KUBE_COMMON_OBJS := $(BUILD)/common/kube_config.o $(BUILD)/common/kube_client.o $(BUILD)/common/curl_pool.o
$(BUILD)/libpcmc-common.a: $(KUBE_COMMON_OBJS)
$(KUBE_COMMON_OBJS): CFLAGS += $(shell pkg-config --cflags libcurl yaml-0.1)
KUBE_LDLIBS := $(shell pkg-config --libs libcurl yaml-0.1 libcjson) -lpthread

CONTROLLER_LIB_SRCS := $(filter-out controller/main.c,$(wildcard controller/*.c))
CONTROLLER_LIB_OBJS := $(CONTROLLER_LIB_SRCS:%.c=$(BUILD)/%.o)
CONTROLLER_LIB      := $(BUILD)/libpcmc-controller.a
CONTROLLER_LDLIBS   := $(CONTROLLER_LIB) $(HTTP_LIB) $(BUILD)/libpcmc-common.a $(KUBE_LDLIBS) $(HTTP_LDLIBS)

$(BUILD)/controller/%.o: controller/%.c $(wildcard controller/*.h) $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(CONTROLLER_LIB): $(CONTROLLER_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pcmc-controller: $(BUILD)/controller/main.o $(CONTROLLER_LIB) $(HTTP_LIB) $(BUILD)/libpcmc-common.a
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(CONTROLLER_LDLIBS)

ALL_TARGETS += $(BUILD)/pcmc-controller

# Unit tests of the pure parts (Check, TAP on stdout).
CONTROLLER_UNIT_NAMES := selector configmap_content status workqueue kube_config leader_config crd_schema write_backoff node_push
CONTROLLER_UNIT_TESTS := $(CONTROLLER_UNIT_NAMES:%=$(BUILD)/test/controller/%_test)
$(BUILD)/test/controller/%_test: test/controller/test_%.c $(CONTROLLER_LIB) $(HTTP_LIB) $(BUILD)/libpcmc-common.a \
		$(wildcard controller/*.h) test/common/tap_main.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags check) $< -o $@ $(LDFLAGS) $(CONTROLLER_LDLIBS) \
		$(shell pkg-config --libs check)

ALL_TARGETS += $(CONTROLLER_UNIT_TESTS)
TEST_SUITES += $(CONTROLLER_UNIT_TESTS)
TEST_SUITES += test/controller/integration.sh test/controller/semantics.sh

# Benchmark: 10k pods / 1k CRs on the local cluster (builds its own plain binary under build/plain).
BENCHES += test/controller/bench.sh

# Kubernetes' published limits: 5,000 nodes (hollow agents), 150,000 pods. Not part of `make bench`
# (it takes the machine for half an hour); run it under the exclusive lock.
.PHONY: bench-scale
bench-scale:
	bash test/run-benches.sh test/controller/bench-scale.sh

# The REST client against the real API server; needs $KUBECONFIG, so integration.sh runs it.
$(BUILD)/test/controller/kube_client_check: test/controller/kube_client_check.c $(CONTROLLER_LIB) $(HTTP_LIB) \
		$(BUILD)/libpcmc-common.a $(wildcard common/*.h) test/common/tap_main.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags check) $< -o $@ $(LDFLAGS) $(CONTROLLER_LDLIBS) \
		$(shell pkg-config --libs check)
ALL_TARGETS += $(BUILD)/test/controller/kube_client_check

# Bulk creator the benchmark uses to set up 11,000 objects quickly.
$(BUILD)/test/controller/bench_create: test/controller/bench_create.c $(BUILD)/libpcmc-common.a $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(BUILD)/libpcmc-common.a $(KUBE_LDLIBS)
ALL_TARGETS += $(BUILD)/test/controller/bench_create

# The CRD's syscallNames rule from common/syscall_table's x86_64 and arm64 tables (test_crd_schema checks it).
.PHONY: crd-syscalls
crd-syscalls: $(SYSCALL_TABLE)
	bash crds/syscall-names.sh $(SYSCALL_TABLE) crds/podconfigmapconfig.yaml
	cp crds/podconfigmapconfig.yaml manifests/crd/podconfigmapconfig.yaml
