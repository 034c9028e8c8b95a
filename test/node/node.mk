# test/node/: a real Kubernetes node on this machine (kubelet built from Go modules, its own containerd,
# runc, CNI bridge and ptp) and pcmc's end-to-end suite on it. `make node-up` / `make node-down`.
TEST_SUITES += test/node/e2e.sh

.PHONY: node-up node-down
node-up:
	test/node/node up
node-down:
	test/node/node down
