# Shared by the deploy suites (sourced): TAP helpers, a local cluster of our own (own state dir and
# free ports, so suites run side by side), waits, and loud failure when a tool is missing.
# shellcheck shell=bash
DEP_REPO=${DEP_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$DEP_REPO/test/cluster/tap.sh"
CTL_SA=system:serviceaccount:pcmc-system:pcmc-controller
AGENT_SA=system:serviceaccount:pcmc-system:pcmc-agent

# free_port in 27000..29767, apart from the controller and e2e suites' 30000..32767.
FREE_PORT_BASE=27000
. "$DEP_REPO/test/cluster/ports.sh"

# need TOOL...: a missing tool is a failed test and the end of the suite, never a skip.
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { tap_not_ok "tool $t present (run: bash test/setup.sh)"; tap_done; exit 1; }
  done
}

# kubelet_expand NAME=VALUE...: container args on stdin (one a line) with $(NAME) replaced, as the
# kubelet does from the container's env (the manifests use $(NODE_NAME), $(POD_NAMESPACE)).
kubelet_expand() {
  local line kv
  while IFS= read -r line; do
    for kv in "$@"; do line=${line//"\$(${kv%%=*})"/${kv#*=}}; done
    printf '%s\n' "$line"
  done
}

wait_until() { # wait_until SECONDS CMD...: polls CMD every 0.2 s
  local t=$1 i; shift
  for ((i = 0; i < t * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# cluster_start: etcd + kube-apiserver (no controller-manager) in a fresh state dir, exports KUBECONFIG.
cluster_start() {
  local out
  PCMC_CLUSTER_DIR=$(mktemp -d /tmp/pcmc-deploy-cluster.XXXXXX) && rmdir "$PCMC_CLUSTER_DIR"
  PCMC_APISERVER_PORT=$(free_port)
  PCMC_ETCD_CLIENT_PORT=$(free_port "$PCMC_APISERVER_PORT")
  PCMC_ETCD_PEER_PORT=$(free_port "$PCMC_APISERVER_PORT" "$PCMC_ETCD_CLIENT_PORT")
  export PCMC_CLUSTER_DIR PCMC_APISERVER_PORT PCMC_ETCD_CLIENT_PORT PCMC_ETCD_PEER_PORT PCMC_KCM=0
  unset PCMC_APISERVER_ARGS
  DEP_CLUSTER_UP=1
  if out=$("$DEP_REPO/test/cluster/up" 2>"$PCMC_CLUSTER_DIR.up.log"); then
    eval "$out"; rm -f "$PCMC_CLUSTER_DIR.up.log"; return 0
  fi
  tail -n 30 "$PCMC_CLUSTER_DIR.up.log" | sed 's/^/# /'
  return 1
}
cluster_stop() {
  [ "${DEP_CLUSTER_UP:-0}" = 1 ] || return 0
  "$DEP_REPO/test/cluster/down" >/dev/null 2>&1
  rm -f "$PCMC_CLUSTER_DIR.up.log"
  DEP_CLUSTER_UP=0
}
