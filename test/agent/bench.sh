#!/usr/bin/env bash
# pcmc-agent with 250 real test pods (10.244.31.x), plain build (no sanitizers), --auth=none:
#   BENCH agent_apply_250_pods <ms> ms    full-state PUT of 250 pods from scratch (curl time_total)
#   BENCH agent_scrape_250_pods <ms> ms   GET /metrics, median of 20 (every pod exported)
#   BENCH agent_rss_250_pods <MiB> MiB    agent VmRSS after the apply and the scrapes
#   BENCH agent_reapply_unchanged_250_pods <ms> ms   the same 250 pods again (parse, fsync, diff only)
#   BENCH agent_idle_cpu_250_pods <%> %   CPU over 5 s with every pod's counters read each second
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
N=${PCMC_AGENT_BENCH_PODS:-250}
fail() { echo "agent bench: $*" >&2; [ -n "${AG_LOG:-}" ] && tail -n 15 "$AG_LOG" >&2; exit 1; }
trap ag_cleanup EXIT
trap 'exit 130' INT TERM

make -s -C "$AG_REPO" BUILD=build/plain SANITIZE= build/plain/pcmc-agent >/dev/null || fail "plain build failed"
AG_BIN=$AG_REPO/build/plain/pcmc-agent
[ -x "$AG_TESTPOD" ] || fail "$AG_TESTPOD missing (run make)"
ag_lock agent-bench
mkdir -p "$AG_WORK"

names=()
for ((i = 1; i <= N; i++)); do
  n=$(printf 'agb-%03d' "$i"); names+=("$n"); AG_POD_UID[$n]=$(ag_uid "$n")
done
# Pods are made 8 at a time (each: netns, veth, cgroups, pause + server).
create_one() {
  local i=$1 n; n=$(printf 'agb-%03d' "$i")
  "$AG_TESTPOD" delete --state-dir "$AG_PODS" --name "$n" --uid "$(ag_uid "$n")" >/dev/null 2>&1
  "$AG_TESTPOD" create --state-dir "$AG_PODS" --name "$n" --uid "$(ag_uid "$n")" \
    --ipv4 "10.244.31.$((i + 1))" --tcp 8080 --serve-mask 1 >/dev/null || echo "create $n failed" >&2
}
export -f create_one ag_uid; export AG_TESTPOD AG_PODS
seq 1 "$N" | xargs -P 8 -I{} bash -c 'create_one {}'
[ "$(ls "$AG_PODS"/*.json 2>/dev/null | wc -l)" = "$N" ] || fail "could not create $N test pods"

ag_start --auth none --fencing local || fail "agent did not start"
pods=
for n in "${names[@]}"; do
  pods+=$(printf '%s{"uid":"%s","namespace":"bench","name":"%s","policy":{"syscallMonitoring":{"enabled":true,"syscallNames":["read","write","openat","getppid"]},"l4Firewall":{"enabled":true,"allowedPorts":[8080,8443],"blockedPorts":[22,2222],"defaultAction":"allow"},"metricsExport":{"enabled":true,"updateInterval":"1s"}}}' "${pods:+,}" "${AG_POD_UID[$n]}" "$n")
done
printf '{"node":"node-1","sender":{"identity":"bench","epoch":1},"revision":1,"pods":[%s]}' "$pods" > "$AG_WORK/body.json"
t=$(curl -s -o "$AG_WORK/resp.json" -w '%{http_code} %{time_total}' -X PUT -H 'Content-Type: application/json' \
  --data-binary @"$AG_WORK/body.json" "http://127.0.0.1:$AG_PORT/v1/policy")
[ "${t%% *}" = 200 ] || fail "PUT answered ${t%% *}"
applied=$(jq '[.results[] | select(.result == "applied")] | length' "$AG_WORK/resp.json")
[ "$applied" = "$N" ] || fail "only $applied of $N pods applied: $(jq -c '[.results[] | select(.result != "applied")][0]' "$AG_WORK/resp.json")"
echo "BENCH agent_apply_${N}_pods $(awk -v s="${t#* }" 'BEGIN { printf "%.1f", s * 1000 }') ms"

sed -i 's/"revision":1,/"revision":2,/' "$AG_WORK/body.json"
t=$(curl -s -o "$AG_WORK/resp2.json" -w '%{http_code} %{time_total}' -X PUT -H 'Content-Type: application/json' \
  --data-binary @"$AG_WORK/body.json" "http://127.0.0.1:$AG_PORT/v1/policy")
unchanged=$(jq '[.results[] | select(.result == "unchanged")] | length' "$AG_WORK/resp2.json")
[ "${t%% *}" = 200 ] && [ "$unchanged" = "$N" ] || fail "re-push: ${t%% *}, $unchanged unchanged"
echo "BENCH agent_reapply_unchanged_${N}_pods $(awk -v s="${t#* }" 'BEGIN { printf "%.1f", s * 1000 }') ms"

# Every pod's counters read once (updateInterval 1s): 4 syscall series a pod.
series() { ag_get /metrics | grep -c '^podconfigmap_controller_ebpf_syscall_count_total'; }
all_series() { [ "$(series)" = $((N * 4)) ]; }
wait_until 10 all_series || fail "expected $((N * 4)) syscall series, got $(series)"
times=()
for _ in $(seq 20); do
  times+=("$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$AG_PORT/metrics")")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] * 1000 }')
echo "BENCH agent_scrape_${N}_pods $median ms"
rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$AG_PID/status")
echo "BENCH agent_rss_${N}_pods $rss MiB"
ticks() { awk '{ print $14 + $15 }' "/proc/$AG_PID/stat"; }
c0=$(ticks); sleep 5; c1=$(ticks)
echo "BENCH agent_idle_cpu_${N}_pods $(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", d / hz / 5 * 100 }') %"
ag_stop TERM
[ "$AG_EXIT" = 0 ] || fail "agent exited $AG_EXIT"
# Pods are removed 8 at a time before ag_cleanup (which then finds nothing left).
printf '%s\n' "${names[@]}" | xargs -P 8 -I{} "$AG_TESTPOD" delete --state-dir "$AG_PODS" --name {} >/dev/null 2>&1
