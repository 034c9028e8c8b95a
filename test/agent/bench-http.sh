#!/usr/bin/env bash
# pcmc-agent's HTTP side under load (plain build), TokenReview against a real kube-apiserver (own
# cluster dir and ports, test/README.md); probes open a new connection each, as a kubelet does:
#   BENCH agent_probe_p99_idle <ms> ms                    baseline: /healthz, /readyz, /metrics, nothing else going on
#   BENCH agent_probe_p99_during_apply_4096_pods <ms> ms  the same while 4,096-pod pushes are applied (target <= 50)
#   BENCH agent_rss_idle <MiB> MiB                        baseline: VmRSS of the started agent
#   BENCH agent_rss_60_unauth_8mib_bodies <MiB> MiB       VmRSS while 60 connections with forged tokens send
#                                                          8 MiB bodies and the API server is frozen (target <= 64)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ag_cluster_env "${PCMC_AGENT_BENCH_CLUSTER_DIR:-/tmp/pcmc-agent-bench-cluster}" "${PCMC_AGENT_BENCH_APISERVER_PORT:-19446}" \
  "${PCMC_AGENT_BENCH_ETCD_CLIENT_PORT:-19383}" "${PCMC_AGENT_BENCH_ETCD_PEER_PORT:-19384}"
LOAD=$here/http_load.py
fail() { echo "agent http bench: $*" >&2; [ -n "${AG_LOG:-}" ] && tail -n 15 "$AG_LOG" >&2; exit 1; }
cleanup() {
  local p; p=$(ag_apiserver_pid); [ -n "$p" ] && kill -CONT "$p" 2>/dev/null
  [ -n "${LOAD_PID:-}" ] && kill "$LOAD_PID" 2>/dev/null
  ag_cleanup
  ag_cluster_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make -s -C "$AG_REPO" BUILD=build/plain SANITIZE= build/plain/pcmc-agent >/dev/null || fail "plain build failed"
AG_BIN=$AG_REPO/build/plain/pcmc-agent
ag_lock agent-http-bench
mkdir -p "$AG_WORK"
ag_cluster_up >&2 || fail "cluster up"
kubectl create clusterrolebinding pcmc-agent-http-bench --clusterrole system:auth-delegator \
  --serviceaccount pcmc-system:pcmc-agent >/dev/null 2>&1
"$AG_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-agent "$AG_WORK/agent.kubeconfig" 1h >/dev/null ||
  fail "agent kubeconfig"
token=$(kubectl -n pcmc-system create token pcmc-controller --duration 1h) || fail "controller token"
ag_start --kubeconfig "$AG_WORK/agent.kubeconfig" --fencing local || fail "agent did not start"

read -r p50 p99 n < <(python3 "$LOAD" probes "$AG_PORT" /dev/null) || fail "idle probes"
echo "agent http bench: $n idle probes, p50 $p50 ms" >&2
echo "BENCH agent_probe_p99_idle $p99 ms"
rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$AG_PID/status"; }
echo "BENCH agent_rss_idle $(rss) MiB"

# 60 forged tokens, 8 MiB bodies, the API server frozen: reviews hang (5 s timeout each), the rate
# limiter answers the rest at once; no body byte is read before a token is accepted.
kill -STOP "$(ag_apiserver_pid)" || fail "cannot freeze the API server"
coproc LOAD_CO { python3 "$LOAD" unauth "$AG_PORT" 60 $((8 << 20)) "$AG_WORK/unauth.ready"; }
LOAD_PID=$LOAD_CO_PID
for ((i = 0; i < 600; i++)); do [ -e "$AG_WORK/unauth.ready" ] && break; sleep 0.1; done
[ -e "$AG_WORK/unauth.ready" ] || fail "the unauthenticated connections did not settle"
held=$(rss)
h=$(curl -s --max-time 3 "http://127.0.0.1:$AG_PORT/healthz")
exec {LOAD_CO[1]}>&-
read -r per_conn answered <&"${LOAD_CO[0]}"
wait "$LOAD_PID" 2>/dev/null; LOAD_PID=
kill -CONT "$(ag_apiserver_pid)"
[ "$h" = ok ] || fail "/healthz did not answer while the connections were held"
echo "agent http bench: $per_conn bytes sent per connection before the agent stopped reading; $answered answered at once" >&2
echo "BENCH agent_rss_60_unauth_8mib_bodies $held MiB"

# 4,096 pods that do not run here, pushed 20 times back to back with every pod's policy changing
# each time: the worker decodes, saves, applies (and fails) 4,096 pods per push, seconds in all,
# while the probes go on; they stop when the last push is answered.
for r in $(seq 1 20); do
  python3 -c '
import json, sys
r = int(sys.argv[1])
pods = [{"uid": "b%07d-0000-4000-8000-000000000000" % i, "namespace": "bench", "name": "big-%d" % i,
         "policy": {"l4Firewall": {"enabled": True, "blockedPorts": [22, 2000 + r]},
                    "syscallMonitoring": {"enabled": True, "syscallNames": ["read", "write"]}}} for i in range(4096)]
print(json.dumps({"node": "node-1", "sender": {"identity": "bench", "epoch": 1}, "revision": r, "pods": pods}))' "$r" \
    > "$AG_WORK/big-$r.json"
done
rm -f "$AG_WORK/applied"
python3 "$LOAD" probes "$AG_PORT" "$AG_WORK/applied" > "$AG_WORK/probes.txt" &
probes_pid=$!
t0=$(date +%s%N) codes=
for r in $(seq 1 20); do
  codes+=$(curl -s --max-time 300 -o "$AG_WORK/big.out" -w '%{http_code} ' -X PUT -H "Authorization: Bearer $token" \
    --data-binary @"$AG_WORK/big-$r.json" "http://127.0.0.1:$AG_PORT/v1/policy")
done
t1=$(date +%s%N)
touch "$AG_WORK/applied"
wait $probes_pid || fail "probes during the apply failed"
[ "$codes" = "$(printf '200 %.0s' $(seq 20))" ] || fail "the 4,096-pod pushes answered: $codes"
read -r p50 p99 n < "$AG_WORK/probes.txt"
echo "agent http bench: 20 pushes of 4,096 pods in $(( (t1 - t0) / 1000000 )) ms; $n probes meanwhile, p50 $p50 ms" >&2
echo "BENCH agent_probe_p99_during_apply_4096_pods $p99 ms"
ag_stop TERM
[ "$AG_EXIT" = 0 ] || fail "agent exited $AG_EXIT"
