#!/usr/bin/env bash
# PodConfigMapConfig semantics with real agents on the local cluster (two simulated nodes, e2e-b
# labelled arm64): the Go project's eBPF example applied unchanged (ConfigMaps with its prefixed
# keys, ports enforced, counters exported), and isolation between CRs: a CR invalid on a node (a
# syscall name its architecture lacks) is left out there and reported on that CR alone, while the
# other CR selecting the same pod stays enforced, checked from the host.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
e2e_suite_begin
kubectl label node e2e-b kubernetes.io/arch=arm64 --overwrite >/dev/null
ok=1
for n in "${E2E_NODES[@]}"; do e2e_agent_start "$n" || ok=0; e2e_agent_pod "$n"; done
[ $ok = 1 ] && tap_ok "an agent per node" || tap_not_ok "an agent per node"
e2e_ctl_start ctl-a
tap_check "a controller leads" wait_until 20 bash -c "[ \"\$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}')\" = ctl-a ]"

# pod NAME NODE LABELS ANNOTATIONS PORTS...: a test pod serving the given ports.
pod() {
  local name=$1 node=$2 labels=$3 ann=$4 ports; shift 4
  ports=$(printf '{containerPort: %s}, ' "$@"); ports=${ports%, }
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $name
  namespace: $E2E_NS
  labels: {$labels}
  annotations: {$ann}
spec:
  nodeName: $node
  automountServiceAccountToken: false
  containers:
    - name: app
      image: pcmc-testpod:e2e
      ports: [$ports]
YAML
}

# ---------------------------------------------------------------- the Go project's example, unchanged
pod front e2e-a 'app: my-app, tier: frontend, version: "1.2.3"' \
  '"deployment.kubernetes.io/revision": "7", "kubernetes.io/created-by": "ci"' 80 443 8080 22 23 3389 5000
sed "s/namespace: default/namespace: $E2E_NS/" "$E2E_REPO/crds/examples/go-project-ebpf.yaml" | kubectl apply -f - >/dev/null
tap_check "the Go example pod is Running" wait_until 60 e2e_pod_running front
go_configmap() {
  kubectl -n "$E2E_NS" get configmap pod-front-from-example-ebpf-config-cfg -o json | jq -e '.data |
    .label_app == "my-app" and .label_tier == "frontend" and .label_version == "1.2.3" and
    .["annotation_deployment.kubernetes.io_revision"] == "7" and .["annotation_kubernetes.io_created-by"] == "ci" and
    .pcmcName == "example-ebpf-config" and .ebpf_enabled == "true" and .ebpf_syscall_monitoring == "true" and
    .ebpf_l4_firewall == "true" and .ebpf_l4_firewall_default_action == "allow" and .ebpf_metrics_export == "true" and
    .ebpf_effective_allowed_ports == "80,443,8080" and .ebpf_effective_blocked_ports == "22,23,3389" and
    .ebpf_effective_from == "example-ebpf-config"'
}
tap_check "Go example: its ConfigMap keys, prefixed annotations included, and the effective policy" wait_until 20 go_configmap
ports_enforced() {
  local ip p
  ip=$(e2e_pod_ip front)
  for p in 80 443 8080 5000; do tcp_open "$ip" $p || { echo "port $p closed"; return 1; }; done
  for p in 22 23 3389; do tcp_closed "$ip" $p || { echo "port $p open"; return 1; }; done
}
tap_check "Go example: 80, 443, 8080 and 5000 (default allow) answer from the host; 22, 23, 3389 are dropped" \
  wait_until 20 ports_enforced
counted() { # counted NODE POD SYSCALL
  e2e_agent_get "$1" /metrics | awk -v p="pod_name=\"$2\"" -v s="syscall=\"$3\"" \
    '$1 ~ /^podconfigmap_controller_ebpf_syscall_count_total/ && index($1, p) && index($1, s) && $2 > 0 { f = 1 } END { exit !f }'
}
for p in 80 443 8080; do tcp_open "$(e2e_pod_ip front)" $p; done
tap_check "Go example: read and write of the pod counted and exported by its agent (30s interval)" wait_until 45 bash -c "
  . '$here/lib.sh'; $(declare -f counted); $(declare -p E2E_NODE_IP); E2E_AGENT_PORT=$E2E_AGENT_PORT
  counted e2e-a front read && counted e2e-a front write"
tap_check "Go example: Ready True, 1 pod attached" wait_until 20 bash -c "
  kubectl -n $E2E_NS get pcmc example-ebpf-config -o json | jq -e '.status.attachedPods == 1 and
    ([.status.conditions[] | select(.type == \"Ready\")][0].status == \"True\")' >/dev/null"

# ---------------------------------------------------------------- isolation between CRs (issue 15, item 1)
pod iso-a e2e-a 'app: iso' '' 8080 7000
pod iso-b e2e-b 'app: iso' '' 8080 7000
kubectl apply -f - >/dev/null <<YAML
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: monitor, namespace: $E2E_NS}
spec:
  podSelector: {matchLabels: {app: iso}}
  ebpfConfig:
    syscallMonitoring: {enabled: true, syscallNames: [read, open]}
---
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: strict, namespace: $E2E_NS}
spec:
  podSelector: {matchLabels: {app: iso}}
  ebpfConfig:
    l4Firewall: {enabled: true, blockedPorts: [8080]}
YAML
tap_check "isolation: both pods Running" wait_until 60 bash -c ". '$here/lib.sh'; e2e_pod_running iso-a && e2e_pod_running iso-b"
tap_check "isolation: 8080 of the pod on the arm64 node is dropped, checked from the host (the other CR stays enforced)" \
  wait_until 20 bash -c ". '$here/lib.sh'; ip=\$(e2e_pod_ip iso-b); tcp_closed \$ip 8080 && tcp_open \$ip 7000"
tap_check "isolation: 8080 of the pod on the amd64 node is dropped too" \
  wait_until 20 bash -c ". '$here/lib.sh'; ip=\$(e2e_pod_ip iso-a); tcp_closed \$ip 8080 && tcp_open \$ip 7000"
cond() { kubectl -n "$E2E_NS" get pcmc "$1" -o json | jq -r --arg t "$2" --arg f "$3" '[.status.conditions[]? | select(.type == $t)][0][$f] // empty'; }
monitor_reported() {
  kubectl -n "$E2E_NS" get pcmc monitor -o json | jq -e '
    ([.status.nodes[] | select(.name == "e2e-b")][0] | .failedPods == 1 and .failures[0].pod == "iso-b" and
      (.failures[0].reason | startswith("spec.ebpfConfig.syscallMonitoring.syscallNames[1]: open is not a syscall of arm64"))) and
    ([.status.nodes[] | select(.name == "e2e-a")][0].attachedPods == 1) and .status.attachedPods == 1' >/dev/null &&
    [ "$(cond monitor Ready status)" = False ] && [ "$(cond monitor Ready reason)" = PolicyFailed ]
}
tap_check "isolation: the CR naming open is reported for the arm64 node only, with its own field path" wait_until 20 monitor_reported
strict_ready() {
  kubectl -n "$E2E_NS" get pcmc strict -o json | jq -e '.status.attachedPods == 2 and
    ([.status.nodes[].failedPods] | add) == 0' >/dev/null &&
    [ "$(cond strict Ready status)" = True ] && ! cond strict Ready message | grep -q open
}
tap_check "isolation: the other CR is Ready with both pods enforced and its status never mentions open" wait_until 20 strict_ready
agent_holds() { # the arm64 node's agent applies the pod with the firewall only
  e2e_agent_get e2e-b /v1/policy | jq -e --arg u "$(e2e_pod_uid iso-b)" '.pods[] | select(.uid == $u) |
    .state == "applied" and .policy.l4Firewall.blockedPorts == [8080] and
    ((.policy.syscallMonitoring.enabled // false) == false)' >/dev/null
}
tap_check "isolation: the arm64 agent holds the pod as applied, with the firewall and without the left-out CR" \
  wait_until 20 agent_holds
iso_configmap() {
  kubectl -n "$E2E_NS" get configmap pod-iso-b-from-strict-cfg -o json | jq -e '.data |
    .ebpf_effective_from == "strict" and .ebpf_effective_blocked_ports == "8080" and
    (.ebpf_effective_left_out | startswith("monitor: spec.ebpfConfig.syscallMonitoring.syscallNames[1]: open is not a syscall of arm64"))'
}
tap_check "isolation: the pod's ConfigMaps say which CR is enforced and which is left out, and why" wait_until 20 iso_configmap
tap_check "isolation: a Warning Event on the CR left out, none on the other" wait_until 20 bash -c "
  kubectl -n $E2E_NS get events --field-selector involvedObject.name=monitor -o json | jq -e '[.items[] | select(.type == \"Warning\" and .reason == \"PolicyFailed\")] | length > 0' >/dev/null &&
  ! kubectl -n $E2E_NS get events --field-selector involvedObject.name=strict -o json | jq -e '[.items[] | select(.type == \"Warning\")] | length > 0' >/dev/null"

# ---------------------------------------------------------------- conflict: every CR named, the winner said
kubectl apply -f - >/dev/null <<YAML
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: open-web, namespace: $E2E_NS}
spec:
  podSelector: {matchLabels: {app: iso}}
  ebpfConfig:
    l4Firewall: {enabled: true, allowedPorts: [8080, 7000]}
YAML
conflict_named() {
  local m
  m=$(cond open-web Conflict message)
  echo "$m"
  [ "$(cond open-web Conflict status)" = True ] && [[ $m == "merged with $E2E_NS/strict on 2 pods; on pod $E2E_NS/iso-"* ]] &&
    [[ $m == *"l4Firewall.allowedPorts: port 8080 allowed here is blocked by $E2E_NS/strict (blocked wins)"* ]]
}
tap_check "conflict: the allowing CR's Conflict names the blocking CR and says blocked wins" wait_until 20 conflict_named
tap_check "conflict: its ConfigMap carries its own allowedPorts and the effective ones (8080 blocked)" wait_until 20 bash -c "
  kubectl -n $E2E_NS get configmap pod-iso-a-from-open-web-cfg -o json | jq -e '.data | .ebpf_allowed_ports == \"7000,8080\" and
    .ebpf_effective_allowed_ports == \"7000\" and .ebpf_effective_blocked_ports == \"8080\"' >/dev/null"
tap_check "conflict: 8080 stays dropped on both pods" bash -c ". '$here/lib.sh'; tcp_closed \$(e2e_pod_ip iso-a) 8080 && tcp_closed \$(e2e_pod_ip iso-b) 8080"

tap_check "no sanitizer report in controller or agent logs" bash -c "
  ! grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$E2E_LOGS'/*.log"
tap_done
