#!/usr/bin/env bash
# manifests/ against a real kube-apiserver: `kubectl apply --dry-run=server -k manifests/` with the
# Prometheus Operator CRDs installed (test/deploy/monitoring-crds.yaml), plus what the issue asks of
# each object (replicas, uid, read-only root, capabilities, probes, mounts), read from the rendered output.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/pcmc-deploy-manifests.XXXXXX)
cleanup() { cluster_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
need kubectl jq python3 ss curl
python3 -c 'import yaml' 2>/dev/null || { tap_not_ok "python3 yaml module (python3-yaml; run: bash test/setup.sh)"; tap_done; exit 1; }
M=$DEP_REPO/manifests

tap_check "manifests/crd is the same as crds/podconfigmapconfig.yaml (else: make deploy-crd)" \
  cmp "$M/crd/podconfigmapconfig.yaml" "$DEP_REPO/crds/podconfigmapconfig.yaml"
if ! kubectl kustomize "$M" >"$work/all.yaml" 2>"$work/err"; then
  tap_not_ok "kubectl kustomize manifests/"; sed 's/^/# /' "$work/err"; tap_done; exit 1
fi
tap_ok "kubectl kustomize manifests/"
python3 "$here/yaml2json.py" <"$work/all.yaml" >"$work/all.json"

cluster_start || { tap_not_ok "local cluster up"; tap_done; exit 1; }
tap_check "monitoring.coreos.com CRDs installed" kubectl apply -f "$here/monitoring-crds.yaml"
tap_check "monitoring.coreos.com CRDs established" kubectl wait --for condition=Established --timeout 30s \
  crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com
wait_until 30 kubectl get servicemonitors,prometheusrules -A
if kubectl apply --dry-run=server -k "$M" >"$work/dry" 2>"$work/err"; then
  tap_ok "kubectl apply --dry-run=server -k manifests/ ($(wc -l <"$work/dry") objects)"
else
  tap_not_ok "kubectl apply --dry-run=server -k manifests/"; sed 's/^/# /' "$work/err"
fi
want=$(jq length "$work/all.json")
tap_check "every rendered object answered by the server ($want)" test "$(grep -c 'server dry run' "$work/dry")" -eq "$want"

# The real thing: applied, every object there, and a second apply changes nothing.
tap_check "kubectl apply -k manifests/ (for real)" kubectl apply -k "$M"
versions() { # FILE: every rendered object's resourceVersion into FILE; fails on a missing object
  local kind name ns rv
  : >"$1"
  while IFS=$'\t' read -r kind name ns; do
    rv=$(kubectl get "$kind" "$name" ${ns:+-n "$ns"} -o jsonpath='{.metadata.resourceVersion}') ||
      { echo "missing: $kind $ns/$name"; return 1; }
    echo "$kind $ns/$name $rv" >>"$1"
  done < <(jq -r '.[] | [.kind, .metadata.name, (.metadata.namespace // "")] | @tsv' "$work/all.json")
  [ "$(wc -l <"$1")" -eq "$(jq length "$work/all.json")" ] && ! grep -q ' $' "$1"
}
tap_check "every object exists after the apply" versions "$work/v1"
# kubectl prints "configured" for a PodDisruptionBudget even when its patch changes nothing; the
# resourceVersions say whether the server stored anything new.
kubectl apply -k "$M" >/dev/null 2>&1
tap_check "a second apply changes no object (same resourceVersions)" \
  bash -c "$(declare -f versions); work=$work; versions $work/v2 && diff $work/v1 $work/v2"

# The dry run really validates: objects one edit away from ours are refused.
refused() { # NAME JQ-EDIT: the edited object must be refused by the server
  local name=$1 edit=$2
  jq -c ".[] | $edit | select(. != null)" "$work/all.json" >"$work/bad.json"
  if kubectl apply --dry-run=server -f "$work/bad.json" >"$work/out" 2>&1; then
    tap_not_ok "refused: $name"; sed 's/^/# /' "$work/out" | tail -5
  else tap_ok "refused: $name"; fi
}
refused "agent with a Bidirectional bpffs mount (only privileged containers may)" \
  'select(.kind=="DaemonSet") | .spec.template.spec.containers[0].volumeMounts[0].mountPropagation="Bidirectional"'
refused "PrometheusRule with a bad 'for' duration" \
  'select(.kind=="PrometheusRule") | .spec.groups[0].rules[0].for="5 minutes"'
refused "ServiceMonitor with a misspelled endpoint field type" \
  'select(.kind=="ServiceMonitor" and .metadata.name=="pcmc-agent") | .spec.endpoints[0].honorLabels="yes"'
refused "ServiceMonitor relabeling from a label name Prometheus cannot have" \
  'select(.kind=="ServiceMonitor" and .metadata.name=="pcmc-agent") | .spec.endpoints[0].relabelings[0].sourceLabels=["node-name"]'

# What the issue asks of each object, from the rendered manifests.
q() { jq -e "$1" "$work/all.json" >/dev/null; }
obj() { echo ".[] | select(.kind==\"$1\" and .metadata.name==\"$2\")"; }
D=$(obj Deployment pcmc-controller) DS=$(obj DaemonSet pcmc-agent)
C="$D | .spec.template.spec.containers[0]" A="$DS | .spec.template.spec.containers[0]"
tap_check "controller: 2 replicas, ServiceAccount pcmc-controller" q "$D | .spec.replicas==2 and .spec.template.spec.serviceAccountName==\"pcmc-controller\""
tap_check "controller: uid 65532, non-root" q "$D | .spec.template.spec.securityContext | .runAsUser==65532 and .runAsNonRoot"
tap_check "controller: read-only root, no privilege escalation" q "$C | .securityContext | .readOnlyRootFilesystem and .allowPrivilegeEscalation==false"
tap_check "controller: capabilities dropped, none added" q "$C | .securityContext.capabilities | .drop==[\"ALL\"] and (.add // [] | length)==0"
tap_check "controller: liveness /healthz, readiness /readyz" q "$C | .livenessProbe.httpGet.path==\"/healthz\" and .readinessProbe.httpGet.path==\"/readyz\""
tap_check "controller: resource requests and memory limit" q "$C | .resources.requests.cpu and .resources.requests.memory and .resources.limits.memory"
tap_check "controller: Lease name matches the Role's resourceNames" q "[$C | .env[] | select(.name==\"LEADER_ELECTION_LOCK_NAME\") | .value] == [$(obj Role pcmc-controller-leader-election) | .rules[] | .resourceNames // empty | .[]]"
tap_check "agent: hostPID, hostNetwork, ServiceAccount pcmc-agent, not privileged" q "$DS | .spec.template.spec | .hostPID and .hostNetwork and .serviceAccountName==\"pcmc-agent\" and (.containers[0].securityContext.privileged // false | not)"
tap_check "agent: container port named api (the controller's agent discovery)" q "$A | [.ports[] | select(.name==\"api\")] | length==1"
tap_check "controller: --agent-push on" q "$C | .args | index(\"--agent-push\") != null"
tap_check "agent: drops ALL, adds exactly BPF PERFMON NET_ADMIN SYS_ADMIN SYS_PTRACE" q "$A | .securityContext.capabilities | .drop==[\"ALL\"] and (.add|sort)==[\"BPF\",\"NET_ADMIN\",\"PERFMON\",\"SYS_ADMIN\",\"SYS_PTRACE\"]"
tap_check "agent: host bpffs, cgroups (read-only), state dir, CNI cache and netns (read-only) mounted" q "$A | [.volumeMounts[] | {(.mountPath): (.readOnly // false)}] | add == {\"/sys/fs/bpf\":false,\"/sys/fs/cgroup\":true,\"/var/lib/pcmc-agent\":false,\"/var/lib/cni\":true,\"/var/run/netns\":true}"
tap_check "agent: probes, resources, read-only root, no privilege escalation" q "$A | .livenessProbe.httpGet.path==\"/healthz\" and .readinessProbe.httpGet.path==\"/readyz\" and .resources.limits.memory and .securityContext.readOnlyRootFilesystem and .securityContext.allowPrivilegeEscalation==false"
tap_check "agent: --pin-root and --state-dir match its mounts" q "$A | (.args | index(\"--pin-root=/sys/fs/bpf/pcmc\") != null) and (.args | index(\"--state-dir=/var/lib/pcmc-agent\") != null)"
tap_check "ServiceMonitors scrape ports the Services name" q '([.[] | select(.kind=="Service") | {(.metadata.name): [.spec.ports[].name]}] | add) as $svc |
  [.[] | select(.kind=="ServiceMonitor") | .spec.endpoints[0].port as $p | $svc[.metadata.name] | index($p) != null] | length == 2 and all'
tap_check "agent: /metrics and probes on port \"metrics\" (--metrics-listen), apart from the policy API on \"api\"" q "$A | (.args | index(\"--metrics-listen=0.0.0.0:4856\") != null) and
  (.args | index(\"--listen=0.0.0.0:4855\") != null) and .livenessProbe.httpGet.port==\"metrics\" and .readinessProbe.httpGet.port==\"metrics\" and
  ([.ports[] | {(.name): .containerPort}] | add) == {\"api\": 4855, \"metrics\": 4856}"
tap_check "Services select the pods' labels" q "($(obj Service pcmc-controller) | .spec.selector) == ($D | .spec.selector.matchLabels) and ($(obj Service pcmc-agent) | .spec.selector) == ($DS | .spec.selector.matchLabels)"
tap_check "CRD, ServiceAccounts and RBAC included" q "[.[] | .kind] | (index(\"CustomResourceDefinition\") != null) and (map(select(.==\"ServiceAccount\")) | length)==2 and (index(\"ClusterRoleBinding\") != null)"
tap_done
