#!/usr/bin/env bash
# Failover and fencing end to end (real controllers, agents, pods on two simulated nodes): five
# leader failovers (SIGKILL and SIGTERM) watched on the CR: no Ready transition, the same
# lastTransitionTime; then what must never wedge the pushes: the Lease deleted, the Lease recreated
# by hand with a lower leaseTransitions, an agent started with a state file from a higher epoch, a
# push by another holder of the controller's token. In each, a new pod's blocked port is closed
# within the lease duration and one leader stays (leadership changes counted in the logs).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
e2e_lock || { tap_not_ok "e2e lock"; tap_done; exit 1; }
WATCH_PID=
cleanup() { [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null; e2e_cleanup; }
trap cleanup EXIT
LEASE_S=${E2E_LEASE_DURATION:-4s}; LEASE_S=${LEASE_S%s}

for b in pcmc-controller pcmc-agent pcmc-testpod; do
  [ -x "$E2E_REPO/build/$b" ] || { tap_not_ok "build/$b built (run make test-build)"; tap_done; exit 1; }
done
if ! e2e_cluster_up; then tap_not_ok "local cluster with nodes e2e-a, e2e-b"; tap_done; exit 1; fi
ok=1
for n in "${E2E_NODES[@]}"; do e2e_agent_start "$n" || ok=0; e2e_agent_pod "$n"; done
[ $ok = 1 ] && e2e_ctl_start ctl-a && e2e_ctl_start ctl-b || ok=0
tap_check "cluster, an agent per node, two controllers" [ $ok = 1 ]

kubectl apply -f - >/dev/null <<YAML
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: web, namespace: $E2E_NS}
spec:
  podSelector: {matchLabels: {app: web}}
  ebpfConfig:
    l4Firewall: {enabled: true, allowedPorts: [8080], blockedPorts: [9999]}
YAML
e2e_pod web-a1 e2e-a app=web; e2e_pod web-b1 e2e-b app=web
ready_with() { # ready_with ATTACHED
  kubectl -n "$E2E_NS" get pcmc web -o json | jq -e --argjson a "$1" '.status.attachedPods == $a and
    ([.status.conditions[] | select(.type == "Ready")][0].status == "True")' >/dev/null
}
tap_check "two pods enforced, Ready True" wait_until 60 ready_with 2

became_leader() { cat "$E2E_LOGS"/ctl-*.log | grep -c '"msg":"became leader"'; }
other_of() { [ "$1" = ctl-a ] && echo ctl-b || echo ctl-a; }
# The log lines of NAME since its last start.
current_log() { awk '/"msg":"starting"/ { n = 0 } { line[n++] = $0 } END { for (i = 0; i < n; i++) print line[i] }' "$E2E_LOGS/$1.log"; }
# NAME pushed both nodes in this term, and reconciled the CR after the agents' answers.
pushed_then_reconciled() {
  current_log "$1" | awk '/"msg":"became leader"/ { a = b = 0 }
    /"msg":"policy pushed"/ && /"node":"e2e-a"/ && !a { a = NR } /"msg":"policy pushed"/ && /"node":"e2e-b"/ && !b { b = NR }
    /"msg":"reconciled"/ && /"namespace":"e2e","pcmc":"web"/ && /"result":"success"/ && a && b && NR > a && NR > b { done = 1 }
    END { exit !done }'
}
holds_everywhere() { local n; for n in "${E2E_NODES[@]}"; do [ "$(e2e_agent_identity "$n")" = "$1" ] || return 1; done; }
standby_ready() { e2e_ctl_ready "$1" && current_log "$1" | grep -c '"msg":"lease held by another candidate"' >/dev/null; }

# --- five failovers, watched ------------------------------------------------------------------
command kubectl -n "$E2E_NS" get pcmc web -o json --watch > "$E2E_DIR/watch.json" 2>/dev/null 8>&- &
WATCH_PID=$!
first_seen() { [ -s "$E2E_DIR/watch.json" ] && jq -s -e 'length > 0' "$E2E_DIR/watch.json" >/dev/null 2>&1; }
wait_until 10 first_seen
since=$(kubectl -n "$E2E_NS" get pcmc web -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
ok=1
for i in 1 2 3 4 5; do
  sig=KILL; [ $((i % 2)) = 0 ] && sig=TERM
  leader=$(e2e_lease_holder) standby=$(other_of "$(e2e_lease_holder)")
  e2e_ctl_stop "$leader" "$sig"
  if ! wait_until $((LEASE_S * 4)) bash -c "[ \"\$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}')\" = $standby ]" ||
     ! wait_until 20 holds_everywhere "$standby" || ! wait_until 20 pushed_then_reconciled "$standby"; then
    echo "# failover $i ($sig of $leader): $standby did not take over, push both nodes and reconcile"; ok=0; break
  fi
  e2e_ctl_start "$leader" && wait_until 20 standby_ready "$leader" || { echo "# $leader did not come back as a standby"; ok=0; break; }
done
[ $ok = 1 ] && tap_ok "five failovers (SIGKILL, SIGTERM, ...): each new leader pushed both nodes and reconciled the CR" ||
  tap_not_ok "five failovers"
kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; WATCH_PID=
seen=$(jq -s 'length' "$E2E_DIR/watch.json")
if jq -s -e --arg t "$since" 'length > 0 and all(.[]; [.status.conditions[] | select(.type == "Ready")][0] |
     .status == "True" and .lastTransitionTime == $t)' "$E2E_DIR/watch.json" >/dev/null; then
  tap_ok "status through five failovers: $seen versions of the CR seen, Ready True in each, lastTransitionTime $since kept"
else
  tap_not_ok "status through five failovers: a Ready transition or a new lastTransitionTime"
  jq -c -s '.[] | [.metadata.resourceVersion, ([.status.conditions[] | select(.type == "Ready")][0] | .status, .reason, .lastTransitionTime)]' \
    "$E2E_DIR/watch.json" | sed 's/^/# /' | tail -n 20
fi

echo "# failovers done at ${SECONDS}s"
# --- recovery scenarios -------------------------------------------------------------------------
# enforced_within NAME NODE: the new pod is Running, then its 9999 is closed (8080 open) within
# the lease duration.
enforced_within() {
  local name=$1 ip
  e2e_pod "$name" "$2" app=web
  wait_until 60 e2e_pod_running "$name" || { echo "# $name not Running"; return 1; }
  ip=$(e2e_pod_ip "$name")
  wait_until "$LEASE_S" bash -c ". '$here/lib.sh'; tcp_open $ip 8080 && tcp_closed $ip 9999"
}
metric_of() { # metric_of NAME SERIES: its value in NAME's /metrics
  local m; m=$(e2e_ctl_get "$1" /metrics) || return 1
  awk -v s="$2" '$1 == s { print $2 + 0 }' <<<"$m"
}
reads_now() { metric_of "$(e2e_lease_holder)" pcmc_controller_agent_reads_total; }
# Barrier: the holder has read each agent twice more (two verify rounds) since the count $1.
two_rounds_after() { local r; r=$(reads_now) || return 1; [ "${r:-0}" -ge $(( $1 + 2 * ${#E2E_NODES[@]} )) ]; }
# settled MAX SINCE: at most MAX leadership changes since the count SINCE, then none during two
# verify rounds of the holder (a flapping pair changes every second or so); the holder reports
# leader 1, the other 0.
settled() {
  local max=$1 since=$2 before r h changes
  before=$(became_leader)
  r=$(reads_now); wait_until 30 two_rounds_after "$r" || { echo "# the leader did not read the agents"; return 1; }
  changes=$(( $(became_leader) - before ))
  [ "$changes" = 0 ] || { echo "# $changes leadership changes while settled (flapping)"; return 1; }
  changes=$(( before - since ))
  [ "$changes" -le "$max" ] || { echo "# $changes leadership changes (at most $max)"; return 1; }
  h=$(e2e_lease_holder)
  [ "$(metric_of "$h" pcmc_controller_leader)" = 1 ] && [ "$(metric_of "$(other_of "$h")" pcmc_controller_leader)" = 0 ]
}

# The Lease deleted: its holder recreates it (or the standby takes it) without going back to epoch 0.
changes=$(became_leader) epoch=$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.leaseTransitions}')
kubectl -n pcmc-system delete lease pcmc-controller-leader >/dev/null
tap_check "Lease deleted: a new pod's blocked port is closed within the lease duration" enforced_within web-a2 e2e-a
tap_check "Lease deleted: recreated with leaseTransitions >= $epoch (never back to 0)" bash -c "
  [ \$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.leaseTransitions}') -ge $epoch ]"
tap_check "Lease deleted: one leader, at most one leadership change, none while settled" settled 1 "$changes"

# The Lease recreated by hand, held by the leader, with leaseTransitions 0. The standby is paused
# meanwhile, or it might take the Lease in the moment it is gone (that is the previous scenario).
changes=$(became_leader) leader=$(e2e_lease_holder)
standby_pid=${E2E_CTL_PID[$(other_of "$leader")]:-}
[ -n "$standby_pid" ] && kill -STOP "$standby_pid"
recreate_lower() {
  local now; now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
  kubectl -n pcmc-system delete lease pcmc-controller-leader >/dev/null 2>&1
  kubectl create -f - >/dev/null 2>&1 <<YAML
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: pcmc-controller-leader, namespace: pcmc-system}
spec: {holderIdentity: $leader, leaseDurationSeconds: $LEASE_S, acquireTime: "$now", renewTime: "$now", leaseTransitions: 0}
YAML
}
for _ in 1 2 3 4 5; do recreate_lower && break; done # the leader may recreate it first: again
[ -n "$standby_pid" ] && kill -CONT "$standby_pid"
tap_check "Lease recreated by hand: held by $leader with leaseTransitions 0" bash -c "
  [ \"\$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}/{.spec.leaseTransitions}')\" = $leader/0 ]"
tap_check "Lease recreated with leaseTransitions 0: a new pod's blocked port is closed within the lease duration" \
  enforced_within web-b2 e2e-b
tap_check "Lease recreated lower: one leader, at most one leadership change, none while settled" settled 1 "$changes"

# An agent started with a state file from a higher epoch (an earlier cluster's).
changes=$(became_leader) leader=$(e2e_lease_holder)
e2e_agent_stop e2e-b TERM
state=$E2E_DIR/agent-e2e-b/state.json
jq -c '.sender = {identity: "controller-of-an-earlier-cluster", epoch: 1000}' "$state" > "$state.new" && mv "$state.new" "$state"
e2e_agent_start e2e-b >/dev/null
# What the restarted agent loaded (its log): reading it over the API races with the leader, which may
# already have raised the Lease above 1000 and pushed.
tap_check "state file from epoch 1000: the restarted agent applies it (its log)" wait_until 10 bash -c "
  grep '\"msg\":\"policy applied\"' '$E2E_LOGS/agent-e2e-b.log' | jq -e -s 'map(select(.trigger == \"state file\"))[0] |
    .epoch == 1000 and .identity == \"controller-of-an-earlier-cluster\"' >/dev/null"
tap_check "state file from epoch 1000: a new pod's blocked port is closed within the lease duration" \
  enforced_within web-b3 e2e-b
tap_check "state file from epoch 1000: the leader raised the Lease above it (leaseTransitions >= 1001) and the agent holds its push" bash -c "
  . '$here/lib.sh'; $(declare -p E2E_NODE_IP); [ \$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.leaseTransitions}') -ge 1001 ] &&
  [ \"\$(e2e_agent_identity e2e-b)\" = $leader ] && [ \"\$(e2e_agent_epoch e2e-b)\" -ge 1001 ]"
tap_check "state file from epoch 1000: logged and counted (pcmc_controller_fencing_epoch_raises_total)" bash -c "
  . '$here/lib.sh'; $(declare -p E2E_CTL_PID); grep -q '\"msg\":\"fencing epoch raised above an agent' '$E2E_LOGS/$leader.log' &&
  [ \"\$(e2e_ctl_get $leader /metrics | awk '\$1 == \"pcmc_controller_fencing_epoch_raises_total\" { print \$2 + 0 }')\" -ge 1 ]"
tap_check "state file from epoch 1000: one leader, no leadership change" settled 0 "$changes"

# Another holder of the controller's token: it raises the Lease by one (the token may update it)
# and pushes an empty state with the leader's name and that epoch. The leader undoes it.
changes=$(became_leader) leader=$(e2e_lease_holder)
token=$(kubectl -n pcmc-system create token pcmc-controller)
raise_lease_by_one() { # with the controller's token; a renew in between makes it retry (409)
  local lease
  lease=$(kubectl -n pcmc-system get lease pcmc-controller-leader -o json) || return 1
  rogue_epoch=$(( $(jq '.spec.leaseTransitions' <<<"$lease") + 1 ))
  jq --argjson e "$rogue_epoch" '.spec.leaseTransitions = $e' <<<"$lease" |
    command kubectl --token "$token" --request-timeout=20s replace -f - >/dev/null 2>&1
}
for _ in 1 2 3 4 5; do raise_lease_by_one && break; done
a1_ip=$(e2e_pod_ip web-a1) epoch_before=$(e2e_agent_epoch e2e-a)
rogue_answer=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' "http://${E2E_NODE_IP[e2e-a]}:$E2E_AGENT_PORT/v1/policy" \
  -d "{\"node\":\"e2e-a\",\"sender\":{\"identity\":\"$leader\",\"epoch\":$rogue_epoch},\"revision\":1,\"pods\":[]}")
echo "# the other holder's push (epoch $rogue_epoch, no pods) answered $rogue_answer"
# Accepted (200): the leader must win the node back above the other holder's epoch. Refused (409:
# the agent had not yet seen the raised Lease): the agent keeps the leader's push as it was.
if [ "$rogue_answer" = 200 ]; then want_epoch="-gt $rogue_epoch"; else want_epoch="-eq ${epoch_before:-0}"; fi
restored() {
  tcp_open "$a1_ip" 8080 && tcp_closed "$a1_ip" 9999 && [ "$(e2e_agent_identity e2e-a)" = "$leader" ] &&
    [ "$(e2e_agent_epoch e2e-a)" $want_epoch ]
}
restored_or_say() {
  wait_until "$LEASE_S" restored && return 0
  echo "agent e2e-a holds identity $(e2e_agent_identity e2e-a) epoch $(e2e_agent_epoch e2e-a) (want $leader, epoch $want_epoch;"\
    "before the other holder's push $epoch_before); 8080 $(tcp_open "$a1_ip" 8080 && echo open || echo closed)," \
    "9999 $(tcp_closed "$a1_ip" 9999 && echo closed || echo open)"
  grep -E '"msg":"(policy pushed|policy push refused[^"]*|agent holds state not from this leader: restoring|fencing epoch raised[^"]*)"' \
    "$E2E_LOGS/$leader.log" | grep '"node":"e2e-a"' | tail -n 5
  return 1
}
tap_check "another holder of the token: within the lease duration the node holds the leader's push, above its epoch if it took the other's (9999 closed)" \
  restored_or_say
if [ "$rogue_answer" = 200 ]; then
  tap_check "another holder of the token: logged and counted (pcmc_controller_foreign_state_restored_total)" bash -c "
    . '$here/lib.sh'; $(declare -p E2E_CTL_PID); grep -q '\"msg\":\"agent holds state not from this leader: restoring\"' '$E2E_LOGS/$leader.log' &&
    [ \"\$(e2e_ctl_get $leader /metrics | awk '\$1 == \"pcmc_controller_foreign_state_restored_total\" { print \$2 + 0 }')\" -ge 1 ]"
else
  tap_ok "another holder of the token: the agent refused its push ($rogue_answer), nothing to restore"
fi
tap_check "another holder of the token: one leader, no leadership change" settled 0 "$changes"

tap_check "no sanitizer report in controller or agent logs" bash -c "
  ! grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$E2E_LOGS'/*.log"
tap_check "every controller and agent log line follows docs/logging.md" e2e_logcheck "$E2E_LOGS"/ctl-*.log "$E2E_LOGS"/agent-*.log
echo "# ${SECONDS}s"
tap_done
