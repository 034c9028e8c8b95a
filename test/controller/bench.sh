#!/usr/bin/env bash
# Controller benchmark: 10,000 pods in 100 namespaces and 1,000 PodConfigMapConfigs (10 per
# namespace, each selecting 10 pods) on the local cluster. Prints
#   BENCH controller_sync_10k_pods <s> s        start -> all 10,000 ConfigMaps written, queue empty
#   BENCH controller_rss_10k_pods <MiB> MiB     resident memory after the sync (plain build)
#   BENCH controller_reconciles_per_s <n> 1/s   a restarted controller re-checking all 1,000 CRs
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PCMC_CONTROLLER_WATCH_CACHE=1
. "$here/lib.sh"
NS=${BENCH_NAMESPACES:-100} PODS_PER_NS=${BENCH_PODS_PER_NS:-100} CRS_PER_NS=${BENCH_CRS_PER_NS:-10}
TOTAL=$((NS * PODS_PER_NS))
work=$(mktemp -d /tmp/pcmc-controller-bench.XXXXXX)
cleanup() { ctl_stop_all; cluster_stop; rm -rf "$work" "$CTL_LOGS"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "bench: $*" >&2; exit 1; }

# A plain (no sanitizer) build: the RSS target is about the program, not ASan's shadow memory.
make -s -C "$CTL_REPO" BUILD=build/plain SANITIZE= build/plain/pcmc-controller >/dev/null || fail "plain build failed"
CTL_BIN=$CTL_REPO/build/plain/pcmc-controller

mkdir -p "$CTL_LOGS"
cluster_start || fail "cluster did not start"

t0=$(date +%s)
{
  for ((n = 0; n < NS; n++)); do
    printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench-%d"}}\n' "$n"
  done
} > "$work/namespaces.json"
CREATE=$CTL_REPO/build/test/controller/bench_create
[ -x "$CREATE" ] || fail "missing $CREATE (run make)"
"$CREATE" 8 < "$work/namespaces.json" || fail "namespaces"
for ((n = 0; n < NS; n++)); do
  printf '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":"bench-%d"}}\n' "$n"
done > "$work/sa.json"
"$CREATE" 8 < "$work/sa.json" || fail "service accounts"
for ((n = 0; n < NS; n++)); do
  {
    for ((k = 0; k < CRS_PER_NS; k++)); do
      printf '{"apiVersion":"podconfig.example.com/v1alpha1","kind":"PodConfigMapConfig","metadata":{"name":"cr-%d","namespace":"bench-%d"},"spec":{"podSelector":{"matchLabels":{"group":"g%d"}},"labelsToInclude":["app","group"],"annotationsToInclude":["team"],"ebpfConfig":{"syscallMonitoring":{"enabled":true,"syscallNames":["read","write"]}}}}\n' "$k" "$n" "$k"
    done
    for ((p = 0; p < PODS_PER_NS; p++)); do
      printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-%d","namespace":"bench-%d","labels":{"app":"bench","group":"g%d"},"annotations":{"team":"t%d"}},"spec":{"nodeName":"node-%d","containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}\n' \
        "$p" "$n" "$((p % CRS_PER_NS))" "$n" "$((p % 20))"
    done
  } > "$work/objects-$n.json"
done
cat "$work"/objects-*.json | "$CREATE" 8 || fail "creating pods and CRs"
[ "$(kubectl get pods -A --no-headers | wc -l)" = "$TOTAL" ] || fail "not all $TOTAL pods exist"
echo "bench: created $TOTAL pods and $((NS * CRS_PER_NS)) CRs in $(( $(date +%s) - t0 ))s" >&2

synced() { # all ConfigMaps written and nothing left to do
  local m
  m=$(ctl_get "$1" /metrics) || return 1
  awk -v want="$TOTAL" '$1 == "pcmc_controller_active_configmaps" { a = $2 } $1 == "pcmc_controller_queue_depth" { q = $2 }
    END { exit !(a == want && q == 0) }' <<<"$m"
}

t0=$(date +%s.%N)
ctl_start a LEADER_ELECTION_ENABLED=false || fail "controller did not start"
wait_until 600 synced a || fail "controller did not write $TOTAL ConfigMaps within 600s"
t1=$(date +%s.%N)
count=$(kubectl get configmaps -A -l podconfig.example.com/generated-by-pcmc -o name | wc -l)
[ "$count" = "$TOTAL" ] || fail "cluster has $count generated ConfigMaps, want $TOTAL"
sleep 1
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/${CTL_PID[a]}/status")
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "BENCH controller_sync_10k_pods %.2f s\n", b - a }'
awk -v k="$rss_kb" 'BEGIN { printf "BENCH controller_rss_10k_pods %.1f MiB\n", k / 1024 }'
ctl_stop a

# A restarted controller has nothing to write: it re-reconciles every CR against its caches.
reconciles() { ctl_get a /metrics | awk '$1 == "pcmc_controller_reconcile_duration_seconds_count" { print $2 }'; }
crs=$((NS * CRS_PER_NS))
ctl_start a LEADER_ELECTION_ENABLED=false || fail "controller did not restart"
t0=$(grep -m1 '"msg":"caches synced"' "$CTL_LOGS/a.log" | jq -r .ts)
wait_until 300 bash -c '. '"$here"'/lib.sh; [ "$(ctl_get a /metrics | awk '"'"'$1 == "pcmc_controller_reconcile_duration_seconds_count" { print $2 }'"'"')" -ge '"$crs"' ]' ||
  fail "restarted controller did not reconcile $crs CRs"
t1=$(grep '"msg":"reconciled"' "$CTL_LOGS/a.log" | sed -n "${crs}p" | jq -r .ts)
awk -v n="$crs" -v a="$(date -d "$t0" +%s.%N)" -v b="$(date -d "$t1" +%s.%N)" \
  'BEGIN { d = b - a; if (d < 0.001) d = 0.001; printf "BENCH controller_reconciles_per_s %.0f 1/s\n", n / d }'
echo "bench: $(reconciles) reconciles after restart" >&2
