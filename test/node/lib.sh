# Helpers of the real-node suite (sourced by test/node/e2e.sh): pods of the test image, reaching them
# from the host and from another pod, the agent's metrics, the prober that must never get through.
# shellcheck shell=bash
NS=pcmc-node-e2e
AGENT_SELECTOR=app.kubernetes.io/name=pcmc-agent
CTL_SELECTOR=app.kubernetes.io/name=pcmc-controller
kubectl() { command kubectl --request-timeout=20s "$@"; }
# all_of "CMD ARGS"...: true if every command line is; says which one was not.
all_of() {
  local c
  for c in "$@"; do eval "$c" || { echo "failed: $c"; return 1; }; done
}

# test_pod NAME LABEL COMMAND...: a pod of the test image on the node, never pulled.
test_pod() {
  local name=$1 label=$2; shift 2
  local cmd; cmd=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
  kubectl -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $name, labels: {$label}}
spec:
  terminationGracePeriodSeconds: 1
  automountServiceAccountToken: false
  containers:
    - {name: main, image: $PCMC_NODE_TEST_IMAGE, imagePullPolicy: Never, command: $cmd}
YAML
}
# The web server pods: httpd on 8080, 8081 and 9999, each answering "pcmc".
web_pod() { test_pod "$1" "app: web" /bin/sh -c 'httpd -p 8080 -h /www && httpd -p 8081 -h /www && exec httpd -f -p 9999 -h /www'; }
client_pod() { test_pod "$1" "app: client" /bin/sleep 100000; }

pod_field() { kubectl -n "$NS" get pod "$1" -o jsonpath="{$2}"; }
pod_running() { [ "$(pod_field "$1" .status.phase)" = Running ] && [ "$(pod_field "$1" '.status.containerStatuses[0].ready')" = true ]; }
pod_ip() { pod_field "$1" .status.podIP; }
pods_running_in() { # pods_running_in SUBNET POD...: Running, ready, with an address in SUBNET (a /24)
  local net=${1%.*/*} p; shift
  for p in "$@"; do
    pod_running "$p" && [[ $(pod_ip "$p") == "$net".* ]] || return 1
  done
}
cr_ready() { # cr_ready NAME ATTACHED
  kubectl -n "$NS" get pcmc "$1" -o json | jq -e --argjson a "$2" '.status.attachedPods == $a and
    ([.status.conditions[] | select(.type == "Ready" and .status == "True")] | length == 1)' >/dev/null
}
configmap_is() { # configmap_is NAME POD: the generated ConfigMap describes the real pod on this node
  kubectl -n "$NS" get configmap "$1" -o json | jq -e --arg p "$2" --arg n "$PCMC_NODE_NAME" \
    '.data.podName == $p and .data.nodeName == $n and .data.label_app == "web" and .data.phase == "Running"' >/dev/null
}

# From the host: http_answers IP PORT; dropped_from_host IP PORT (curl's timeout, exit 28: a refused
# connection, exit 7, would mean the SYN reached the pod).
http_answers() { [ "$(curl -s -m 3 "http://$1:$2/")" = pcmc ]; }
dropped_from_host() { curl -s -m 1 -o /dev/null "http://$1:$2/"; [ $? = 28 ]; }
# From another pod (kubectl exec: the API server reaches the kubelet): busybox nc (its wget crashes).
http_get_from() { # http_get_from POD IP PORT TIMEOUT: the response (or nc's error) of GET /
  kubectl -n "$NS" exec "$1" -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w $4 $2 $3" 2>&1
}
http_answers_from() { [ "$(http_get_from "$1" "$2" "$3" 3 | tail -n1)" = pcmc ]; }
dropped_from() { [[ $(http_get_from "$1" "$2" "$3" 1) == *"timed out"* ]]; }

# The agent at the node IP (hostNetwork pod): metrics on port "metrics", the policy API on "api".
AGENT_API_PORT=4855 AGENT_METRICS_PORT=4856
agent_metrics() { curl -s -m 3 "http://$PCMC_NODE_IP:$AGENT_METRICS_PORT/metrics"; }
agent_policy() { curl -s -m 3 "http://$PCMC_NODE_IP:$AGENT_API_PORT/v1/policy"; }
# listed_count POD SYSCALL: the exported count, empty if the series is absent.
listed_count() {
  agent_metrics | awk -v p="pod_name=\"$1\"" -v s="syscall=\"$2\"" \
    '$1 ~ /^podconfigmap_controller_ebpf_syscall_count_total\{/ && index($1, p) && index($1, s) {print $2}'
}
outside_count() {
  agent_metrics | awk -v p="pod_name=\"$1\"" '$1 ~ /^podconfigmap_controller_ebpf_syscall_outside_allowlist_total\{/ && index($1, p) {print $2}'
}
count_is() { [ "$(listed_count "$1" "$2")" = "$3" ]; }

lease_holder() { kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}'; }
agent_pod() { kubectl -n pcmc-system get pods -l "$AGENT_SELECTOR" -o jsonpath='{.items[0].metadata.name}'; }
agent_ready() {
  kubectl -n pcmc-system get pods -l "$AGENT_SELECTOR" -o json | jq -e --arg ip "$PCMC_NODE_IP" \
    '[.items[] | select(.metadata.deletionTimestamp == null and .status.podIP == $ip and
      (.status.containerStatuses[0].ready == true))] | length == 1' >/dev/null
}
no_agent() {
  [ -z "$(kubectl -n pcmc-system get pods -l "$AGENT_SELECTOR" -o name)" ] && ! agent_metrics >/dev/null
}
controllers_ready() {
  kubectl -n pcmc-system get deploy pcmc-controller -o json | jq -e '.status.readyReplicas == 2' >/dev/null
}
leader_ready() { controllers_ready && kubectl -n pcmc-system get pod "$(lease_holder)" >/dev/null; }
new_leader() { # new_leader OLD: another existing controller pod holds the Lease
  local h; h=$(lease_holder)
  [ -n "$h" ] && [ "$h" != "$1" ] && kubectl -n pcmc-system get pod "$h" >/dev/null
}
new_agent_ready() { # new_agent_ready OLD_UID
  agent_ready && [ "$(kubectl -n pcmc-system get pods -l "$AGENT_SELECTOR" -o jsonpath='{.items[0].metadata.uid}')" != "$1" ]
}

# The container's host cgroup2 directory: the kubelet's layout below its cgroupRoot.
container_cgroup() { # container_cgroup POD [NAMESPACE]
  local ns=${2:-$NS} uid cid qos
  uid=$(kubectl -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}')
  qos=$(kubectl -n "$ns" get pod "$1" -o jsonpath='{.status.qosClass}' | tr 'A-Z' 'a-z')
  cid=$(kubectl -n "$ns" get pod "$1" -o jsonpath='{.status.containerStatuses[0].containerID}'); cid=${cid#containerd://}
  [ "$qos" = guaranteed ] && qos= || qos=$qos/
  echo "/sys/fs/cgroup/unified${PCMC_NODE_CGROUP_ROOT}/kubepods/${qos}pod$uid/$cid"
}

# The agent process as the DaemonSet runs it: the node's PID and network namespaces (the kubelet's,
# this shell's), exactly the five capabilities of manifests/agent.yaml (NET_ADMIN 12, SYS_PTRACE 19,
# SYS_ADMIN 21, PERFMON 38, BPF 39), no_new_privs, a seccomp filter (RuntimeDefault).
agent_runs_as_manifested() {
  local pid st
  pid=$(head -n1 "$(container_cgroup "$(agent_pod)" pcmc-system)/cgroup.procs") || return 1
  [ "$(readlink "/proc/$pid/ns/pid")" = "$(readlink /proc/self/ns/pid)" ] || { echo "not in the node's PID namespace"; return 1; }
  [ "$(readlink "/proc/$pid/ns/net")" = "$(readlink /proc/self/ns/net)" ] || { echo "not in the node's network namespace"; return 1; }
  st=$(cat "/proc/$pid/status")
  [[ $st == *$'CapEff:\t000000c000281000'* ]] || { echo "capabilities: $(grep CapEff <<<"$st")"; return 1; }
  [[ $st == *$'NoNewPrivs:\t1'* && $st == *$'Seccomp:\t2'* ]] || { echo "$(grep -E 'NoNewPrivs|Seccomp:' <<<"$st")"; return 1; }
}

# Prober: connects to the blocked port of each target from the host again and again; every
# success is a line in $W/probe-successes, every attempt counted in $W/probe-count.
probes_at_least() { [ "$(cat "$W/probe-count")" -ge "$1" ]; }
prober_start() { # prober_start PORT IP...
  local port=$1; shift
  : > "$W/probe-successes"; echo 0 > "$W/probe-count"
  (
    n=0
    while :; do
      for ip in "$@"; do
        timeout 0.3 bash -c "exec 3<>/dev/tcp/$ip/$port" 2>/dev/null && echo "$(date +%T.%N) $ip" >> "$W/probe-successes"
        n=$((n + 1))
      done
      echo "$n" > "$W/probe-count.tmp" && mv -f "$W/probe-count.tmp" "$W/probe-count" # never read half-written
    done
  ) >/dev/null 2>&1 9>&- &
  PROBER_PID=$!
}
prober_stop() { [ -n "${PROBER_PID:-}" ] || return 0; kill "$PROBER_PID" 2>/dev/null; wait "$PROBER_PID" 2>/dev/null; PROBER_PID=; }
probes() { cat "$W/probe-count"; }

# restart_counter N: kills the workload (SIGKILL from the host); the kubelet starts the container again
# in a new cgroup (restart N); the old cgroup is gone.
restart_counter() {
  local n=$1 cg pid
  cg=$(container_cgroup counter); pid=$(head -n1 "$cg/cgroup.procs" 2>/dev/null)
  [ -n "$pid" ] || { echo "no process in $cg"; return 1; }
  kill -KILL "$pid"
  wait_until 40 all_of "[ \"\$(pod_field counter '.status.containerStatuses[0].restartCount')\" = $n ]" "pod_running counter" ||
    { echo "counter not restarted ($n)"; return 1; }
  [ "$(container_cgroup counter)" != "$cg" ] && [ ! -d "$cg" ] || { echo "same or old cgroup $cg still there"; return 1; }
}

# The host side of a ptp pod: `ip route get` names a veth carrying a /32 route, on no bridge.
ptp_host_side() {
  local dev
  dev=$(ip -o route get "$1" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  [ -n "$dev" ] && [[ $(ip -o -d link show "$dev") == *" veth "* ]] && [[ $(ip -o link show "$dev") != *" master "* ]] &&
    [[ $(ip -o route show "$1/32") == *"dev $dev"* ]]
}

# pods_state_gone COUNTER_UID COUNTER_POD_CGROUP WEB_UID: both pods deleted and nothing of them left.
pods_state_gone() {
  local layout metrics policy
  layout=$(sed -n 's/^#define PCMC_LAYOUT_VERSION \([0-9]*\).*/\1/p' "$repo/bpf/pcmc.h")
  ! kubectl -n "$NS" get pod counter >/dev/null 2>&1 && ! kubectl -n "$NS" get pod web-ptp >/dev/null 2>&1 &&
  metrics=$(agent_metrics) && [[ $metrics != *'pod_name="counter"'* && $metrics != *'pod_name="web-ptp"'* ]] &&
  policy=$(agent_policy) && [[ $policy != *"$1"* && $policy != *"$3"* ]] &&
  [ ! -e "/sys/fs/bpf/pcmc/v$layout/pods/$3" ] && [ ! -d "$2" ] &&
  ! kubectl -n "$NS" get configmap pod-counter-from-counter-cfg >/dev/null 2>&1 &&
  ! kubectl -n "$NS" get configmap pod-web-ptp-from-web-cfg >/dev/null 2>&1 &&
  ! grep -qs -e "$1" -e "$3" /var/lib/cni/results/*
}
