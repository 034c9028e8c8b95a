#!/usr/bin/env bash
# pcmc-hollow-agents as the scale benchmark uses it: HOLLOW_TEST_NODES (250; bench-scale runs 5,000)
# simulated nodes in one process, a push to each routed by its node (concurrently), what each holds read back with GET ?node=, a push for an
# unknown node refused, fencing per node, a pod invalid on the nodes' architecture failed alone, and
# every node's state back after a restart (--state-dir). --auth none --fencing local: the service's
# auth and fencing are the agent's own, tested in auth.sh and fencing.sh. TAP.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/tap.sh"
. "$here/lib.sh"
BIN=$AG_REPO/build/pcmc-hollow-agents
N=${HOLLOW_TEST_NODES:-250}
trap ag_cleanup EXIT
trap 'exit 130' INT TERM
AG_NEEDS=$BIN ag_require curl jq
mkdir -p "$AG_WORK"
for ((i = 0; i < N; i++)); do printf 'hollow-%04d\n' "$i"; done > "$AG_WORK/nodes.txt"

hollow_start() {
  AG_RUN=$((AG_RUN + 1)); AG_LOG=$AG_WORK/hollow-$AG_RUN.log
  "$BIN" --listen 127.0.0.1:0 --nodes-from "$AG_WORK/nodes.txt" --state-dir "$AG_WORK/state" --auth none \
    --fencing local --arch arm64 >"$AG_LOG" 2>&1 &
  AG_PID=$!
  for ((i = 0; i < 100; i++)); do
    AG_PORT=$(grep -m1 '"msg":"starting"' "$AG_LOG" 2>/dev/null | jq -r .port)
    [ -n "$AG_PORT" ] && [ "$(curl -s --max-time 2 "http://127.0.0.1:$AG_PORT/readyz")" = ok ] && return 0
    sleep 0.1
  done
  return 1
}
body() { # NODE EPOCH REVISION PORT
  printf '{"node":"%s","sender":{"identity":"ctl","epoch":%s},"revision":%s,"pods":[{"uid":"u-%s","namespace":"ns","name":"p-%s","policy":{"l4Firewall":{"enabled":true,"blockedPorts":[%s]}}}]}' \
    "$1" "$2" "$3" "$1" "$1" "$4"
}
export -f body

if hollow_start && grep '"msg":"starting"' "$AG_LOG" | jq -e ".nodes == $N" >/dev/null; then
  tap_ok "pcmc-hollow-agents serves $N nodes from --nodes-from"
else
  tap_not_ok "pcmc-hollow-agents serves $N nodes from --nodes-from"; tail -n 5 "$AG_LOG" | sed 's/^/# /'; tap_done; exit 1
fi
# A push to every node, 8 at a time, each blocking a port of its own number.
export AG_PORT
codes=$(awk '{ print $1, NR }' "$AG_WORK/nodes.txt" | xargs -P 8 -n 2 bash -c \
  'curl -s -o /dev/null -w "%{http_code}\n" -X PUT --data-binary "$(body "$0" 1 1 $((1000 + $1)))" "http://127.0.0.1:$AG_PORT/v1/policy"' |
  sort | uniq -c | awk '{ print $2 ":" $1 }' | tr '\n' ' ')
tap_check "a push to each of the $N nodes, 8 at a time: every one 200 ($codes)" test "$codes" = "200:$N "
held_port() { ag_get "/v1/policy?node=$1" | jq -r '"\(.node) \(.pods[0].policy.l4Firewall.blockedPorts[0]) \(.pods[0].state)"'; }
last=$(printf 'hollow-%04d' $((N - 1))) mid=$(printf 'hollow-%04d' $((N / 2)))
tap_check "GET /v1/policy?node= answers what each node holds" \
  bash -c "[ \"$(held_port hollow-0000)\" = 'hollow-0000 1001 applied' ] && [ \"$(held_port $last)\" = '$last $((1000 + N)) applied' ]"
ag_put "$(body hollow-9999 1 1 22)"
tap_check "a push for a node this process does not serve: 400 \$.node" \
  bash -c "[ '$AG_CODE' = 400 ] && [ \"\$(jq -r .path <<<'$AG_BODY')\" = '\$.node' ]"
ag_put "$(body hollow-0005 0 9 22)"
code_old=$AG_CODE
ag_put "$(body hollow-0006 1 2 22)"
tap_check "fencing per node: an older epoch to one node is 409 while the next node takes a new revision" \
  bash -c "[ '$code_old/$AG_CODE' = 409/200 ] && [ \"$(held_port hollow-0005)\" = 'hollow-0005 1006 applied' ]"
ag_put '{"node":"hollow-0007","sender":{"identity":"ctl","epoch":1},"revision":2,"pods":[{"uid":"a","namespace":"ns","name":"a","policy":{"syscallMonitoring":{"enabled":true,"syscallNames":["read","open"]}}},{"uid":"b","namespace":"ns","name":"b","policy":{}}]}'
results=$(jq -r '[.results[].result] | join(" ")' <<<"$AG_BODY")
state=$(ag_get "/v1/policy?node=hollow-0007" | jq -r '.pods[0].state')
if [ "$AG_CODE/$results/$state" = "200/failed applied removed/failed" ]; then
  tap_ok "a syscall name the nodes' architecture (arm64) lacks fails that pod alone"
else
  tap_not_ok "a syscall name the nodes' architecture (arm64) lacks fails that pod alone"; echo "# $AG_CODE $AG_BODY / $state"
fi
before=$(for n in hollow-0000 $mid $last; do ag_get "/v1/policy?node=$n"; done)
ag_stop TERM
stopped=$AG_EXIT
if hollow_start && [ "$(for n in hollow-0000 $mid $last; do ag_get "/v1/policy?node=$n"; done)" = "$before" ] &&
   grep '"msg":"starting"' "$AG_LOG" | jq -e ".restored == $N" >/dev/null && [ "$stopped" = 0 ]; then
  tap_ok "SIGTERM, then a restart: every node's state is back from --state-dir"
else
  tap_not_ok "SIGTERM, then a restart: every node's state is back from --state-dir"
fi
ag_stop TERM
ag_no_sanitizer_reports "$AG_WORK"/hollow-*.log
tap_done
