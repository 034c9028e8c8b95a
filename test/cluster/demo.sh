#!/usr/bin/env bash
# `make demo`: starts a local cluster from real parts, one simulated node with pcmc-agent, two
# pcmc-controller replicas, applies an example PodConfigMapConfig and pods, and shows pcmc at work.
# Parts not built yet are named ("NOT BUILT YET: ...") and only the steps needing them are skipped.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
# A cluster of its own, so a developer's cluster on the default ports and dir is left alone.
export PCMC_CLUSTER_DIR=${PCMC_DEMO_DIR:-/tmp/pcmc-demo}
export PCMC_APISERVER_PORT=${PCMC_DEMO_APISERVER_PORT:-36443}
export PCMC_ETCD_CLIENT_PORT=${PCMC_DEMO_ETCD_CLIENT_PORT:-32379}
export PCMC_ETCD_PEER_PORT=${PCMC_DEMO_ETCD_PEER_PORT:-32380}
export PCMC_NODESIM_INDEX_BASE=${PCMC_DEMO_NODESIM_INDEX_BASE:-10}   # pods in 10.244.110.x
. "$here/env.sh"
. "$here/pids.sh"
D=$PCMC_CLUSTER_DIR
NODE=demo-node
NODE_IP=127.0.100.$((PCMC_NODESIM_INDEX_BASE + 1))
AGENT=$repo/build/pcmc-agent
CONTROLLER=$repo/build/pcmc-controller
TESTPOD=$repo/build/pcmc-testpod
AGENT_PORT=${PCMC_DEMO_AGENT_PORT:-19400}
missing=()

B=$'\e[1m' N=$'\e[0m'; [ -t 1 ] || { B= N=; }
say() { echo; echo "${B}== $*${N}"; }
note() { echo "   $*"; }
run() { echo "${B}\$ $*${N}"; "$@"; }
not_built() { echo "${B}NOT BUILT YET: $1${N} — skipping: $2"; }

cleaned=0
cleanup() {
  [ "$cleaned" = 1 ] && return; cleaned=1
  trap '' INT TERM   # a second Ctrl-C must not cut the cleanup short
  say "Cleaning up: stopping controllers, agent, node simulator, apiserver and etcd"
  for f in "$D"/pids/controller-*.pid "$D"/pids/agent.pid; do
    [ -f "$f" ] && pid_stop "$D" "$(basename "$f" .pid)" 10
  done
  [ -d "$D" ] && "$here/down"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

say "Step 1: installing what the demo needs (test/setup.sh)"
bash test/setup.sh || { echo "demo: setup failed"; exit 1; }

say "Step 2: what is built"
for b in "$TESTPOD:pcmc-testpod (pod helper the simulated node runs pods with)" \
         "$CONTROLLER:pcmc-controller" "$AGENT:pcmc-agent"; do
  if [ -x "${b%%:*}" ]; then note "built: ${b#*:} (${b%%:*})"; else not_built "${b#*:} (${b%%:*})" "the steps that need it"; missing+=("${b#*:}"); fi
done
[ -x "$TESTPOD" ] || { echo "demo: cannot run pods without $TESTPOD; run make"; exit 1; }

say "Step 3: starting a local Kubernetes cluster from real parts"
note "etcd and kube-apiserver $PCMC_K8S_VERSION built from Go modules (cached in $PCMC_CACHE_DIR),"
note "listening on 127.0.0.1 only, RBAC on, service-account tokens, the PodConfigMapConfig CRD applied."
"$here/down" >/dev/null 2>&1
env_out=$("$here/up") || { echo "demo: the cluster did not start"; exit 1; }
eval "$env_out"
run kubectl get --raw /readyz; echo
run kubectl get --raw /version | jq -r '"kube-apiserver " + .gitVersion + " (" + .goVersion + ")"'
run kubectl get crd podconfigmapconfigs.podconfig.example.com
run kubectl -n pcmc-system get serviceaccounts

say "Step 4: a simulated node, playing the kubelet"
note "No scheduler or kubelet runs: pods name their node, and the node simulator makes each pod on this"
note "machine (kubelet's cgroups, a network namespace, processes serving the container ports)."
run "$here/nodesim" start "$NODE" || exit 1
run kubectl get nodes -o wide

say "Step 5: the node agent"
if [ -x "$AGENT" ]; then
  agent_kc=$("$here/sa-kubeconfig" pcmc-system pcmc-agent "$D/agent.kubeconfig")
  # The agent's flags as its --help documents them; override with PCMC_DEMO_AGENT_ARGS.
  read -r -a agent_args <<< "${PCMC_DEMO_AGENT_ARGS:---node-name $NODE --kubeconfig $D/kubeconfig --listen $NODE_IP:$AGENT_PORT}"
  pid_start "$D" agent "$D/logs/agent.log" "$AGENT" "${agent_args[@]}"
  sleep 2
  if pid_alive "$D" agent; then note "pcmc-agent runs for $NODE (pid $(cat "$D/pids/agent.pid"), log $D/logs/agent.log)"
  else echo "pcmc-agent exited at start:"; tail -n 20 "$D/logs/agent.log"; missing+=(pcmc-agent); fi
  : "$agent_kc"
else
  not_built "pcmc-agent (build/pcmc-agent)" "eBPF attach, firewall enforcement, syscall counts"
fi

say "Step 6: two pcmc-controller replicas with leader election"
if [ -x "$CONTROLLER" ]; then
  ctl_kc=$D/kubeconfig
  if ls config/rbac/*.yaml >/dev/null 2>&1; then
    run kubectl apply -f config/rbac/
    ctl_kc=$("$here/sa-kubeconfig" pcmc-system pcmc-controller "$D/controller.kubeconfig")
    note "The controllers authenticate as service account pcmc-system/pcmc-controller (RBAC from config/rbac/)."
  else
    note "config/rbac/ does not exist yet: the controllers use the cluster's admin kubeconfig."
  fi
  for i in 0 1; do
    LEADER_ELECTION_LOCK_NAMESPACE=pcmc-system POD_NAME=pcmc-controller-$i \
      pid_start "$D" "controller-$i" "$D/logs/controller-$i.log" "$CONTROLLER" \
        --kubeconfig "$ctl_kc" --metrics-addr "127.0.0.1:$((19480 + i))" --identity "pcmc-controller-$i"
    note "pcmc-controller-$i: pid $(cat "$D/pids/controller-$i.pid"), metrics http://127.0.0.1:$((19480 + i))/metrics, log $D/logs/controller-$i.log"
  done
else
  not_built "pcmc-controller (build/pcmc-controller)" "generated ConfigMaps, status, leader Lease and takeover"
fi

say "Step 7: a PodConfigMapConfig and some pods"
run cat crds/examples/web-firewall.yaml
run kubectl apply -f crds/examples/web-firewall.yaml
run kubectl apply -f "$here/demo-pods.yaml"
for p in web-1 web-2 other-1; do kubectl wait --for=jsonpath='{.status.phase}'=Running "pod/$p" --timeout=30s >/dev/null; done
run kubectl get pods -o wide --show-labels
ip1=$(kubectl get pod web-1 -o jsonpath='{.status.podIP}')

say "Step 8: the pods answer from the host"
run nc -z -v -w2 "$ip1" 8080
if [ -x "$AGENT" ] && pid_alive "$D" agent; then
  note "Port 8080 is in allowedPorts; 9090 is in blockedPorts, so the agent's firewall drops it:"
  sleep 2
  if run nc -z -v -w2 "$ip1" 9090; then note "(9090 answered: the firewall did not block it)"; else note "(9090 blocked, as configured)"; fi
else
  run nc -z -v -w2 "$ip1" 9090
  not_built "pcmc-agent" "blocking port 9090 (it answers above because no firewall is attached)"
fi

say "Step 9: the generated ConfigMaps"
if [ -x "$CONTROLLER" ]; then
  for ((i = 0; i < 30; i++)); do kubectl get configmap pod-web-1-from-web-firewall-cfg >/dev/null 2>&1 && break; sleep 0.5; done
  run kubectl get configmaps
  run kubectl get configmap pod-web-1-from-web-firewall-cfg -o yaml
  run kubectl get pcmc web-firewall
else
  not_built "pcmc-controller" "generated ConfigMaps and status"
  run kubectl get pcmc web-firewall
fi

say "Step 10: syscall counts from the agent's metrics"
if [ -x "$AGENT" ] && pid_alive "$D" agent; then
  tpname=$(kubectl get pod web-1 -o jsonpath='{.metadata.uid}' | tr -d - | cut -c1-19)
  run "$TESTPOD" exec --state-dir "$D/nodesim/$NODE/testpod" --name "p$tpname" -- cat /etc/hostname >/dev/null
  for ((i = 0; i < 5; i++)); do nc -z -w1 "$ip1" 8080; done
  sleep 2
  echo "${B}\$ curl -s http://$NODE_IP:$AGENT_PORT/metrics | grep syscall${N}"
  curl -s "http://$NODE_IP:$AGENT_PORT/metrics" | grep -i syscall | head -n 20
else
  not_built "pcmc-agent" "syscall counts"
fi

say "Step 11: the leader's Lease and a takeover"
if [ -x "$CONTROLLER" ]; then
  lease() { kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
  for ((i = 0; i < 40; i++)); do [ -n "$(lease)" ] && break; sleep 0.5; done
  run kubectl -n pcmc-system get lease pcmc-controller-leader -o yaml
  leader=$(lease)
  if [[ $leader == pcmc-controller-[01] ]]; then
    note "The leader is $leader. Killing it (SIGKILL, so it cannot hand the Lease back):"
    lpid=$(cat "$D/pids/controller-${leader##*-}.pid")
    run kill -9 "$lpid"
    note "The standby takes over once the Lease expires (leaseDurationSeconds)..."
    for ((i = 0; i < 60; i++)); do h=$(lease); [ -n "$h" ] && [ "$h" != "$leader" ] && break; sleep 1; done
    run kubectl -n pcmc-system get lease pcmc-controller-leader \
      -o custom-columns=HOLDER:.spec.holderIdentity,TRANSITIONS:.spec.leaseTransitions,RENEWED:.spec.renewTime
    [ "$(lease)" != "$leader" ] && note "Takeover done: $(lease) leads now." || note "No takeover seen within 60s."
  else
    note "No leader holds the Lease yet (holder: '${leader}'); see $D/logs/controller-*.log"
  fi
else
  not_built "pcmc-controller" "the leader's Lease and the takeover"
fi

say "Summary"
if [ ${#missing[@]} -eq 0 ]; then note "Every part ran."
else note "NOT BUILT YET: ${missing[*]} — their steps were skipped, nothing was faked."; fi
note "Cluster logs were in $D/logs (removed with the cluster now)."
