#!/usr/bin/env bash
# Cluster suite: the local cluster from real parts comes up, serves the CRD with its validation, runs
# pods on a simulated node, offers 410 Gone after compaction, and `down` leaves nothing running.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/tap.sh"
# Own state dir and ports, so a developer's cluster on the default ports is left alone.
export PCMC_CLUSTER_DIR=${PCMC_TEST_CLUSTER_DIR:-/tmp/pcmc-cluster-test}
export PCMC_APISERVER_PORT=${PCMC_TEST_APISERVER_PORT:-26443}
export PCMC_ETCD_CLIENT_PORT=${PCMC_TEST_ETCD_CLIENT_PORT:-22379}
export PCMC_ETCD_PEER_PORT=${PCMC_TEST_ETCD_PEER_PORT:-22380}
export PCMC_NODESIM_INDEX_BASE=${PCMC_TEST_NODESIM_INDEX_BASE:-20}
K=$PCMC_NODESIM_INDEX_BASE V4NET=10.244.$((100 + K)) V6NET=fd00:10:244:$(printf %x $((100 + K)))
unset PCMC_WATCH_CACHE PCMC_APISERVER_ARGS
# Several people may run `make test` at once on this machine: one run of this suite at a time.
exec 8>"$PCMC_CLUSTER_DIR.lock"
flock -w 900 8 || { echo "not ok 1 - another run of the cluster suite held $PCMC_CLUSTER_DIR.lock for 15 min"; exit 1; }
cleanup() { [ -d "$PCMC_CLUSTER_DIR" ] && "$here/down" >/dev/null 2>&1; }
trap cleanup EXIT
trap 'exit 130' INT TERM

missing=()
for t in kubectl etcdctl jq openssl curl go nc ip; do command -v "$t" >/dev/null || missing+=("$t"); done
[ -x /usr/local/go/bin/go ] && missing=("${missing[@]/go}")
missing=($(printf '%s\n' "${missing[@]+"${missing[@]}"}" | grep .))
if [ ${#missing[@]} -eq 0 ]; then tap_ok "tools present (kubectl etcdctl jq openssl curl go nc ip)"
else tap_not_ok "tools present: MISSING ${missing[*]} (run bash test/setup.sh)"; fi

cleanup
t0=$(date +%s)
if env_out=$("$here/up" 2>"$PCMC_CLUSTER_DIR.up.log"); then
  eval "$env_out"
  tap_ok "up: cluster started in $(( $(date +%s) - t0 ))s (state $PCMC_CLUSTER_DIR)"
else
  tap_not_ok "up: cluster did not start"; sed 's/^/# /' "$PCMC_CLUSTER_DIR.up.log" | tail -n 40
  rm -f "$PCMC_CLUSTER_DIR.up.log"; tap_done; exit 1
fi
rm -f "$PCMC_CLUSTER_DIR.up.log"
kc() { kubectl "$@"; }

tap_check "/readyz answers ok" bash -c '[ "$(kubectl get --raw /readyz)" = ok ]'
tap_check "/version reports ${PCMC_K8S_VERSION:-v1.36.3}" bash -c \
  'kubectl get --raw /version | jq -e --arg v "${PCMC_K8S_VERSION:-v1.36.3}" ".gitVersion == \$v"'
loopback_only() {
  local n p socks
  for n in etcd kube-apiserver kube-controller-manager; do
    p=$(cat "$PCMC_CLUSTER_DIR/pids/$n.pid") || return 1
    socks=$(ss -Htlnup | grep "pid=$p," | awk '{print $5}')
    echo "$n listens on: $socks"
    ! grep -v '^127\.0\.0\.1:' <<<"$socks" | grep -q . || return 1
  done
  grep -q "127.0.0.1:$PCMC_APISERVER_PORT" <<<"$(ss -Htln)"
}
tap_check "etcd, kube-apiserver, kube-controller-manager listen on 127.0.0.1 only" loopback_only
tap_check "namespace pcmc-system with service accounts pcmc-controller and pcmc-agent" \
  kc -n pcmc-system get serviceaccount pcmc-controller pcmc-agent

# TokenReview of a service account token, and RBAC denying what no role grants.
tokenreview() {
  local tok; tok=$(kc -n pcmc-system create token pcmc-agent) || return 1
  kc create -o json -f - <<JSON | jq -e '.status.authenticated == true and .status.user.username == "system:serviceaccount:pcmc-system:pcmc-agent"'
{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"$tok"}}
JSON
}
tap_check "TokenReview authenticates a 'kubectl create token' service-account token" tokenreview
rbac_denies() {
  local tok; tok=$(kc -n pcmc-system create token pcmc-agent) || return 1
  out=$(kubectl --token "$tok" --kubeconfig /dev/null --server "$PCMC_APISERVER" \
    --certificate-authority "$PCMC_CLUSTER_DIR/pki/ca.crt" get pods -A 2>&1) && return 1
  echo "$out" | grep -q Forbidden
}
tap_check "RBAC: a service account without a role is Forbidden to list pods" rbac_denies

tap_check "CRD podconfigmapconfigs.podconfig.example.com is Established (shortName pcmc)" bash -c \
  'kubectl get crd podconfigmapconfigs.podconfig.example.com -o json |
   jq -e ".status.conditions[] | select(.type==\"Established\") | .status==\"True\"" >/dev/null &&
   kubectl api-resources --api-group podconfig.example.com | grep -qw pcmc'
for f in "$repo"/crds/examples/*.yaml; do
  tap_check "example $(basename "$f") is accepted" kc apply -f "$f"
done
tap_check "printer columns Matched, Attached, Ready, Age" bash -c \
  'kubectl get pcmc | head -1 | grep -qE "NAME +MATCHED +ATTACHED +READY +AGE"'

minimal() { # minimal NAME EBPF_YAML: a CR with {} selector and the given ebpfConfig
  cat <<Y
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: $1, namespace: default}
spec:
  podSelector: {}
  ebpfConfig: $2
Y
}
defaults() {
  minimal defaults '{}' | kc apply -f - >/dev/null || return 1
  kc get pcmc defaults -o json | jq -e '.spec.ebpfConfig |
    .l4Firewall.defaultAction == "allow" and .l4Firewall.enabled == false and
    .metricsExport.updateInterval == "30s" and .metricsExport.enabled == false and
    .syscallMonitoring.enabled == false'
}
tap_check "defaults: defaultAction allow, updateInterval 30s, enabled false" defaults

# rejected NAME EBPF_YAML FIELD MESSAGE: the API server refuses it, naming FIELD, saying MESSAGE.
rejected() {
  local out
  if out=$(minimal bad "$2" | kc apply --dry-run=server -f - 2>&1); then
    tap_not_ok "rejected: $1 (was accepted)"; return
  fi
  if grep -qF -- "$3" <<<"$out" && grep -qF -- "$4" <<<"$out"; then tap_ok "rejected: $1 ($3)"
  else tap_not_ok "rejected: $1: want '$3' and '$4'"; sed 's/^/# /' <<<"$out"; fi
}
L4=spec.ebpfConfig.l4Firewall ME=spec.ebpfConfig.metricsExport.updateInterval
SM=spec.ebpfConfig.syscallMonitoring.syscallNames
rejected "port 0" '{l4Firewall: {allowedPorts: [0]}}' "$L4.allowedPorts[0]" "greater than or equal to 1"
rejected "port 70000" '{l4Firewall: {blockedPorts: [70000]}}' "$L4.blockedPorts[0]" "less than or equal to 65535"
rejected "defaultAction deny" '{l4Firewall: {defaultAction: deny}}' "$L4.defaultAction" 'Unsupported value: "deny"'
rejected 'updateInterval "500ms"' '{metricsExport: {updateInterval: 500ms}}' "$ME" "between 1s and 1h"
rejected 'updateInterval "2h"' '{metricsExport: {updateInterval: 2h}}' "$ME" "between 1s and 1h"
rejected 'updateInterval "abc"' '{metricsExport: {updateInterval: abc}}' "$ME" "should match"
rejected "syscall name Read" '{syscallMonitoring: {syscallNames: [Read]}}' "$SM[0]" "should match '^[a-z_][a-z0-9_]*\$'"
rejected "syscall name too long" "{syscallMonitoring: {syscallNames: [$(printf 'a%.0s' {1..33})]}}" "$SM[0]" "may not be more than 32"
rejected "65 syscall names" "{syscallMonitoring: {syscallNames: [$(seq -s, -f 's%g' 65)]}}" "$SM" "must have at most 64 items"
rejected "port both allowed and blocked (CEL)" '{l4Firewall: {allowedPorts: [80, 443], blockedPorts: [443]}}' \
  "$L4.blockedPorts" "a port cannot be listed in both allowedPorts and blockedPorts"
tap_check 'accepted: updateInterval "1s" and "1h", ports 1 and 65535' bash -c "
  for v in 1s 1h 60m; do
    printf '%s\n' 'apiVersion: podconfig.example.com/v1alpha1' 'kind: PodConfigMapConfig' \
      'metadata: {name: edge, namespace: default}' 'spec:' '  podSelector: {}' \
      \"  ebpfConfig: {metricsExport: {updateInterval: \$v}, l4Firewall: {allowedPorts: [1], blockedPorts: [65535]}}\" |
      kubectl apply --dry-run=server -f - >/dev/null || exit 1
  done"

status_subresource() {
  local gen
  gen=$(kc get pcmc web-firewall -o jsonpath='{.metadata.generation}')
  kc patch pcmc web-firewall --subresource=status --type=merge -p \
    '{"status":{"observedGeneration":1,"matchedPods":2,"attachedPods":1,"conditions":[{"type":"Ready","status":"True","reason":"Attached","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}],"nodes":[{"name":"n1","attachedPods":1,"failedPods":1,"failures":[{"pod":"default/x","reason":"no netns"}]}]}}' >/dev/null || return 1
  kc get pcmc web-firewall -o json | jq -e --argjson g "$gen" '.status.matchedPods == 2 and .metadata.generation == $g and .status.nodes[0].failures[0].reason == "no netns"' || return 1
  kc get pcmc web-firewall | grep -E 'web-firewall +2 +1 +True' || return 1
  # status written through the main resource is ignored
  kc patch pcmc web-firewall --type=merge -p '{"status":{"matchedPods":7}}' >/dev/null
  kc get pcmc web-firewall -o json | jq -e '.status.matchedPods == 2'
}
tap_check "status subresource: status patch keeps generation, shows in columns; main resource ignores status" status_subresource
conflict() {
  local obj out
  obj=$(kc get pcmc web-firewall -o json) || return 1
  kc label pcmc web-firewall bump=1 --overwrite >/dev/null || return 1
  out=$(echo "$obj" | kc replace -f - 2>&1) && return 1
  echo "$out" | grep -q 'the object has been modified'
}
tap_check "409 Conflict on an update with a stale resourceVersion" conflict
gone_from_cache() {
  timeout 5 kubectl get --raw "/apis/podconfig.example.com/v1alpha1/namespaces/default/podconfigmapconfigs?watch=1&resourceVersion=1" |
    head -1 | jq -e '.type == "ERROR" and .object.code == 410'
}
tap_check "410 Gone: watch from a resourceVersion older than the watch cache" gone_from_cache

# Node simulator: pods bound to a simulated node run as test pods and report status like kubelet's.
node_registered() {
  "$here/nodesim" start sim-a || return 1
  kc get node sim-a -o json | jq -e --arg ip "127.0.100.$((K + 1))" \
    '(.status.conditions[] | select(.type == "Ready") | .status == "True") and .status.addresses[0].address == $ip'
}
tap_check "nodesim start: Node sim-a registers Ready with InternalIP 127.0.100.$((K + 1))" node_registered
podspec() { # podspec NAME QOS_RESOURCES
  cat <<Y
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default, labels: {app: web}}
spec:
  nodeName: sim-a
  containers:
  - name: web
    image: example.invalid/web:1
    ports: [{containerPort: 8080}, {containerPort: 9090}, {containerPort: 5353, protocol: UDP}]
    resources: $2
  - name: sidecar
    image: example.invalid/sidecar:1
    resources: $2
Y
}
wait_running() { # wait_running NAME: phase Running with a pod IP within 20s
  local i
  for ((i = 0; i < 100; i++)); do
    kc get pod "$1" -o json 2>/dev/null | jq -e '.status.phase == "Running" and (.status.podIP // "") != ""' >/dev/null && return 0
    sleep 0.2
  done
  kc get pod "$1" -o yaml; tail -n 20 "$PCMC_CLUSTER_DIR/logs/nodesim-sim-a.log"; return 1
}
tp_state() { # the pcmc-testpod state of pod NAME (via its UID)
  local uid; uid=$(kc get pod "$1" -o jsonpath='{.metadata.uid}') || return 1
  cat "$PCMC_CLUSTER_DIR"/nodesim/sim-a/testpod/*.json | jq -s --arg u "$uid" '.[] | select(.uid == $u)'
}
kc apply -f - >/dev/null <<<"$(podspec guar '{limits: {cpu: 100m, memory: 64Mi}}')"
kc apply -f - >/dev/null <<<"$(podspec burst '{requests: {cpu: 50m}}')"
kc apply -f - >/dev/null <<<"$(podspec besteff '{}')"
all_running() { local p; for p in guar burst besteff; do wait_running "$p" || return 1; done; }
tap_check "pods bound to sim-a (guaranteed, burstable, besteffort) reach Running with a pod IP" all_running
pod_status_like_kubelet() {
  kc get pod guar -o json | jq -e --arg v4 "$V4NET." --arg v6 "$V6NET::" --arg host "127.0.100.$((K + 1))" '
    .status.phase == "Running" and (.status.podIP | startswith($v4)) and
    (.status.podIPs[1].ip | startswith($v6)) and .status.hostIP == $host and
    (.status.startTime != null) and
    ([.status.conditions[] | select((.type == "Ready" or .type == "ContainersReady") and .status == "True")] | length == 2) and
    ([.status.containerStatuses[] | select(.ready and (.containerID | test("^containerd://[0-9a-f]{64}$")))] | length == 2)'
}
tap_check "pod status like kubelet's: podIP(s) in the node range, hostIP, Ready/ContainersReady, containerd:// IDs" pod_status_like_kubelet
distinct_ips() {
  local ips; ips=$(kc get pods guar burst besteff -o jsonpath='{.items[*].status.podIP}')
  echo "$ips"; [ "$(tr ' ' '\n' <<<"$ips" | sort -u | grep -c .)" = 3 ]
}
tap_check "three running pods have three different addresses" distinct_ips
qos_layout() {
  local p want uid dir
  for p in guar:kubepods/pod burst:kubepods/burstable/pod besteff:kubepods/besteffort/pod; do
    uid=$(kc get pod "${p%%:*}" -o jsonpath='{.metadata.uid}')
    dir=$(tp_state "${p%%:*}" | jq -r .podCgroup)
    want="/${p#*:}$uid"
    [[ $dir == *"$want" ]] && [ -d "$dir" ] || { echo "${p%%:*}: cgroup $dir, want ...$want"; return 1; }
  done
}
tap_check "pod cgroups in kubelet's cgroupfs layout by QoS (guaranteed, burstable, besteffort)" qos_layout
ports_answer() {
  local v4 v6
  v4=$(kc get pod guar -o jsonpath='{.status.podIPs[0].ip}'); v6=$(kc get pod guar -o jsonpath='{.status.podIPs[1].ip}')
  nc -z -w2 "$v4" 8080 && nc -z -w2 "$v4" 9090 && nc -z -w2 "$v6" 8080 && nc -zu -w2 "$v4" 5353 || return 1
  ! nc -z -w1 "$v4" 8081   # a port the pod does not declare is closed
}
tap_check "the pod's containerPorts answer from the host (TCP v4+v6, UDP), others are closed" ports_answer
deleted_leaves_nothing() {
  local st uid netns veth cg pids=() p i
  st=$(tp_state guar) || return 1
  uid=$(jq -r .uid <<<"$st"); netns=$(jq -r .netns <<<"$st"); veth=$(jq -r .hostVeth <<<"$st"); cg=$(jq -r .podCgroup <<<"$st")
  mapfile -t pids < <(jq -r '.sandbox.pid, .containers[].pid' <<<"$st")
  [ -e "$netns" ] && [ -d "$cg" ] || { echo "pod not set up: $netns $cg"; return 1; }
  kc delete pod guar --wait=false >/dev/null || return 1
  for ((i = 0; i < 100; i++)); do kc get pod guar >/dev/null 2>&1 || break; sleep 0.2; done
  kc get pod guar >/dev/null 2>&1 && { echo "pod still in the API"; return 1; }
  [ ! -e "$netns" ] || { echo "netns $netns left"; return 1; }
  ! ip link show "$veth" >/dev/null 2>&1 || { echo "veth $veth left"; return 1; }
  [ ! -d "$cg" ] || { echo "cgroup $cg left"; return 1; }
  ! find /sys/fs/cgroup -name "*$uid*" 2>/dev/null | grep . || { echo "cgroup with uid left"; return 1; }
  for p in "${pids[@]}"; do
    for ((i = 0; i < 20; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$p" 2>/dev/null || { echo "process $p left:"; ps -o pid,ppid,stat,args -p "$p"; cat /proc/$p/cgroup; return 1; }
  done
  ! find /sys/fs/bpf -name "*$uid*" 2>/dev/null | grep . || { echo "bpffs pin left"; return 1; }
}
tap_check "deleting a pod: finished with grace 0 by the node; no netns, veth, cgroup, process or pin left" deleted_leaves_nothing
stop_tears_down() {
  local netns; netns=$(tp_state burst | jq -r .netns)
  [ -e "$netns" ] || return 1
  "$here/nodesim" stop sim-a || return 1
  [ ! -e "$netns" ] || { echo "netns $netns left after nodesim stop"; return 1; }
  [ ! -f "$PCMC_CLUSTER_DIR/pids/nodesim-sim-a.pid" ]
}
tap_check "nodesim stop: tears down the node's pods and stops its process" stop_tears_down
burst_running_again() {
  kubectl get pod burst -o json | jq -e '.status.phase == "Running"' >/dev/null &&
    ip netns list | grep -q "pcmc-p$(kubectl get pod burst -o jsonpath='{.metadata.uid}' | tr -d - | cut -c1-19)"
}
"$here/nodesim" start sim-a >/dev/null 2>&1
tap_check "nodesim restart picks up bound pods again (Running, its netns back)" wait_until 60 burst_running_again

pod_failure_reported() {
  local ports i
  ports=$(for ((i = 1; i <= 17; i++)); do printf '{containerPort: %d},' $((7000 + i)); done)
  kc apply -f - >/dev/null <<Y || return 1
apiVersion: v1
kind: Pod
metadata: {name: too-many-ports, namespace: default}
spec:
  nodeName: sim-a
  containers: [{name: c, image: example.invalid/c:1, ports: [${ports%,}]}]
Y
  for ((i = 0; i < 50; i++)); do
    kc get pod too-many-ports -o json | jq -e '.status.phase == "Pending" and
      .status.containerStatuses[0].state.waiting.reason == "CreateContainerError"' >/dev/null && break
    sleep 0.2
  done
  kc get pod too-many-ports -o json | jq -e '.status.containerStatuses[0].state.waiting.message | length > 0' || return 1
  kc delete pod too-many-ports --timeout=20s >/dev/null
}
tap_check "a pod the node cannot make stays Pending with CreateContainerError, and can be deleted" pod_failure_reported

# kube-controller-manager: owner-reference garbage collection and namespace deletion.
gc_owner() {
  local uid i
  uid=$(kc get pod burst -o jsonpath='{.metadata.uid}') || return 1
  kc apply -f - >/dev/null <<Y || return 1
apiVersion: v1
kind: ConfigMap
metadata:
  name: owned-by-burst
  namespace: default
  ownerReferences: [{apiVersion: v1, kind: Pod, name: burst, uid: "$uid"}]
data: {a: b}
Y
  kc delete pod burst --wait=false >/dev/null || return 1
  for ((i = 0; i < 150; i++)); do kc get configmap owned-by-burst >/dev/null 2>&1 || return 0; sleep 0.2; done
  echo "configmap owned by the deleted pod still there after 30s"; return 1
}
tap_check "garbage collection: a ConfigMap owned by a pod goes when the pod is deleted" gc_owner
ns_deletion() {
  kc create namespace gone-soon >/dev/null || return 1
  sed 's/namespace: default/namespace: gone-soon/' "$repo/crds/examples/web-firewall.yaml" | kc apply -f - >/dev/null || return 1
  kc delete namespace gone-soon --timeout=60s >/dev/null
}
tap_check "namespace deletion completes (with a PodConfigMapConfig inside)" ns_deletion

# down_stops_all LABEL: every PID `up` recorded is gone after `down`, and so is the state dir.
down_stops_all() {
  local pids=() f p alive=()
  for f in "$PCMC_CLUSTER_DIR"/pids/*.pid; do [ -f "$f" ] && pids+=("$(cat "$f")"); done
  [ ${#pids[@]} -ge 3 ] || { echo "only ${#pids[@]} recorded pids"; return 1; }
  "$here/down" || return 1
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
  [ ${#alive[@]} -eq 0 ] || { echo "still running: ${alive[*]}"; ps -o pid,args -p "${alive[*]}"; return 1; }
  [ ! -e "$PCMC_CLUSTER_DIR" ] || { echo "$PCMC_CLUSTER_DIR still exists"; return 1; }
}
tap_check "down stops every process up started (etcd, kube-apiserver, kube-controller-manager, node simulators) and removes the state dir" down_stops_all

# Compaction: with the watch cache off, watches go to etcd; `compact` drops old revisions -> 410.
gone_after_compaction() {
  local env_out rv out
  env_out=$(PCMC_WATCH_CACHE=0 "$here/up" 2>&1 >/dev/null) || { echo "$env_out"; return 1; }
  kc apply -f "$repo/crds/examples/web-firewall.yaml" >/dev/null || return 1
  rv=$(kc get pcmc web-firewall -o jsonpath='{.metadata.resourceVersion}')
  kc label pcmc web-firewall step=1 >/dev/null && kc label pcmc web-firewall step=2 --overwrite >/dev/null || return 1
  "$here/compact" >/dev/null || return 1
  out=$(timeout 5 kubectl get --raw "/apis/podconfig.example.com/v1alpha1/namespaces/default/podconfigmapconfigs?watch=1&resourceVersion=$rv" | head -1)
  echo "$out"
  jq -e '.type == "ERROR" and .object.code == 410 and .object.reason == "Expired"' <<<"$out" >/dev/null || return 1
  out=$(kc get --raw "/apis/podconfig.example.com/v1alpha1/namespaces/default/podconfigmapconfigs?resourceVersion=$rv&resourceVersionMatch=Exact" 2>&1)
  echo "$out"; grep -q Expired <<<"$out"
}
tap_check "410 Gone: watch and exact list from a resourceVersion compacted away (PCMC_WATCH_CACHE=0 + compact)" gone_after_compaction
tap_check "down after the compaction cluster" down_stops_all

tap_done
