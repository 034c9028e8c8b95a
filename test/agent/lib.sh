# Shared by the agent suites and benchmark (sourced): agent processes tracked by PID on a private
# pin root and state dir, test pods through build/pcmc-testpod, HTTP through curl, cleanup.
# shellcheck shell=bash
AG_REPO=${AG_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
AG_BIN=${AG_BIN:-$AG_REPO/build/pcmc-agent}
AG_TESTPOD=$AG_REPO/build/pcmc-testpod
AG_WORK=${AG_WORK:-/tmp/pcmc-agent-test-$$}
AG_PIN=${AG_PIN:-/sys/fs/bpf/pcmc-agent-test-$$}
AG_PODS=$AG_WORK/pods
AG_PID=
AG_PORT=
AG_RUN=0
declare -A AG_POD_UID=()

# ag_lock NAME: one run of a suite at a time on this machine (fixed pod names and addresses).
ag_lock() { exec 9>"/run/lock/pcmc-agent-$1.lock"; flock 9; }

# ag_start [FLAGS...]: starts pcmc-agent (log $AG_WORK/agent-N.log), waits until /readyz says ok.
ag_start() {
  local i
  AG_RUN=$((AG_RUN + 1))
  AG_LOG=$AG_WORK/agent-$AG_RUN.log
  "$AG_BIN" --listen 127.0.0.1:0 --pin-root "$AG_PIN" --state-dir "$AG_WORK/state" --node-name node-1 \
    --cni-cache-dir /run/pcmc-testpod/cni "$@" \
    >"$AG_LOG" 2>&1 &
  AG_PID=$!
  for ((i = 0; i < 100; i++)); do
    AG_PORT=$(grep -m1 '"msg":"starting"' "$AG_LOG" 2>/dev/null | jq -r .port)
    [ -n "$AG_PORT" ] && [ "$(curl -s --max-time 2 "http://127.0.0.1:$AG_PORT/readyz")" = ok ] && return 0
    kill -0 "$AG_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "# agent did not become ready; log:"; tail -n 20 "$AG_LOG" | sed 's/^/# /'
  return 1
}

# ag_stop [SIGNAL]: signals the agent by PID and waits; sets AG_EXIT to its exit status.
ag_stop() {
  local sig=${1:-TERM} i
  AG_EXIT=
  [ -n "$AG_PID" ] || return 0
  kill -"$sig" "$AG_PID" 2>/dev/null
  for ((i = 0; i < 100; i++)); do kill -0 "$AG_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$AG_PID" 2>/dev/null && kill -KILL "$AG_PID" 2>/dev/null
  { wait "$AG_PID"; } 2>/dev/null; AG_EXIT=$?
  AG_PID=
}

# ag_put BODY [CURL ARGS...]: PUT /v1/policy; sets AG_CODE and AG_BODY.
ag_put() {
  local body=$1; shift
  AG_BODY=$(curl -s --max-time 60 -o - -w '\n%{http_code}' -X PUT -H 'Content-Type: application/json' \
    "$@" --data-binary "$body" "http://127.0.0.1:$AG_PORT/v1/policy")
  AG_CODE=${AG_BODY##*$'\n'}
  AG_BODY=${AG_BODY%$'\n'*}
}
ag_get() { curl -s --max-time 10 "http://127.0.0.1:$AG_PORT$1"; }
# ag_metric 'name{labels}': value of that exact series, empty when absent.
ag_metric() { ag_get /metrics | awk -v s="$1" '$1 == s { print $2 }'; }

# ag_uid NAME: a stable pod UID derived from the name (so a crashed run's leftovers are found).
ag_uid() { local h; h=$(printf '%s' "$1" | sha256sum | cut -c1-32); echo "${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}"; }

# ag_pod_create NAME IPV4 [pcmc-testpod create flags...]
ag_pod_create() {
  local name=$1 ip=$2; shift 2
  AG_POD_UID[$name]=$(ag_uid "$name")
  "$AG_TESTPOD" delete --state-dir "$AG_PODS" --name "$name" --uid "${AG_POD_UID[$name]}" >/dev/null 2>&1
  "$AG_TESTPOD" create --state-dir "$AG_PODS" --name "$name" --uid "${AG_POD_UID[$name]}" --ipv4 "$ip" \
    --serve-mask 1 "$@" >/dev/null
}
ag_pod_delete() { "$AG_TESTPOD" delete --state-dir "$AG_PODS" --name "$1" --uid "$(ag_uid "$1")" >/dev/null 2>&1; }

# tcp_open IP PORT: 0 when the pod's server greets within 1 s; 1 when dropped or refused.
tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2 && head -c 4 <&3" 2>/dev/null | grep -q pcmc; }
tcp_blocked() { ! tcp_open "$@"; }

# ag_cleanup: the agent by PID, every pod this run made, pins, state, work dir.
ag_cleanup() {
  local n
  ag_stop KILL
  for n in "${!AG_POD_UID[@]}"; do ag_pod_delete "$n"; done
  rm -rf "$AG_PIN"
  rm -rf "$AG_WORK"
}

# ag_cluster_env DIR APISERVER_PORT ETCD_CLIENT_PORT ETCD_PEER_PORT: the suite's own local cluster
# (test/README.md), without kube-controller-manager.
ag_cluster_env() {
  export PCMC_CLUSTER_DIR=$1 PCMC_APISERVER_PORT=$2 PCMC_ETCD_CLIENT_PORT=$3 PCMC_ETCD_PEER_PORT=$4 PCMC_KCM=0
  unset PCMC_APISERVER_ARGS
}
# ag_cluster_up: starts it afresh and exports KUBECONFIG; on failure prints the log's tail as TAP comments.
ag_cluster_up() {
  local out
  ag_cluster_down
  out=$("$AG_REPO/test/cluster/up" 2>"$AG_WORK/cluster-up.txt") ||
    { tail -n 30 "$AG_WORK/cluster-up.txt" | sed 's/^/# /'; return 1; }
  eval "$out"
}
ag_cluster_down() { [ -d "${PCMC_CLUSTER_DIR:-}" ] && "$AG_REPO/test/cluster/down" >/dev/null 2>&1; return 0; }
ag_apiserver_pid() { cat "$PCMC_CLUSTER_DIR/pids/kube-apiserver.pid" 2>/dev/null; }

# ag_require TOOL... : the tools and the binaries ($AG_BIN and any more in AG_NEEDS) exist, else a
# failing TAP line and exit (a missing part fails loudly, never skips).
ag_require() {
  local t b
  for t in "$@"; do
    command -v "$t" >/dev/null || { tap_not_ok "tool $t present (run bash test/setup.sh)"; tap_done; exit 1; }
  done
  for b in "$AG_BIN" ${AG_NEEDS:-}; do
    [ -x "$b" ] || { tap_not_ok "$b built (run make)"; tap_done; exit 1; }
  done
}
# ag_no_sanitizer_reports LOG...: the TAP line that ends every suite.
ag_no_sanitizer_reports() {
  if grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error' "$@"; then
    tap_not_ok "no sanitizer reports in the logs"; grep -h 'Sanitizer\|runtime error' "$@" | head | sed 's/^/# /'
  else
    tap_ok "no sanitizer reports in the logs"
  fi
}

wait_until() {
  local t=$1 i; shift
  for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
