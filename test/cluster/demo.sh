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
PIN_ROOT=/sys/fs/bpf/pcmc-demo
missing=() skipped=()

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
  [ -d "$PIN_ROOT" ] && rm -rf "$PIN_ROOT"   # the agent's pins outlive it on purpose; the demo's go
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

say "Step 5: identities: the controller and agent service accounts and their RBAC"
if [ -f config/rbac/kustomization.yaml ]; then
  run kubectl apply -k config/rbac/
elif ls config/rbac/*.yaml >/dev/null 2>&1; then
  run kubectl apply -f config/rbac/
else
  note "config/rbac/ does not exist yet, so for this demo only: pcmc-controller gets cluster-admin,"
  note "pcmc-agent gets system:auth-delegator (to make TokenReviews of the controller's pushes)."
  run kubectl create clusterrolebinding pcmc-demo-controller --clusterrole cluster-admin \
    --serviceaccount pcmc-system:pcmc-controller
  run kubectl create clusterrolebinding pcmc-demo-agent --clusterrole system:auth-delegator \
    --serviceaccount pcmc-system:pcmc-agent
fi
ctl_kc=$("$here/sa-kubeconfig" pcmc-system pcmc-controller "$D/controller.kubeconfig")
agent_kc=$("$here/sa-kubeconfig" pcmc-system pcmc-agent "$D/agent.kubeconfig")
note "kubeconfigs with service-account tokens (TokenRequest API): $ctl_kc, $agent_kc"

say "Step 6: the node agent for $NODE"
agent_up=0
if [ -x "$AGENT" ]; then
  # Flags as docs/policy-api.md documents them; PCMC_DEMO_AGENT_ARGS adds more.
  read -r -a agent_extra <<< "${PCMC_DEMO_AGENT_ARGS:-}"
  pid_start "$D" agent "$D/logs/agent.log" "$AGENT" --listen "$NODE_IP:$AGENT_PORT" --node-name "$NODE" \
    --pin-root "$PIN_ROOT" --state-dir "$D/agent-state" --kubeconfig "$agent_kc" \
    --controller-sa pcmc-system:pcmc-controller --cni-cache-dir /run/pcmc-testpod/cni "${agent_extra[@]}"
  for ((i = 0; i < 50; i++)); do curl -fsS "http://$NODE_IP:$AGENT_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  if pid_alive "$D" agent && curl -fsS "http://$NODE_IP:$AGENT_PORT/readyz" >/dev/null 2>&1; then
    agent_up=1
    note "pcmc-agent serves http://$NODE_IP:$AGENT_PORT (pid $(cat "$D/pids/agent.pid"), pins in $PIN_ROOT, log $D/logs/agent.log)"
    note "In a cluster the agent is a DaemonSet pod on the host network. Here it runs as a process on this"
    note "machine, and its Pod (hostNetwork, port \"api\") is bound to $NODE, so the controller finds it the"
    note "same way: by listing pods labelled app.kubernetes.io/name=pcmc-agent and using their pod IP (the node IP)."
    kubectl apply -f - >/dev/null <<Y
apiVersion: v1
kind: Pod
metadata:
  name: pcmc-agent-$NODE
  namespace: pcmc-system
  labels: {app.kubernetes.io/name: pcmc-agent}
spec:
  nodeName: $NODE
  hostNetwork: true
  serviceAccountName: pcmc-agent
  containers:
    - name: agent
      image: pcmc-agent:dev
      ports: [{name: api, containerPort: $AGENT_PORT}]
Y
    kubectl -n pcmc-system wait --for=jsonpath='{.status.phase}'=Running "pod/pcmc-agent-$NODE" --timeout=30s >/dev/null
    run kubectl -n pcmc-system get pods -o wide
  else
    echo "pcmc-agent did not become ready:"; tail -n 20 "$D/logs/agent.log"; missing+=("pcmc-agent (did not start)")
  fi
else
  not_built "pcmc-agent (build/pcmc-agent)" "eBPF attach, firewall enforcement, syscall counts"
fi

say "Step 7: two pcmc-controller replicas with leader election"
if [ -x "$CONTROLLER" ]; then
  read -r -a ctl_extra <<< "${PCMC_DEMO_CONTROLLER_ARGS:-}"
  if "$CONTROLLER" --help 2>&1 | grep -q -- --agent-push; then
    ctl_extra+=(--agent-push --agent-port "$AGENT_PORT")
  else
    note "This pcmc-controller has no --agent-push yet: it will not push policies to the agent."
  fi
  for i in 0 1; do
    LEADER_ELECTION_LOCK_NAMESPACE=pcmc-system POD_NAME=pcmc-controller-$i POD_NAMESPACE=pcmc-system \
      pid_start "$D" "controller-$i" "$D/logs/controller-$i.log" "$CONTROLLER" \
        --kubeconfig "$ctl_kc" --metrics-addr "127.0.0.1:$((19480 + i))" --identity "pcmc-controller-$i" \
        "${ctl_extra[@]}"
    note "pcmc-controller-$i: pid $(cat "$D/pids/controller-$i.pid"), metrics http://127.0.0.1:$((19480 + i))/metrics, log $D/logs/controller-$i.log"
  done
else
  not_built "pcmc-controller (build/pcmc-controller)" "generated ConfigMaps, status, policy pushes, leader Lease and takeover"
fi

say "Step 8: a PodConfigMapConfig and some pods"
run cat crds/examples/web-firewall.yaml
run kubectl apply -f crds/examples/web-firewall.yaml
run kubectl apply -f "$here/demo-pods.yaml"
for p in web-1 web-2 other-1; do kubectl wait --for=jsonpath='{.status.phase}'=Running "pod/$p" --timeout=30s >/dev/null; done
run kubectl get pods -o wide --show-labels
ip1=$(kubectl get pod web-1 -o jsonpath='{.status.podIP}')

say "Step 9: the pods answer from the host; the firewall"
# Is web-1's policy applied on the node? (the leader pushes it to the agent: GET /v1/policy)
policy_applied() {
  curl -fsS "http://$NODE_IP:$AGENT_PORT/v1/policy" 2>/dev/null |
    jq -e '[.pods[]? | select(.name == "web-1" and .state == "applied")] | length == 1' >/dev/null
}
enforced=0
if [ "$agent_up" = 1 ] && [ -x "$CONTROLLER" ]; then
  for ((i = 0; i < 40; i++)); do policy_applied && { enforced=1; break; }; sleep 0.5; done
  echo "${B}\$ curl -s http://$NODE_IP:$AGENT_PORT/v1/policy | jq '.pods[] | {name, state, error, firewall: .policy.l4Firewall}'${N}"
  curl -s "http://$NODE_IP:$AGENT_PORT/v1/policy" | jq '.pods[]? | {name, state, error, firewall: .policy.l4Firewall}'
  if [ "$enforced" != 1 ]; then
    note "The agent holds no applied policy for web-1 after 20 s: the controller did not push it (see $D/logs/controller-*.log)."
    skipped+=("firewall and syscall counts: no policy push from pcmc-controller reached pcmc-agent")
  fi
fi
run nc -z -v -w2 "$ip1" 8080
if [ "$enforced" = 1 ]; then
  note "Port 8080 is in allowedPorts; 9090 is in blockedPorts, so the agent's TC firewall drops it:"
  if run nc -z -v -w2 "$ip1" 9090; then note "(9090 answered: NOT blocked, which is a bug)"; else note "(9090 blocked, as configured)"; fi
else
  run nc -z -v -w2 "$ip1" 9090
  if [ "$agent_up" = 1 ]; then note "9090 answers because no policy reached the agent (see above): blocking skipped."
  else not_built "pcmc-agent" "blocking port 9090 (it answers above because no firewall is attached)"; fi
fi

say "Step 10: the generated ConfigMaps"
if [ -x "$CONTROLLER" ]; then
  for ((i = 0; i < 30; i++)); do kubectl get configmap pod-web-1-from-web-firewall-cfg >/dev/null 2>&1 && break; sleep 0.5; done
  run kubectl get configmaps
  run kubectl get configmap pod-web-1-from-web-firewall-cfg -o yaml
  run kubectl get pcmc web-firewall
else
  not_built "pcmc-controller" "generated ConfigMaps and status"
  run kubectl get pcmc web-firewall
fi

say "Step 11: syscall counts from the agent's metrics"
if [ "$enforced" = 1 ]; then
  tpname=p$(kubectl get pod web-1 -o jsonpath='{.metadata.uid}' | tr -d - | cut -c1-19)
  note "Making web-1 do some work: a command in its container, and connections to its port 8080."
  run "$TESTPOD" exec --state-dir "$D/nodesim/$NODE/testpod" --name "$tpname" -- cat /etc/hostname
  for ((i = 0; i < 5; i++)); do nc -z -w1 "$ip1" 8080; done
  note "The agent exports counters every updateInterval (10s in this PodConfigMapConfig)..."
  for ((i = 0; i < 30; i++)); do
    curl -s "http://$NODE_IP:$AGENT_PORT/metrics" | grep 'podconfigmap_controller_ebpf_syscall_count_total' |
      grep 'pod_name="web-1"' | awk '$2 > 0 {found = 1} END {exit !found}' && break
    sleep 1
  done
  echo "${B}\$ curl -s http://$NODE_IP:$AGENT_PORT/metrics | grep 'pod_name=\"web-1\"'${N}"
  curl -s "http://$NODE_IP:$AGENT_PORT/metrics" | grep 'pod_name="web-1"' | head -n 20
elif [ "$agent_up" = 1 ]; then
  note "Skipped: no policy reached the agent (see step 9), so nothing is counted."
else
  not_built "pcmc-agent" "syscall counts"
fi

say "Step 12: the leader's Lease and a takeover"
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
    if [ "$enforced" = 1 ]; then
      note "The new leader pushes to the agent under a higher fencing epoch (the old leader's pushes would be refused):"
      for ((i = 0; i < 40; i++)); do
        curl -s "http://$NODE_IP:$AGENT_PORT/v1/policy" | jq -e --arg l "$(lease)" '.sender.identity == $l' >/dev/null && break
        sleep 0.5
      done
      echo "${B}\$ curl -s http://$NODE_IP:$AGENT_PORT/v1/policy | jq -c '{sender, revision, pods: [.pods[] | {name, state}]}'${N}"
      curl -s "http://$NODE_IP:$AGENT_PORT/v1/policy" | jq -c '{sender, revision, pods: [.pods[] | {name, state}]}'
    fi
  else
    note "No leader holds the Lease yet (holder: '${leader}'); see $D/logs/controller-*.log"
  fi
else
  not_built "pcmc-controller" "the leader's Lease and the takeover"
fi

say "Summary"
if [ ${#missing[@]} -eq 0 ] && [ ${#skipped[@]} -eq 0 ]; then note "Every part ran and every step was shown."; fi
[ ${#missing[@]} -eq 0 ] || note "NOT BUILT YET: ${missing[*]} — their steps were skipped, nothing was faked."
for x in "${skipped[@]+"${skipped[@]}"}"; do note "SKIPPED: $x"; done
note "Cluster logs were in $D/logs (removed with the cluster now)."
