#!/usr/bin/env bash
# End to end on the local cluster: kubectl apply -> two controllers (leader election, own
# service-account tokens) -> two node agents (own tokens) -> eBPF on real test pods of two simulated
# nodes. Scenarios: apply, relabel out, conflict, SIGKILL failover with changes while leaderless,
# SIGSTOP fencing, delete. A prober keeps connecting to a blocked port throughout: zero successes.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
e2e_suite_begin

whoami_is() { [ "$(kubectl --kubeconfig "$1" auth whoami -o jsonpath='{.status.userInfo.username}')" = "$2" ]; }
tap_check "controllers and agents authenticate with their own service-account tokens, not the admin token" bash -c "
  . '$here/lib.sh'; whoami_is() { [ \"\$(kubectl --kubeconfig \"\$1\" auth whoami -o jsonpath='{.status.userInfo.username}')\" = \"\$2\" ]; }
  whoami_is '$E2E_DIR/controller.kubeconfig' system:serviceaccount:pcmc-system:pcmc-controller &&
  whoami_is '$E2E_DIR/agent.kubeconfig' system:serviceaccount:pcmc-system:pcmc-agent"

ok=1
for n in "${E2E_NODES[@]}"; do e2e_agent_start "$n" || ok=0; done
[ $ok = 1 ] && tap_ok "an agent per node listens on the node's InternalIP (--auth tokenreview)" ||
  tap_not_ok "an agent per node listens on the node's InternalIP (--auth tokenreview)"
for n in "${E2E_NODES[@]}"; do e2e_agent_pod "$n"; done
agent_pods_running() { [ "$(kubectl -n pcmc-system get pods -l app.kubernetes.io/name=pcmc-agent -o json |
  jq '[.items[] | select(.status.phase == "Running" and (.status.podIP | startswith("127.0.100.")))] | length')" = 2 ]; }
tap_check "agent pods (hostNetwork, port \"api\") Running with podIP = node InternalIP" wait_until 30 agent_pods_running

e2e_ctl_start ctl-a && e2e_ctl_start ctl-b
tap_check "two controller replicas ready, one holds the Lease" wait_until 20 bash -c \
  "h=\$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}'); [ \"\$h\" = ctl-a ] || [ \"\$h\" = ctl-b ]"

# Workload: two selected pods per node and one that is not selected.
for n in a b; do
  e2e_pod "web-${n}1" "e2e-$n" app=web; e2e_pod "web-${n}2" "e2e-$n" app=web; e2e_pod "db-$n" "e2e-$n" app=db
done
all_running() { local p; for p in web-a1 web-a2 web-b1 web-b2 db-a db-b; do e2e_pod_running $p || return 1; done; }
tap_check "six workload pods Running on the simulated nodes" wait_until 60 all_running
e2e_prober_start

# --- apply -----------------------------------------------------------------------------------------
cat > "$E2E_DIR/web.yaml" <<YAML
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: web, namespace: $E2E_NS}
spec:
  podSelector: {matchLabels: {app: web}}
  labelsToInclude: [app]
  ebpfConfig:
    syscallMonitoring: {enabled: true, syscallNames: [accept4, read, write]}
    l4Firewall: {enabled: true, allowedPorts: [8080], blockedPorts: [9999]}
    metricsExport: {enabled: true, updateInterval: 1s}
YAML
kubectl apply -f "$E2E_DIR/web.yaml" >/dev/null
status_is() { # status_is MATCHED ATTACHED READY NODE_A NODE_B
  kubectl -n "$E2E_NS" get pcmc web -o json | jq -e --argjson m "$1" --argjson a "$2" --arg r "$3" \
    --argjson na "$4" --argjson nb "$5" '.status.matchedPods == $m and .status.attachedPods == $a and
    ([.status.conditions[] | select(.type == "Ready")][0].status == $r) and
    ([.status.nodes[] | select(.name == "e2e-a")][0].attachedPods // 0) == $na and
    ([.status.nodes[] | select(.name == "e2e-b")][0].attachedPods // 0) == $nb' >/dev/null
}
# status_report CTL: what the CR says, the pods, and CTL's last words about them (a failed check's diagnostic).
status_report() {
  echo "status: $(kubectl -n "$E2E_NS" get pcmc web -o json | jq -c '.status | {matchedPods, attachedPods, nodes,
    conditions: [.conditions[]? | {type, status, reason, message}]}')"
  kubectl -n "$E2E_NS" get pods -o json | jq -r '.items[] | "pod \(.metadata.name) \(.spec.nodeName) \(.status.phase) \(.metadata.labels.app)\(if .metadata.deletionTimestamp then " terminating" else "" end)"'
  grep -E '"msg":"(reconciled|status write failed|policy pushed|policy push failed|policy push refused[^"]*|became leader|leadership lost|configmap write failed)"' \
    "$E2E_LOGS/$1.log" | grep -E '"(name|pcmc|node)":"(web|e2e-a|e2e-b)"|leader' | tail -n 8 |
    jq -c "{ts, msg, pcmc, node, result, matched, failed, pods, applied, unchanged, removed, error}" 2>/dev/null
}
# status_settles SECONDS CTL MATCHED ATTACHED READY NODE_A NODE_B: status_is within the deadline, else the report.
status_settles() { local t=$1 ctl=$2; shift 2; wait_until "$t" status_is "$@" || { status_report "$ctl"; return 1; }; }
tap_check "apply: status attachedPods 4, nodes e2e-a 2 / e2e-b 2, Ready True" status_settles 30 "$(e2e_lease_holder)" 4 4 True 2 2
enforced() { local p ip; for p in "$@"; do ip=$(e2e_pod_ip "$p"); tcp_open "$ip" 8080 && tcp_closed "$ip" 9999 || return 1; done; }
tap_check "apply: on every selected pod of both nodes 8080 answers and 9999 is refused" enforced web-a1 web-a2 web-b1 web-b2
for p in web-a1 web-a2 web-b1 web-b2; do e2e_probe_add "$(e2e_pod_ip "$p")"; done
tap_check "apply: the pod no CR selects still answers on 9999" bash -c ". '$here/lib.sh'; tcp_open $(e2e_pod_ip db-a) 9999"
for p in web-a1 web-a2 web-b1 web-b2; do tcp_open "$(e2e_pod_ip "$p")" 8080; done
syscall_counted() { # syscall_counted NODE POD
  e2e_agent_get "$1" /metrics | awk -v p="pod_name=\"$2\"" '$1 ~ /^podconfigmap_controller_ebpf_syscall_count_total/ && index($1, p) && $2 > 0 { f = 1 } END { exit !f }'
}
tap_check "apply: syscall counts of every selected pod in its agent's metrics" wait_until 15 bash -c "
  . '$here/lib.sh'; $(declare -f syscall_counted); E2E_AGENT_PORT=$E2E_AGENT_PORT; $(declare -p E2E_NODE_IP)
  syscall_counted e2e-a web-a1 && syscall_counted e2e-a web-a2 && syscall_counted e2e-b web-b1 && syscall_counted e2e-b web-b2"
cms() { kubectl -n "$E2E_NS" get configmaps -l podconfig.example.com/generated-by-pcmc=web -o name | wc -l; }
tap_check "apply: a ConfigMap per selected pod" wait_until 10 bash -c "[ \$(kubectl -n $E2E_NS get configmaps -l podconfig.example.com/generated-by-pcmc=web -o name | wc -l) = 4 ]"

# --- conflict --------------------------------------------------------------------------------------
kubectl apply -f - >/dev/null <<YAML
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: strict, namespace: $E2E_NS}
spec:
  podSelector: {matchLabels: {app: web}}
  ebpfConfig:
    l4Firewall: {enabled: true, allowedPorts: [8080], blockedPorts: [7000]}
YAML
conflict_named() {
  kubectl -n "$E2E_NS" get pcmc web -o json | jq -e '[.status.conditions[] | select(.type == "Conflict")][0] |
    .status == "True" and (.message | contains("e2e/strict")) and (.message | contains("l4Firewall.blockedPorts"))' >/dev/null
}
tap_check "two CRs select the same pods: Conflict True names the other CR and the merged field" wait_until 15 conflict_named
tap_check "merge: blocked ports add up (7000 and 9999 refused, 8080 answers)" wait_until 10 bash -c "
  . '$here/lib.sh'; for ip in $(e2e_pod_ip web-a1) $(e2e_pod_ip web-b1); do tcp_closed \$ip 7000 && tcp_closed \$ip 9999 && tcp_open \$ip 8080 || exit 1; done"
kubectl -n "$E2E_NS" delete pcmc strict >/dev/null
tap_check "the other CR deleted: Conflict False, 7000 answers again" wait_until 15 bash -c "
  . '$here/lib.sh'; kubectl -n $E2E_NS get pcmc web -o json | jq -e '[.status.conditions[] | select(.type == \"Conflict\")][0].status == \"False\"' >/dev/null &&
  tcp_open $(e2e_pod_ip web-a1) 7000"

# --- relabel out -------------------------------------------------------------------------------------
a2_ip=$(e2e_pod_ip web-a2) a2_uid=$(e2e_pod_uid web-a2)
e2e_probe_remove "$a2_ip"
pushes_to() { grep '"msg":"policy pushed"' "$E2E_LOGS/$1.log" | grep -c "\"node\":\"$2\""; }
# agent_conns CTL NODE: local ports of CTL's established connections to NODE's agent.
agent_conns() {
  ss -Htnp state established "( dst ${E2E_NODE_IP[$2]} and dport = :$E2E_AGENT_PORT )" |
    grep "pid=${E2E_CTL_PID[$1]}," | awk '{ print $3 }' | sort
}
holder=$(e2e_lease_holder) pushes_a=$(pushes_to "$(e2e_lease_holder)" e2e-a) pushes_b=$(pushes_to "$(e2e_lease_holder)" e2e-b)
conns_before=$(agent_conns "$holder" e2e-a)
kubectl -n "$E2E_NS" label pod web-a2 app=other --overwrite >/dev/null
tap_check "relabel out: the agent of e2e-a no longer holds the pod" wait_until 15 bash -c "
  . '$here/lib.sh'; $(declare -p E2E_NODE_IP); E2E_AGENT_PORT=$E2E_AGENT_PORT; [ -z \"\$(e2e_agent_pod_state e2e-a $a2_uid)\" ]"
# Barrier for the count: the CR's status shows the change, so everything the label caused is done.
tap_check "relabel out: status attachedPods 3" wait_until 15 bash -c "
  kubectl -n $E2E_NS get pcmc web -o json | jq -e '.status.attachedPods == 3' >/dev/null"
pushes_a=$(( $(pushes_to "$holder" e2e-a) - pushes_a )) pushes_b=$(( $(pushes_to "$holder" e2e-b) - pushes_b ))
conns_after=$(agent_conns "$holder" e2e-a)
if [ -n "$conns_before" ] && [ -n "$(comm -12 <(echo "$conns_before") <(echo "$conns_after"))" ] &&
   [ "$(wc -l <<<"$conns_after")" -le 8 ]; then
  tap_ok "pushes and reads reuse keep-alive connections to the agent ($(wc -l <<<"$conns_after") open, one of them since before the push)"
else
  tap_not_ok "pushes and reads reuse keep-alive connections: before [$(echo $conns_before)], after [$(echo $conns_after)]"
fi
if [ "$pushes_a" = 1 ] && [ "$pushes_b" = 0 ]; then tap_ok "relabel out: one push to e2e-a, none to e2e-b (a pod change reaches only its node)"
else tap_not_ok "relabel out: $pushes_a pushes to e2e-a, $pushes_b to e2e-b (want 1 and 0)"; fi
tap_check "relabel out: its firewall is gone (9999 answers)" wait_until 10 tcp_open "$a2_ip" 9999
tap_check "relabel out: its counters are gone from the agent's metrics" wait_until 10 bash -c "
  ! curl -s http://${E2E_NODE_IP[e2e-a]}:$E2E_AGENT_PORT/metrics | grep -q 'pod_name=\"web-a2\"'"
tap_check "relabel out: its ConfigMap is gone" wait_until 15 bash -c "
  ! kubectl -n $E2E_NS get configmaps -l podconfig.example.com/pod-uid=$a2_uid -o name | grep -q ."

# --- an agent restarts without its state: the restarted agent pod brings a full push at once --------
e2e_agent_stop e2e-b KILL
rm -rf "$E2E_DIR/agent-e2e-b"
e2e_agent_start e2e-b >/dev/null
# What the kubelet reports when the agent container restarts.
kubectl -n pcmc-system patch pod pcmc-agent-e2e-b --subresource=status --type=merge -p \
  '{"status":{"containerStatuses":[{"name":"agent","image":"pcmc-agent:e2e","imageID":"","ready":true,"started":true,"restartCount":1,"state":{"running":{}}}]}}' >/dev/null
tap_check "agent restarted with no state file: the controller pushes again at once (both pods applied)" wait_until 5 bash -c "
  . '$here/lib.sh'; $(declare -p E2E_NODE_IP); [ \"\$(e2e_agent_get e2e-b /v1/policy | jq '[.pods[] | select(.state == \"applied\")] | length')\" = 2 ]"

# --- SIGKILL the leader; changes while no leader runs ------------------------------------------------
leader=$(e2e_lease_holder); standby=ctl-a; [ "$leader" = ctl-a ] && standby=ctl-b
b1_ip=$(e2e_pod_ip web-b1) b1_uid=$(e2e_pod_uid web-b1)
e2e_probe_remove "$b1_ip"
e2e_ctl_stop "$leader" KILL
kubectl -n "$E2E_NS" delete pod web-b1 --wait=false >/dev/null
e2e_pod web-b3 e2e-b app=web
tap_check "SIGKILL: standby $standby takes the Lease" wait_until 30 bash -c "[ \"\$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}')\" = $standby ]"
tap_check "SIGKILL: after takeover the deleted pod's state is gone from agent e2e-b" wait_until 30 bash -c "
  . '$here/lib.sh'; $(declare -p E2E_NODE_IP); E2E_AGENT_PORT=$E2E_AGENT_PORT; [ -z \"\$(e2e_agent_pod_state e2e-b $b1_uid)\" ]"
tap_check "SIGKILL: the pod created while no leader ran is enforced (8080 answers, 9999 refused)" wait_until 30 bash -c "
  . '$here/lib.sh'; e2e_pod_running web-b3 && ip=\$(e2e_pod_ip web-b3) && tcp_open \$ip 8080 && tcp_closed \$ip 9999"
e2e_probe_add "$(e2e_pod_ip web-b3)"
first_push_unchanged() { # the new leader's first push to e2e-a kept web-a1 without re-attaching it
  grep '"msg":"policy pushed"' "$E2E_LOGS/$standby.log" | jq -s -e 'map(select(.node == "e2e-a"))[0] | .applied == 0 and .unchanged == 1' >/dev/null
}
tap_check "SIGKILL: the new leader's first push keeps what is still wanted (unchanged, not re-attached)" first_push_unchanged
# The new leader writes status only once it has heard from every node's agent in its term: wait for
# that (both first answers logged) before the status gets its own deadline.
answered_both() { [ "$(grep '"msg":"policy pushed"' "$E2E_LOGS/$standby.log" | jq -r .node | sort -u | tr '\n' ' ')" = "e2e-a e2e-b " ]; }
tap_check "SIGKILL: the new leader heard from both agents" wait_until 30 answered_both
# matchedPods counts every selected pod object, terminating ones too: web-b1 counts until the node
# simulator has torn it down and finished its deletion (slow under load), so wait for that first.
tap_check "SIGKILL: web-b1 is gone from the API server (its node finished the deletion)" wait_until 60 bash -c \
  "out=\$(kubectl -n $E2E_NS get pod web-b1 --ignore-not-found -o name) && [ -z \"\$out\" ]"
tap_check "SIGKILL: status Ready True with attachedPods 3 (web-a1, web-b2, web-b3)" status_settles 30 "$standby" 3 3 True 1 2
e2e_ctl_start "$leader"

# --- SIGSTOP the leader until the standby takes over, then SIGCONT -------------------------------------
stopped=$(e2e_lease_holder); other=ctl-a; [ "$stopped" = ctl-a ] && other=ctl-b
kill -STOP "${E2E_CTL_PID[$stopped]}"
tap_check "SIGSTOP: $other takes the Lease from the stopped $stopped" wait_until 30 bash -c "[ \"\$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}')\" = $other ]"
new_epoch_everywhere() { local n; for n in "${E2E_NODES[@]}"; do [ "$(e2e_agent_identity "$n")" = "$other" ] || return 1; done; }
tap_check "SIGSTOP: every agent holds a push of $other (new epoch)" wait_until 20 new_epoch_everywhere
e2e_pod web-a3 e2e-a app=web     # a change the stopped leader sees when it resumes
pods_now=$(kubectl get pods -A --no-headers | wc -l)
kill -CONT "${E2E_CTL_PID[$stopped]}"
tap_check "SIGCONT: the old leader $stopped steps down" wait_until 20 bash -c "grep -q '\"msg\":\"leadership lost\"' '$E2E_LOGS/$stopped.log'"
# Barrier: the old leader has caught up with the changes made while it was stopped (web-a3 is in
# its pod cache), so it had every chance to push them.
cached_pods() { e2e_ctl_get "$1" /metrics | awk '$1 == "pcmc_controller_cached_objects{resource=\"pods\"}" { print $2 }'; }
tap_check "SIGCONT: the old leader's caches caught up ($pods_now pods)" wait_until 20 bash -c "
  . '$here/lib.sh'; $(declare -p E2E_CTL_PID); $(declare -f cached_pods); [ \"\$(cached_pods $stopped)\" = $pods_now ]"
tap_check "SIGCONT: no push of the old leader was accepted (agents still hold $other's epoch)" new_epoch_everywhere
refused=$(grep -c '"msg":"policy push refused' "$E2E_LOGS/$stopped.log")
echo "# old leader pushes refused with 409 after SIGCONT: $refused (0 = it noticed the new holder before pushing)"
tap_check "SIGCONT: $stopped is a standby (pcmc_controller_leader 0), $other leads" bash -c "
  . '$here/lib.sh'; $(declare -p E2E_CTL_PID); e2e_ctl_get $stopped /metrics | grep -qx 'pcmc_controller_leader 0' &&
  e2e_ctl_get $other /metrics | grep -qx 'pcmc_controller_leader 1'"
push_counters_match() {
  e2e_ctl_get "$other" /metrics | awk '$1 == "pcmc_controller_policy_pushes_total{result=\"ok\"}" && $2 > 0 { f = 1 } END { exit !f }' || return 1
  [ "$(e2e_ctl_get "$stopped" /metrics | awk '$1 == "pcmc_controller_policy_pushes_total{result=\"refused\"}" { print $2 }')" = "$refused" ] || return 1
  # Every push (ok, refused, failed) is observed in the duration histogram, before it is counted.
  e2e_ctl_get "$other" /metrics | awk '$1 ~ /^pcmc_controller_policy_pushes_total/ { n += $2 }
    $1 == "pcmc_controller_push_duration_seconds_count" { c = $2 } $1 == "pcmc_controller_push_duration_seconds_bucket{le=\"+Inf\"}" { inf = $2 }
    END { exit !(n > 0 && c >= n && inf == c) }'
}
tap_check "metrics: $other counts its accepted pushes (each one in pcmc_controller_push_duration_seconds), $stopped its $refused refused ones" push_counters_match
tap_check "after the failovers web-a3 is enforced too" wait_until 30 bash -c "
  . '$here/lib.sh'; e2e_pod_running web-a3 && ip=\$(e2e_pod_ip web-a3) && tcp_open \$ip 8080 && tcp_closed \$ip 9999"
e2e_probe_add "$(e2e_pod_ip web-a3)"

# --- delete the CR ---------------------------------------------------------------------------------------
# The prober has probed web-a3 too: its count grew by a full round of targets.
probed=$(e2e_probe_count) targets=$(wc -l < "$E2E_DIR/probe-targets")
tap_check "the prober went round every target since web-a3 was added" wait_until 20 bash -c "
  . '$here/lib.sh'; [ \$(e2e_probe_count) -ge $((probed + 2 * targets)) ]"
: > "$E2E_DIR/probe-targets.final"; cp "$E2E_DIR/probe-targets" "$E2E_DIR/probe-targets.final"
: > "$E2E_DIR/probe-targets"
kubectl delete -f "$E2E_DIR/web.yaml" >/dev/null
agents_empty() { local n; for n in "${E2E_NODES[@]}"; do [ "$(e2e_agent_get "$n" /v1/policy | jq '.pods | length')" = 0 ] || return 1; done; }
tap_check "delete: both agents hold no pod" wait_until 20 agents_empty
tap_check "delete: 9999 answers again on every formerly selected pod" bash -c "
  . '$here/lib.sh'; while read -r ip; do tcp_open \$ip 9999 || exit 1; done < '$E2E_DIR/probe-targets.final'"
tap_check "delete: no per-pod series left in either agent's metrics" bash -c "
  for ip in ${E2E_NODE_IP[*]}; do curl -s http://\$ip:$E2E_AGENT_PORT/metrics | grep -q '^podconfigmap_controller_ebpf_syscall_count_total{' && exit 1; done; exit 0"
tap_check "delete: every generated ConfigMap is gone" wait_until 15 bash -c "
  ! kubectl -n $E2E_NS get configmaps -l podconfig.example.com/generated-by-pcmc -o name | grep -q ."

tap_check "no sanitizer report in controller or agent logs" bash -c "
  ! grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$E2E_LOGS'/*.log"
tap_check "every controller and agent log line follows docs/logging.md" e2e_logcheck "$E2E_LOGS"/ctl-*.log "$E2E_LOGS"/agent-*.log

e2e_prober_stop
probes=$(e2e_probe_count) successes=$(e2e_probe_successes)
if [ "$successes" = 0 ] && [ "$probes" -gt 100 ]; then
  tap_ok "prober: $probes connections to blocked port 9999 of enforced pods throughout, 0 succeeded"
else
  tap_not_ok "prober: $probes connections to blocked port 9999 of enforced pods throughout, $successes succeeded"
  sed 's/^/# /' "$E2E_DIR/probe-successes" | head
fi
tap_done
