#!/usr/bin/env bash
# The pcmc-agent image on this machine's kernel, run the way manifests/agent.yaml runs it: host PID,
# the host's bpffs (own --pin-root), cgroups (read-only) and a state dir, read-only root, exactly the
# DaemonSet's capabilities, ServiceAccount pcmc-agent (TokenReview) on a local kube-apiserver.
# It loads and pins its programs, takes the controller's push for a real test pod and enforces it;
# then, one capability left out at a time, shows which ones the pod's policy needs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/pcmc-deploy-agent.XXXXXX)
PIN_BASE=/sys/fs/bpf/pcmc-deploy-test-$$
TESTPOD=$DEP_REPO/build/pcmc-testpod
POD=deploy-img-web POD_UID=5e0d6d2a-7c1b-4f00-9d2e-0000000000d1 POD_IP=10.244.240.2
NODE=deploy-test-node
declare -A CID=()
cleanup() {
  local n
  for n in "${!CID[@]}"; do docker rm -f "${CID[$n]}" >/dev/null 2>&1; done
  for f in "$work"/*.pid; do  # agents run under setpriv (strace's child when traced)
    [ -f "$f" ] || continue; n=$(cat "$f")
    kill -KILL $(cat "/proc/$n/task/$n/children" 2>/dev/null) "$n" 2>/dev/null
  done
  [ -x "$TESTPOD" ] && "$TESTPOD" delete --state-dir "$work/pods" --name "$POD" --uid "$POD_UID" >/dev/null 2>&1
  rm -rf "$PIN_BASE"
  cluster_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
need docker kubectl curl jq bpftool ss flock python3 setpriv strace
IMG=pcmc-agent:${PCMC_IMAGE_TAG:-dev}
# Fixed pod name and address: one run at a time on this machine.
exec 8>/run/lock/pcmc-deploy-agent-image.lock; flock 8
[ -x "$TESTPOD" ] || { tap_not_ok "build/pcmc-testpod built (run make)"; tap_done; exit 1; }
if ! bash "$here/build-images.sh" agent 2>"$work/build.log"; then
  tap_not_ok "image $IMG built"; sed 's/^/# /' "$work/build.log" | tail -20; tap_done; exit 1
fi
# The capabilities come from the DaemonSet itself, so this run proves the manifest, not a guess.
CAPS=$(kubectl kustomize "$DEP_REPO/manifests" | python3 "$here/yaml2json.py" |
  jq -r '.[] | select(.kind=="DaemonSet") | .spec.template.spec.containers[0].securityContext.capabilities.add[]')
[ -n "$CAPS" ] || { tap_not_ok "capabilities read from manifests/agent.yaml"; tap_done; exit 1; }
echo "# DaemonSet capabilities: $(echo $CAPS)"
# Docker 20.10 (Debian's 20.10.24) predates CAP_BPF/CAP_PERFMON in its capability list and refuses to
# add them. The kernel grants both to CAP_SYS_ADMIN holders (bpf_capable(), perfmon_capable()), so a
# run without them but with SYS_ADMIN has the same privileges; said loudly, not hidden.
DOCKER_CAPS=
for c in $CAPS; do
  probe=$(docker run --rm --cap-drop ALL --cap-add "$c" "$IMG" --no-such-flag 2>&1)
  if grep -q 'unknown capability' <<<"$probe"; then
    echo "# this Docker engine cannot add CAP_$c: running without it (SYS_ADMIN covers it in the kernel)"
  else DOCKER_CAPS="$DOCKER_CAPS $c"; fi
done
CAPS=$(echo $DOCKER_CAPS)

cluster_start || { tap_not_ok "local cluster up"; tap_done; exit 1; }
tap_check "kubectl apply -k config/rbac" kubectl apply -k "$DEP_REPO/config/rbac"
# In-cluster credentials of pcmc-agent, as the kubelet would mount them.
mkdir -p "$work/sa" "$work/pods"
kubectl -n pcmc-system create token pcmc-agent --duration 1h >"$work/sa/token"
cp "$PCMC_CLUSTER_DIR/pki/ca.crt" "$work/sa/ca.crt"; echo -n pcmc-system >"$work/sa/namespace"
CTL_TOKEN=$(kubectl -n pcmc-system create token pcmc-controller --duration 1h)
AGENT_TOKEN=$(cat "$work/sa/token")

# agent_start NAME CAP...: the agent container with those capabilities, its own pin root and state dir.
agent_start() {
  local name=$1 port c args=(); shift
  port=$(free_port); echo "$port" >"$work/$name.port"
  mkdir -p "$work/$name.state" "$PIN_BASE"
  for c in "$@"; do args+=(--cap-add "$c"); done
  CID[$name]=$(docker run -d --name "pcmc-deploy-agent-$name-$$" --network host --pid host --read-only \
    --cap-drop ALL "${args[@]}" --security-opt no-new-privileges \
    -v /sys/fs/bpf:/sys/fs/bpf -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v "$work/$name.state:/var/lib/pcmc-agent" \
    -v "$work/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" \
    -v /run/pcmc-testpod/cni:/run/pcmc-testpod/cni:ro -v /run/netns:/run/netns:ro,rslave \
    -e KUBERNETES_SERVICE_HOST=127.0.0.1 -e "KUBERNETES_SERVICE_PORT=$PCMC_APISERVER_PORT" -e "NODE_NAME=$NODE" \
    "$IMG" --listen "127.0.0.1:$port" --pin-root "$PIN_BASE/$name" --state-dir /var/lib/pcmc-agent \
    --cni-cache-dir /run/pcmc-testpod/cni --fencing local)
}
url() { echo "http://127.0.0.1:$(cat "$work/$1.port")$2"; }
ready() { curl -fsS "$(url "$1" /readyz)"; }
logs() { docker logs "${CID[$1]}" 2>&1 | tail -n 15 | sed 's/^/# /'; }
# agent_stop NAME: stop by container id (SIGTERM), exit 0 expected; the container is removed.
agent_stop() {
  local code
  docker stop -t 15 "${CID[$1]}" >/dev/null || return 1
  code=$(docker inspect -f '{{.State.ExitCode}}' "${CID[$1]}")
  docker rm "${CID[$1]}" >/dev/null && unset "CID[$1]"
  [ "$code" = 0 ] || { echo "exit code $code"; return 1; }
}
# push NAME TOKEN BODY: PUT /v1/policy, prints "STATUS BODY". The agents run --fencing local: these
# pushes come by hand, from no holder of a controller Lease.
push() {
  curl -sS -X PUT -H "Authorization: Bearer $2" -H 'Content-Type: application/json' --data "$3" \
    -w ' %{http_code}' --max-time 20 "$(url "$1" /v1/policy)"
}
policy() { # REVISION: the controller's push for the test pod (count read/write, block 9090)
  jq -nc --arg node "$NODE" --arg uid "$POD_UID" --arg name "$POD" --argjson rev "$1" '{node:$node,
    sender:{identity:"deploy-test",epoch:1}, revision:$rev,
    pods:[{uid:$uid, namespace:"default", name:$name, policy:{
      syscallMonitoring:{enabled:true, syscallNames:["read","write"]},
      l4Firewall:{enabled:true, blockedPorts:[9090], defaultAction:"allow"},
      metricsExport:{enabled:true, updateInterval:"1s"}}}]}'
}
pod_create() {
  "$TESTPOD" delete --state-dir "$work/pods" --name "$POD" --uid "$POD_UID" >/dev/null 2>&1
  "$TESTPOD" create --state-dir "$work/pods" --name "$POD" --uid "$POD_UID" --ipv4 "$POD_IP" \
    --tcp 8080 --tcp 9090 --serve-mask 1 >/dev/null
}
tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2 && head -c 4 <&3" 2>/dev/null | grep -q pcmc; }

# --- The agent as the DaemonSet runs it.
tap_check "test pod $POD ($POD_IP, ports 8080 9090)" pod_create
agent_start main $CAPS
if [ -n "${CID[main]:-}" ] && wait_until 30 ready main; then tap_ok "agent ready (/readyz) with only: $(echo $CAPS)"
else tap_not_ok "agent ready (/readyz) with only: $(echo $CAPS)"; logs main; fi
tap_check "GET /healthz says ok" bash -c "curl -fsS $(url main /healthz) | grep -qx ok"
pin_dir=$(docker logs "${CID[main]}" 2>&1 | grep '"msg":"dataplane open"' | jq -r .pin_dir)
tap_check "log line: dataplane open, pin_dir $pin_dir" test "${pin_dir#"$PIN_BASE/main/"}" != "$pin_dir"
tap_check "log line: ready" bash -c "docker logs ${CID[main]} 2>&1 | jq -e 'select(.msg==\"ready\")'"
link=$(ls "$PIN_BASE"/main/v*/sys_enter_link 2>/dev/null | head -1)
prog_id=$( [ -n "$link" ] && bpftool -j link show pinned "$link" | jq -r .prog_id)
tap_check "bpftool: pinned link $link runs pcmc_sys_enter" \
  bash -c "bpftool -j prog show id '$prog_id' | jq -e '.name==\"pcmc_sys_enter\"'"
out=$(push main "" "$(policy 1)")
tap_check "push without a token: 401" test "${out##* }" = 401
out=$(push main "$AGENT_TOKEN" "$(policy 1)")
tap_check "push with the agent's own token: 403 (TokenReview by pcmc-agent's RBAC)" test "${out##* }" = 403
out=$(push main "$CTL_TOKEN" "$(policy 1)")
tap_check "push with the controller's token: 200, pod applied" \
  bash -c "[ '${out##* }' = 200 ] && jq -e '.results[0].result==\"applied\"' <<<'${out% *}'"
echo "# ${out% *}" | cut -c1-400
fw_id=$(bpftool -j prog show pinned "$PIN_BASE/main/v"*"/fw_pod_in" 2>/dev/null | jq -r .id)
tap_check "bpftool: the node's pcmc_fw_pod_in pinned ($fw_id)" \
  bash -c "bpftool -j prog show id '$fw_id' | jq -e '.name==\"pcmc_fw_pod_in\"'"
tap_check "allowed port 8080 answers" tcp_open "$POD_IP" 8080
tap_check "blocked port 9090 dropped by the agent's firewall" bash -c "! timeout 1 bash -c 'exec 3<>/dev/tcp/$POD_IP/9090 && head -c 4 <&3' 2>/dev/null | grep -q pcmc"
tap_check "/metrics: blocked packets counted for the pod" wait_until 10 bash -c \
  "curl -fsS $(url main /metrics) | grep -E '^podconfigmap_controller_ebpf_l4_firewall_total\{.*pod_name=\"$POD\".*stat_type=\"blocked\"\} [1-9]'"
proc_caps() { # the agent process: uid 0, CapEff = exactly the DaemonSet's capabilities, no_new_privs
  local pid st want=0 c n
  pid=$(docker inspect -f '{{.State.Pid}}' "${CID[main]}")
  st=$(cat "/proc/$pid/status")
  for c in $CAPS; do
    case $c in NET_ADMIN) n=12;; SYS_PTRACE) n=19;; SYS_ADMIN) n=21;; PERFMON) n=38;; BPF) n=39;; *) echo "unknown $c"; return 1;; esac
    want=$((want | (1 << n)))
  done
  grep -qE '^Uid:\s+0\s' <<<"$st" && grep -qE '^NoNewPrivs:\s+1' <<<"$st" &&
    [ "$(awk '/^CapEff/{print $2}' <<<"$st")" = "$(printf '%016x' "$want")" ] || { grep -E '^(Uid|Cap|NoNew)' <<<"$st"; return 1; }
}
tap_check "agent process: uid 0, effective capabilities exactly $CAPS, no_new_privs" proc_caps
tap_check "agent stopped by container id, exit 0" agent_stop main
tap_check "programs outlive the agent: pinned link still runs pcmc_sys_enter" bpftool prog show id "$prog_id"
tap_check "port 9090 still blocked with no agent running" bash -c "! timeout 1 bash -c 'exec 3<>/dev/tcp/$POD_IP/9090 && head -c 4 <&3' 2>/dev/null | grep -q pcmc"
# Clean up as an operator would: the pod goes (its netns takes the TC filter), then the pins.
"$TESTPOD" delete --state-dir "$work/pods" --name "$POD" --uid "$POD_UID" >/dev/null 2>&1
rm -rf "$PIN_BASE/main"
tap_check "pins removed: pcmc_sys_enter and pcmc_fw_pod_in unloaded" \
  wait_until 10 bash -c "! bpftool prog show id '$prog_id' >/dev/null 2>&1 && ! bpftool prog show id '$fw_id' >/dev/null 2>&1"

# --- Which capabilities the pod's policy needs. Docker here cannot express BPF/PERFMON, so the
# image's own binary runs on the host under setpriv with exact bounding sets (root, no_new_privs):
# the DaemonSet's five, then each one left out.
cid=$(docker create "$IMG") && docker cp "$cid:/usr/bin/pcmc-agent" "$work/pcmc-agent" && docker rm "$cid" >/dev/null
"$DEP_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-agent "$work/agent.kubeconfig" 1h >/dev/null
ALL_CAPS=$(kubectl kustomize "$DEP_REPO/manifests" | python3 "$here/yaml2json.py" |
  jq -r '.[] | select(.kind=="DaemonSet") | .spec.template.spec.containers[0].securityContext.capabilities.add[]')
setpriv_start() { # NAME CAP...: the image's binary with exactly these capabilities
  local name=$1 port set=-all c; shift
  for c in "$@"; do set="$set,+${c,,}"; done
  port=$(free_port); echo "$port" >"$work/$name.port"; mkdir -p "$work/$name.state" "$PIN_BASE"
  # With TRACE=1 under strace, to see which system call the kernel refuses.
  setpriv --bounding-set "$set" --inh-caps -all --no-new-privs -- \
    ${TRACE:+strace -f -e trace=setns -o "$work/$name.strace"} "$work/pcmc-agent" --listen "127.0.0.1:$port" \
    --pin-root "$PIN_BASE/$name" --state-dir "$work/$name.state" --kubeconfig "$work/agent.kubeconfig" \
    --node-name "$NODE" --cni-cache-dir /run/pcmc-testpod/cni --fencing local >"$work/$name.log" 2>&1 &
  echo $! >"$work/$name.pid"
}
setpriv_stop() { # NAME: SIGTERM to the agent (strace's child when traced), KILL after 10 s
  local pid target i
  pid=$(cat "$work/$1.pid"); target=$pid
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = strace ] && target=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
  kill -TERM ${target:-$pid} 2>/dev/null
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" ${target:-} 2>/dev/null
  wait "$pid" 2>/dev/null
}
try_caps() { # NAME CAP...: the pod's result with exactly those capabilities ("applied" or the error)
  local name=$1 out; shift
  pod_create || { echo "pod not created"; return; }
  setpriv_start "$name" "$@"
  if ! wait_until 30 ready "$name"; then
    echo "agent not ready: $(jq -r 'select(.level=="error") | .msg' "$work/$name.log" 2>/dev/null | head -1)"
  else
    out=$(push "$name" "$CTL_TOKEN" "$(policy 1)")
    jq -r '.results[0] | if .result=="applied" then "applied" else .result + ": " + .error end' <<<"${out% *}" 2>/dev/null || echo "HTTP ${out##* }"
  fi
  setpriv_stop "$name" && rm -f "$work/$name.pid"
  "$TESTPOD" delete --state-dir "$work/pods" --name "$POD" --uid "$POD_UID" >/dev/null 2>&1
  rm -rf "${PIN_BASE:?}/$name"
}
without() { local c; for c in $ALL_CAPS; do [ "$c" = "$1" ] || echo "$c"; done; }
r=$(try_caps caps-all $ALL_CAPS)
if [ "$r" = applied ]; then tap_ok "exactly $(echo $ALL_CAPS): the pod's policy is applied"
else tap_not_ok "exactly $(echo $ALL_CAPS): the pod's policy is applied ($r)"; fi
r=$(try_caps no-NET_ADMIN $(without NET_ADMIN))
if [ "$r" != applied ]; then tap_ok "NET_ADMIN needed: without it the pod's policy fails ($r)"
else tap_not_ok "NET_ADMIN needed: without it the pod's policy was still applied"; fi
# The firewall sits on the pod's host-side interface (found from the host netns): no setns and no
# /proc/<pid>/ns/net any more; only an upgrade from pin layout 1 joins a pod netns once.
for cap in SYS_ADMIN SYS_PTRACE; do
  echo "# without $cap: $(try_caps "no-$cap" $(without "$cap"))"
done
for cap in BPF PERFMON; do
  echo "# without $cap (the kernel lets CAP_SYS_ADMIN stand in for it): $(try_caps "no-$cap" $(without "$cap"))"
done
rmdir "$PIN_BASE" 2>/dev/null
tap_done
