#!/usr/bin/env bash
# Controller suite against the local cluster (real kube-apiserver + etcd), driven with kubectl the
# way a user would: ConfigMaps follow pods and PodConfigMapConfigs, status and Events, each
# matchExpressions operator, two controllers with one writer, SIGTERM/SIGKILL handovers, an API
# server restart, a 410 relist after compaction, and cleanup of what changed while none ran.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/tap.sh"
. "$here/lib.sh"

ctl_suite_begin kubectl jq curl etcdctl

if ctl_start a && [ "$(ctl_get a /healthz)" = ok ]; then
  tap_ok "controller a starts, syncs its caches and answers /healthz and /readyz"
else
  tap_not_ok "controller a starts, syncs its caches and answers /healthz and /readyz"; tail -n 20 "$CTL_LOGS/a.log" | sed 's/^/# /'
fi
tap_check "controller a leads (Lease holderIdentity a)" wait_until 10 is_holder a

if out=$("$CTL_REPO/build/test/controller/kube_client_check" 2>&1); then
  tap_ok "REST client: Status errors -> errno naming object and reason, conflicts, pagination, watch streams"
else
  tap_not_ok "REST client: Status errors -> errno naming object and reason, conflicts, pagination, watch streams"
  grep -v '^ok' <<<"$out" | sed 's/^/# /'
fi

# Client certificates signed by the cluster CA (group system:masters): one kubeconfig with embedded
# data, one with file paths and insecure-skip-tls-verify.
certs=$CTL_LOGS/certs; mkdir -p "$certs"
openssl req -newkey rsa:2048 -nodes -keyout "$certs/admin.key" -subj "/O=system:masters/CN=pcmc-cert-admin" \
  -out "$certs/admin.csr" 2>/dev/null
openssl x509 -req -in "$certs/admin.csr" -CA "$PCMC_CLUSTER_DIR/pki/ca.crt" -CAkey "$PCMC_CLUSTER_DIR/pki/ca.key" \
  -set_serial 4242 -days 1 -out "$certs/admin.crt" 2>/dev/null
cat > "$certs/embedded.kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: cert
clusters:
- name: local
  cluster:
    server: $PCMC_APISERVER
    certificate-authority-data: $(base64 -w0 "$PCMC_CLUSTER_DIR/pki/ca.crt")
contexts:
- name: cert
  context: {cluster: local, user: cert-admin}
users:
- name: cert-admin
  user:
    client-certificate-data: $(base64 -w0 "$certs/admin.crt")
    client-key-data: $(base64 -w0 "$certs/admin.key")
KC
cat > "$certs/files.kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: cert
clusters:
- name: local
  cluster: {server: "$PCMC_APISERVER", insecure-skip-tls-verify: true}
contexts:
- name: cert
  context: {cluster: local, user: cert-admin}
users:
- name: cert-admin
  user: {client-certificate: admin.crt, client-key: admin.key}
KC
tap_check "kubeconfig with embedded CA, client certificate and key data authenticates" \
  env KUBECONFIG="$certs/embedded.kubeconfig" "$CTL_REPO/build/test/controller/kube_client_check"
tap_check "kubeconfig with relative certificate files and insecure-skip-tls-verify authenticates" \
  env KUBECONFIG="$certs/files.kubeconfig" "$CTL_REPO/build/test/controller/kube_client_check"

# ---------------------------------------------------------------- ConfigMaps follow pods and CRs
make_namespace shop
make_pod shop web-1 app=web,tier=fe team=blue
make_pod shop web-2 app=web,tier=be
make_pod shop db-1 app=db
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  labelsToInclude: [tier]
  annotationsToInclude: [team]
  ebpfConfig:
    syscallMonitoring: {enabled: true, syscallNames: [execve, openat]}
    l4Firewall: {enabled: true, allowedPorts: [80, 443], blockedPorts: [22], defaultAction: block}
YAML
tap_check "CR created: a ConfigMap for each matching pod" wait_until 10 cms_are shop \
  "pod-web-1-from-web-cfg pod-web-2-from-web-cfg"

check_content() {
  local cm uid
  cm=$(kubectl -n shop get configmap pod-web-1-from-web-cfg -o json)
  uid=$(kubectl -n shop get pod web-1 -o jsonpath='{.metadata.uid}')
  jq -e --arg uid "$uid" '
    .data.podName == "web-1" and .data.namespace == "shop" and .data.nodeName == "node-a" and
    .data.phase == "Pending" and .data.label_tier == "fe" and .data.annotation_team == "blue" and
    (.data | has("label_app") | not) and
    .data.ebpf_syscall_monitoring_enabled == "true" and .data.ebpf_syscall_names == "execve,openat" and
    .data.ebpf_l4_firewall_enabled == "true" and .data.ebpf_allowed_ports == "80,443" and
    .data.ebpf_blocked_ports == "22" and .data.ebpf_default_action == "block" and
    .data.ebpf_metrics_export_enabled == "false" and .data.ebpf_update_interval == "30s" and
    .metadata.labels["podconfig.example.com/generated-by-pcmc"] == "web" and
    .metadata.labels["podconfig.example.com/pod-uid"] == $uid and
    (.metadata.ownerReferences | length) == 1 and
    .metadata.ownerReferences[0].kind == "Pod" and .metadata.ownerReferences[0].apiVersion == "v1" and
    .metadata.ownerReferences[0].name == "web-1" and .metadata.ownerReferences[0].uid == $uid and
    .metadata.ownerReferences[0].controller == true and
    .metadata.ownerReferences[0].blockOwnerDeletion == true' <<<"$cm" || { echo "$cm"; return 1; }
}
tap_check "ConfigMap holds pod facts, listed label/annotation, ebpf_* keys, labels and owner reference" check_content

status_is() { # status_is NS CR MATCHED READY
  local cr
  cr=$(kubectl -n "$1" get pcmc "$2" -o json)
  jq -e --argjson m "$3" --arg r "$4" '
    .status.observedGeneration == .metadata.generation and .status.matchedPods == $m and
    ([.status.conditions[] | select(.type == "Ready")][0] | .status == $r and (.reason | length) > 0 and
      (.lastTransitionTime | length) > 0)' <<<"$cr" >/dev/null
}
tap_check "status: observedGeneration, matchedPods 2, Ready True" wait_until 10 status_is shop web 2 True
ready_since=$(kubectl -n shop get pcmc web -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')

rv_before=$(cm_field shop pod-web-1-from-web-cfg .metadata.resourceVersion)
kubectl -n shop annotate pod web-1 unrelated=1 >/dev/null   # not a listed annotation
# Barrier: a later change of another pod of the same CR arrives on the same watch after the
# annotation, and its reconcile (the same CR's) writes web-2's ConfigMap; web-1's was considered then.
kubectl -n shop label pod web-2 tier=barrier --overwrite >/dev/null
tap_check "barrier: a later change of web-2 reached its ConfigMap" wait_until 10 \
  cm_field_is shop pod-web-2-from-web-cfg .data.label_tier barrier
tap_check "no write when content did not change (resourceVersion kept)" \
  cm_field_is shop pod-web-1-from-web-cfg .metadata.resourceVersion "$rv_before"

kubectl -n shop patch pod web-1 --subresource=status --type=merge -p '{"status":{"phase":"Running"}}' >/dev/null
tap_check "pod phase change reaches the ConfigMap" wait_until 10 cm_field_is shop pod-web-1-from-web-cfg .data.phase Running

kubectl -n shop label pod web-1 tier=mid --overwrite >/dev/null
tap_check "label value change reaches the ConfigMap" wait_until 10 cm_field_is shop pod-web-1-from-web-cfg .data.label_tier mid

kubectl -n shop label pod web-2 app=other --overwrite >/dev/null
tap_check "pod relabeled out of the selector: its ConfigMap is deleted" wait_until 10 cms_are shop "pod-web-1-from-web-cfg"
tap_check "status follows: matchedPods 1" wait_until 10 status_is shop web 1 True

kubectl -n shop label pod db-1 app=web --overwrite >/dev/null
tap_check "pod relabeled into the selector: ConfigMap created" wait_until 10 cms_are shop \
  "pod-db-1-from-web-cfg pod-web-1-from-web-cfg"

kubectl -n shop delete pod web-1 --grace-period=0 --force >/dev/null 2>&1
tap_check "pod deleted: its ConfigMap is deleted (no garbage collector runs)" wait_until 10 cms_are shop "pod-db-1-from-web-cfg"

kubectl -n shop patch pcmc web --type=merge -p '{"spec":{"labelsToInclude":["tier","app"]}}' >/dev/null
tap_check "CR spec change: ConfigMaps rewritten, observedGeneration follows" wait_until 10 bash -c '
  . '"$here"'/lib.sh; cm_field_is shop pod-db-1-from-web-cfg .data.label_app web &&
  [ "$(kubectl -n shop get pcmc web -o jsonpath={.status.observedGeneration})" = 2 ]'
tap_check "Ready lastTransitionTime unchanged while Ready stayed True" bash -c \
  '[ "$(kubectl -n shop get pcmc web -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].lastTransitionTime}")" = "'"$ready_since"'" ]'

kubectl -n shop delete pcmc web >/dev/null
tap_check "CR deleted: its ConfigMaps are deleted" wait_until 10 cms_are shop ""

# A selector the API server cannot turn into a selector (In without values) is refused at admission
# now (test/controller/semantics.sh has every rule); the controller's own check stays for objects
# stored before the CRD had the rule (test_selector.c).
tap_check "invalid selector (In without values): refused by the API server, naming the field" bash -c '
  out=$(printf "%s\n" "apiVersion: podconfig.example.com/v1alpha1" "kind: PodConfigMapConfig" \
    "metadata: {name: broken, namespace: shop}" "spec: {podSelector: {matchExpressions: [{key: app, operator: In}]}}" |
    kubectl apply -f - 2>&1) && exit 1
  grep -F "spec.podSelector.matchExpressions[0].values" <<<"$out" | grep -q "operator In needs at least one value"'

# A write the API server refuses (a ValidatingAdmissionPolicy denying ConfigMaps in namespace
# "refused"): Ready False, a Warning Event, retries with backoff until the policy is gone.
make_namespace refused
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: refuse-configmaps}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}
  validations:
    - {expression: "false", message: "ConfigMaps are refused in this namespace"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: refuse-configmaps}
spec:
  policyName: refuse-configmaps
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: refused}}
YAML
policy_active() { ! kubectl -n refused create configmap probe --dry-run=server >/dev/null 2>&1; }
wait_until 20 policy_active
make_pod refused q-1 app=q
printf 'apiVersion: podconfig.example.com/v1alpha1\nkind: PodConfigMapConfig\nmetadata: {name: q, namespace: refused}\nspec: {podSelector: {}}\n' |
  kubectl apply -f - >/dev/null
tap_check "refused ConfigMap create: Ready False, reason ConfigMapWriteFailed, message names the ConfigMap" wait_until 15 bash -c '
  kubectl -n refused get pcmc q -o json | jq -e "[.status.conditions[] | select(.type == \"Ready\")][0] |
    .status == \"False\" and .reason == \"ConfigMapWriteFailed\" and (.message | test(\"pod-q-1-from-q-cfg\"))"'
tap_check "refused ConfigMap create: a Warning Event on the CR" wait_until 10 bash -c '
  kubectl -n refused get events --field-selector involvedObject.name=q -o json |
    jq -e "[.items[] | select(.type == \"Warning\" and .reason == \"ConfigMapWriteFailed\")] | length > 0"'
failures_counted() {
  ctl_get a /metrics | awk '$1 == "pcmc_controller_reconcile_errors_total" && $2 > 0 { e = 1 }
    $1 ~ /operation="create",result="error"/ && $2 > 0 { c = 1 } END { exit !(e && c) }'
}
tap_check "failures counted in reconcile_errors_total and configmap_operations_total{result=error}" failures_counted
kubectl delete validatingadmissionpolicybinding refuse-configmaps >/dev/null
kubectl delete validatingadmissionpolicy refuse-configmaps >/dev/null
recovered() {
  cms_are refused pod-q-1-from-q-cfg && kubectl -n refused get pcmc q -o json |
    jq -e '[.status.conditions[] | select(.type == "Ready")][0].status == "True"' >/dev/null
}
tap_check "policy removed: the retry (with backoff) creates the ConfigMap and Ready turns True" wait_until 60 recovered

# ---------------------------------------------------------------- each matchExpressions operator
make_namespace expr
make_pod expr p-fe tier=frontend,env=dev
make_pod expr p-be tier=backend,env=prod
make_pod expr p-db tier=db
make_pod expr p-opt tier=frontend,optout=yes
for spec in \
  'in {matchExpressions: [{key: tier, operator: In, values: [frontend, backend]}]}' \
  'notin {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}' \
  'exists {matchExpressions: [{key: env, operator: Exists}]}' \
  'dne {matchExpressions: [{key: optout, operator: DoesNotExist}]}' \
  'all {}' \
  'mixed {matchLabels: {tier: frontend}, matchExpressions: [{key: optout, operator: DoesNotExist}]}'; do
  printf 'apiVersion: podconfig.example.com/v1alpha1\nkind: PodConfigMapConfig\nmetadata: {name: %s, namespace: expr}\nspec:\n  podSelector: %s\n' \
    "${spec%% *}" "${spec#* }" | kubectl apply -f - >/dev/null
done
selected_by() { # selected_by CR -> pod names, sorted
  kubectl -n expr get configmaps -l "podconfig.example.com/generated-by-pcmc=$1" -o json |
    jq -r '[.items[].data.podName] | sort | join(" ")'
}
selects() { [ "$(selected_by "$1")" = "$2" ]; }
tap_check "operator In selects tier in (frontend, backend)" wait_until 10 selects in "p-be p-fe p-opt"
tap_check "operator NotIn selects env not prod, also pods without env" wait_until 10 selects notin "p-db p-fe p-opt"
tap_check "operator Exists selects pods with an env label" wait_until 10 selects exists "p-be p-fe"
tap_check "operator DoesNotExist selects pods without optout" wait_until 10 selects dne "p-be p-db p-fe"
tap_check "empty podSelector selects every pod" wait_until 10 selects all "p-be p-db p-fe p-opt"
tap_check "matchLabels and matchExpressions together are ANDed" wait_until 10 selects mixed "p-fe"
tap_check "matchedPods of each CR counts its pods" wait_until 10 bash -c '
  kubectl -n expr get pcmc -o json | jq -e "[.items[] | {(.metadata.name): .status.matchedPods}] | add ==
    {\"in\":3,\"notin\":3,\"exists\":2,\"dne\":3,\"all\":4,\"mixed\":1}"'

# ---------------------------------------------------------------- two controllers, one writer
ctl_start b || true
make_namespace duo
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: duo, namespace: duo}
spec: {podSelector: {matchLabels: {app: duo}}}
YAML
make_pod duo d-1 app=duo
b_is_warm_standby() {
  ctl_ready b && [ "$(ctl_metric b pcmc_controller_leader)" = 0 ] && [ "$(ctl_metric a pcmc_controller_leader)" = 1 ]
}
tap_check "standby b is ready (caches warm) but not leader" b_is_warm_standby
tap_check "the leader writes the ConfigMap" wait_until 10 cms_are duo "pod-d-1-from-duo-cfg"
b_made_no_writes() {
  [ "$(ctl_get b /metrics | awk '/^pcmc_controller_configmap_operations_total/ { s += $2 } END { print s + 0 }')" = 0 ]
}
tap_check "only the leader writes: standby b made no ConfigMap operation" b_made_no_writes
tap_check "standby b made no status write or reconcile" bash -c '! grep -q "\"msg\":\"reconciled\"" '"$CTL_LOGS"'/b.log'

# SIGTERM: a releases the Lease on the way out, b takes over within 3 s.
t0=$(date +%s.%N)
ctl_stop a TERM
if wait_until 5 is_holder b; then
  dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  if awk -v d="$dt" 'BEGIN { exit !(d < 3) }'; then tap_ok "SIGTERM handover: b leads ${dt}s after a got SIGTERM (< 3 s)"
  else tap_not_ok "SIGTERM handover took ${dt}s (want < 3 s)"; fi
else
  tap_not_ok "SIGTERM handover: b did not take the Lease within 5 s (holder: $(lease_holder))"
fi
tap_check "a exited cleanly after releasing the Lease" grep -q '"msg":"lease released"' "$CTL_LOGS/a.log"
make_pod duo d-2 app=duo
tap_check "new leader b writes" wait_until 10 cms_are duo "pod-d-1-from-duo-cfg pod-d-2-from-duo-cfg"

# SIGKILL: nothing is released; a takes over once b's lease expired (15 s) + retry period (2 s) + 1 s.
ctl_start a || true
# a is a standby that has seen b's Lease (so its expiry clock runs from b's last renew).
tap_check "a is a standby watching b's Lease" wait_until 10 grep -q '"msg":"lease held by another candidate"' "$CTL_LOGS/a.log"
t0=$(date +%s.%N)
ctl_stop b KILL
if wait_until 25 is_holder a; then
  dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  if awk -v d="$dt" 'BEGIN { exit !(d <= 18) }'; then tap_ok "SIGKILL takeover: a leads ${dt}s after b was killed (<= 15 + 2 + 1 s)"
  else tap_not_ok "SIGKILL takeover took ${dt}s (want <= 18 s)"; fi
else
  tap_not_ok "SIGKILL takeover: a did not take the Lease within 25 s (holder: $(lease_holder))"
fi
make_pod duo d-3 app=duo
tap_check "after takeover a writes" wait_until 10 cms_are duo \
  "pod-d-1-from-duo-cfg pod-d-2-from-duo-cfg pod-d-3-from-duo-cfg"
tap_check "leaseTransitions counted (>= 2) and exported by the leader" bash -c '
  . '"$here"'/lib.sh; n=$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath={.spec.leaseTransitions});
  [ "$n" -ge 2 ] && [ "$(ctl_metric a pcmc_controller_lease_transitions)" = "$n" ]'

api_connections() { # established TCP connections of controller $1 to the API server
  ss -Htnp state established "( dport = :$PCMC_APISERVER_PORT )" | grep -c "pid=${CTL_PID[$1]},"
}
for i in $(seq 1 20); do make_pod duo many-$i app=duo; done
tap_check "20 more pods -> 23 ConfigMaps" wait_until 20 bash -c '
  . '"$here"'/lib.sh; [ "$(cm_names duo | wc -w)" = 23 ]'
n=$(api_connections a)
if [ "$n" -ge 3 ] && [ "$n" -le 10 ]; then tap_ok "connections are reused: $n TCP connections to the API server after 20+ writes"
else tap_not_ok "connections are reused: $n TCP connections to the API server (want 3..10)"; fi

# Renew deadline: with the API server frozen no renew succeeds; after 10 s the leader stops writing.
apiserver_pid=$(cat "$PCMC_CLUSTER_DIR/pids/kube-apiserver.pid")
kill -STOP "$apiserver_pid"
wait_until 30 grep -q '"reason":"RenewDeadline"' "$CTL_LOGS/a.log"
lost_leader_flag=$(ctl_metric a pcmc_controller_leader)
kill -CONT "$apiserver_pid"
if [ "$lost_leader_flag" = 0 ] && grep -q '"reason":"RenewDeadline"' "$CTL_LOGS/a.log"; then
  tap_ok "renew deadline: with the API server frozen a stopped leading (leader 0, no renew within the deadline)"
else
  tap_not_ok "renew deadline: leader gauge $lost_leader_flag, no 'renew deadline' loss logged within 30 s"
fi
tap_check "after the API server thaws a leads again" wait_until 20 bash -c '
  . '"$here"'/lib.sh; is_holder a && [ "$(ctl_metric a pcmc_controller_leader)" = 1 ]'
make_pod duo after-thaw app=duo
tap_check "and writes again" wait_until 10 bash -c '
  . '"$here"'/lib.sh; [ "$(cm_names duo | wc -w)" = 24 ]'

# ---------------------------------------------------------------- API server restart
make_namespace restart
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: r, namespace: restart}
spec: {podSelector: {matchLabels: {app: r}}}
YAML
make_pod restart r-1 app=r
make_pod restart r-2 app=r
tap_check "before the restart: ConfigMaps for r-1 and r-2" wait_until 10 cms_are restart \
  "pod-r-1-from-r-cfg pod-r-2-from-r-cfg"
if apiserver_restart; then tap_ok "kube-apiserver restarted"; else tap_not_ok "kube-apiserver restarted"; fi
# Changes right after the restart, while the controller may still be reconnecting.
kubectl -n restart delete pod r-1 --grace-period=0 --force >/dev/null 2>&1
kubectl -n restart label pod r-2 app=gone --overwrite >/dev/null
make_pod restart r-3 app=r
tap_check "after the restart nothing is missed: only r-3 has a ConfigMap" wait_until 20 cms_are restart "pod-r-3-from-r-cfg"
tap_check "the controller resumed its watches after the dropped connections" bash -c '
  grep -Eq "\"msg\":\"(watch dropped, resuming|watch expired, relisting)\"" '"$CTL_LOGS"'/a.log'

# ---------------------------------------------------------------- 410 Gone after compaction
make_namespace compact
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: c, namespace: compact}
spec: {podSelector: {matchLabels: {app: c}}}
YAML
make_pod compact c-1 app=c
tap_check "before compaction: ConfigMap for c-1" wait_until 10 cms_are compact "pod-c-1-from-c-cfg"
relists_before=$(grep -c '"msg":"watch expired, relisting"' "$CTL_LOGS/a.log")
kill -STOP "${CTL_PID[a]}"
kubectl -n compact delete pod c-1 --grace-period=0 --force >/dev/null 2>&1
make_pod compact c-2 app=c
kubectl -n compact create configmap bump >/dev/null; kubectl -n compact delete configmap bump >/dev/null
"$here/../cluster/compact" >/dev/null
apiserver_restart >/dev/null
kill -CONT "${CTL_PID[a]}"
tap_check "watch from a compacted resourceVersion is relisted (410 Gone -> list)" wait_until 20 bash -c '
  [ "$(grep -c "\"msg\":\"watch expired, relisting\"" '"$CTL_LOGS"'/a.log)" -gt '"$relists_before"' ]'
tap_check "after the relist the ConfigMaps are right (c-1 gone, c-2 present)" wait_until 20 cms_are compact "pod-c-2-from-c-cfg"

# ---------------------------------------------------------------- changes while no controller ran
make_namespace offline
make_pod offline o-1 app=o
make_pod offline o-2 app=o
make_pod offline o-3 app=o
for cr in gone stay; do
  printf 'apiVersion: podconfig.example.com/v1alpha1\nkind: PodConfigMapConfig\nmetadata: {name: %s, namespace: offline}\nspec: {podSelector: {matchLabels: {app: o}}}\n' "$cr" |
    kubectl apply -f - >/dev/null
done
tap_check "before stopping: six ConfigMaps (3 pods x 2 CRs)" wait_until 10 bash -c '
  . '"$here"'/lib.sh; [ "$(cm_names offline | wc -w)" = 6 ]'
ctl_stop_all
kubectl -n offline delete pcmc gone >/dev/null
kubectl -n offline delete pod o-2 --grace-period=0 --force >/dev/null 2>&1
kubectl -n offline label pod o-3 app=x --overwrite >/dev/null
tap_check "with no controller running the stale ConfigMaps are still there" bash -c '
  . '"$here"'/lib.sh; [ "$(cm_names offline | wc -w)" = 6 ]'
ctl_start a || true
tap_check "on start: ConfigMaps of the deleted CR, deleted pod and relabeled pod are removed" \
  wait_until 15 cms_are offline "pod-o-1-from-stay-cfg"

# ---------------------------------------------------------------- names at the length limits
make_namespace long
long_pod=$(printf 'p%.0s' $(seq 1 200)); long_cr=$(printf 'c%.0s' $(seq 1 200))
make_pod long "$long_pod" app=long 2>/dev/null
printf 'apiVersion: podconfig.example.com/v1alpha1\nkind: PodConfigMapConfig\nmetadata: {name: %s, namespace: long}\nspec: {podSelector: {}}\n' \
  "$long_cr" | kubectl apply -f - >/dev/null
long_ok() {
  local cm
  cm=$(kubectl -n long get configmaps -l podconfig.example.com/generated-by-pcmc -o json) || return 1
  jq -e --arg cr "$long_cr" --arg pod "$long_pod" '(.items | length) == 1 and (.items[0] |
    (.metadata.name | length) <= 253 and (.metadata.name | startswith("pod-pppp")) and
    (.metadata.labels["podconfig.example.com/generated-by-pcmc"] | length) <= 63 and
    .metadata.annotations["podconfig.example.com/pcmc-name"] == $cr and .data.podName == $pod)' <<<"$cm" >/dev/null
}
tap_check "200-character pod and CR names: shortened ConfigMap name (<= 253) the API server accepts" wait_until 10 long_ok
kubectl -n long delete pcmc "$long_cr" >/dev/null
tap_check "and the CR named only by the annotation is cleaned up on delete" wait_until 10 cms_are long ""

# ---------------------------------------------------------------- in cluster, as the ServiceAccount
# The controller in its own mount namespace with a service-account directory at the in-cluster path,
# KUBERNETES_SERVICE_HOST/PORT and no kubeconfig, holding only the RBAC of config/rbac/controller.yaml.
ctl_stop_all
kubectl apply -f "$CTL_REPO/config/rbac/controller.yaml" >/dev/null
sa=$CTL_LOGS/serviceaccount; mkdir -p "$sa"
cp "$PCMC_CLUSTER_DIR/pki/ca.crt" "$sa/ca.crt"; echo -n pcmc-system > "$sa/namespace"; echo -n not-a-token > "$sa/token"
env -u KUBECONFIG HOME=/nonexistent KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$PCMC_APISERVER_PORT" \
  unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run &&
    mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
    mount --bind "$0" /run/secrets/kubernetes.io/serviceaccount && exec "$@"' "$sa" \
  "$CTL_BIN" --metrics-addr 127.0.0.1:0 --identity pod-sa > "$CTL_LOGS/pod-sa.log" 2>&1 &
CTL_PID[pod-sa]=$!
disown "$!"
# Barrier: the list was answered (401) before readiness is judged.
wait_until 15 grep -q '"reason":"Unauthorized"' "$CTL_LOGS/pod-sa.log"
tap_check "in-cluster with a bad token: not ready, the list is refused (401)" bash -c '
  . '"$here"'/lib.sh; [ "$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:$(ctl_port pod-sa)/readyz)" = 503 ] &&
  grep -q "\"reason\":\"Unauthorized\"" '"$CTL_LOGS"'/pod-sa.log'
kubectl -n pcmc-system create token pcmc-controller > "$sa/token.new" && mv "$sa/token.new" "$sa/token"
tap_check "token rotated in place: re-read, caches sync, the ServiceAccount leads" wait_until 20 bash -c '
  . '"$here"'/lib.sh; [ "$(ctl_get pod-sa /readyz)" = ok ] && is_holder pod-sa'
make_namespace incluster
printf 'apiVersion: podconfig.example.com/v1alpha1\nkind: PodConfigMapConfig\nmetadata: {name: sa, namespace: incluster}\nspec: {podSelector: {}}\n' |
  kubectl apply -f - >/dev/null
make_pod incluster i-1 app=i
tap_check "the RBAC in config/rbac/controller.yaml is enough: ConfigMap and status written" wait_until 15 bash -c '
  . '"$here"'/lib.sh; cms_are incluster pod-i-1-from-sa-cfg &&
  [ "$(kubectl -n incluster get pcmc sa -o jsonpath={.status.matchedPods})" = 1 ]'
ctl_stop pod-sa
ctl_start a || true

# ---------------------------------------------------------------- observability
tap_check "/metrics exposes the controller metrics" bash -c '
  . '"$here"'/lib.sh; m=$(ctl_get a /metrics); for s in pcmc_controller_configmap_operations_total \
    pcmc_controller_reconcile_duration_seconds_bucket pcmc_controller_reconcile_errors_total \
    pcmc_controller_queue_depth pcmc_controller_active_configmaps pcmc_controller_leader \
    pcmc_controller_lease_transitions; do grep -q "^$s" <<<"$m" || { echo "missing $s"; exit 1; }; done'
tap_check "active ConfigMaps gauge equals the generated ConfigMaps in the cluster" wait_until 10 bash -c '
  . '"$here"'/lib.sh; [ "$(ctl_metric a pcmc_controller_active_configmaps)" = \
    "$(kubectl get cm -A -l podconfig.example.com/generated-by-pcmc -o name | wc -l)" ]'
tap_check "logs: one JSON object per line; each reconcile line has namespace, pcmc, action, result, duration_ms" bash -c '
  cat '"$CTL_LOGS"'/*.log | jq -e -s "length > 0" >/dev/null &&
  cat '"$CTL_LOGS"'/*.log | jq -e -s "[.[] | select(.msg == \"reconciled\")] | length > 0 and
    all(.namespace and .pcmc and .action and .result and (.duration_ms != null))" >/dev/null'
ctl_stop_all
tap_check "no sanitizer reports in controller logs" bash -c '! grep -l "Sanitizer" '"$CTL_LOGS"'/*.log'
cluster_stop
tap_done
