# Shared by the end-to-end suite and benchmark (sourced): our own local cluster with two simulated
# nodes, one real pcmc-agent per node (registered as a hostNetwork agent pod), two controllers with
# their own service-account tokens, workload pods, a prober of blocked ports. Everything by PID.
# shellcheck shell=bash
E2E_REPO=${E2E_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$E2E_REPO/test/cluster/tap.sh"   # TAP helpers, wait_until
. "$E2E_REPO/test/cluster/ports.sh" # free_port, in 30000..32767
if [ -z "${E2E_DIR:-}" ]; then
  E2E_DIR=$(mktemp -d /tmp/pcmc-e2e.XXXXXX)
  E2E_APISERVER_PORT=$(free_port)
  E2E_ETCD_CLIENT_PORT=$(free_port "$E2E_APISERVER_PORT")
  E2E_ETCD_PEER_PORT=$(free_port "$E2E_APISERVER_PORT" "$E2E_ETCD_CLIENT_PORT")
  E2E_AGENT_PORT=$(free_port "$E2E_APISERVER_PORT" "$E2E_ETCD_CLIENT_PORT" "$E2E_ETCD_PEER_PORT")
  E2E_OWNER_PID=$$
  # Helpers run in `bash -c` source this file again: they must find the same run.
  export E2E_DIR E2E_APISERVER_PORT E2E_ETCD_CLIENT_PORT E2E_ETCD_PEER_PORT E2E_AGENT_PORT E2E_OWNER_PID
fi
export PCMC_CLUSTER_DIR=$E2E_DIR/cluster PCMC_APISERVER_PORT=$E2E_APISERVER_PORT
export PCMC_ETCD_CLIENT_PORT=$E2E_ETCD_CLIENT_PORT PCMC_ETCD_PEER_PORT=$E2E_ETCD_PEER_PORT
export PCMC_KCM=0 PCMC_WATCH_CACHE=1
# Node indexes 40/41: InternalIPs 127.0.100.41/42, pods 10.244.140.x / 10.244.141.x (disjoint from
# the cluster suite's 20+ and the demo's 10+).
export PCMC_NODESIM_INDEX_BASE=${E2E_NODE_INDEX_BASE:-40}
unset PCMC_APISERVER_ARGS
E2E_LOGS=$E2E_DIR/logs
E2E_NODES=(e2e-a e2e-b)
E2E_NS=e2e
E2E_LEASE_ENV=(LEADER_ELECTION_LEASE_DURATION=${E2E_LEASE_DURATION:-4s} LEADER_ELECTION_RENEW_DEADLINE=${E2E_RENEW_DEADLINE:-3s}
               LEADER_ELECTION_RETRY_PERIOD=${E2E_RETRY_PERIOD:-1s} LEADER_ELECTION_LOCK_NAMESPACE=pcmc-system)
declare -A E2E_AGENT_PID=() E2E_CTL_PID=() E2E_NODE_IP=()
for _k in 0 1; do E2E_NODE_IP[${E2E_NODES[$_k]}]=127.0.100.$((PCMC_NODESIM_INDEX_BASE + _k + 1)); done
E2E_PROBER_PID=
mkdir -p "$E2E_LOGS"

# One run at a time (fixed node names and addresses). Every process started below gets `8>&-`, so
# nothing that might outlive the run holds the lock; a stuck holder fails the run after 15 min.
e2e_lock() {
  exec 8>"${E2E_LOCK:-/run/lock/pcmc-e2e.lock}"
  flock -w 900 8 || { echo "# another e2e run holds ${E2E_LOCK:-/run/lock/pcmc-e2e.lock} (fuser -v it)"; return 1; }
}
# No kubectl call may hang a run (e.g. an API server whose etcd is gone).
kubectl() { command kubectl --request-timeout=20s "$@"; }


# --- cluster -----------------------------------------------------------------------------------
e2e_cluster_up() {
  local out
  out=$("$E2E_REPO/test/cluster/up" 2>"$E2E_LOGS/cluster-up.txt" 8>&-) || { tail -n 30 "$E2E_LOGS/cluster-up.txt" | sed 's/^/# /'; return 1; }
  eval "$out"
  kubectl get namespace pcmc-system >/dev/null 2>&1 || kubectl create namespace pcmc-system >/dev/null || return 1
  kubectl apply -k "$E2E_REPO/config/rbac" >/dev/null || return 1
  kubectl apply -f "$E2E_REPO/crds/podconfigmapconfig.yaml" >/dev/null || return 1
  kubectl wait --for condition=Established crd/podconfigmapconfigs.podconfig.example.com --timeout=30s >/dev/null || return 1
  kubectl get namespace "$E2E_NS" >/dev/null 2>&1 || kubectl create namespace "$E2E_NS" >/dev/null || return 1
  kubectl -n "$E2E_NS" get serviceaccount default >/dev/null 2>&1 || kubectl -n "$E2E_NS" create serviceaccount default >/dev/null
  "$E2E_REPO/test/cluster/nodesim" start "${E2E_NODES[@]}" 2>>"$E2E_LOGS/nodesim.txt" 8>&- || return 1
  "$E2E_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-controller "$E2E_DIR/controller.kubeconfig" >/dev/null &&
    "$E2E_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-agent "$E2E_DIR/agent.kubeconfig" >/dev/null
}

e2e_cluster_down() { [ -d "$PCMC_CLUSTER_DIR" ] && "$E2E_REPO/test/cluster/down" >/dev/null 2>&1; return 0; }

# --- agents: real processes on this host, one per node, listening on the node's InternalIP ------
e2e_agent_start() { # e2e_agent_start NODE [FLAGS...]
  local node=$1 ip=${E2E_NODE_IP[$1]} i
  mkdir -p "$E2E_DIR/agent-$node"
  [ -f "$E2E_LOGS/agent-$node.log" ] && cat "$E2E_LOGS/agent-$node.log" >> "$E2E_LOGS/agent-$node.earlier.log"
  "${E2E_BIN_DIR:-$E2E_REPO/build}/pcmc-agent" --node-name "$node" --listen "$ip:$E2E_AGENT_PORT" \
    --pin-root "/sys/fs/bpf/pcmc-e2e-$node-$E2E_OWNER_PID" --state-dir "$E2E_DIR/agent-$node" \
    --kubeconfig "$E2E_DIR/agent.kubeconfig" --controller-sa pcmc-system:pcmc-controller \
    --cni-cache-dir /run/pcmc-testpod/cni "${@:2}" \
    >"$E2E_LOGS/agent-$node.log" 2>&1 8>&- &
  E2E_AGENT_PID[$node]=$!
  disown "$!"
  for ((i = 0; i < 100; i++)); do
    [ "$(curl -s --max-time 2 "http://$ip:$E2E_AGENT_PORT/readyz")" = ok ] && return 0
    kill -0 "${E2E_AGENT_PID[$node]}" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$E2E_LOGS/agent-$node.log" | sed 's/^/# /'
  return 1
}

e2e_agent_stop() { # e2e_agent_stop NODE [SIGNAL]
  local pid=${E2E_AGENT_PID[$1]:-} i
  [ -n "$pid" ] || return 0
  kill -"${2:-TERM}" "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  unset "E2E_AGENT_PID[$1]"
}

# The agent pod a DaemonSet would create: hostNetwork (podIP = the node's InternalIP, set by the
# node simulator), container port "api". The simulator runs it as a cgroup-only host-network pod.
e2e_agent_pod() { # e2e_agent_pod NODE
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: pcmc-agent-$1
  namespace: pcmc-system
  labels: {app.kubernetes.io/name: pcmc-agent}
spec:
  nodeName: $1
  hostNetwork: true
  serviceAccountName: pcmc-agent
  automountServiceAccountToken: false
  containers:
    - name: agent
      image: pcmc-agent:e2e
      ports: [{name: api, containerPort: $E2E_AGENT_PORT}]
YAML
}

e2e_agent_get() { curl -s --max-time 5 "http://${E2E_NODE_IP[$1]}:$E2E_AGENT_PORT$2"; }
# e2e_agent_pod_state NODE UID: applied | failed | "" (not held)
e2e_agent_pod_state() { e2e_agent_get "$1" /v1/policy | jq -r --arg u "$2" '.pods[] | select(.uid == $u) | .state'; }
e2e_agent_epoch() { e2e_agent_get "$1" /v1/policy | jq -r '.sender.epoch // empty'; }
e2e_agent_identity() { e2e_agent_get "$1" /v1/policy | jq -r '.sender.identity // empty'; }

# --- controllers ---------------------------------------------------------------------------------
e2e_ctl_start() { # e2e_ctl_start NAME [FLAGS...]
  local name=$1; shift
  [ -f "$E2E_LOGS/$name.log" ] && cat "$E2E_LOGS/$name.log" >> "$E2E_LOGS/$name.earlier.log"
  env "${E2E_LEASE_ENV[@]}" "${E2E_BIN_DIR:-$E2E_REPO/build}/pcmc-controller" --kubeconfig "$E2E_DIR/controller.kubeconfig" \
    --metrics-addr 127.0.0.1:0 --identity "$name" --workers 4 --agent-push --push-resync "${E2E_RESYNC:-5}" "$@" \
    >"$E2E_LOGS/$name.log" 2>&1 8>&- &
  E2E_CTL_PID[$name]=$!
  disown "$!"
  wait_until 30 e2e_ctl_ready "$name"
}
e2e_ctl_alive() { [ -n "${E2E_CTL_PID[$1]:-}" ] && kill -0 "${E2E_CTL_PID[$1]}" 2>/dev/null; }
e2e_ctl_port() { grep '"msg":"starting"' "$E2E_LOGS/$1.log" | tail -n 1 | jq -r .metrics_port; }
e2e_ctl_get() { curl -fsS --max-time 5 "http://127.0.0.1:$(e2e_ctl_port "$1")$2"; }
e2e_ctl_ready() { e2e_ctl_alive "$1" && [ "$(e2e_ctl_get "$1" /readyz)" = ok ]; }
e2e_ctl_stop() { # e2e_ctl_stop NAME [SIGNAL]
  local pid=${E2E_CTL_PID[$1]:-} i
  [ -n "$pid" ] || return 0
  kill -CONT "$pid" 2>/dev/null
  kill -"${2:-TERM}" "$pid" 2>/dev/null
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  unset "E2E_CTL_PID[$1]"
}
e2e_lease_holder() { kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

# --- workload pods ---------------------------------------------------------------------------------
# e2e_pod NAME NODE LABELS: serves 8080 (allowed), 9999 (blocked) and 7000 (neither).
e2e_pod() {
  local labels
  labels=$(tr ',' '\n' <<<"$3" | sed 's/^\(.*\)=\(.*\)$/    \1: "\2"/')
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: $E2E_NS
  labels:
$labels
spec:
  nodeName: $2
  automountServiceAccountToken: false
  containers:
    - name: app
      image: pcmc-testpod:e2e
      ports: [{containerPort: 8080}, {containerPort: 9999}, {containerPort: 7000}]
YAML
}
e2e_pod_ip() { kubectl -n "$E2E_NS" get pod "$1" -o jsonpath='{.status.podIP}'; }
e2e_pod_uid() { kubectl -n "$E2E_NS" get pod "$1" -o jsonpath='{.metadata.uid}'; }
e2e_pod_running() { [ "$(kubectl -n "$E2E_NS" get pod "$1" -o jsonpath='{.status.phase}')" = Running ]; }

# tcp_open IP PORT: 0 when the pod's server greets within 1 s; 1 when dropped or refused.
tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2 && head -c 4 <&3" 2>/dev/null | grep -q pcmc; }
tcp_closed() { ! tcp_open "$@"; }

# --- prober: connects every ~50 ms (+ up to 0.3 s for a dropped SYN) to port 9999 of every address
# in $E2E_DIR/probe-targets; a greeting from a pod's server is recorded as a success ---------------
e2e_prober_start() {
  : > "$E2E_DIR/probe-targets"; : > "$E2E_DIR/probe-successes"; : > "$E2E_DIR/probe-count"
  rm -f "$E2E_DIR/probe-stop"
  (
    n=0
    while [ ! -e "$E2E_DIR/probe-stop" ]; do
      # All targets at once: a dropped SYN costs the whole timeout.
      while read -r ip; do
        [ -n "$ip" ] || continue
        { if timeout 0.3 bash -c "exec 3<>/dev/tcp/$ip/9999 && head -c 4 <&3" 2>/dev/null | grep -q pcmc; then
            echo "$(date -u +%FT%T.%3NZ) $ip" >> "$E2E_DIR/probe-successes"
          fi; } &
        n=$((n + 1))
      done < "$E2E_DIR/probe-targets"
      wait
      # By rename: a reader never sees the file truncated and not yet written.
      echo "$n" > "$E2E_DIR/probe-count.new" && mv -f "$E2E_DIR/probe-count.new" "$E2E_DIR/probe-count"
      sleep 0.05
    done
  ) >/dev/null 2>&1 8>&- &
  E2E_PROBER_PID=$!
  disown "$!"
}
e2e_probe_add() { echo "$1" >> "$E2E_DIR/probe-targets"; }
e2e_probe_remove() { grep -vxF "$1" "$E2E_DIR/probe-targets" > "$E2E_DIR/probe-targets.new"; mv "$E2E_DIR/probe-targets.new" "$E2E_DIR/probe-targets"; }
e2e_probe_count() { cat "$E2E_DIR/probe-count" 2>/dev/null || echo 0; }
e2e_probe_successes() { wc -l < "$E2E_DIR/probe-successes"; }
# e2e_prober_stop: the round in flight finishes (each of its connections judged, its successes and
# count written) before the prober exits, so what the caller reads next is complete; killed after 10 s.
e2e_prober_stop() {
  local i
  [ -n "$E2E_PROBER_PID" ] || return 0
  touch "$E2E_DIR/probe-stop" 2>/dev/null
  for ((i = 0; i < 200; i++)); do kill -0 "$E2E_PROBER_PID" 2>/dev/null || break; sleep 0.05; done
  kill "$E2E_PROBER_PID" 2>/dev/null
  E2E_PROBER_PID=
  return 0
}

# e2e_logcheck FILE...: every line of these program logs follows docs/logging.md (test/common/logcheck.py).
e2e_logcheck() { python3 "$E2E_REPO/test/common/logcheck.py" "$@" | tail -n 25; return "${PIPESTATUS[0]}"; }

# --- cleanup: controllers, agents, prober, cluster (nodesim tears pods down), pins --------------
e2e_cleanup() {
  local n
  e2e_prober_stop
  for n in "${!E2E_CTL_PID[@]}"; do e2e_ctl_stop "$n" KILL; done
  for n in "${!E2E_AGENT_PID[@]}"; do e2e_agent_stop "$n" KILL; done
  e2e_cluster_down
  for n in "${E2E_NODES[@]}"; do rm -rf "/sys/fs/bpf/pcmc-e2e-$n-$E2E_OWNER_PID"; done
  [ -n "${E2E_KEEP:-}" ] || rm -rf "$E2E_DIR"
}

# e2e_suite_begin: for a suite script after sourcing this file: takes the e2e lock, cleans up on
# exit, checks the binaries and starts the cluster (nodes, RBAC, CRD); a failed TAP line and exit
# when any of it fails.
e2e_suite_begin() {
  local b
  e2e_lock || { tap_not_ok "e2e lock"; tap_done; exit 1; }
  trap e2e_cleanup EXIT
  for b in pcmc-controller pcmc-agent pcmc-testpod; do
    [ -x "$E2E_REPO/build/$b" ] || { tap_not_ok "build/$b built (run make)"; tap_done; exit 1; }
  done
  if ! e2e_cluster_up; then tap_not_ok "local cluster with nodes e2e-a, e2e-b, RBAC from config/rbac, CRD"; tap_done; exit 1; fi
  tap_ok "local cluster with nodes e2e-a, e2e-b, RBAC from config/rbac (kubectl apply -k), CRD"
}
