#!/usr/bin/env bash
# Policy distribution benchmarks on the local cluster (two simulated nodes, a real agent each, two
# controllers; plain builds, no sanitizers):
#   BENCH apply_to_enforced_p99_100_pods <s> s   kubectl apply -> every one of 100 selected pods (50 per
#                                                  node) applied on its agent; p99 over the runs (p50 too)
#   BENCH apply_to_enforced_p99_1_pod <s> s       the same for a CR selecting one pod
#   BENCH takeover_sigkill <s> s                  leader SIGKILLed -> first accepted push of the new leader
#   BENCH takeover_sigterm <s> s                  leader SIGTERMed (releases the Lease) -> same
# apply_to_enforced: from just before `kubectl apply` starts (the Go binary's own start-up, its
# discovery and its request included; E2E_BENCH_KUBECTL names another binary) to the first answer of
# the agents' GET /v1/policy that shows every selected pod `applied` on both agents together; each
# run starts with the agents holding none of the pods (the CR deleted and its removal applied).
# test/e2e/apply_timer.py starts kubectl and reads both agents over keep-alive connections every
# 5 ms; the worst resolution is printed (the longest gap between two answers of one agent: the
# figure is late by at most that), and, per run and as medians, where the time went from the logs
# (kubectl's exit, the CR's reconcile, each node's push and the agent's apply). Takeovers use the
# default leader election settings (lease 15 s, renew deadline 10 s, retry 2 s); median of the runs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
RUNS=${E2E_BENCH_RUNS:-20}
TAKEOVER_RUNS=${E2E_BENCH_TAKEOVER_RUNS:-3}
export E2E_LEASE_DURATION=15s E2E_RENEW_DEADLINE=10s E2E_RETRY_PERIOD=2s E2E_RESYNC=30
. "$here/lib.sh"
fail() { echo "bench: $*" >&2; exit 1; }
make -s -C "$E2E_REPO" BUILD=build/plain SANITIZE= build/plain/pcmc-controller build/plain/pcmc-agent >/dev/null ||
  fail "plain build failed"
export E2E_BIN_DIR=$E2E_REPO/build/plain
e2e_lock || fail "lock"
trap e2e_cleanup EXIT

e2e_cluster_up || fail "cluster"
for n in "${E2E_NODES[@]}"; do e2e_agent_start "$n" || fail "agent $n"; e2e_agent_pod "$n"; done
e2e_ctl_start ctl-a || fail "controller a"
e2e_ctl_start ctl-b || fail "controller b"

# 100 pods, 50 per node, labelled app=bench (one of them also one=yes), plus a filler document per pod.
{
  for i in $(seq 1 100); do
    node=e2e-a; [ $((i % 2)) = 0 ] && node=e2e-b
    extra=""; [ "$i" = 1 ] && extra=", one: \"yes\""
    cat <<YAML
---
apiVersion: v1
kind: Pod
metadata: {name: bench-$i, namespace: $E2E_NS, labels: {app: bench$extra}}
spec:
  nodeName: $node
  automountServiceAccountToken: false
  containers: [{name: app, image: pcmc-testpod:e2e, ports: [{containerPort: 8080}, {containerPort: 9999}]}]
YAML
  done
} > "$E2E_DIR/pods.yaml"
kubectl apply -f "$E2E_DIR/pods.yaml" >/dev/null || fail "pods"
running() { [ "$(kubectl -n "$E2E_NS" get pods -l app=bench -o json | jq '[.items[] | select(.status.phase == "Running")] | length')" = 100 ]; }
wait_until 600 running || fail "100 pods not Running in 600 s"
echo "# 100 pods Running on e2e-a/e2e-b"

applied_count() { # pods held as applied by both agents together
  local n c=0 x
  for n in "${E2E_NODES[@]}"; do
    x=$(e2e_agent_get "$n" /v1/policy | jq '[.pods[] | select(.state == "applied")] | length') || x=0
    c=$((c + ${x:-0}))
  done
  echo "$c"
}
held_count() { local n c=0 x; for n in "${E2E_NODES[@]}"; do x=$(e2e_agent_get "$n" /v1/policy | jq '.pods | length'); c=$((c + ${x:-0})); done; echo "$c"; }

cr_yaml() { # cr_yaml NAME SELECTOR_KEY SELECTOR_VALUE
  cat <<YAML
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: $1, namespace: $E2E_NS}
spec:
  podSelector: {matchLabels: {$2: "$3"}}
  ebpfConfig:
    l4Firewall: {enabled: true, allowedPorts: [8080], blockedPorts: [9999]}
    syscallMonitoring: {enabled: true, syscallNames: [accept4, write]}
YAML
}

agents_arg() { local n; for n in "${E2E_NODES[@]}"; do printf -- '--agent %s=%s:%s ' "$n" "${E2E_NODE_IP[$n]}" "$E2E_AGENT_PORT"; done; }
# measure NAME KEY VALUE WANT: seconds from kubectl apply to WANT pods applied, RUNS times; where
# the time went, from the logs.
measure() {
  local name=$1 key=$2 value=$3 want=$4 r n logs=()
  cr_yaml "$name" "$key" "$value" > "$E2E_DIR/$name.yaml"
  : > "$E2E_DIR/$name.runs"
  for ((r = 0; r < RUNS; r++)); do
    # shellcheck disable=SC2046
    python3 "$here/apply_timer.py" time $(agents_arg) --want "$want" -- \
      "${E2E_BENCH_KUBECTL:-kubectl}" --request-timeout=20s apply -f "$E2E_DIR/$name.yaml" >> "$E2E_DIR/$name.runs" || fail "$name: run $((r + 1))"
    kubectl delete -f "$E2E_DIR/$name.yaml" >/dev/null
    wait_until 60 bash -c "[ \"\$(. '$here/lib.sh'; $(declare -p E2E_NODE_IP); $(declare -f held_count); held_count)\" = 0 ]" ||
      fail "$name: agents still hold pods 60 s after delete"
  done
  jq -r .s "$E2E_DIR/$name.runs" | sort -n > "$E2E_DIR/$name.times"
  echo "# $name: resolution (ms) $(jq -r .resolution_ms "$E2E_DIR/$name.runs" | sort -n | tail -n 1) at worst"
  for n in "${E2E_NODES[@]}"; do logs+=(--agent "$n=$E2E_LOGS/agent-$n.log"); done
  python3 "$here/apply_timer.py" timeline --controller "$E2E_LOGS/$(e2e_lease_holder).log" "${logs[@]}" \
    --pcmc "$name" "$E2E_DIR/$name.runs"
}
pct() { # pct FILE P: nearest-rank percentile
  local n k; n=$(wc -l < "$1"); k=$(( (n * $2 + 99) / 100 )); [ $k -lt 1 ] && k=1; sed -n "${k}p" "$1"
}

measure bench100 app bench 100
echo "# apply -> enforced, 100 pods, $RUNS runs (s): $(tr '\n' ' ' < "$E2E_DIR/bench100.times")"
printf 'BENCH apply_to_enforced_p99_100_pods %.3f s\n' "$(pct "$E2E_DIR/bench100.times" 99)"
printf 'BENCH apply_to_enforced_p50_100_pods %.3f s\n' "$(pct "$E2E_DIR/bench100.times" 50)"
measure bench1 one yes 1
echo "# apply -> enforced, 1 pod, $RUNS runs (s): $(tr '\n' ' ' < "$E2E_DIR/bench1.times")"
printf 'BENCH apply_to_enforced_p99_1_pod %.3f s\n' "$(pct "$E2E_DIR/bench1.times" 99)"
printf 'BENCH apply_to_enforced_p50_1_pod %.3f s\n' "$(pct "$E2E_DIR/bench1.times" 50)"

# Takeover: a CR is in place, so every push carries pods; the new leader's first accepted push ends it.
kubectl apply -f "$E2E_DIR/bench100.yaml" >/dev/null
wait_until 60 bash -c "[ \"\$(. '$here/lib.sh'; $(declare -p E2E_NODE_IP); $(declare -f applied_count); applied_count)\" = 100 ]" || fail "CR not applied"
iso_to_s() { date -d "$1" +%s.%N; }
takeover() { # takeover SIGNAL: prints seconds
  local leader standby t0 line lines
  leader=$(e2e_lease_holder); standby=ctl-a; [ "$leader" = ctl-a ] && standby=ctl-b
  lines=$(grep -c '"msg":"policy pushed"' "$E2E_LOGS/$standby.log")
  t0=$(date +%s.%N)
  e2e_ctl_stop "$leader" "$1" &
  wait_until 60 bash -c "[ \$(grep -c '\"msg\":\"policy pushed\"' '$E2E_LOGS/$standby.log') -gt $lines ]" || { wait; return 1; }
  wait
  line=$(grep '"msg":"policy pushed"' "$E2E_LOGS/$standby.log" | sed -n "$((lines + 1))p")
  awk -v a="$(iso_to_s "$(jq -r .ts <<<"$line")")" -v b="$t0" 'BEGIN { printf "%.6f\n", a - b }'
  unset "E2E_CTL_PID[$leader]"
  e2e_ctl_start "$leader" >/dev/null || return 1
  # The restarted replica is a standby that has seen the holder's Lease.
  wait_until 30 grep -q '"msg":"lease held by another candidate"' "$E2E_LOGS/$leader.log"
}
for sig in KILL TERM; do
  : > "$E2E_DIR/takeover-$sig.times"
  for ((r = 0; r < TAKEOVER_RUNS; r++)); do
    takeover "$sig" >> "$E2E_DIR/takeover-$sig.times" || fail "takeover after SIG$sig"
  done
  sort -n -o "$E2E_DIR/takeover-$sig.times" "$E2E_DIR/takeover-$sig.times"
  echo "# takeover after SIG$sig, $TAKEOVER_RUNS runs (s): $(tr '\n' ' ' < "$E2E_DIR/takeover-$sig.times")"
  printf 'BENCH takeover_sig%s %.3f s\n' "$(tr A-Z a-z <<<"$sig")" "$(pct "$E2E_DIR/takeover-$sig.times" 50)"
done
