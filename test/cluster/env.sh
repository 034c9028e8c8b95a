# Shared defaults for the local cluster scripts (sourced, not run): directories, ports, binaries.
# Every value can be overridden from the environment.
PCMC_CLUSTER_DIR=${PCMC_CLUSTER_DIR:-/tmp/pcmc-cluster}
PCMC_CACHE_DIR=${PCMC_CACHE_DIR:-/var/cache/pcmc}
PCMC_K8S_VERSION=${PCMC_K8S_VERSION:-v1.36.3}
PCMC_APISERVER_PORT=${PCMC_APISERVER_PORT:-16443}
PCMC_ETCD_CLIENT_PORT=${PCMC_ETCD_CLIENT_PORT:-12379}
PCMC_ETCD_PEER_PORT=${PCMC_ETCD_PEER_PORT:-12380}
# 1 = also run kube-controller-manager (namespace deletion, default service accounts, garbage collection).
PCMC_KCM=${PCMC_KCM:-1}
# etcd: empty = etcd 3.6 built into the cache from the module version k8s.io/kubernetes requires
# (Debian's 3.4.23 works but lacks RequestWatchProgress, so the apiserver would not serve consistent
# lists from its watch cache the way production does); set PCMC_ETCD_BIN=/usr/bin/etcd to use Debian's.
PCMC_ETCD_BIN=${PCMC_ETCD_BIN:-}
# 0 = run kube-apiserver with --watch-cache=false: watches and lists go straight to etcd, so an
# `etcdctl compact` (test/cluster/compact) makes a watch from an older resourceVersion fail with 410 Gone.
PCMC_WATCH_CACHE=${PCMC_WATCH_CACHE:-1}
# First node index of this cluster's node simulators: node k gets 10.244.(100+k).x. Clusters running
# side by side on one machine need disjoint ranges (the cluster suite uses 20, the demo 10).
PCMC_NODESIM_INDEX_BASE=${PCMC_NODESIM_INDEX_BASE:-0}
# Extra kube-apiserver flags, whitespace-separated (e.g. "--v=4").
PCMC_APISERVER_ARGS=${PCMC_APISERVER_ARGS:-}
PCMC_REPO=${PCMC_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export PCMC_CLUSTER_DIR PCMC_CACHE_DIR PCMC_K8S_VERSION PCMC_APISERVER_PORT PCMC_ETCD_CLIENT_PORT \
       PCMC_ETCD_PEER_PORT PCMC_KCM PCMC_ETCD_BIN PCMC_REPO PCMC_WATCH_CACHE PCMC_APISERVER_ARGS \
       PCMC_NODESIM_INDEX_BASE
PCMC_APISERVER=https://127.0.0.1:$PCMC_APISERVER_PORT
PCMC_ETCD_ENDPOINT=http://127.0.0.1:$PCMC_ETCD_CLIENT_PORT
export PCMC_APISERVER PCMC_ETCD_ENDPOINT
