#!/usr/bin/env bash
# What a PodConfigMapConfig means, checked with real kubectl against a real API server and controller:
# the API server refuses what can be checked at admission, naming the field and the item; kubectl
# explain describes every field; -o wide shows why; settings of a disabled feature are reported;
# Events for the transitions a user cares about.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/tap.sh"
. "$here/lib.sh"
# Owner references with blockOwnerDeletion need the RBAC this plugin checks (pods/finalizers update).
export PCMC_APISERVER_ARGS=--enable-admission-plugins=OwnerReferencesPermissionEnforcement

ctl_suite_begin kubectl jq curl

# ---------------------------------------------------------------- admission: one check per rule
make_namespace adm
cr_yaml() { # cr_yaml NAME SPEC_LINES
  printf 'apiVersion: podconfig.example.com/v1alpha1\nkind: PodConfigMapConfig\nmetadata: {name: %s, namespace: adm}\nspec:\n%s\n' "$1" "$2"
}
# refused NAME SPEC FIELD MESSAGE: the API server refuses it with an error line naming FIELD and MESSAGE.
refused() {
  local out
  if out=$(cr_yaml bad "$2" | kubectl create --dry-run=server -f - 2>&1); then
    tap_not_ok "refused: $1 (was accepted)"; return
  fi
  if grep -F -- "$3:" <<<"$out" | grep -qF -- "$4"; then tap_ok "refused: $1 ($3: $4)"
  else tap_not_ok "refused: $1: want '$3: ...$4'"; sed 's/^/# /' <<<"$out"; fi
}
accepted() { # accepted NAME SPEC: created for real, then deleted
  local out
  if out=$(cr_yaml ok "$2" | kubectl create -f - 2>&1); then tap_ok "accepted: $1"; kubectl -n adm delete pcmc ok >/dev/null
  else tap_not_ok "accepted: $1"; sed 's/^/# /' <<<"$out"; fi
}
SN=spec.ebpfConfig.syscallMonitoring.syscallNames
refused "a syscall name no supported architecture knows" \
  '  ebpfConfig: {syscallMonitoring: {enabled: true, syscallNames: [read, foo]}}' \
  "$SN[1]" '"foo" is not a syscall of x86_64 or arm64'
accepted "syscall names of either architecture (open: x86_64 only; arch_prctl: x86_64 only; accept4: both)" \
  '  ebpfConfig: {syscallMonitoring: {enabled: true, syscallNames: [open, arch_prctl, accept4]}}'
refused "a label key with a space" '  labelsToInclude: [app, "bad key"]' \
  "spec.labelsToInclude[1]" '"bad key" is not a label key'
refused "a label key with an empty prefix" '  labelsToInclude: [/name]' "spec.labelsToInclude[0]" '"/name" is not a label key'
refused "a label key whose name part is 64 characters" "  labelsToInclude: [example.com/$(printf 'n%.0s' {1..64})]" \
  "spec.labelsToInclude[0]" "is not a label key"
refused "a label key longer than 247 (label_<key> would pass 253)" \
  "  labelsToInclude: [$(printf 'a%.0s' {1..200}).example/$(printf 'b%.0s' {1..47})]" "spec.labelsToInclude[0]" \
  "may not be more than 247"
refused "two label keys giving one ConfigMap key" '  labelsToInclude: [example.com/owner, example.com_owner]' \
  "spec.labelsToInclude" 'label keys "example.com/owner" and "example.com_owner" would both be stored as ConfigMap key label_example.com_owner'
refused "an annotation key with a slash too many" '  annotationsToInclude: [a/b/c]' \
  "spec.annotationsToInclude[0]" '"a/b/c" is not an annotation key'
refused "an annotation key longer than 242 (annotation_<key> would pass 253)" \
  "  annotationsToInclude: [$(printf 'a%.0s' {1..200}).example/$(printf 'b%.0s' {1..42})]" \
  "spec.annotationsToInclude[0]" "may not be more than 242"
refused "two annotation keys giving one ConfigMap key" '  annotationsToInclude: [team, a.io_x, a.io/x]' \
  "spec.annotationsToInclude" 'would both be stored as ConfigMap key annotation_a.io_x'
refused "a matchLabels key that is not a label key" '  podSelector: {matchLabels: {"app name": web}}' \
  "spec.podSelector.matchLabels" 'key "app name" is not a label key'
refused "a matchLabels value that is not a label value" '  podSelector: {matchLabels: {app: "web server"}}' \
  "spec.podSelector.matchLabels[app]" '"web server" is not a label value'
refused "matchExpressions In without values" '  podSelector: {matchExpressions: [{key: app, operator: In}]}' \
  "spec.podSelector.matchExpressions[0].values" "operator In needs at least one value"
refused "matchExpressions NotIn with an empty list" '  podSelector: {matchExpressions: [{key: app, operator: NotIn, values: []}]}' \
  "spec.podSelector.matchExpressions[0].values" "operator NotIn needs at least one value"
refused "matchExpressions Exists with values" \
  '  podSelector: {matchExpressions: [{key: app, operator: In, values: [a]}, {key: app, operator: Exists, values: [x]}]}' \
  "spec.podSelector.matchExpressions[1].values" "operator Exists takes no values"
refused "matchExpressions key that is not a label key" '  podSelector: {matchExpressions: [{key: "-app", operator: Exists}]}' \
  "spec.podSelector.matchExpressions[0].key" '"-app" is not a label key'
refused "matchExpressions value that is not a label value" \
  '  podSelector: {matchExpressions: [{key: app, operator: In, values: [ok, "no way"]}]}' \
  "spec.podSelector.matchExpressions[0].values[1]" '"no way" is not a label value'
refused "matchExpressions unknown operator" '  podSelector: {matchExpressions: [{key: app, operator: Gt, values: ["1"]}]}' \
  "spec.podSelector.matchExpressions[0].operator" 'Unsupported value: "Gt"'
refused "a port both allowed and blocked, the port named" \
  '  ebpfConfig: {l4Firewall: {enabled: true, allowedPorts: [80, 443], blockedPorts: [22, 443]}}' \
  "spec.ebpfConfig.l4Firewall.blockedPorts" "port 443 is in allowedPorts too"
accepted "prefixed keys (app.kubernetes.io/name, example.com/owner, deployment.kubernetes.io/revision)" \
  '  labelsToInclude: [app, app.kubernetes.io/name, example.com/owner]
  annotationsToInclude: [deployment.kubernetes.io/revision, kubernetes.io/created-by]'
accepted "no podSelector at all (every pod of the namespace)" '  labelsToInclude: [app]'

# ---------------------------------------------------------------- kubectl explain: every field described
explain_all_fields() {
  local crd paths p out n=0 missing=()
  crd=$(kubectl get crd podconfigmapconfigs.podconfig.example.com -o json) || return 1
  # Every property path below the root, arrays descending into their items (kubectl explain does too).
  paths=$(jq -r '.spec.versions[0].schema.openAPIV3Schema |
    def walk_props(prefix): (.properties // {}) | to_entries[] |
      (prefix + .key) as $p | $p, (.value | (if .type == "array" then .items else . end) | walk_props($p + "."));
    walk_props("")' <<<"$crd") || return 1
  for p in $paths; do
    n=$((n + 1))
    out=$(kubectl explain "podconfigmapconfigs.$p" 2>&1) || { missing+=("$p (explain failed)"); continue; }
    # The description block: the lines after DESCRIPTION: up to FIELDS: or the end.
    desc=$(awk '/^DESCRIPTION:/ { d = 1; next } /^FIELDS:/ { d = 0 } d' <<<"$out" | tr -d ' \n')
    [ -n "$desc" ] && [ "$desc" != "<empty>" ] || missing+=("$p")
  done
  echo "$n fields"
  [ "$n" -ge 40 ] && [ ${#missing[@]} -eq 0 ] || { printf 'no description: %s\n' "${missing[@]}"; return 1; }
}
tap_check "kubectl explain: every field of the CRD (spec and status) has a description" explain_all_fields

# ---------------------------------------------------------------- the controller's view
# As its ServiceAccount with exactly config/rbac/controller.yaml.
kubectl apply -f "$CTL_REPO/config/rbac/controller.yaml" >/dev/null
"$CTL_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-controller "$CTL_LOGS/controller.kubeconfig" >/dev/null
if KUBECONFIG=$CTL_LOGS/controller.kubeconfig ctl_start a; then tap_ok "controller a starts as ServiceAccount pcmc-controller"
else tap_not_ok "controller a starts as ServiceAccount pcmc-controller"; fi
tap_check "controller a leads" wait_until 10 is_holder a

make_namespace web
make_pod web w1 app=web
make_pod web w2 app=api
cr_yaml all '  labelsToInclude: [app]' | sed 's/namespace: adm/namespace: web/' | kubectl apply -f - >/dev/null
tap_check "no podSelector: a ConfigMap for every pod of the namespace" wait_until 10 cms_are web \
  "pod-w1-from-all-cfg pod-w2-from-all-cfg"

cond() { # cond NS CR TYPE FIELD
  kubectl -n "$1" get pcmc "$2" -o json | jq -r --arg t "$3" --arg f "$4" '[.status.conditions[]? | select(.type == $t)][0][$f] // empty'
}
cond_is() { [ "$(cond "$1" "$2" "$3" status)" = "$4" ]; }
events_of() { # events_of NS CR: "TYPE REASON" lines
  kubectl -n "$1" get events --field-selector "involvedObject.name=$2,involvedObject.kind=PodConfigMapConfig" -o json |
    jq -r '.items[] | "\(.type) \(.reason) \(.message)"'
}
has_event() { events_of "$1" "$2" | grep -q "^$3 $4"; }

tap_check "Ready True raises a Normal Event" wait_until 10 has_event web all Normal ConfigMapsSynced
wide() {
  local out
  out=$(kubectl -n web get pcmc -o wide) || return 1
  echo "$out"
  head -1 <<<"$out" | grep -qE '^NAME +MATCHED +ATTACHED +READY +CONFLICT +REASON +AGE +MESSAGE' &&
    grep -E '^all +2 +True +ConfigMapsSynced +[0-9a-z]+ +2 matching pods have their ConfigMap' <<<"$out" >/dev/null
}
# Without --agent-push there is no Conflict condition and no Attached count: those columns stay empty.
tap_check "kubectl get -o wide adds Conflict, the Ready reason and message" bash -c "$(declare -f wide wait_until); wait_until 10 wide || wide" 
tap_check "the default view stays NAME MATCHED ATTACHED READY AGE" bash -c \
  'kubectl -n web get pcmc | head -1 | grep -qE "^NAME +MATCHED +ATTACHED +READY +AGE$"'

# Prefixed label and annotation keys: data keys with "/" written as "_", written on the first try.
make_namespace keys
make_pod keys k1 app.kubernetes.io/name=shop,tier=fe example.com/owner=ann
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: prefixed, namespace: keys}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: shop}}
  labelsToInclude: [app.kubernetes.io/name, tier]
  annotationsToInclude: [example.com/owner]
YAML
prefixed_keys() {
  kubectl -n keys get configmap pod-k1-from-prefixed-cfg -o json | jq -e '.data |
    .["label_app.kubernetes.io_name"] == "shop" and .label_tier == "fe" and .["annotation_example.com_owner"] == "ann"'
}
tap_check "app.kubernetes.io/name and example.com/owner: ConfigMap keys label_app.kubernetes.io_name, annotation_example.com_owner" \
  wait_until 10 prefixed_keys
create_errors() { ctl_metric a 'pcmc_controller_configmap_operations_total{operation="create",result="error"}'; }
tap_check "prefixed keys: Ready True, and not one ConfigMap create failed" bash -c "
  . '$here/lib.sh'; $(declare -f cond cond_is create_errors); wait_until 10 cond_is keys prefixed Ready True && [ \"\$(create_errors)\" = 0 ]"

# The Go PodConfigMapController's keys beside pcmc's own, and its controller owner reference.
go_keys() {
  local uid
  uid=$(kubectl -n keys get pod k1 -o jsonpath='{.metadata.uid}')
  kubectl -n keys get configmap pod-k1-from-prefixed-cfg -o json | jq -e --arg uid "$uid" '
    .data.pcmcName == "prefixed" and .data.ebpf_enabled == "false" and .data.ebpf_syscall_monitoring == "false" and
    .data.ebpf_l4_firewall == "false" and .data.ebpf_l4_firewall_default_action == "allow" and
    .data.ebpf_metrics_export == "false" and
    (.metadata.ownerReferences | length) == 1 and .metadata.ownerReferences[0].uid == $uid and
    .metadata.ownerReferences[0].kind == "Pod" and .metadata.ownerReferences[0].controller == true and
    .metadata.ownerReferences[0].blockOwnerDeletion == true'
}
tap_check "Go project keys pcmcName, ebpf_enabled false (no ebpfConfig), ebpf_<feature>; controller owner reference blocking deletion" go_keys
kubectl -n keys patch pcmc prefixed --type=merge -p \
  '{"spec":{"ebpfConfig":{"l4Firewall":{"enabled":true,"blockedPorts":[22],"defaultAction":"block"},"metricsExport":{"enabled":true}}}}' >/dev/null
go_keys_follow() {
  kubectl -n keys get configmap pod-k1-from-prefixed-cfg -o json | jq -e '.data |
    .ebpf_enabled == "true" and .ebpf_syscall_monitoring == "false" and .ebpf_l4_firewall == "true" and
    .ebpf_l4_firewall_default_action == "block" and .ebpf_metrics_export == "true" and
    .ebpf_l4_firewall_enabled == "true" and .ebpf_blocked_ports == "22" and .ebpf_default_action == "block"'
}
tap_check "ebpfConfig set: ebpf_enabled true, each Go feature key is that feature's enabled, beside pcmc's keys" \
  wait_until 10 go_keys_follow

# The Go project's eBPF example, unchanged (crds/examples/go-project-ebpf.yaml): its ConfigMap.
make_namespace goex
make_pod goex front app=my-app,tier=frontend,version=1.2.3
kubectl -n goex annotate pod front deployment.kubernetes.io/revision=7 kubernetes.io/created-by=ci >/dev/null
sed 's/namespace: default/namespace: goex/' "$CTL_REPO/crds/examples/go-project-ebpf.yaml" | kubectl apply -f - >/dev/null
go_example() {
  kubectl -n goex get configmap pod-front-from-example-ebpf-config-cfg -o json | jq -e '.data |
    .label_app == "my-app" and .label_version == "1.2.3" and .label_tier == "frontend" and
    .["annotation_deployment.kubernetes.io_revision"] == "7" and .["annotation_kubernetes.io_created-by"] == "ci" and
    .pcmcName == "example-ebpf-config" and .ebpf_enabled == "true" and .ebpf_syscall_monitoring == "true" and
    .ebpf_l4_firewall == "true" and .ebpf_l4_firewall_default_action == "allow" and .ebpf_metrics_export == "true" and
    .ebpf_syscall_names == "close,open,read,write" and .ebpf_allowed_ports == "80,443,8080" and
    .ebpf_blocked_ports == "22,23,3389" and .ebpf_update_interval == "30s" and
    .ebpf_effective_from == "example-ebpf-config" and .ebpf_effective_blocked_ports == "22,23,3389"'
}
tap_check "the Go project's eBPF example applies unchanged: its keys, prefixed annotations, pcmc's and the effective ones" \
  wait_until 10 go_example

# ---------------------------------------------------------------- what pcmc did not make, it leaves alone
make_namespace own
make_pod own o1 app=own
make_pod own o2 app=later
make_pod own o3 app=later
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: mine, namespace: own}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [own, later2]}]}
YAML
tap_check "own: pcmc's ConfigMap for o1" wait_until 10 cm_field_is own pod-o1-from-mine-cfg .data.podName o1
# 1. A user's ConfigMap with pcmc's label (any name, not one pcmc would write).
kubectl -n own create configmap users-notes --from-literal=note=keep >/dev/null
kubectl -n own label configmap users-notes podconfig.example.com/generated-by-pcmc=mine >/dev/null
# 2. A hand-made ConfigMap with exactly the name pcmc will want for o2, with the label.
kubectl -n own create configmap pod-o2-from-mine-cfg --from-literal=podName=handmade >/dev/null
kubectl -n own label configmap pod-o2-from-mine-cfg podconfig.example.com/generated-by-pcmc=mine >/dev/null
# 3. Another with pcmc's name for o3, without any label (pcmc's watch does not see it).
kubectl -n own create configmap pod-o3-from-mine-cfg --from-literal=podName=handmade-too >/dev/null
rv() { kubectl -n own get configmap "$1" -o jsonpath='{.metadata.resourceVersion}'; }
rv1=$(rv users-notes) rv2=$(rv pod-o2-from-mine-cfg) rv3=$(rv pod-o3-from-mine-cfg)
# Now the CR selects o2 and o3 too.
kubectl -n own label pod o2 o3 app=later2 --overwrite >/dev/null
taken_reported() {
  [ "$(cond own mine Ready status)" = False ] && [ "$(cond own mine Ready reason)" = ConfigMapNameTaken ] &&
    cond own mine Ready message | grep -q '^ConfigMap own/pod-o[23]-from-mine-cfg exists and was not made by pcmc (it lacks pcmc.s owner reference to pod o[23] or the podconfig.example.com/pcmc-name annotation), so pcmc leaves it as it is; delete or rename it and pcmc writes its own (and 1 more ConfigMap like it)$'
}
tap_check "a name taken by hand-made ConfigMaps: Ready False ConfigMapNameTaken, naming one and counting the other" \
  wait_until 15 taken_reported
tap_check "the name clash raises a Warning Event" wait_until 10 has_event own mine Warning ConfigMapNameTaken
# Barrier: a spec change pcmc has demonstrably processed (observedGeneration, o1's ConfigMap rewritten).
kubectl -n own patch pcmc mine --type=merge -p '{"spec":{"labelsToInclude":["app"]}}' >/dev/null
processed() {
  [ "$(kubectl -n own get pcmc mine -o jsonpath='{.status.observedGeneration}')" = 2 ] &&
    cm_field_is own pod-o1-from-mine-cfg .data.label_app own
}
tap_check "barrier: pcmc processed a later spec change (observedGeneration 2, o1's ConfigMap rewritten)" wait_until 15 processed
tap_check "the user's labelled ConfigMap survives untouched (same resourceVersion and data)" bash -c "
  [ \"\$(kubectl -n own get configmap users-notes -o json | jq -r '.metadata.resourceVersion + \" \" + .data.note')\" = '$rv1 keep' ]"
tap_check "the hand-made pod-o2-from-mine-cfg with pcmc's label is not overwritten" bash -c "
  [ \"\$(kubectl -n own get configmap pod-o2-from-mine-cfg -o json | jq -r '.metadata.resourceVersion + \" \" + .data.podName')\" = '$rv2 handmade' ]"
tap_check "the hand-made pod-o3-from-mine-cfg without a label is not overwritten" bash -c "
  [ \"\$(kubectl -n own get configmap pod-o3-from-mine-cfg -o json | jq -r '.metadata.resourceVersion + \" \" + .data.podName')\" = '$rv3 handmade-too' ]"
kubectl -n own delete configmap pod-o2-from-mine-cfg pod-o3-from-mine-cfg >/dev/null
theirs_replaced() {
  cm_field_is own pod-o2-from-mine-cfg .data.podName o2 && cm_field_is own pod-o3-from-mine-cfg .data.podName o3 &&
    [ "$(cond own mine Ready status)" = True ]
}
tap_check "once the user deletes them, pcmc writes its own (retried with backoff) and Ready turns True" wait_until 70 theirs_replaced
kubectl -n own delete pcmc mine >/dev/null
tap_check "CR deleted: pcmc deletes its ConfigMaps, and still not the user's" wait_until 15 bash -c "
  . '$here/lib.sh'; [ \"\$(kubectl -n own get configmaps -o name | sort | tr '\n' ' ')\" = 'configmap/kube-root-ca.crt configmap/users-notes ' ] ||
  [ \"\$(kubectl -n own get configmaps -o name | sort | tr '\n' ' ')\" = 'configmap/users-notes ' ]"

# ---------------------------------------------------------------- a write that keeps failing backs off
make_namespace slow
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: refuse-slow-configmaps}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}
  validations:
    - expression: "false"
      message: >-
        ConfigMaps are refused in namespace slow by policy refuse-slow-configmaps, which a cluster
        administrator set up for this test; this sentence is long on purpose, so that the whole message
        runs past the five hundred and twelve characters that the REST client keeps of an API server
        message, and the controller has to end it on a whole clause instead of the middle of a word;
        the words after this point exist only to make it long enough, and they go on and on for a while
        longer than anyone would like, until at last the message is long enough to be cut by the client
YAML
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: refuse-slow-configmaps}
spec:
  policyName: refuse-slow-configmaps
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: slow}}
YAML
wait_until 20 bash -c '! kubectl -n slow create configmap probe --dry-run=server >/dev/null 2>&1'
make_pod slow s1 app=slow
make_pod slow s2 app=bystander
errors_before=$(create_errors)
t_apply=$(date +%s.%N)
printf 'apiVersion: podconfig.example.com/v1alpha1\nkind: PodConfigMapConfig\nmetadata: {name: s, namespace: slow}\nspec: {podSelector: {matchLabels: {app: slow}}}\n' |
  kubectl apply -f - >/dev/null
tap_check "refused write: Ready False ConfigMapWriteFailed" wait_until 15 bash -c "
  . '$here/lib.sh'; $(declare -f cond); [ \"\$(cond slow s Ready reason)\" = ConfigMapWriteFailed ]"
# 40 events in 10 s that change nothing pcmc writes (an annotation no CR lists, on both pods).
t0=$(date +%s.%N)
for i in $(seq 1 20); do
  kubectl -n slow annotate pod s1 s2 unrelated="$i" --overwrite >/dev/null; sleep 0.4
done
t1=$(date +%s.%N)
attempts=$(( $(create_errors) - errors_before ))
# Attempts at 0, 1, 3, 7, 15... s after the CR was applied (1 s doubling): at most log2(T+1)+1 in T s.
allowed=$(awk -v a="$t_apply" -v b="$(date +%s.%N)" 'BEGIN { print int(log(b - a + 1) / log(2)) + 1 }')
echo "# $attempts failed creates in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s of 40 unrelated events; the backoff allows $allowed"
tap_check "40 unrelated events: the refused ConfigMap is tried only at its backoff times (at most $allowed attempts)" \
  test "$attempts" -ge 2 -a "$attempts" -le "$allowed"
whole_message() {
  local m
  m=$(cond slow s Ready message)
  echo "$m"
  [[ $m == "create ConfigMap slow/pod-s1-from-s-cfg failed: "* ]] &&
    [[ $m == *"; "*" (the rest of the API server's message was cut)" || $m == *"by the client" ]]
}
tap_check "the Ready message names the ConfigMap and ends on a whole clause, never mid-word" whole_message
kubectl delete validatingadmissionpolicybinding refuse-slow-configmaps >/dev/null
kubectl delete validatingadmissionpolicy refuse-slow-configmaps >/dev/null
tap_check "policy removed: the next attempt (within the backoff's 60 s cap) creates it, Ready True" wait_until 70 bash -c "
  . '$here/lib.sh'; $(declare -f cond); cm_field_is slow pod-s1-from-s-cfg .data.podName s1 && [ \"\$(cond slow s Ready status)\" = True ]"

# Settings under a feature that is not enabled do nothing: the CR says so (condition + Event).
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: fw-off, namespace: web}
spec:
  podSelector: {matchLabels: {app: web}}
  ebpfConfig:
    l4Firewall: {blockedPorts: [8080]}
    metricsExport: {updateInterval: 5s}
YAML
ignored_reported() {
  cond_is web fw-off SettingsIgnored True &&
    [ "$(cond web fw-off SettingsIgnored message)" = "l4Firewall.blockedPorts is set but l4Firewall.enabled is not true; metricsExport.updateInterval is set but metricsExport.enabled is not true: these settings do nothing until their feature has enabled: true" ]
}
tap_check "blockedPorts without enabled: condition SettingsIgnored True naming the field and the feature" \
  wait_until 10 ignored_reported
tap_check "blockedPorts without enabled: a Warning Event FeatureNotEnabled" wait_until 10 has_event web fw-off Warning FeatureNotEnabled
kubectl -n web patch pcmc fw-off --type=merge -p '{"spec":{"ebpfConfig":{"l4Firewall":{"enabled":true},"metricsExport":{"enabled":true}}}}' >/dev/null
tap_check "enabled: true: SettingsIgnored False, and a Normal Event says so" wait_until 10 bash -c "
  . '$here/lib.sh'; $(declare -f cond cond_is events_of has_event)
  cond_is web fw-off SettingsIgnored False && has_event web fw-off Normal NoIgnoredSettings"
tap_check "a CR with nothing ignored has SettingsIgnored False and no such Event" bash -c "
  . '$here/lib.sh'; $(declare -f cond cond_is events_of has_event)
  cond_is web all SettingsIgnored False && ! has_event web all Warning FeatureNotEnabled"

tap_check "no sanitizer report in the controller log" bash -c "! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$CTL_LOGS'/*.log"
tap_done
