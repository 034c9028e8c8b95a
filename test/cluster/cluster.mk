# test/cluster/: the local cluster from real parts (etcd + kube-apiserver built from Go modules),
# its suite, and `make demo`. kube-apiserver is built into $(PCMC_CACHE_DIR) by `up` on first use.
TEST_SUITES += test/cluster/test-cluster.sh

.PHONY: cluster-bins cluster-up cluster-down
cluster-bins:
	bash test/cluster/build-apiserver.sh kube-apiserver kube-controller-manager etcd
cluster-up:
	test/cluster/up
cluster-down:
	test/cluster/down


# `make demo`: setup first (a fresh machine lacks the build's packages), then build what builds
# (-k: a part that does not build yet is reported by the demo as NOT BUILT YET), then the demo.
demo:
	bash test/setup.sh
	-$(MAKE) -k all
	bash test/cluster/demo.sh
