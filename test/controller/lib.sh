# Shared by the controller suite and benchmark (sourced): a local cluster of our own (own state dir
# and ports, so other suites' clusters are left alone), controller processes tracked by PID, waits.
# shellcheck shell=bash
CTL_REPO=${CTL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$CTL_REPO/test/cluster/ports.sh" # free_port, in 30000..32767
. "$CTL_REPO/test/cluster/tap.sh"   # wait_until (and the TAP helpers)
# Each run gets its own state dir and ports, so concurrent `make test` runs do not collide.
if [ -z "${PCMC_CONTROLLER_CLUSTER_DIR:-}" ]; then
  PCMC_CONTROLLER_CLUSTER_DIR=$(mktemp -d /tmp/pcmc-controller-cluster.XXXXXX) && rmdir "$PCMC_CONTROLLER_CLUSTER_DIR"
  PCMC_CONTROLLER_APISERVER_PORT=$(free_port)
  PCMC_CONTROLLER_ETCD_CLIENT_PORT=$(free_port "$PCMC_CONTROLLER_APISERVER_PORT")
  PCMC_CONTROLLER_ETCD_PEER_PORT=$(free_port "$PCMC_CONTROLLER_APISERVER_PORT" "$PCMC_CONTROLLER_ETCD_CLIENT_PORT")
  export PCMC_CONTROLLER_CLUSTER_DIR PCMC_CONTROLLER_APISERVER_PORT PCMC_CONTROLLER_ETCD_CLIENT_PORT \
    PCMC_CONTROLLER_ETCD_PEER_PORT
fi
export PCMC_CLUSTER_DIR=$PCMC_CONTROLLER_CLUSTER_DIR
export PCMC_APISERVER_PORT=$PCMC_CONTROLLER_APISERVER_PORT
export PCMC_ETCD_CLIENT_PORT=$PCMC_CONTROLLER_ETCD_CLIENT_PORT
export PCMC_ETCD_PEER_PORT=$PCMC_CONTROLLER_ETCD_PEER_PORT
# No kube-controller-manager, hence no garbage collector: the controller deletes ConfigMaps itself.
export PCMC_KCM=0
# Watches go straight to etcd, so compacting etcd makes an old resourceVersion answer 410 Gone.
export PCMC_WATCH_CACHE=${PCMC_CONTROLLER_WATCH_CACHE:-0}
unset PCMC_APISERVER_ARGS
CTL_BIN=${CTL_BIN:-$CTL_REPO/build/pcmc-controller}
export CTL_LOGS=${CTL_LOGS:-$PCMC_CLUSTER_DIR.logs}
declare -A CTL_PID=()

log_note() { echo "# $*"; }

cluster_start() {
  local out
  mkdir -p "$CTL_LOGS"
  if out=$("$CTL_REPO/test/cluster/up" 2>"$CTL_LOGS/cluster-up.txt"); then
    eval "$out"
    return 0
  fi
  sed 's/^/# /' "$CTL_LOGS/cluster-up.txt" | tail -n 30
  return 1
}

cluster_stop() { [ -d "$PCMC_CLUSTER_DIR" ] && "$CTL_REPO/test/cluster/down" >/dev/null 2>&1; return 0; }


# ctl_start NAME [VAR=VALUE...]: one controller process, log in $CTL_LOGS/NAME.log (earlier runs
# of NAME are kept in NAME.earlier.log).
ctl_start() {
  local name=$1; shift
  [ -f "$CTL_LOGS/$name.log" ] && cat "$CTL_LOGS/$name.log" >> "$CTL_LOGS/$name.earlier.log"
  env "$@" LEADER_ELECTION_LOCK_NAMESPACE=pcmc-system "$CTL_BIN" --kubeconfig "$KUBECONFIG" \
    --metrics-addr 127.0.0.1:0 --identity "$name" --workers 4 >"$CTL_LOGS/$name.log" 2>&1 &
  CTL_PID[$name]=$!
  disown "$!"   # no job-control notice when a test kills it on purpose
  wait_until 20 ctl_ready "$name"
}

ctl_alive() { [ -n "${CTL_PID[$1]:-}" ] && kill -0 "${CTL_PID[$1]}" 2>/dev/null; }

# ctl_stop NAME [SIGNAL]: signals the recorded PID and waits for it to exit.
ctl_stop() {
  local name=$1 sig=${2:-TERM} pid=${CTL_PID[$1]:-} i
  [ -n "$pid" ] || return 0
  kill -"$sig" "$pid" 2>/dev/null
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  { wait "$pid"; } 2>/dev/null
  unset "CTL_PID[$name]"
}

ctl_stop_all() { local n; for n in "${!CTL_PID[@]}"; do ctl_stop "$n"; done; }

ctl_port() { grep '"msg":"starting"' "$CTL_LOGS/$1.log" | tail -n 1 | jq -r .metrics_port; }
ctl_get() { curl -fsS --max-time 5 "http://127.0.0.1:$(ctl_port "$1")$2"; }
ctl_ready() { ctl_alive "$1" && [ "$(ctl_get "$1" /readyz)" = ok ]; }
# ctl_metric NAME SERIES: the value of one exact series line, e.g. 'pcmc_controller_leader'.
ctl_metric() { ctl_get "$1" /metrics | awk -v s="$2" '$1 == s { print $2 }'; }

lease_holder() { kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
is_holder() { [ "$(lease_holder)" = "$1" ]; }

# The API server restarted in place with the same command line and PID bookkeeping as `up`.
apiserver_restart() {
  local pidf=$PCMC_CLUSTER_DIR/pids/kube-apiserver.pid pid args=()
  pid=$(cat "$pidf") || return 1
  mapfile -d '' -t args < "/proc/$pid/cmdline"
  . "$CTL_REPO/test/cluster/pids.sh"
  pid_stop "$PCMC_CLUSTER_DIR" kube-apiserver 3 2>/dev/null
  pid_start "$PCMC_CLUSTER_DIR" kube-apiserver "$PCMC_CLUSTER_DIR/logs/kube-apiserver.log" "${args[@]}"
  wait_until 60 bash -c '[ "$(kubectl get --raw /readyz)" = ok ]'
}

make_namespace() {
  kubectl create namespace "$1" >/dev/null && kubectl -n "$1" create serviceaccount default >/dev/null
}

# make_pod NS NAME LABELS [ANNOTATION]: a pod bound to node-a (no kubelet runs it; phase is patched).
make_pod() {
  local ns=$1 name=$2 labels=$3 ann=${4:-} extra=()
  [ -n "$ann" ] && extra=(--annotations="$ann")
  kubectl -n "$ns" run "$name" --image=registry.k8s.io/pause:3.10 --restart=Never --labels="$labels" \
    "${extra[@]}" --overrides='{"apiVersion":"v1","spec":{"nodeName":"node-a","containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}' >/dev/null
}

# Names of generated ConfigMaps in NS (one line, sorted, space-separated).
cm_names() {
  kubectl -n "$1" get configmaps -l podconfig.example.com/generated-by-pcmc -o json |
    jq -r '[.items[].metadata.name] | sort | join(" ")'
}
cms_are() { [ "$(cm_names "$1")" = "$2" ]; }
cm_field() { kubectl -n "$1" get configmap "$2" -o json | jq -r "$3"; }
cm_field_is() { [ "$(cm_field "$1" "$2" "$3")" = "$4" ]; }

# ctl_suite_begin TOOL...: for a suite script (after sourcing tap.sh and this file): stops
# controllers and the cluster on exit (logs kept only on failure), checks the tools and the binary,
# starts the cluster; exits with a failed TAP line when any of it fails.
ctl_suite_cleanup() {
  ctl_stop_all; cluster_stop
  if [ "$TAP_FAILED" -eq 0 ]; then rm -rf "$CTL_LOGS"; else echo "# controller logs kept in $CTL_LOGS"; fi
}
ctl_suite_begin() {
  local t
  trap ctl_suite_cleanup EXIT
  trap 'exit 130' INT TERM
  for t in "$@"; do
    command -v "$t" >/dev/null || { tap_not_ok "tool $t present (run bash test/setup.sh)"; tap_done; exit 1; }
  done
  [ -x "$CTL_BIN" ] || { tap_not_ok "build/pcmc-controller built (run make)"; tap_done; exit 1; }
  mkdir -p "$CTL_LOGS"
  if cluster_start; then tap_ok "local cluster up (state $PCMC_CLUSTER_DIR)"; else tap_not_ok "local cluster up"; tap_done; exit 1; fi
}
