#!/usr/bin/env bash
# pcmc on a real node: kubelet + containerd + runc + CNI (test/node/node), pcmc deployed with
# `kubectl apply -k manifests/` (an overlay names this run's images, never pulls, sets the node's
# cgroup root and listen addresses). A CR selects real pods; ConfigMaps; ports from the host and from
# another pod on the bridge and ptp CNI shapes; exact syscall counts of a real container from its first
# instruction over kubelet restarts, one while no agent runs; the agent pod and the leader pod deleted
# while a prober keeps hitting a blocked port; deleted pods' state gone; `node down` with pods on both
# shapes, and Ctrl-C of `node up`, leave nothing of the node on the host. Prints its wall time.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/test/deploy/lib.sh" # TAP, need, wait_until
. "$here/env.sh"
. "$here/lib.sh"
. "$here/host-check.sh"
suite_t0=$(date +%s)
TAG=${PCMC_NODE_E2E_TAG:-node-e2e}
# The workload's calls per start, as test/node/images/syscall_workload.c defines them.
workload_define() { sed -n "s/^#define $1 \([0-9]*\)\$/\1/p" "$here/images/syscall_workload.c"; }
WORKLOAD_NATIVE=$(workload_define WORKLOAD_NATIVE) WORKLOAD_COMPAT=$(workload_define WORKLOAD_COMPAT)

need docker kubectl curl jq ctr containerd runc socat gcc
exec 8>/run/lock/pcmc-node-e2e.lock
flock -w 900 8 || { tap_not_ok "node e2e lock (/run/lock/pcmc-node-e2e.lock)"; tap_done; exit 1; }
W=$(mktemp -d /tmp/pcmc-node-e2e.XXXXXX)
cleanup() {
  prober_stop
  if [ "${TAP_FAILED:-0}" -gt 0 ] && [ -d "$PCMC_NODE_DIR/logs" ]; then
    echo "# node logs kept in $W/logs (failed run)"; cp -r "$PCMC_NODE_DIR/logs" "$PCMC_NODE_DIR/pod-logs" "$W/" 2>/dev/null
    kubectl get pods -A -o wide 2>&1 | sed 's/^/# /'
    agent_policy | jq -c '.pods[] | {name, state, error}' 2>&1 | sed 's/^/# agent: /'
    kubectl get pcmc -A -o json 2>/dev/null | jq -c '.items[] | {name: .metadata.name, nodes: .status.nodes}' | sed 's/^/# CR: /'
  else
    trap - EXIT; rm -rf "$W"
  fi
  "$here/node" down >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# must NAME CMD...: a check the rest of the suite cannot do without; on failure, what the node saw.
must() {
  local failed=$TAP_FAILED
  tap_check "$@"
  [ "$TAP_FAILED" = "$failed" ] && return 0
  kubectl get pods -A -o wide 2>&1 | sed 's/^/# /'
  kubectl get events -A --sort-by=.lastTimestamp 2>&1 | tail -n 15 | sed 's/^/# /'
  tap_done; exit 1
}

# --- the node and pcmc on it ----------------------------------------------------------------------
t0=$(date +%s)
if ! PCMC_IMAGE_TAG=$TAG bash "$repo/test/deploy/build-images.sh" controller agent >"$W/images.log" 2>&1; then
  tail -n 20 "$W/images.log" | sed 's/^/# /'; tap_not_ok "pcmc images built from this tree"; tap_done; exit 1
fi
t_images=$(($(date +%s) - t0))
tap_ok "pcmc images built from this tree (pcmc-agent:$TAG, pcmc-controller:$TAG) in ${t_images}s"
host_snapshot "$W/host-before"
t0=$(date +%s)
if ! out=$("$here/node" up 2>"$W/node-up.log"); then
  tail -n 30 "$W/node-up.log" | sed 's/^/# /'; tap_not_ok "a real node joins the cluster"; tap_done; exit 1
fi
eval "$out"
t_up=$(($(date +%s) - t0))
tap_ok "a real node joins the cluster: kubelet $(kubectl get node "$PCMC_NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}'), $(kubectl get node "$PCMC_NODE_NAME" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}'), Ready in ${t_up}s"
"$here/node" images "pcmc-agent:$TAG" "pcmc-controller:$TAG" 2>"$W/import.log" ||
  { sed 's/^/# /' "$W/import.log"; tap_not_ok "pcmc images imported into the node's containerd"; tap_done; exit 1; }

# What a user applies, with this run's images, never pulled; the agent told the kubelet's cgroupRoot
# (this node's kubelet has its own, test/node/README.md) and kept to the node IP (not 0.0.0.0: other
# suites' agents on this machine use the same ports on their own addresses). Kustomize wants a relative path.
mkdir -p "$W/overlay"
cat > "$W/overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$(realpath --relative-to "$W/overlay" "$repo/manifests")]
images:
  - {name: pcmc-agent, newTag: $TAG}
  - {name: pcmc-controller, newTag: $TAG}
patches:
  - target: {kind: DaemonSet, name: pcmc-agent}
    patch: |-
      - {op: replace, path: /spec/template/spec/containers/0/imagePullPolicy, value: Never}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--cgroup-root=/sys/fs/cgroup/unified$PCMC_NODE_CGROUP_ROOT"}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--listen=$PCMC_NODE_IP:$AGENT_API_PORT"}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--metrics-listen=$PCMC_NODE_IP:$AGENT_METRICS_PORT"}
  - target: {kind: Deployment, name: pcmc-controller}
    patch: |-
      - {op: replace, path: /spec/template/spec/containers/0/imagePullPolicy, value: Never}
YAML
# ServiceMonitor and PrometheusRule kinds come with the Prometheus operator: their CRDs first.
kubectl apply -f "$repo/test/deploy/monitoring-crds.yaml" >/dev/null
wait_until 30 kubectl get --raw /apis/monitoring.coreos.com/v1 || true
must "kubectl apply -k of manifests/ (overlay: images, pull policy, --cgroup-root, listen addresses)" \
  kubectl apply -k "$W/overlay"
must "the agent DaemonSet's pod Ready under the kubelet (hostNetwork: podIP = node IP $PCMC_NODE_IP)" \
  wait_until 90 agent_ready
must "both controller Deployment pods Ready, one holds the Lease" wait_until 90 leader_ready
tap_check "the agent runs as manifests/agent.yaml says: the node's PID and network namespaces, exactly BPF PERFMON NET_ADMIN SYS_ADMIN SYS_PTRACE, no_new_privs, seccomp" \
  agent_runs_as_manifested

# --- real pods on the bridge shape ----------------------------------------------------------------
kubectl create namespace "$NS" >/dev/null
web_pod web-bridge; client_pod client-bridge
# The 32-bit entry, where the kernel has one: the workload's int 0x80 mode, asked of the host first (a
# kernel without it raises a general protection fault at int 0x80: the process dies of SIGSEGV).
gcc -O2 -static -nostdlib -ffreestanding -fno-stack-protector -o "$W/syscall-workload" "$here/images/syscall_workload.c"
( ulimit -c 0; "$W/syscall-workload" int80-once; r=$?; exit $r ) 2>/dev/null; int80_rc=$?
case $int80_rc in
  0) WORKLOAD_MODE=int80
     tap_ok "this kernel has the 32-bit syscall entry: the workload also makes $WORKLOAD_COMPAT getpgrp through int 0x80 (65, semop's native number)" ;;
  139) WORKLOAD_MODE= WORKLOAD_COMPAT=0
     tap_ok "a listed syscall made through int 0x80 counted under its name on the real node # SKIP this kernel ($(uname -r)) has no 32-bit syscall entry: int 0x80 raises a general protection fault (SIGSEGV) $(dmesg 2>/dev/null | grep -o 'Hypervisor detected: .*' | head -n1)" ;;
  *) WORKLOAD_MODE= WORKLOAD_COMPAT=0; tap_not_ok "the workload's int80-once probe on the host: exit $int80_rc (0 or SIGSEGV expected)" ;;
esac
test_pod counter "app: counter" /syscall-workload $WORKLOAD_MODE
must "web, client and syscall-workload pods Running with bridge addresses" wait_until 60 \
  pods_running_in "$PCMC_NODE_BRIDGE_SUBNET" web-bridge client-bridge counter
WEB_B=$(pod_ip web-bridge)
tap_check "the bridge pods' host veths are ports of $PCMC_NODE_BRIDGE" \
  test "$(ip -o link show master "$PCMC_NODE_BRIDGE" | wc -l)" -ge 3
tap_check "before any policy, 8080 and 9999 of web-bridge answer from the host and from client-bridge" \
  all_of "http_answers $WEB_B 8080" "http_answers $WEB_B 9999" \
         "http_answers_from client-bridge $WEB_B 8080" "http_answers_from client-bridge $WEB_B 9999"

# --- the CRs --------------------------------------------------------------------------------------
cat > "$W/crs.yaml" <<YAML
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: web, namespace: $NS}
spec:
  podSelector: {matchLabels: {app: web}}
  labelsToInclude: [app]
  ebpfConfig:
    l4Firewall: {enabled: true, allowedPorts: [8080], blockedPorts: [9999], defaultAction: allow}
    metricsExport: {enabled: true, updateInterval: 1s}
---
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: counter, namespace: $NS}
spec:
  podSelector: {matchLabels: {app: counter}}
  ebpfConfig:
    syscallMonitoring: {enabled: true, syscallNames: [getpgrp, semop]}
    metricsExport: {enabled: true, updateInterval: 1s}
YAML
kubectl apply -f "$W/crs.yaml" >/dev/null
tap_check "both CRs Ready with their real pods attached" wait_until 60 all_of "cr_ready web 1" "cr_ready counter 1"
tap_check "ConfigMap pod-web-bridge-from-web-cfg names the real pod, node and label" \
  configmap_is pod-web-bridge-from-web-cfg web-bridge
tap_check "bridge: from the host, allowed 8080 answers and blocked 9999 is dropped" wait_until 20 \
  all_of "http_answers $WEB_B 8080" "dropped_from_host $WEB_B 9999"
tap_check "bridge: from another pod, allowed 8080 answers and blocked 9999 is dropped" \
  all_of "http_answers_from client-bridge $WEB_B 8080" "dropped_from client-bridge $WEB_B 9999"

# --- syscalls of a real container, from its first instruction -------------------------------------
# The workload made its calls when it started, before the CR existed: none of them are counted.
tap_check "counter pod tracked: getpgrp 0 (its calls were made before the CR), semop 0" wait_until 30 \
  all_of "count_is counter getpgrp 0" "count_is counter semop 0"
per_start=$((WORKLOAD_NATIVE + WORKLOAD_COMPAT))
for round in 1 2; do
  tap_check "restart $round of the counter container (SIGKILL; the kubelet starts it in a new cgroup): getpgrp exactly $((round * per_start)) ($WORKLOAD_NATIVE native + $WORKLOAD_COMPAT through int 0x80 per start), semop 0" \
    all_of "restart_counter $round" "wait_until 20 count_is counter getpgrp $((round * per_start))" "count_is counter semop 0"
done
tap_check "the runtime's own syscalls in the new container cgroup before exec are counted too (outside the list)" \
  test "$(outside_count counter)" -gt 0

# --- the agent pod deleted: the DaemonSet makes a new one, enforcement never lapses ----------------
prober_start 9999 "$WEB_B"
old_agent_uid=$(kubectl -n pcmc-system get pods -l "$AGENT_SELECTOR" -o jsonpath='{.items[0].metadata.uid}')
wait_until 10 probes_at_least 5
kubectl -n pcmc-system delete pod "$(agent_pod)" --wait=false >/dev/null
tap_check "agent pod deleted: the DaemonSet's new agent pod is Ready" wait_until 90 new_agent_ready "$old_agent_uid"
before=$(probes); wait_until 10 probes_at_least $((before + 5))
tap_check "blocked 9999 never answered while the agent pod was replaced ($(probes) probes)" test ! -s "$W/probe-successes"
tap_check "the new agent adopted the pinned counters: getpgrp still $((2 * per_start)), 8080 still answers" \
  wait_until 20 all_of "count_is counter getpgrp $((2 * per_start))" "http_answers $WEB_B 8080"

# --- no agent on the node at all: a container restarted meanwhile is still counted from its start ---
kubectl -n pcmc-system patch daemonset pcmc-agent --type merge \
  -p '{"spec":{"template":{"spec":{"nodeSelector":{"pcmc-node-e2e/no-agent":"true"}}}}}' >/dev/null
tap_check "the agent DaemonSet kept off the node: no agent pod, nothing answers at the node's agent port" \
  wait_until 60 no_agent
restart_counter 3 > "$W/restart3" 2>&1; restarted=$?
kubectl -n pcmc-system patch daemonset pcmc-agent --type json -p '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]' >/dev/null
tap_check "restart 3 of the counter container with no agent running: getpgrp $((3 * per_start)) once an agent is back" \
  all_of "cat '$W/restart3'; [ $restarted = 0 ]" "wait_until 90 agent_ready" "wait_until 20 count_is counter getpgrp $((3 * per_start))"

# --- the leader pod deleted: the standby takes over and the next change is enforced ----------------
leader=$(lease_holder)
kubectl -n pcmc-system delete pod "$leader" --wait=false >/dev/null
tap_check "leader pod $leader deleted: the other controller pod holds the Lease" wait_until 60 new_leader "$leader"
kubectl -n "$NS" patch pcmc web --type merge -p '{"spec":{"ebpfConfig":{"l4Firewall":{"blockedPorts":[9999,8081]}}}}' >/dev/null
tap_check "the new leader's push blocks 8081 on web-bridge; 8080 still answers" wait_until 30 \
  all_of "dropped_from_host $WEB_B 8081" "http_answers $WEB_B 8080"
tap_check "the Deployment is back to two Ready controller pods" wait_until 90 controllers_ready
prober_stop
tap_check "blocked 9999 never answered while the agent was replaced, absent, and the leader replaced ($(probes) probes)" test ! -s "$W/probe-successes"

# --- the ptp shape: routed point-to-point veths ---------------------------------------------------
tap_check "node switched to the ptp CNI shape for new pods" "$here/node" cni ptp
web_pod web-ptp; client_pod client-ptp
must "web-ptp and client-ptp Running with ptp addresses" wait_until 60 \
  pods_running_in "$PCMC_NODE_PTP_SUBNET" web-ptp client-ptp
WEB_P=$(pod_ip web-ptp)
tap_check "web-ptp's host side is a veth with a /32 route, on no bridge" ptp_host_side "$WEB_P"
tap_check "web CR attaches web-ptp (2 pods)" wait_until 60 cr_ready web 2
tap_check "ptp: from the host, allowed 8080 answers, blocked 9999 and 8081 are dropped" wait_until 20 \
  all_of "http_answers $WEB_P 8080" "dropped_from_host $WEB_P 9999" "dropped_from_host $WEB_P 8081"
tap_check "ptp: from another pod, allowed 8080 answers, blocked 9999 is dropped" \
  all_of "http_answers_from client-ptp $WEB_P 8080" "dropped_from client-ptp $WEB_P 9999"
tap_check "across shapes: client-bridge reaches web-ptp 8080, 9999 is dropped" \
  all_of "http_answers_from client-bridge $WEB_P 8080" "dropped_from client-bridge $WEB_P 9999"

# --- pods deleted: their state is gone ------------------------------------------------------------
uid_counter=$(pod_field counter .metadata.uid); cg_counter=$(dirname "$(container_cgroup counter)")
uid_web=$(pod_field web-ptp .metadata.uid)
kubectl -n "$NS" delete pod counter web-ptp --wait=false >/dev/null
tap_check "deleted pods: no metrics, no agent policy, no pins, no cgroup, no ConfigMap, no CNI cache entry" \
  wait_until 60 pods_state_gone "$uid_counter" "$cg_counter" "$uid_web"
tap_check "web CR Ready again with web-bridge only" wait_until 30 cr_ready web 1

# --- stop, and Ctrl-C: nothing of the node left on the host ---------------------------------------
node_footprint "$W/footprint-down"
"$here/node" down 2>"$W/node-down.log"
tap_check "node down with pods on both shapes ($(footprint_summary "$W/footprint-down")): no process, netns, veth, route, link, cgroup, mount, iptables rule, fixed path or pin left; sysctls and mount propagation as before" \
  host_is_back "$W/host-before" "$W/footprint-down"
# Ctrl-C (SIGINT to `up`'s process group, as a terminal sends it) once the cluster, the node's link,
# forwarding rules, shared mounts, cgroup roots and containerd are there: up holds there
# (PCMC_NODE_UP_HOLD) until the footprint is taken and the signal sent, so it cannot finish first.
# Job control: a process group of its own, and SIGINT not ignored as in a script's background job.
# env --default-signal=INT: a shell started with SIGINT ignored cannot trap it, and a suite run from
# a background job (nohup ... &, a CI runner) inherits it ignored; a terminal's Ctrl-C reaches a
# node up whose SIGINT is at its default.
hold=$W/up-hold; : > "$hold"
set -m
PCMC_NODE_UP_HOLD=$hold env --default-signal=INT "$here/node" up >/dev/null 2>"$W/node-up-int.log" &
up_pid=$!
set +m
if wait_until 120 test -e "$hold.reached"; then
  node_footprint "$W/footprint-int"
  kill -INT -- "-$up_pid"
else
  rm -f "$hold" # up failed or is late: never leave it holding
fi
wait "$up_pid"; up_rc=$?
rm -f "$hold"
tap_check "Ctrl-C during node up ($(footprint_summary "$W/footprint-int" 2>/dev/null)): up exits 130 after tearing down, nothing left, host as before" \
  all_of "[ $up_rc = 130 ]" "grep -q 'node: interrupted' '$W/node-up-int.log'" "host_is_back '$W/host-before' '$W/footprint-int'"
[ "$up_rc" = 130 ] || tail -n 15 "$W/node-up-int.log" | sed 's/^/# up: /'
echo "# wall time of the suite: $(($(date +%s) - suite_t0))s (pcmc images ${t_images}s, node up ${t_up}s)"
tap_done
