#!/usr/bin/env bash
# One simulated kubelet: registers Node NODE (Ready) and runs every pod bound to it as a test pod
# (pcmc-testpod: kubelet cgroups, netns, servers on containerPorts); reports status; finishes deletions.
# Usage: nodesim-node.sh NODE INDEX TESTPOD_BIN   (started by `nodesim start`; TERM tears its pods down)
set -uo pipefail
NODE=$1 K=$2 TESTPOD=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
D=$PCMC_CLUSTER_DIR
export KUBECONFIG=$D/kubeconfig
S=$D/nodesim/$NODE          # this node's state: pods/<uid>.json (our records), testpod/ (helper's)
TP=$S/testpod
mkdir -p "$S/pods" "$TP"
HOST_IP=127.0.100.$((K + 1))
V4_NET=10.244.$((100 + K))
V6_NET=fd00:10:244:$(printf %x $((100 + K)))
kc() { kubectl --request-timeout=10s "$@"; }
log() { echo "$(date -u +%FT%T.%3NZ) nodesim[$NODE]: $*"; }
now() { date -u +%FT%TZ; }

stopping=0
trap 'stopping=1' TERM INT

node_status() { # node_status READY_STATUS REASON MESSAGE
  jq -n --arg ip "$HOST_IP" --arg node "$NODE" --arg now "$(now)" --arg st "$1" --arg reason "$2" \
        --arg msg "$3" --arg ver "$PCMC_K8S_VERSION" --arg kernel "$(uname -r)" '{status: {
    conditions: [
      {type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "simulated", lastHeartbeatTime: $now, lastTransitionTime: $now},
      {type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", message: "simulated", lastHeartbeatTime: $now, lastTransitionTime: $now},
      {type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", message: "simulated", lastHeartbeatTime: $now, lastTransitionTime: $now},
      {type: "Ready", status: $st, reason: $reason, message: $msg, lastHeartbeatTime: $now, lastTransitionTime: $now}],
    addresses: [{type: "InternalIP", address: $ip}, {type: "Hostname", address: $node}],
    capacity: {cpu: "2", memory: "8Gi", pods: "110", "ephemeral-storage": "20Gi"},
    allocatable: {cpu: "2", memory: "8Gi", pods: "110", "ephemeral-storage": "20Gi"},
    daemonEndpoints: {kubeletEndpoint: {Port: 10250}},
    nodeInfo: {machineID: "", systemUUID: "", bootID: "", kernelVersion: $kernel,
      osImage: "Debian GNU/Linux 12 (bookworm)", containerRuntimeVersion: "containerd://pcmc-nodesim",
      kubeletVersion: $ver, kubeProxyVersion: "", operatingSystem: "linux", architecture: "amd64"}}}'
}

register_node() {
  if ! kc get node "$NODE" >/dev/null 2>&1; then
    jq -n --arg node "$NODE" --arg v4 "$V4_NET.0/24" --arg v6 "$V6_NET::/64" '{
      apiVersion: "v1", kind: "Node",
      metadata: {name: $node, labels: {"kubernetes.io/hostname": $node, "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "pcmc.example.com/simulated-node": "true"}},
      spec: {podCIDR: $v4, podCIDRs: [$v4, $v6]}}' | kc create -f - >/dev/null || return 1
  fi
  kc patch node "$NODE" --subresource=status --type=merge \
    -p "$(node_status True KubeletReady "kubelet is posting ready status (pcmc node simulator)")" >/dev/null
}

# Addresses: x in 2..254, taken round-robin from a cursor, skipping any x a live pod of this node holds
# or that is routed on this host already.
alloc_x() {
  local cur=1 x i used
  [ -f "$S/ip-cursor" ] && cur=$(cat "$S/ip-cursor")
  used=" $(cat "$S"/pods/*.json 2>/dev/null | jq -r '.x // empty' | tr '\n' ' ') "
  for ((i = 0; i < 253; i++)); do
    x=$(( (cur - 2 + 1 + i) % 253 + 2 ))
    [[ $used == *" $x "* ]] && continue
    # routed on this host already (a pod of another cluster's simulator or another test)?
    [ -n "$(ip -4 route show "$V4_NET.$x" 2>/dev/null)" ] && continue
    echo "$x" > "$S/ip-cursor"; echo "$x"; return 0
  done
  return 1
}

tp_name() { local u=${1//-/}; echo "p${u:0:19}"; }

start_pod() { # start_pod POD_JSON
  local pod=$1 uid ns name qos hostnet ncont args=() x="" v4="" v6="" out mask tpn
  uid=$(jq -r .metadata.uid <<<"$pod"); ns=$(jq -r .metadata.namespace <<<"$pod")
  name=$(jq -r .metadata.name <<<"$pod")
  qos=$(jq -r '.status.qosClass // "BestEffort" | ascii_downcase' <<<"$pod")
  hostnet=$(jq -r '.spec.hostNetwork // false' <<<"$pod")
  ncont=$(jq '.spec.containers | length' <<<"$pod")
  tpn=$(tp_name "$uid")
  args=(create --state-dir "$TP" --name "$tpn" --uid "$uid" --driver cgroupfs --qos "$qos" --containers "$ncont")
  if [ "$hostnet" != true ]; then
    x=$(alloc_x) || { log "no free pod address on $NODE for $ns/$name"; return 1; }
    v4=$V4_NET.$x v6=$V6_NET::$(printf %x "$x")
    args+=(--ipv4 "$v4" --ipv6 "$v6")
    while read -r proto port; do
      [ -n "$port" ] && args+=("--$proto" "$port")
    done < <(jq -r '[.spec.containers[].ports[]? | {p: ((.protocol // "TCP") | ascii_downcase), n: .containerPort}]
                    | unique[] | select(.p == "tcp" or .p == "udp") | "\(.p) \(.n)"' <<<"$pod")
    # Only the container declaring ports serves them; several such containers all serve every port
    # (pcmc-testpod shares ports between containers only with serve-mask 0).
    mask=$(jq '[.spec.containers | to_entries[] | select((.value.ports // []) | length > 0) | pow(2; .key)]
               | if length == 1 then .[0] else 0 end' <<<"$pod")
    [ "$mask" != 0 ] && args+=(--serve-mask "$mask")
  fi
  # Record first, so the address stays taken and a crash mid-create is cleaned up by stop.
  jq -n --arg uid "$uid" --arg ns "$ns" --arg name "$name" --arg tp "$tpn" --arg x "$x" \
    '{uid: $uid, namespace: $ns, name: $name, testpod: $tp, x: ($x | if . == "" then null else tonumber end), running: false}' \
    > "$S/pods/$uid.json"
  if ! out=$("$TESTPOD" "${args[@]}" 2>&1); then
    log "pcmc-testpod create failed for $ns/$name: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
    tail -n 1 <<<"$out" > "$S/last-error"
    "$TESTPOD" delete --state-dir "$TP" --name "$tpn" >/dev/null 2>&1
    rm -f "$S/pods/$uid.json"
    return 1
  fi
  jq --argjson tp "$out" '.running = true | .containerIDs = $tp.containerIDs' "$S/pods/$uid.json" > "$S/pods/$uid.json.new" &&
    mv "$S/pods/$uid.json.new" "$S/pods/$uid.json"
  log "started $ns/$name uid $uid ip ${v4:-host} ($qos, $ncont containers, testpod $tpn)"
  report_status "$pod"
}

report_status() { # report_status POD_JSON: phase Running with IPs, conditions, container statuses
  local pod=$1 uid rec patch
  uid=$(jq -r .metadata.uid <<<"$pod")
  rec=$(cat "$S/pods/$uid.json") || return 1
  patch=$(jq -n --argjson pod "$pod" --argjson rec "$rec" --arg host "$HOST_IP" --arg now "$(now)" '
    {metadata: {uid: $rec.uid}, status: {
        phase: "Running", hostIP: $host, hostIPs: [{ip: $host}], startTime: $now,
        conditions: ([ "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled" ]
                     | map({type: ., status: "True", lastProbeTime: null, lastTransitionTime: $now})),
        containerStatuses: [$pod.spec.containers | to_entries[] | {
          name: .value.name, image: .value.image, imageID: "", ready: true, started: true, restartCount: 0,
          containerID: "containerd://\($rec.containerIDs[.key])", state: {running: {startedAt: $now}}}]}}')
  # pod IPs: computed in bash (jq has no hex formatting)
  if [ "$(jq -r '.spec.hostNetwork // false' <<<"$pod")" = true ]; then
    patch=$(jq --arg ip "$HOST_IP" '.status.podIP = $ip | .status.podIPs = [{ip: $ip}]' <<<"$patch")
  else
    local x; x=$(jq -r .x <<<"$rec")
    patch=$(jq --arg a "$V4_NET.$x" --arg b "$V6_NET::$(printf %x "$x")" \
      '.status.podIP = $a | .status.podIPs = [{ip: $a}, {ip: $b}]' <<<"$patch")
  fi
  if kc -n "$(jq -r .metadata.namespace <<<"$pod")" patch pod "$(jq -r .metadata.name <<<"$pod")" \
       --subresource=status --type=merge -p "$patch" >/dev/null; then
    jq '.reported = true' "$S/pods/$uid.json" > "$S/pods/$uid.json.new" && mv "$S/pods/$uid.json.new" "$S/pods/$uid.json"
  else
    log "status update failed for uid $uid (retrying)"
  fi
}

report_failure() { # report_failure POD_JSON: stays Pending, containers waiting with the error (retried every 5 s)
  local pod=$1 patch
  patch=$(jq -n --argjson pod "$pod" --arg host "$HOST_IP" --arg now "$(now)" --arg msg "$(tail -n 1 "$S/last-error" 2>/dev/null)" '
    {metadata: {uid: $pod.metadata.uid}, status: {phase: "Pending", hostIP: $host, hostIPs: [{ip: $host}],
      conditions: [{type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: $now},
                   {type: "ContainersReady", status: "False", reason: "ContainersNotReady", message: $msg, lastProbeTime: null, lastTransitionTime: $now},
                   {type: "Ready", status: "False", reason: "ContainersNotReady", message: $msg, lastProbeTime: null, lastTransitionTime: $now}],
      containerStatuses: [$pod.spec.containers[] | {name, image, imageID: "", ready: false, started: false, restartCount: 0,
        state: {waiting: {reason: "CreateContainerError", message: $msg}}}]}}')
  kc -n "$(jq -r .metadata.namespace <<<"$pod")" patch pod "$(jq -r .metadata.name <<<"$pod")" \
    --subresource=status --type=merge -p "$patch" >/dev/null || log "status update (failure) failed"
}

teardown() { # teardown UID: stop processes, remove netns, veth and cgroups
  local uid=$1 tpn
  [ -f "$S/pods/$uid.json" ] || return 0
  tpn=$(jq -r .testpod "$S/pods/$uid.json")
  if [ -f "$TP/$tpn.json" ] && ! "$TESTPOD" delete --state-dir "$TP" --name "$tpn" >/dev/null; then
    log "pcmc-testpod delete failed for uid $uid (testpod $tpn)"; return 1
  fi
  log "stopped $(jq -r '"\(.namespace)/\(.name)"' "$S/pods/$uid.json") uid $uid"
  rm -f "$S/pods/$uid.json"
}

finish_deletion() { # finish_deletion NS NAME UID: like kubelet, delete with grace 0 and a UID precondition
  local body=$S/delete-$3.json
  printf '{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,"preconditions":{"uid":"%s"}}' "$3" > "$body"
  if kc delete --raw "/api/v1/namespaces/$1/pods/$2" -f "$body" >/dev/null 2>&1; then log "deleted $1/$2 uid $3"
  else kc -n "$1" get pod "$2" >/dev/null 2>&1 && log "final delete of $1/$2 failed (retrying)"; fi
  rm -f "$body"
}

sync_pods() {
  local list uid f
  list=$(kc get pods -A --field-selector "spec.nodeName=$NODE" -o json) || return 1
  declare -A seen=()
  while IFS= read -r pod; do
    [ -n "$pod" ] || continue
    uid=$(jq -r .metadata.uid <<<"$pod"); seen[$uid]=1
    if [ "$(jq -r '.metadata.deletionTimestamp // ""' <<<"$pod")" != "" ]; then
      rm -f "$S/failed-$uid"
      teardown "$uid" && finish_deletion "$(jq -r .metadata.namespace <<<"$pod")" "$(jq -r .metadata.name <<<"$pod")" "$uid"
    elif [ -f "$S/pods/$uid.json" ]; then
      [ "$(jq -r '.reported // false' "$S/pods/$uid.json")" = true ] || report_status "$pod"
    else
      case $(jq -r '.status.phase // "Pending"' <<<"$pod") in
        Succeeded|Failed) ;;
        *) if [ -f "$S/failed-$uid" ] && [ $(( $(date +%s) - $(cat "$S/failed-$uid") )) -lt 5 ]; then :
           elif start_pod "$pod"; then rm -f "$S/failed-$uid"
           else
             [ -f "$S/failed-$uid" ] || report_failure "$pod"
             date +%s > "$S/failed-$uid"
           fi ;;
      esac
    fi
    [ "$stopping" = 1 ] && return 0
  done < <(jq -c '.items[]' <<<"$list")
  for f in "$S"/pods/*.json; do   # pods gone from the API server (e.g. force-deleted)
    [ -f "$f" ] || continue
    uid=$(basename "$f" .json)
    [ -n "${seen[$uid]:-}" ] || teardown "$uid"
  done
}

until register_node; do
  log "cannot register node yet (API server not ready?)"; sleep 1
  [ "$stopping" = 1 ] && exit 1
done
touch "$S/ready"
log "node registered: InternalIP $HOST_IP, pods $V4_NET.0/24 $V6_NET::/64"
last_beat=$(date +%s)
while [ "$stopping" = 0 ]; do
  sync_pods || log "pod sync failed"
  if [ $(( $(date +%s) - last_beat )) -ge 20 ]; then
    kc patch node "$NODE" --subresource=status --type=merge \
      -p "$(node_status True KubeletReady "kubelet is posting ready status (pcmc node simulator)")" >/dev/null ||
      log "node heartbeat failed"
    last_beat=$(date +%s)
  fi
  sleep 0.5 & wait $! 2>/dev/null
done
log "stopping: tearing down this node's pods"
rc=0
for f in "$S"/pods/*.json; do [ -f "$f" ] && { teardown "$(basename "$f" .json)" || rc=1; }; done
kc patch node "$NODE" --subresource=status --type=merge \
  -p "$(node_status Unknown NodeStatusUnknown "pcmc node simulator stopped")" >/dev/null 2>&1
log "stopped"
exit $rc
