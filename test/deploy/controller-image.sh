#!/usr/bin/env bash
# The pcmc-controller image against a real kube-apiserver, run the way manifests/controller.yaml runs
# it: uid 65532, read-only root, no capabilities, as ServiceAccount pcmc-controller with only
# config/rbac/. Two replicas (one with a mounted kubeconfig, one with in-cluster service-account
# files): one leads, both ready; a CR and a pod give a ConfigMap; stopping the leader hands over.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/pcmc-deploy-ctl.XXXXXX)
declare -A CID=() PORT=()
cleanup() {
  local n
  for n in "${!CID[@]}"; do docker rm -f "${CID[$n]}" >/dev/null 2>&1; done
  cluster_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
need docker kubectl curl jq ss python3
IMG=pcmc-controller:${PCMC_IMAGE_TAG:-dev}
if ! bash "$here/build-images.sh" controller 2>"$work/build.log"; then
  tap_not_ok "image $IMG built"; sed 's/^/# /' "$work/build.log" | tail -20; tap_done; exit 1
fi
# The Deployment's own arguments (its metrics port moved to a free one on 127.0.0.1: host network here).
mapfile -t ARGS < <(kubectl kustomize "$DEP_REPO/manifests" | python3 "$here/yaml2json.py" |
  jq -r '.[] | select(.kind=="Deployment" and .metadata.name=="pcmc-controller") | .spec.template.spec.containers[0].args[]' |
  kubelet_expand POD_NAMESPACE=pcmc-system)
[[ " ${ARGS[*]} " == *" :8080 "* ]] || { tap_not_ok "Deployment args read (${ARGS[*]})"; tap_done; exit 1; }
echo "# Deployment args: ${ARGS[*]}"
cluster_start || { tap_not_ok "local cluster up"; tap_done; exit 1; }
tap_check "kubectl apply -k config/rbac" kubectl apply -k "$DEP_REPO/config/rbac"

# Credentials readable by uid 65532 only: a kubeconfig (replica a), service-account files (replica b).
"$DEP_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-controller "$work/kubeconfig" 1h >/dev/null
mkdir -p "$work/sa"
kubectl -n pcmc-system create token pcmc-controller --duration 1h >"$work/sa/token"
cp "$PCMC_CLUSTER_DIR/pki/ca.crt" "$work/sa/ca.crt"; echo -n pcmc-system >"$work/sa/namespace"
chown -R 65532:65532 "$work/kubeconfig" "$work/sa"; chmod 600 "$work/kubeconfig" "$work/sa/token"

start() { # NAME DOCKER-ARGS...: a replica as the Deployment runs it, its metrics on a free port
  local name=$1 port; shift
  port=$(free_port "${PORT[@]+"${PORT[@]}"}")
  PORT[$name]=$port
  CID[$name]=$(docker run -d --name "pcmc-deploy-ctl-$name-$$" --network host --read-only --user 65532:65532 \
    --cap-drop ALL --security-opt no-new-privileges -e "POD_NAME=ctl-$name" \
    -e LEADER_ELECTION_LOCK_NAMESPACE=pcmc-system -e LEADER_ELECTION_LOCK_NAME=pcmc-controller-leader \
    "$@" "$IMG" "${ARGS[@]/#:8080/127.0.0.1:$port}")
}
logs() { local n; for n in "${!CID[@]}"; do echo "--- ctl-$n"; docker logs "${CID[$n]}" 2>&1 | tail -n 15; done | sed 's/^/# /'; }
start a -v "$work/kubeconfig:/etc/pcmc/kubeconfig:ro" -e KUBECONFIG=/etc/pcmc/kubeconfig
start b -v "$work/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" \
  -e KUBERNETES_SERVICE_HOST=127.0.0.1 -e "KUBERNETES_SERVICE_PORT=$PCMC_APISERVER_PORT"

ready() { curl -fsS "http://127.0.0.1:${PORT[$1]}/readyz"; }
leader_metric() { curl -fsS "http://127.0.0.1:${PORT[$1]}/metrics" | awk '$1=="pcmc_controller_leader"{print $2}'; }
holder() { kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
for n in a b; do
  if wait_until 60 ready $n; then tap_ok "replica $n ready (/readyz)"; else tap_not_ok "replica $n ready (/readyz)"; logs; fi
done
if wait_until 30 bash -c "[ -n \"\$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}')\" ]"; then
  tap_ok "Lease pcmc-system/pcmc-controller-leader held by $(holder)"
else tap_not_ok "a replica holds the Lease"; logs; fi
lead=$(holder); lead=${lead#ctl-}
other=$([ "$lead" = a ] && echo b || echo a)
wait_until 10 bash -c "[ \"\$(curl -fsS http://127.0.0.1:${PORT[$lead]}/metrics | awk '\$1==\"pcmc_controller_leader\"{print \$2}')\" = 1 ]"
tap_check "exactly one leader: ctl-$lead says 1, ctl-$other says 0" \
  test "$(leader_metric "$lead")/$(leader_metric "$other")" = 1/0

# How the processes really run (the kernel's view, not the image's config).
proc_is() { # NAME: uid 65532, no effective capabilities, no_new_privs, read-only root
  local pid st
  pid=$(docker inspect -f '{{.State.Pid}}' "${CID[$1]}")
  st=$(cat "/proc/$pid/status")
  grep -qE '^Uid:\s+65532\s+65532\s+65532\s+65532' <<<"$st" || { grep ^Uid <<<"$st"; return 1; }
  grep -qE '^CapEff:\s+0+$' <<<"$st" || { grep ^Cap <<<"$st"; return 1; }
  grep -qE '^NoNewPrivs:\s+1' <<<"$st" || return 1
  [ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "${CID[$1]}")" = true ]
}
for n in a b; do tap_check "ctl-$n runs as uid 65532, no capabilities, read-only root" proc_is $n; done

# A real reconcile: the example CR and a pod it selects give the pod's ConfigMap and the CR's status.
kubectl apply -f "$DEP_REPO/crds/examples/web-firewall.yaml" >/dev/null
# No controller-manager here, so no default ServiceAccount for the pod unless we make it.
kubectl -n default create serviceaccount default >/dev/null
kubectl apply -f - >/dev/null <<'POD'
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web, tier: frontend}}
spec:
  nodeName: deploy-test-node
  containers: [{name: web, image: registry.invalid/web:1, ports: [{containerPort: 80}]}]
POD
CM=pod-web-1-from-web-firewall-cfg
cm() { kubectl -n default get configmap "$CM" -o json; }
if wait_until 30 cm; then tap_ok "ConfigMap default/$CM created by the leader"
else tap_not_ok "ConfigMap default/$CM created by the leader"; logs; fi
cm_content() {
  cm | jq -e '.data | .podName=="web-1" and .namespace=="default" and .label_app=="web" and
    .ebpf_allowed_ports=="80,8080" and .ebpf_blocked_ports=="9090" and .ebpf_l4_firewall_enabled=="true"'
}
tap_check "ConfigMap content: pod, label, firewall ports" cm_content
status_ok() { kubectl -n default get pcmc web-firewall -o json | jq -e '.status.observedGeneration==1 and .status.matchedPods==1'; }
tap_check "CR status written (observedGeneration 1, matchedPods 1)" wait_until 30 status_ok

# Hand-over: the leader stops (SIGTERM releases the Lease), the standby takes over and keeps reconciling.
t0=$(date +%s.%N)
tap_check "leader ctl-$lead stopped by container id, exit 0" \
  bash -c "docker stop -t 15 ${CID[$lead]} >/dev/null && [ \$(docker inspect -f '{{.State.ExitCode}}' ${CID[$lead]}) = 0 ]"
if wait_until 20 bash -c "[ \"\$(kubectl -n pcmc-system get lease pcmc-controller-leader -o jsonpath='{.spec.holderIdentity}')\" = ctl-$other ]"; then
  tap_ok "ctl-$other took the Lease over in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
else tap_not_ok "ctl-$other took the Lease over (holder: $(holder))"; logs; fi
kubectl -n default label pod web-1 app=db --overwrite >/dev/null
if wait_until 30 bash -c "! kubectl -n default get configmap $CM >/dev/null 2>&1"; then
  tap_ok "new leader ctl-$other deletes the ConfigMap of a pod that stopped matching"
else tap_not_ok "new leader deletes the ConfigMap of a pod that stopped matching"; logs; fi
tap_check "no request refused by RBAC (no 403/forbidden in either log)" \
  bash -c "! { docker logs ${CID[a]} 2>&1; docker logs ${CID[b]} 2>&1; } | grep -iE 'forbidden|\"http_status\":403'"
tap_check "ctl-$other stopped by container id, exit 0" \
  bash -c "docker stop -t 15 ${CID[$other]} >/dev/null && [ \$(docker inspect -f '{{.State.ExitCode}}' ${CID[$other]}) = 0 ]"
tap_done
