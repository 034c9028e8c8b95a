#!/usr/bin/env bash
# Both images together on a local cluster, as the manifests run them: the controller container (the
# Deployment's args, uid 65532, read-only, no capabilities, in-cluster files of pcmc-controller) finds
# the agent through its hostNetwork pod (port "api") and pushes the example CR's policy to the agent
# container (host network and PID, host bpffs/cgroups, the DaemonSet's capabilities) for a pod the
# node simulator runs: the CR reports the pod attached and the pod's blocked port is dropped.
# DEP_NAMESPACE=NS installs into NS instead of pcmc-system, through a kustomize overlay that only
# says `namespace: NS`: RBAC, args and discovery must follow it with nothing else renamed.
# DEP_INSTALL=helm installs with `helm install` of charts/pcmc instead, and runs what it installed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/pcmc-deploy-e2e.XXXXXX)
# Node index 50: InternalIP 127.0.100.51, pods 10.244.150.x (e2e uses 40+, the cluster suite 20+, demo 10+).
export PCMC_NODESIM_INDEX_BASE=50
NODE=deploy-e2e NODE_IP=127.0.100.51 NS=${DEP_NAMESPACE:-pcmc-system} INSTALL=${DEP_INSTALL:-kustomize}
PIN=/sys/fs/bpf/pcmc-deploy-e2e-$$
declare -A CID=()
cleanup() {
  local n
  for n in "${!CID[@]}"; do docker rm -f "${CID[$n]}" >/dev/null 2>&1; done
  cluster_stop   # stops the node simulator first: it tears its pods down
  rm -rf "$PIN" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
need docker kubectl curl jq ss flock python3 prometheus
exec 8>/run/lock/pcmc-deploy-e2e.lock; flock 8
[ -x "$DEP_REPO/build/pcmc-testpod" ] || { tap_not_ok "build/pcmc-testpod built (run make)"; tap_done; exit 1; }
if ! bash "$here/build-images.sh" controller agent 2>"$work/build.log"; then
  tap_not_ok "images built"; sed 's/^/# /' "$work/build.log" | tail -20; tap_done; exit 1
fi
if [ "$INSTALL" = helm ]; then
  HELM=$(bash "$here/build-helm.sh" 2>"$work/helm-build.log") || { tap_not_ok "helm built"; tap_done; exit 1; }
elif [ "$NS" = pcmc-system ]; then
  SRC=$DEP_REPO/manifests
else
  SRC=$work/overlay; mkdir -p "$SRC"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources: [%s]\n' \
    "$NS" "$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$DEP_REPO/manifests" "$SRC")" >"$SRC/kustomization.yaml"
fi
if [ "$INSTALL" = kustomize ]; then
  kubectl kustomize "$SRC" | python3 "$here/yaml2json.py" >"$work/all.json"
  if [ "$NS" != pcmc-system ]; then
    tap_check "rendered for namespace $NS: no object, argument, subject or selector left in pcmc-system" \
      bash -c "! jq -c '.[]' '$work/all.json' | grep pcmc-system"
  fi
fi

cluster_start || { tap_not_ok "local cluster up"; tap_done; exit 1; }
if [ "$INSTALL" = helm ]; then
  # helm install: everything the chart makes is in the API server; the pods are run below from the
  # installed Deployment and DaemonSet (this cluster has no kubelet). The namespace: --create-namespace.
  kubectl apply -f "$here/monitoring-crds.yaml" >/dev/null &&
    kubectl wait --for condition=Established --timeout 30s crd/servicemonitors.monitoring.coreos.com \
      crd/prometheusrules.monitoring.coreos.com >/dev/null
  wait_until 30 kubectl get servicemonitors,prometheusrules -A
  tap_check "helm install pcmc charts/pcmc -n $NS --create-namespace --set namespace.create=false" \
    "$HELM" install pcmc "$DEP_REPO/charts/pcmc" -n "$NS" --create-namespace --set namespace.create=false \
    --set monitoring.labels.release=kps
  tap_check "the release's ServiceMonitors, PrometheusRule and dashboard ConfigMap are in $NS" \
    kubectl -n "$NS" get servicemonitor/pcmc-agent servicemonitor/pcmc-controller prometheusrule/pcmc configmap/pcmc-dashboard
  kubectl -n "$NS" get deployment,daemonset -o json | jq '.items' >"$work/all.json"
else
  # The namespace and the RBAC objects as rendered for $NS.
  jq '{apiVersion: "v1", kind: "List", items: [.[] | select(.kind | test("^(Namespace|ServiceAccount|Role|RoleBinding|ClusterRole|ClusterRoleBinding)$"))]}' \
    "$work/all.json" >"$work/rbac.json"
  kubectl apply -f "$work/rbac.json" >/dev/null
fi
render() { cat "$work/all.json"; }
mapfile -t CTL_ARGS < <(render | jq -r '.[] | select(.kind=="Deployment") | .spec.template.spec.containers[0].args[]' |
  kubelet_expand "POD_NAMESPACE=$NS")
mapfile -t AGENT_ARGS < <(render | jq -r '.[] | select(.kind=="DaemonSet") | .spec.template.spec.containers[0].args[]' |
  kubelet_expand "POD_NAMESPACE=$NS" "NODE_NAME=$NODE")
CAPS=$(render | jq -r '.[] | select(.kind=="DaemonSet") | .spec.template.spec.containers[0].securityContext.capabilities.add[]')
DCAPS=()  # what this Docker engine can add (20.10.24 knows no CAP_BPF/CAP_PERFMON; SYS_ADMIN covers them)
for c in $CAPS; do
  grep -q 'unknown capability' <<<"$(docker run --rm --cap-drop ALL --cap-add "$c" pcmc-agent:dev --x 2>&1)" || DCAPS+=(--cap-add "$c")
done
kubectl -n default create serviceaccount default >/dev/null && "$DEP_REPO/test/cluster/nodesim" start "$NODE" 2>"$work/nodesim.log"
tap_check "cluster with node $NODE, namespace $NS and pcmc's RBAC ($INSTALL)" kubectl get node "$NODE"
sa_files() { # SA DIR: the files the kubelet mounts for a service account
  mkdir -p "$2"; kubectl -n "$NS" create token "$1" --duration 1h >"$2/token"
  cp "$PCMC_CLUSTER_DIR/pki/ca.crt" "$2/ca.crt"; echo -n "$NS" >"$2/namespace"
}
sa_files pcmc-agent "$work/agent-sa"; sa_files pcmc-controller "$work/ctl-sa"
chown -R 65532:65532 "$work/ctl-sa"; chmod 600 "$work/ctl-sa/token"
IN_CLUSTER=(-e KUBERNETES_SERVICE_HOST=127.0.0.1 -e "KUBERNETES_SERVICE_PORT=$PCMC_APISERVER_PORT")
APORT=$(free_port) MPORT=$(free_port "$APORT"); AMPORT=$(free_port "$APORT" "$MPORT")

# The agent on the node's address, and the agent pod the DaemonSet would have made for it.
CID[agent]=$(docker run -d --name "pcmc-deploy-e2e-agent-$$" --network host --pid host --read-only \
  --cap-drop ALL "${DCAPS[@]}" --security-opt no-new-privileges \
  -v /sys/fs/bpf:/sys/fs/bpf -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v "$work/agent-state:/var/lib/pcmc-agent" \
  -v "$work/agent-sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" "${IN_CLUSTER[@]}" \
  -v /run/pcmc-testpod/cni:/run/pcmc-testpod/cni:ro -v /run/netns:/run/netns:ro,rslave \
  pcmc-agent:dev "${AGENT_ARGS[@]}" --listen "$NODE_IP:$APORT" --metrics-listen "$NODE_IP:$AMPORT" --pin-root "$PIN" \
  --cni-cache-dir /run/pcmc-testpod/cni)
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: pcmc-agent-$NODE, namespace: $NS, labels: {app.kubernetes.io/name: pcmc-agent}}
spec:
  nodeName: $NODE
  hostNetwork: true
  serviceAccountName: pcmc-agent
  automountServiceAccountToken: false
  containers: [{name: agent, image: pcmc-agent:dev, ports: [{name: api, containerPort: $APORT}, {name: metrics, containerPort: $AMPORT}]}]
YAML
tap_check "agent container ready (/readyz on its metrics port $AMPORT) with ${AGENT_ARGS[*]}" wait_until 30 curl -fsS "http://$NODE_IP:$AMPORT/readyz"
tap_check "the policy API port $APORT serves no /metrics (the metrics port does)" bash -c \
  "[ \$(curl -s -o /dev/null -w '%{http_code}' http://$NODE_IP:$APORT/metrics) = 404 ]"
CID[ctl]=$(docker run -d --name "pcmc-deploy-e2e-ctl-$$" --network host --read-only --user 65532:65532 \
  --cap-drop ALL --security-opt no-new-privileges -e POD_NAME=pcmc-controller-e2e \
  -e "LEADER_ELECTION_LOCK_NAMESPACE=$NS" -e LEADER_ELECTION_LOCK_NAME=pcmc-controller-leader \
  -v "$work/ctl-sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" "${IN_CLUSTER[@]}" \
  pcmc-controller:dev "${CTL_ARGS[@]/#:8080/127.0.0.1:$MPORT}")
tap_check "controller container ready with ${CTL_ARGS[*]}" wait_until 30 curl -fsS "http://127.0.0.1:$MPORT/readyz"

kubectl apply -f - >/dev/null <<'POD'
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec:
  nodeName: deploy-e2e
  containers: [{name: web, image: registry.invalid/web:1, ports: [{containerPort: 8080}, {containerPort: 9090}]}]
POD
running() { [ "$(kubectl -n default get pod web-1 -o jsonpath='{.status.phase}')" = Running ]; }
tap_check "pod web-1 Running on $NODE (node simulator)" wait_until 30 running
POD_IP=$(kubectl -n default get pod web-1 -o jsonpath='{.status.podIP}')
tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2 && head -c 4 <&3" 2>/dev/null | grep -q pcmc; }
tap_check "before any policy, port 9090 of $POD_IP answers" wait_until 10 tcp_open "$POD_IP" 9090
kubectl apply -f "$DEP_REPO/crds/examples/web-firewall.yaml" >/dev/null
attached() { kubectl -n default get pcmc web-firewall -o json | jq -e '.status.attachedPods==1 and
  ([.status.conditions[] | select(.type=="Ready")][0].status=="True")'; }
if wait_until 60 attached; then tap_ok "CR web-firewall: attachedPods 1, Ready (pushed by the controller image, applied by the agent image)"
else
  tap_not_ok "CR web-firewall attached and Ready"
  kubectl -n default get pcmc web-firewall -o json | jq -c .status | sed 's/^/# /'
  for n in ctl agent; do docker logs "${CID[$n]}" 2>&1 | tail -n 8 | sed "s/^/# $n: /"; done
fi
tap_check "agent holds the pod as applied (GET /v1/policy)" bash -c \
  "curl -fsS http://$NODE_IP:$APORT/v1/policy | jq -e '.pods[] | select(.name==\"web-1\") | .state==\"applied\"'"
tap_check "allowed port 8080 of $POD_IP answers" tcp_open "$POD_IP" 8080
tap_check "blocked port 9090 of $POD_IP is dropped" bash -c "$(declare -f tcp_open); ! tcp_open $POD_IP 9090"
# A real Prometheus scrapes both containers (what the ServiceMonitors point at).
SCRAPE=$DEP_REPO/test/common/prometheus-scrape.sh
tap_check "Prometheus scrapes the controller: pcmc_controller_leader 1" bash "$SCRAPE" "127.0.0.1:$MPORT" 'pcmc_controller_leader' 1
tap_check "Prometheus scrapes the agent: the pod's firewall attached, pods applied 1, a push accepted" bash "$SCRAPE" "$NODE_IP:$AMPORT" \
  'podconfigmap_controller_ebpf_attached_programs{namespace="default",pod_name="web-1",program_type="l4_firewall"}' 1 \
  'pcmc_agent_pods{state="applied"}' 1 'clamp_max(pcmc_agent_policy_pushes_total{result="accepted"}, 1)' 1
tap_check "no RBAC refusal in either container's log" \
  bash -c "! { docker logs ${CID[ctl]} 2>&1; docker logs ${CID[agent]} 2>&1; } | grep -iE 'forbidden|\"http_status\":403'"
for n in ctl agent; do
  tap_check "$n container stopped by id, exit 0" bash -c \
    "docker stop -t 15 ${CID[$n]} >/dev/null && [ \$(docker inspect -f '{{.State.ExitCode}}' ${CID[$n]}) = 0 ]"
done
tap_done
