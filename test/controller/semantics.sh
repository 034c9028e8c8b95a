#!/usr/bin/env bash
# What a PodConfigMapConfig means, checked with real kubectl against a real API server and controller:
# the API server refuses what can be checked at admission, naming the field and the item; kubectl
# explain describes every field; -o wide shows why; settings of a disabled feature are reported;
# Events for the transitions a user cares about.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/tap.sh"
. "$here/lib.sh"

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
if ctl_start a; then tap_ok "controller a starts"; else tap_not_ok "controller a starts"; fi
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
