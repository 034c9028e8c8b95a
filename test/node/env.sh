# Defaults of the real node (sourced, not run): directories, ports, addresses, names. Every value can be
# overridden from the environment; test/README.md lists what each suite uses on this machine.
PCMC_NODE_DIR=${PCMC_NODE_DIR:-/tmp/pcmc-node}
PCMC_NODE_NAME=${PCMC_NODE_NAME:-pcmc-node}
# The node's own cluster (test/cluster/up): state dir inside the node's, ports of its own.
PCMC_NODE_APISERVER_PORT=${PCMC_NODE_APISERVER_PORT:-46443}
PCMC_NODE_ETCD_CLIENT_PORT=${PCMC_NODE_ETCD_CLIENT_PORT:-42379}
PCMC_NODE_ETCD_PEER_PORT=${PCMC_NODE_ETCD_PEER_PORT:-42380}
PCMC_NODE_KUBELET_PORT=${PCMC_NODE_KUBELET_PORT:-40250}
PCMC_NODE_KUBELET_HEALTHZ_PORT=${PCMC_NODE_KUBELET_HEALTHZ_PORT:-40248}
# The node's InternalIP and the `kubernetes` Service address, both on a link of the node's own:
# pods reach the API server at the Service address (a proxy forwards it to 127.0.0.1) and the agent
# (hostNetwork) at the node IP.
PCMC_NODE_LINK=${PCMC_NODE_LINK:-nodepcmc0}
PCMC_NODE_IP=${PCMC_NODE_IP:-10.244.182.1}
PCMC_NODE_SERVICE_IP=${PCMC_NODE_SERVICE_IP:-10.96.0.1}
# Pod ranges of the two CNI shapes: pods on a bridge, and routed point-to-point veths.
PCMC_NODE_BRIDGE=${PCMC_NODE_BRIDGE:-cnipcmc0}
PCMC_NODE_BRIDGE_SUBNET=${PCMC_NODE_BRIDGE_SUBNET:-10.244.180.0/24}
PCMC_NODE_PTP_SUBNET=${PCMC_NODE_PTP_SUBNET:-10.244.181.0/24}
# Both ranges: pod-to-pod forwarding is allowed inside it, anything else forwarded from it dropped.
PCMC_NODE_POD_NET=${PCMC_NODE_POD_NET:-10.244.180.0/23}
# The kubelet's cgroupRoot: its pods live in <hierarchy>/pcmc-node/kubepods/..., apart from the node
# simulator's (kubepods/... at the root), which a kubelet would otherwise remove as unknown.
PCMC_NODE_CGROUP_ROOT=${PCMC_NODE_CGROUP_ROOT:-/pcmc-node}
PCMC_NODE_CNI_BIN=${PCMC_NODE_CNI_BIN:-/usr/lib/cni}
# Images made locally and imported into the node's containerd (no registry).
PCMC_NODE_PAUSE_IMAGE=${PCMC_NODE_PAUSE_IMAGE:-pcmc.local/pause:1}
PCMC_NODE_TEST_IMAGE=${PCMC_NODE_TEST_IMAGE:-pcmc.local/node-test:1}
export PCMC_NODE_DIR PCMC_NODE_NAME PCMC_NODE_APISERVER_PORT PCMC_NODE_ETCD_CLIENT_PORT \
       PCMC_NODE_ETCD_PEER_PORT PCMC_NODE_KUBELET_PORT PCMC_NODE_KUBELET_HEALTHZ_PORT PCMC_NODE_LINK \
       PCMC_NODE_IP PCMC_NODE_SERVICE_IP PCMC_NODE_BRIDGE PCMC_NODE_BRIDGE_SUBNET PCMC_NODE_PTP_SUBNET PCMC_NODE_POD_NET \
       PCMC_NODE_CGROUP_ROOT PCMC_NODE_CNI_BIN PCMC_NODE_PAUSE_IMAGE PCMC_NODE_TEST_IMAGE
# Where containerd 1.6 and the kubelet write whatever their configuration says (cleaned by `down`).
PCMC_NODE_CTR_SOCK=$PCMC_NODE_DIR/containerd/containerd.sock
