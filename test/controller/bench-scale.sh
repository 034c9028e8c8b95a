#!/usr/bin/env bash
# The controller at Kubernetes' published limits (`make bench-scale`, not part of make test/bench):
# 5,000 nodes and 150,000 pods on the local cluster, each node served by a hollow agent (the
# agent's real policy API, fencing and state without the dataplane, every node in one process),
# objects made by the bulk creator. Prints
#   BENCH controller_sync_150k_pods <s> s         start -> every ConfigMap written and every node's first push
#   BENCH controller_rss_150k_pods <MiB> MiB      the leader's resident memory then (plain build)
#   BENCH controller_rss_empty_cluster <MiB> MiB  baseline: the same binary on the empty cluster
#   BENCH takeover_full_push_5k_nodes <s> s       a standby's acquisition of the Lease -> every node holds its push
#   BENCH pushes_per_pod_label_change <n> 1       one pod moved to another CR's policy
#   BENCH push_bytes_per_pod_label_change <B> bytes
#   BENCH node_state_bytes <B> bytes              baseline: a node's whole state (mean push of the takeover)
#   BENCH apiserver_rss_150k_pods, etcd_rss_150k_pods <MiB> MiB  what decides what this machine can hold
#   BENCH controller_idle_cpu_150k_pods <%> %     the leader's CPU (% of one core) over 15 s with nothing changing:
#                                                 its reads of every node's state (one a node every 7.5 s)
#   BENCH controller_idle_cpu_empty_cluster <%> %  baseline: the same binary on the empty cluster
# stderr says where the takeover's CPU went (controller, hollow agents and their busiest thread, API
# server, etcd), so a figure bounded by the hollow process rather than the controller shows.
# Sizes: SCALE_NODES (5000), SCALE_NAMESPACES (1500), SCALE_PODS_PER_NS (100), SCALE_CRS_PER_NS (10).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PCMC_CONTROLLER_WATCH_CACHE=1
. "$here/lib.sh"
NODES=${SCALE_NODES:-5000} NS=${SCALE_NAMESPACES:-1500} PODS_PER_NS=${SCALE_PODS_PER_NS:-100} CRS_PER_NS=${SCALE_CRS_PER_NS:-10}
TOTAL=$((NS * PODS_PER_NS))
work=$(mktemp -d /tmp/pcmc-bench-scale.XXXXXX)
# The hollow nodes keep their state files as agents do (write, fsync, rename), on tmpfs: 5,000 real
# nodes fsync 5,000 disks side by side, one process here would queue them on one disk (~4 ms each,
# 20 s for a takeover) and measure this machine's disk instead of the controller.
hollow_state=$(mktemp -d /dev/shm/pcmc-bench-scale-hollow.XXXXXX)
HOLLOW_PID=
cleanup() {
  ctl_stop_all
  [ -n "$HOLLOW_PID" ] && { kill "$HOLLOW_PID" 2>/dev/null; wait "$HOLLOW_PID" 2>/dev/null; }
  cluster_stop
  rm -rf "$hollow_state"
  [ -n "${SCALE_KEEP:-}" ] || rm -rf "$work" "$CTL_LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "bench-scale: $*" >&2; exit 1; }
note() { echo "bench-scale: $* (${SECONDS}s)" >&2; }
mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
TCK=$(getconf CLK_TCK)
ticks() { awk '{ sub(/^.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "$1" 2>/dev/null || echo 0; } # user+system
# cpu_snap NAME PID...: wall clock, the CPU ticks of each PID and of each thread of the first into
# the associative array NAME (keys: wall, p<pid>, t<tid>).
cpu_snap() {
  local -n s=$1; shift
  local p t
  s=([wall]=$(date +%s.%N))
  for p in "$@"; do s[p$p]=$(ticks "/proc/$p/stat"); done
  for t in /proc/$1/task/*; do s[t${t##*/}]=$(ticks "$t/stat"); done
}
# cpu_s BEFORE AFTER KEY: CPU seconds between the two snapshots.
cpu_s() { local -n x=$1 y=$2; awk -v a="${x[$3]:-0}" -v b="${y[$3]:-0}" -v hz="$TCK" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
# busiest_s BEFORE AFTER: CPU seconds of the busiest thread in both snapshots.
busiest_s() {
  local -n x=$1 y=$2
  local k max=0
  for k in "${!y[@]}"; do
    [[ $k == t* && -n ${x[$k]:-} ]] && (( y[$k] - x[$k] > max )) && max=$(( y[$k] - x[$k] ))
  done
  awk -v t="$max" -v hz="$TCK" 'BEGIN { printf "%.2f", t / hz }'
}
pct() { awk -v c="$1" -v w="$2" 'BEGIN { printf "%.1f", (w > 0 ? 100 * c / w : 0) }'; } # pct CPU_S WALL_S

# Plain builds: the RSS targets are about the programs, not ASan's shadow memory.
make -s -C "$CTL_REPO" BUILD=build/plain SANITIZE= build/plain/pcmc-controller build/plain/pcmc-hollow-agents \
  build/plain/test/controller/bench_create >/dev/null || fail "plain build failed (pcmc-controller, pcmc-hollow-agents, bench_create)"
CTL_BIN=$CTL_REPO/build/plain/pcmc-controller
HOLLOW=$CTL_REPO/build/plain/pcmc-hollow-agents
CREATE=$CTL_REPO/build/plain/test/controller/bench_create

mkdir -p "$CTL_LOGS"
cluster_start || fail "cluster did not start"
kubectl apply -f "$CTL_REPO/config/rbac/controller.yaml" >/dev/null || fail "RBAC"
kubectl apply -f "$CTL_REPO/config/rbac/agent.yaml" >/dev/null 2>&1 || true
# No kube-controller-manager here, so no namespace has its "default" ServiceAccount, which pod
# admission requires: the agent pods' namespace gets it by hand (the scale namespaces from sa.json).
kubectl -n pcmc-system get serviceaccount default >/dev/null 2>&1 ||
  kubectl -n pcmc-system create serviceaccount default >/dev/null || fail "ServiceAccount pcmc-system/default"

# Baseline: the controller on the empty cluster.
ctl_start empty LEADER_ELECTION_ENABLED=false || fail "controller did not start on the empty cluster"
rss_empty=$(mib "${CTL_PID[empty]}")
declare -A c0=() c1=()
# The 15 s is the measurement window itself (CPU used over a fixed span of idling), not a wait.
cpu_snap c0 "${CTL_PID[empty]}"; sleep 15; cpu_snap c1 "${CTL_PID[empty]}"
idle_empty=$(pct "$(cpu_s c0 c1 "p${CTL_PID[empty]}")" "$(awk -v a="${c0[wall]}" -v b="${c1[wall]}" 'BEGIN { print b - a }')")
ctl_stop empty

# --- objects ---------------------------------------------------------------------------------------
HOLLOW_PORT=$(free_port "$PCMC_APISERVER_PORT" "$PCMC_ETCD_CLIENT_PORT" "$PCMC_ETCD_PEER_PORT")
t0=$SECONDS
awk -v nodes="$NODES" -v port="$HOLLOW_PORT" 'BEGIN {
  for (k = 0; k < nodes; k++) {
    printf "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-%d\",\"labels\":{\"kubernetes.io/arch\":\"amd64\"}}}\n", k
    printf "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pcmc-agent-node-%d\",\"namespace\":\"pcmc-system\",\"labels\":{\"app.kubernetes.io/name\":\"pcmc-agent\"},\"annotations\":{\"pcmc.example.com/agent-address\":\"127.0.0.1:%d\"}},\"spec\":{\"nodeName\":\"node-%d\",\"hostNetwork\":true,\"automountServiceAccountToken\":false,\"containers\":[{\"name\":\"agent\",\"image\":\"pcmc-agent:scale\",\"ports\":[{\"name\":\"api\",\"containerPort\":%d}]}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"127.0.0.1\",\"containerStatuses\":[{\"name\":\"agent\",\"image\":\"pcmc-agent:scale\",\"imageID\":\"\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}}\n", k, port, k, port
  } }' > "$work/nodes.json"
awk -v ns="$NS" 'BEGIN { for (n = 0; n < ns; n++) printf "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"scale-%d\"}}\n", n }' > "$work/namespaces.json"
awk -v ns="$NS" 'BEGIN { for (n = 0; n < ns; n++) printf "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"default\",\"namespace\":\"scale-%d\"}}\n", n }' > "$work/sa.json"
# CR k of a namespace selects group gk and blocks port 9000+k; pods spread over every node.
awk -v ns="$NS" -v per="$PODS_PER_NS" -v crs="$CRS_PER_NS" -v nodes="$NODES" 'BEGIN {
  for (n = 0; n < ns; n++) {
    for (k = 0; k < crs; k++)
      printf "{\"apiVersion\":\"podconfig.example.com/v1alpha1\",\"kind\":\"PodConfigMapConfig\",\"metadata\":{\"name\":\"cr-%d\",\"namespace\":\"scale-%d\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"group\":\"g%d\"}},\"labelsToInclude\":[\"app\",\"group\"],\"ebpfConfig\":{\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"read\",\"write\"]},\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[8080],\"blockedPorts\":[%d]}}}}\n", k, n, k, 9000 + k
    for (p = 0; p < per; p++)
      printf "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-%d\",\"namespace\":\"scale-%d\",\"labels\":{\"app\":\"scale\",\"group\":\"g%d\"}},\"spec\":{\"nodeName\":\"node-%d\",\"automountServiceAccountToken\":false,\"containers\":[{\"name\":\"c\",\"image\":\"registry.k8s.io/pause:3.10\"}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.%d.%d.%d\"}}\n", p, n, p % crs, (n * per + p) % nodes, 100 + int(n / 256) % 100, n % 256, p % 256
  } }' > "$work/objects.json"
"$CREATE" 16 < "$work/nodes.json" || fail "nodes and agent pods"
"$CREATE" 16 < "$work/namespaces.json" || fail "namespaces"
"$CREATE" 16 < "$work/sa.json" || fail "service accounts"
"$CREATE" 16 < "$work/objects.json" || fail "pods and CRs"
note "created $NODES nodes with agent pods, $TOTAL pods, $((NS * CRS_PER_NS)) CRs in $((SECONDS - t0))s"

# --- hollow agents -----------------------------------------------------------------------------------
awk -v nodes="$NODES" 'BEGIN { for (k = 0; k < nodes; k++) printf "node-%d\n", k }' > "$work/node-names"
"$HOLLOW" --listen "127.0.0.1:$HOLLOW_PORT" --nodes-from "$work/node-names" --state-dir "$hollow_state" \
  --kubeconfig "$KUBECONFIG" --auth none > "$CTL_LOGS/hollow.log" 2>&1 &
HOLLOW_PID=$!
wait_until 60 curl -fsS "http://127.0.0.1:$HOLLOW_PORT/readyz" || fail "hollow agents not ready (see $CTL_LOGS/hollow.log)"

# --- the first leader's sync -------------------------------------------------------------------------
metric() { ctl_get "$1" /metrics | awk -v s="$2" '$1 == s { print $2 + 0 }'; }
synced() { # every ConfigMap, every node pushed, nothing queued
  local m; m=$(ctl_get "$1" /metrics) || return 1
  awk -v cms="$TOTAL" -v nodes="$NODES" '$1 == "pcmc_controller_active_configmaps" { a = $2 }
    $1 == "pcmc_controller_queue_depth" { q = $2 } $1 == "pcmc_controller_push_queue_depth" { pq = $2 }
    $1 == "pcmc_controller_nodes_pushed" { n = $2 }
    END { exit !(a == cms && q == 0 && pq == 0 && n == nodes) }' <<<"$m"
}
ctl_args=(LEADER_ELECTION_LEASE_DURATION=15s)
start_ctl() { # start_ctl NAME: a replica with agent push, 16 push workers
  local name=$1
  env "${ctl_args[@]}" LEADER_ELECTION_LOCK_NAMESPACE=pcmc-system "$CTL_BIN" --kubeconfig "$KUBECONFIG" \
    --metrics-addr 127.0.0.1:0 --identity "$name" --workers 4 --agent-push --push-workers 16 \
    >"$CTL_LOGS/$name.log" 2>&1 &
  CTL_PID[$name]=$!
  disown "$!"
}
t0=$(date +%s.%N)
start_ctl a
wait_until 1800 synced a || fail "controller a did not sync $TOTAL ConfigMaps and $NODES nodes within 30 min"
t1=$(date +%s.%N)
rss=$(mib "${CTL_PID[a]}")
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "BENCH controller_sync_150k_pods %.1f s\n", b - a }'
echo "BENCH controller_rss_150k_pods $rss MiB"
echo "BENCH controller_rss_empty_cluster $rss_empty MiB"
echo "BENCH apiserver_rss_150k_pods $(mib "$(cat "$PCMC_CLUSTER_DIR/pids/kube-apiserver.pid")") MiB"
echo "BENCH etcd_rss_150k_pods $(mib "$(cat "$PCMC_CLUSTER_DIR/pids/etcd.pid")") MiB"

# --- takeover ------------------------------------------------------------------------------------------
start_ctl b
wait_until 600 ctl_ready b || fail "standby b did not sync its caches"
APISERVER_PID=$(cat "$PCMC_CLUSTER_DIR/pids/kube-apiserver.pid") ETCD_PID=$(cat "$PCMC_CLUSTER_DIR/pids/etcd.pid")
cpu_snap c0 "$HOLLOW_PID" "${CTL_PID[b]}" "$APISERVER_PID" "$ETCD_PID"
b_port=$(ctl_port b)
all_pushed() { # b's metrics say every node holds its push (cheap: polled while the takeover runs)
  curl -fsS --max-time 5 "http://127.0.0.1:$b_port/metrics" |
    awk -v n="$NODES" '$1 == "pcmc_controller_nodes_pushed" { v = $2 + 0 } END { exit v != n }'
}
kill -TERM "${CTL_PID[a]}"
wait_until 600 all_pushed || fail "b did not push every node within 10 min"
cpu_snap c1 "$HOLLOW_PID" "${CTL_PID[b]}" "$APISERVER_PID" "$ETCD_PID"
ctl_stop a TERM
grep -q '"msg":"became leader"' "$CTL_LOGS/b.log" || fail "b pushed every node but never logged taking the Lease"
# Both ends from b's log, on one clock: the Lease acquired, and the push that completed the last node
# (the polls add their own latency).
log_s() { date -d "$1" +%s.%N; }
t_acq=$(log_s "$(grep -m1 '"msg":"became leader"' "$CTL_LOGS/b.log" | jq -r .ts)")
t_done=$(log_s "$(awk -v n="$NODES" '/"msg":"policy pushed"/ && match($0, /"node":"[^"]*"/) {
  k = substr($0, RSTART, RLENGTH); if (!(k in seen)) { seen[k] = 1
    if (++c == n) { match($0, /"ts":"[^"]*"/); print substr($0, RSTART + 6, RLENGTH - 7); exit } } }' "$CTL_LOGS/b.log")")
takeover=$(awk -v a="$t_acq" -v b="$t_done" 'BEGIN { printf "%.2f", b - a }')
wall=$(awk -v a="${c0[wall]}" -v b="${c1[wall]}" 'BEGIN { printf "%.2f", b - a }') busiest=$(busiest_s c0 c1)
note "takeover: CPU seconds from a's SIGTERM until every node was seen pushed ($wall s): controller b $(cpu_s c0 c1 "p${CTL_PID[b]}"),\
 hollow agents $(cpu_s c0 c1 "p$HOLLOW_PID") (their busiest thread $busiest: $(pct "$busiest" "$takeover")% of the takeover),\
 kube-apiserver $(cpu_s c0 c1 "p$APISERVER_PID"), etcd $(cpu_s c0 c1 "p$ETCD_PID")"
awk -v b="$busiest" -v t="$takeover" 'BEGIN { exit !(b > 0.8 * t) }' &&
  note "WARNING: a hollow agents' thread was busy most of the takeover: the figure may measure them, not the controller"
echo "BENCH takeover_full_push_5k_nodes $takeover s"
wait_until 600 synced b
pushes=$(metric b pcmc_controller_policy_pushes_total'{result="ok"}') bytes=$(metric b pcmc_controller_policy_push_bytes_total)
node_state=$(awk -v b="$bytes" -v p="$pushes" 'BEGIN { printf "%.0f", p ? b / p : 0 }')

# --- one pod's label changes: its node alone is pushed, with that node's state only -------------------
quiet() { # nothing queued in b, twice one second apart
  local a b
  a=$(metric b pcmc_controller_push_queue_depth)$(metric b pcmc_controller_queue_depth); sleep 1
  b=$(metric b pcmc_controller_push_queue_depth)$(metric b pcmc_controller_queue_depth)
  [ "$a" = 00 ] && [ "$b" = 00 ]
}
p0=$(metric b 'pcmc_controller_policy_pushes_total{result="ok"}') b0=$(metric b pcmc_controller_policy_push_bytes_total)
kubectl -n scale-0 label pod pod-0 group=g1 --overwrite >/dev/null
wait_until 60 kubectl -n scale-0 get configmap pod-pod-0-from-cr-1-cfg || fail "the relabelled pod's new ConfigMap"
wait_until 60 bash -c '. '"$here"'/lib.sh; [ "$(ctl_get b /metrics | awk '"'"'$1 == "pcmc_controller_policy_pushes_total{result=\"ok\"}" { print $2 + 0 }'"'"')" -gt '"$p0"' ]' ||
  fail "no push after the label change"
wait_until 60 quiet
echo "BENCH pushes_per_pod_label_change $(( $(metric b 'pcmc_controller_policy_pushes_total{result="ok"}') - p0 )) 1"
echo "BENCH push_bytes_per_pod_label_change $(( $(metric b pcmc_controller_policy_push_bytes_total) - b0 )) bytes"
echo "BENCH node_state_bytes $node_state bytes"

# --- the leader with nothing changing ------------------------------------------------------------------
reads=$(metric b pcmc_controller_agent_reads_total)
# The 15 s is the measurement window (idle CPU over a fixed span, two verify rounds of 7.5 s).
cpu_snap c0 "${CTL_PID[b]}" "$HOLLOW_PID"; sleep 15; cpu_snap c1 "${CTL_PID[b]}" "$HOLLOW_PID"
wall=$(awk -v a="${c0[wall]}" -v b="${c1[wall]}" 'BEGIN { printf "%.2f", b - a }')
reads=$(( $(metric b pcmc_controller_agent_reads_total) - reads ))
echo "BENCH controller_idle_cpu_150k_pods $(pct "$(cpu_s c0 c1 "p${CTL_PID[b]}")" "$wall") %"
echo "BENCH controller_idle_cpu_empty_cluster $idle_empty %"
note "idle leader: the hollow agents used $(pct "$(cpu_s c0 c1 "p$HOLLOW_PID")" "$wall")% of a core over the same $wall s, in which b read $reads node states"
