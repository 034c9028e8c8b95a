#!/usr/bin/env bash
# pcmc-agent on real test pods (--auth=none): push, read back, enforcement, counters moving with
# real traffic and syscalls, each kind of bad body refused with nothing applied, diff apply,
# fencing, a pod that appears after its push, SIGKILL + restart keeping enforcement and state,
# promtool on /metrics, Prometheus scraping the agent, SIGTERM. TAP on stdout.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/tap.sh"
. "$here/lib.sh"

trap ag_cleanup EXIT
trap 'exit 130' INT TERM
AG_NEEDS="$AG_TESTPOD $AG_REPO/build/test/agent/restart-container" ag_require curl jq promtool prometheus flock sha256sum python3
ag_lock agent-suite
mkdir -p "$AG_WORK"

ag_pod_create ag-a 10.244.30.2 --tcp 8080 --tcp 2222
ag_pod_create ag-b 10.244.30.3 --tcp 8080 --tcp 2222
UA=${AG_POD_UID[ag-a]} UB=${AG_POD_UID[ag-b]} UC=$(ag_uid ag-c)
ag_pod_delete ag-c

pod_json() { # NAME UID POLICY
  printf '{"uid":"%s","namespace":"shop","name":"%s","policy":%s}' "$2" "$1" "$3"
}
POL_A='{"syscallMonitoring":{"enabled":true,"syscallNames":["getppid","openat"]},
        "l4Firewall":{"enabled":true,"allowedPorts":[8080],"blockedPorts":[2222],"defaultAction":"allow"},
        "metricsExport":{"enabled":true,"updateInterval":"1s"}}'
POL_B='{"l4Firewall":{"enabled":true,"allowedPorts":[8080],"defaultAction":"block"},
        "metricsExport":{"enabled":true,"updateInterval":"1s"}}'
POL_B2='{"l4Firewall":{"enabled":true,"allowedPorts":[8080,2222],"defaultAction":"block"},
         "metricsExport":{"enabled":true,"updateInterval":"1s"}}'
body() { # EPOCH REVISION POD_JSON...
  local e=$1 r=$2 pods; shift 2
  pods=$(IFS=,; echo "$*")
  printf '{"node":"node-1","sender":{"identity":"ctl-%s","epoch":%s},"revision":%s,"pods":[%s]}' "$e" "$e" "$r" "$pods"
}
result_of() { jq -r --arg u "$1" '.results[] | select(.uid == $u) | .result' <<<"$AG_BODY"; }
state_of() { ag_get /v1/policy | jq -r --arg u "$1" '.pods[] | select(.uid == $u) | .state'; }
held() { ag_get /v1/policy | jq -S '{sender, revision, pods}'; }

# ------------------------------------------------------------------ start, push, read back
if ag_start --auth none --fencing local && [ "$(ag_get /healthz)" = ok ] &&
   [ "$(ag_get /v1/policy | jq -c '[.sender, .revision, .pods]')" = '[null,null,[]]' ]; then
  tap_ok "agent starts with a private pin root, /healthz and /readyz ok, GET /v1/policy empty before any push"
else
  tap_not_ok "agent starts with a private pin root, /healthz and /readyz ok, GET /v1/policy empty before any push"
fi
tap_check "--auth=none is announced loudly in the log at start" \
  grep -q '"level":"warn".*authentication disabled' "$AG_LOG"

ag_put "$(body 3 10 "$(pod_json ag-a "$UA" "$POL_A")" "$(pod_json ag-b "$UB" "$POL_B")")"
if [ "$AG_CODE" = 200 ] && [ "$(result_of "$UA")" = applied ] && [ "$(result_of "$UB")" = applied ]; then
  tap_ok "PUT /v1/policy with two pods: 200, each pod applied"
else
  tap_not_ok "PUT /v1/policy with two pods: 200, each pod applied"; echo "# $AG_CODE $AG_BODY"
fi
got=$(ag_get /v1/policy)
if [ "$(jq -r '.sender.epoch, .revision, (.pods | length)' <<<"$got" | tr '\n' ' ')" = "3 10 2 " ] &&
   [ "$(jq -c --arg u "$UA" '.pods[] | select(.uid == $u) | [.state, .policy.syscallMonitoring.syscallNames, .policy.l4Firewall.blockedPorts, .policy.metricsExport.updateInterval]' <<<"$got")" = '["applied",["getppid","openat"],[2222],"1s"]' ] &&
   [ "$(jq -r --arg u "$UB" '.pods[] | select(.uid == $u) | .policy.syscallMonitoring.enabled, .policy.l4Firewall.defaultAction' <<<"$got" | tr '\n' ' ')" = "false block " ]; then
  tap_ok "GET /v1/policy returns the pushed state with defaults filled in, each pod applied"
else
  tap_not_ok "GET /v1/policy returns the pushed state with defaults filled in, each pod applied"; echo "# $got"
fi
tap_check "pod a: allowed port 8080 answers, blocked port 2222 is dropped" \
  bash -c "$(declare -f tcp_open tcp_blocked); tcp_open 10.244.30.2 8080 && tcp_blocked 10.244.30.2 2222"
tap_check "pod b (defaultAction block): 8080 answers, 2222 (in neither list) is dropped" \
  bash -c "$(declare -f tcp_open tcp_blocked); tcp_open 10.244.30.3 8080 && tcp_blocked 10.244.30.3 2222"
tap_check "one JSON log line for the push with revision, epoch and counts, one per pod outcome" bash -c "
  grep '\"msg\":\"policy applied\"' '$AG_LOG' | tail -n 1 | jq -e '.revision == 10 and .epoch == 3 and .applied == 2' &&
  [ \$(grep '\"msg\":\"pod result\"' '$AG_LOG' | jq -c 'select(.revision == 10) | .result' | grep -c applied) = 2 ]"

# ------------------------------------------------------------------ counters move
"$AG_TESTPOD" syscalls --state-dir "$AG_PODS" --name ag-a --count 5000 --syscall getppid >/dev/null
for _ in 1 2 3; do tcp_open 10.244.30.2 8080; tcp_blocked 10.244.30.2 2222; done
syscalls_counted() { v=$(ag_metric 'podconfigmap_controller_ebpf_syscall_count_total{namespace="shop",pod_name="ag-a",syscall="getppid"}'); [ "${v:-0}" -ge 5000 ]; }
blocked_counted() { v=$(ag_metric 'podconfigmap_controller_ebpf_l4_firewall_total{namespace="shop",pod_name="ag-a",stat_type="blocked"}'); [ "${v:-0}" -ge 3 ]; }
allowed_counted() { v=$(ag_metric 'podconfigmap_controller_ebpf_l4_firewall_total{namespace="shop",pod_name="ag-a",stat_type="allowed"}'); [ "${v:-0}" -ge 3 ]; }
outside_counted() { v=$(ag_metric 'podconfigmap_controller_ebpf_syscall_outside_allowlist_total{namespace="shop",pod_name="ag-a"}'); [ "${v:-0}" -ge 1 ]; }
tap_check "5000 getppid in pod a show in syscall_count_total{syscall=\"getppid\"} within the 1 s updateInterval" wait_until 5 syscalls_counted
tap_check "blocked and allowed packets show in l4_firewall_total{stat_type}" wait_until 5 bash -c "$(declare -f ag_get ag_metric blocked_counted allowed_counted); AG_PORT=$AG_PORT; blocked_counted && allowed_counted"
tap_check "syscalls outside the list show in syscall_outside_allowlist_total" wait_until 5 bash -c "$(declare -f ag_get ag_metric outside_counted); AG_PORT=$AG_PORT; outside_counted"
# Pod b (defaultAction block) sends a datagram of its own: a flow in the node's IPv4 table, which
# the agent counts every 5 s.
created0=$(ag_metric 'pcmc_agent_fw_flow_events_total{event="created"}')
"$AG_TESTPOD" exec --state-dir "$AG_PODS" --name ag-b -- bash -c 'echo flow >/dev/udp/10.244.30.2/5353'
flows_counted() {
  [ "$(ag_metric 'pcmc_agent_map_capacity{map="fw_flows4"}')" = 131072 ] &&
  [ "$(ag_metric 'pcmc_agent_map_capacity{map="fw_flows6"}')" = 65536 ] &&
  [ "$(ag_metric 'pcmc_agent_map_entries{map="fw_flows4"}')" -ge 1 ] &&
  [ "$(ag_metric 'pcmc_agent_fw_flow_events_total{event="created"}')" -gt "${created0:-0}" ] &&
  [ "$(ag_metric 'pcmc_agent_fw_flow_events_total{event="evicted"}')" = 0 ] &&
  [ "$(ag_metric 'pcmc_agent_fw_flow_events_total{event="create_failed"}')" = 0 ]
}
tap_check "a flow pod b started shows in the flow table metrics (entries of fw_flows4 against its capacity 131072, created rose, nothing evicted)" \
  wait_until 12 bash -c "$(declare -f ag_get ag_metric flows_counted); AG_PORT=$AG_PORT created0=${created0:-0}; flows_counted"
m=$(ag_get /metrics)
if grep -q '^podconfigmap_controller_ebpf_attached_programs{namespace="shop",pod_name="ag-a",program_type="l4_firewall"} 1$' <<<"$m" &&
   grep -q '^podconfigmap_controller_ebpf_attached_programs{namespace="shop",pod_name="ag-a",program_type="syscall_counter"} 1$' <<<"$m" &&
   ! grep -q 'pod_name="ag-b",program_type="syscall_counter"' <<<"$m" && ! grep -q 'pid=' <<<"$m"; then
  tap_ok "attached_programs per pod and program type; no pid label anywhere"
else
  tap_not_ok "attached_programs per pod and program type; no pid label anywhere"; grep attached <<<"$m" | sed 's/^/# /'
fi
tap_check "promtool check metrics accepts the exposition" bash -c "curl -s http://127.0.0.1:$AG_PORT/metrics | promtool check metrics"
before=$(ag_metric 'podconfigmap_controller_ebpf_syscall_count_total{namespace="shop",pod_name="ag-a",syscall="getppid"}')
tap_check "a real Prometheus scrapes the agent and returns the pod series through its query API" \
  env PROM_TIMEOUT=30 bash "$AG_REPO/test/common/prometheus-scrape.sh" "127.0.0.1:$AG_PORT" \
  "podconfigmap_controller_ebpf_syscall_count_total{namespace=\"shop\",pod_name=\"ag-a\",syscall=\"getppid\"}" "$before" \
  'count(podconfigmap_controller_ebpf_attached_programs{namespace="shop"})' 3 \
  'pcmc_agent_pods{state="applied"}' 2

# ------------------------------------------------------------------ bad bodies: 400, nothing applied
snapshot=$(held)
good_a=$(pod_json ag-a "$UA" "$POL_A")
bad_cases=(
  "unknown field|$(body 3 11 "$(pod_json ag-a "$UA" '{"l4Firewall":{"enabled":true,"allowedPort":[80]}}')")|\$.pods[0].policy.l4Firewall.allowedPort"
  "port 0|$(body 3 11 "$(pod_json ag-a "$UA" '{"l4Firewall":{"enabled":true,"blockedPorts":[0]}}')")|\$.pods[0].policy.l4Firewall.blockedPorts[0]"
  "port 65536|$(body 3 11 "$good_a" "$(pod_json ag-b "$UB" '{"l4Firewall":{"allowedPorts":[80,65536]}}')")|\$.pods[1].policy.l4Firewall.allowedPorts[1]"
  "not a syscall name|$(body 3 11 "$(pod_json ag-a "$UA" '{"syscallMonitoring":{"enabled":true,"syscallNames":["read","Fork"]}}')")|\$.pods[0].policy.syscallMonitoring.syscallNames[1]"
  "NUL in a string|$(body 3 11 "$(pod_json ag-a "$UA" "$POL_A")" | sed 's/"node-1"/"node-1\\u0000evil"/')|\$.node"
  "invalid UTF-8|$(body 3 11 "$(pod_json ag-a "$UA" "$POL_A")" | sed $'s/"shop"/"sh\xffop"/')|\$.pods[0].namespace"
  "fraction|$(body 3 11 "$(pod_json ag-a "$UA" '{"l4Firewall":{"enabled":true,"blockedPorts":[2222.0]}}')")|\$.pods[0].policy.l4Firewall.blockedPorts[0]"
  "leading zero|$(body 3 11 "$(pod_json ag-a "$UA" '{"l4Firewall":{"enabled":true,"blockedPorts":[02222]}}')")|\$.pods[0].policy.l4Firewall.blockedPorts[0]"
  "bad duration|$(body 3 11 "$(pod_json ag-a "$UA" '{"metricsExport":{"enabled":true,"updateInterval":"10 seconds"}}')")|\$.pods[0].policy.metricsExport.updateInterval"
  "duration over 1h|$(body 3 11 "$(pod_json ag-a "$UA" '{"metricsExport":{"updateInterval":"2h"}}')")|\$.pods[0].policy.metricsExport.updateInterval"
  "malformed JSON|{\"node\":\"node-1\",\"pods\":[}|\$.pods[0]"
  "unknown top-level field|{\"node\":\"node-1\",\"sender\":{\"identity\":\"x\",\"epoch\":3},\"revision\":11,\"pods\":[],\"force\":true}|\$.force"
  "another node's push|{\"node\":\"node-2\",\"sender\":{\"identity\":\"x\",\"epoch\":3},\"revision\":11,\"pods\":[]}|\$.node"
)
all_400=1 detail=
for c in "${bad_cases[@]}"; do
  what=${c%%|*} rest=${c#*|}; want_path=${rest##*|}; b=${rest%|*}
  ag_put "$b"
  if [ "$AG_CODE" != 400 ] || [ "$(jq -r .path <<<"$AG_BODY")" != "$want_path" ]; then
    all_400=0; detail+="$what: $AG_CODE $AG_BODY; "
  fi
done
ag_put ""
[ "$AG_CODE" = 400 ] || { all_400=0; detail+="empty body: $AG_CODE; "; }
if [ $all_400 = 1 ]; then tap_ok "each kind of bad body is answered 400 with the JSON path of the offending value"
else tap_not_ok "each kind of bad body is answered 400 with the JSON path of the offending value"; echo "# $detail"; fi
if [ "$(held)" = "$snapshot" ] && tcp_blocked 10.244.30.2 2222 && tcp_open 10.244.30.2 8080 &&
   [ "$(ag_metric 'pcmc_agent_policy_pushes_total{result="invalid"}')" = 14 ]; then
  tap_ok "after the bad bodies nothing changed: same GET /v1/policy, same enforcement; pushes_total{result=\"invalid\"} 14"
else
  tap_not_ok "after the bad bodies nothing changed: same GET /v1/policy, same enforcement; pushes_total{result=\"invalid\"} 14"
fi

# ------------------------------------------------------------------ diff apply
applied_lines() { grep -c '"msg":"pod applied"' "$AG_LOG"; }
n0=$(applied_lines)
ag_put "$(body 3 11 "$(pod_json ag-a "$UA" "$POL_A")" "$(pod_json ag-b "$UB" "$POL_B")")"
if [ "$AG_CODE" = 200 ] && [ "$(result_of "$UA")/$(result_of "$UB")" = unchanged/unchanged ] && [ "$(applied_lines)" = "$n0" ]; then
  tap_ok "the same state again: both pods unchanged, the dataplane not touched"
else
  tap_not_ok "the same state again: both pods unchanged, the dataplane not touched"; echo "# $AG_CODE $AG_BODY"
fi
ag_put "$(body 3 12 "$(pod_json ag-a "$UA" "$POL_A")" "$(pod_json ag-b "$UB" "$POL_B2")")"
if [ "$AG_CODE" = 200 ] && [ "$(result_of "$UA")/$(result_of "$UB")" = unchanged/applied ] &&
   tcp_open 10.244.30.3 2222 && tcp_blocked 10.244.30.2 2222; then
  tap_ok "one pod's policy changed: only it is applied (in place), its newly allowed port answers"
else
  tap_not_ok "one pod's policy changed: only it is applied (in place), its newly allowed port answers"; echo "# $AG_CODE $AG_BODY"
fi

# ------------------------------------------------------------------ fencing
ag_put "$(body 2 99 "$(pod_json ag-a "$UA" '{}')")"
code_old_epoch=$AG_CODE body_old_epoch=$AG_BODY
ag_put "$(body 3 11 "$(pod_json ag-a "$UA" '{}')")"
code_old_rev=$AG_CODE
if [ "$code_old_epoch" = 409 ] && [ "$(jq -r .epoch <<<"$body_old_epoch")" = 3 ] && [ "$code_old_rev" = 409 ] &&
   [ "$(ag_get /v1/policy | jq -r '.sender.epoch, .revision' | tr '\n' ' ')" = "3 12 " ] && tcp_blocked 10.244.30.2 2222; then
  tap_ok "a push with an older epoch (or the same epoch and an older revision) is refused 409 and changes nothing"
else
  tap_not_ok "a push with an older epoch (or the same epoch and an older revision) is refused 409 and changes nothing"
  echo "# $code_old_epoch $body_old_epoch / $code_old_rev"
fi
ag_put "$(body 3 12 "$(pod_json ag-a "$UA" "$POL_A")" "$(pod_json ag-b "$UB" "$POL_B")")"
tap_check "the same (epoch, revision) with a different body is refused 409 (different_body) and changes nothing" bash -c "
  [ '$AG_CODE' = 409 ] && [ \"\$(jq -r .reason <<<'$AG_BODY')\" = different_body ] &&
  $(declare -f ag_get tcp_open); AG_PORT=$AG_PORT; tcp_open 10.244.30.3 2222"

# ------------------------------------------------------------------ a pod invalid on this node fails alone
POL_B_BAD='{"syscallMonitoring":{"enabled":true,"syscallNames":["read","fork2"]},
            "l4Firewall":{"enabled":true,"blockedPorts":[8080]}}'
ag_put "$(body 3 13 "$(pod_json ag-a "$UA" "$POL_A")" "$(pod_json ag-b "$UB" "$POL_B_BAD")")"
path_b=$(jq -r --arg u "$UB" '.results[] | select(.uid == $u) | .path' <<<"$AG_BODY")
err_b=$(jq -r --arg u "$UB" '.results[] | select(.uid == $u) | .error' <<<"$AG_BODY")
if [ "$AG_CODE" = 200 ] && [ "$(result_of "$UA")/$(result_of "$UB")" = unchanged/failed ] &&
   [ "$path_b" = '$.pods[1].policy.syscallMonitoring.syscallNames[1]' ] && [[ $err_b == *'unknown syscall "fork2"'* ]]; then
  tap_ok "a syscall name unknown on this architecture fails that pod alone (200, error and path of the name), the other pod stays"
else
  tap_not_ok "a syscall name unknown on this architecture fails that pod alone (200, error and path of the name), the other pod stays"
  echo "# $AG_CODE $AG_BODY"
fi
got=$(ag_get /v1/policy)
if [ "$(jq -c --arg u "$UB" '.pods[] | select(.uid == $u) | [.state, .path, .policy.syscallMonitoring.syscallNames]' <<<"$got")" = \
     '["failed","$.pods[1].policy.syscallMonitoring.syscallNames[1]",["fork2","read"]]' ] &&
   [ "$(ag_metric 'pcmc_agent_pods{state="failed"}')" = 1 ] && [ "$(ag_metric 'pcmc_agent_pods{state="applied"}')" = 1 ] &&
   tcp_blocked 10.244.30.2 2222 && tcp_open 10.244.30.3 2222; then
  tap_ok "the refused pod is listed in GET /v1/policy as failed with its reason and counted in pcmc_agent_pods{state=\"failed\"}; what it enforced before stays"
else
  tap_not_ok "the refused pod is listed in GET /v1/policy as failed with its reason and counted in pcmc_agent_pods{state=\"failed\"}; what it enforced before stays"
  echo "# $got"; ag_get /metrics | grep pcmc_agent_pods | sed 's/^/# /'
fi

# ------------------------------------------------------------------ removal, and a pod that appears after its push
ag_put "$(body 4 1 "$(pod_json ag-a "$UA" "$POL_A")" "$(pod_json ag-c "$UC" "$POL_B")")"
if [ "$AG_CODE" = 200 ] && [ "$(result_of "$UB")" = removed ] && [ "$(result_of "$UA")" = unchanged ] &&
   [ "$(result_of "$UC")" = failed ] && [ -n "$(jq -r --arg u "$UC" '.results[] | select(.uid == $u) | .error' <<<"$AG_BODY")" ] &&
   tcp_open 10.244.30.3 2222; then
  tap_ok "a newer leader (epoch 4, revision 1) drops pod b (removed, its ports open) and adds pod c not yet running (failed, with why)"
else
  tap_not_ok "a newer leader (epoch 4, revision 1) drops pod b (removed, its ports open) and adds pod c not yet running (failed, with why)"
  echo "# $AG_CODE $AG_BODY"
fi
ag_pod_create ag-c 10.244.30.4 --tcp 8080 --tcp 2222
tap_check "pod c starts later: the agent retries it, GET shows it applied and its firewall blocks 2222" \
  wait_until 40 bash -c "$(declare -f ag_get state_of tcp_open tcp_blocked); AG_PORT=$AG_PORT;
    [ \"\$(state_of $UC)\" = applied ] && tcp_open 10.244.30.4 8080 && tcp_blocked 10.244.30.4 2222"

# ------------------------------------------------------------------ SIGKILL + restart
before_state=$(held)
count_before=$(ag_metric 'podconfigmap_controller_ebpf_syscall_count_total{namespace="shop",pod_name="ag-a",syscall="getppid"}')
ag_stop KILL
if tcp_blocked 10.244.30.2 2222 && tcp_open 10.244.30.2 8080 && tcp_blocked 10.244.30.4 2222; then
  tap_ok "agent SIGKILLed: enforcement stays (blocked ports still dropped, allowed ones answer)"
else
  tap_not_ok "agent SIGKILLed: enforcement stays (blocked ports still dropped, allowed ones answer)"
fi
if ag_start --auth none --fencing local && [ "$(held)" = "$before_state" ]; then
  tap_ok "restarted agent serves the same GET /v1/policy (state file)"
else
  tap_not_ok "restarted agent serves the same GET /v1/policy (state file)"; diff <(echo "$before_state") <(held) | head -n 20 | sed 's/^/# /'
fi
if tcp_blocked 10.244.30.2 2222 && tcp_open 10.244.30.2 8080 && tcp_blocked 10.244.30.4 2222 && tcp_open 10.244.30.3 2222 &&
   ! grep -q '"msg":"pod removed"' "$AG_LOG"; then
  tap_ok "after the restart enforcement continues and nothing still wanted was removed"
else
  tap_not_ok "after the restart enforcement continues and nothing still wanted was removed"; grep removed "$AG_LOG" | sed 's/^/# /'
fi
ag_put "$(body 3 50 "$(pod_json ag-a "$UA" '{}')")"
tap_check "after the restart an older epoch is still refused 409" test "$AG_CODE" = 409
"$AG_TESTPOD" syscalls --state-dir "$AG_PODS" --name ag-a --count 1000 --syscall getppid >/dev/null
counted_on() { v=$(ag_metric 'podconfigmap_controller_ebpf_syscall_count_total{namespace="shop",pod_name="ag-a",syscall="getppid"}'); [ "${v:-0}" -ge $((count_before + 1000)) ]; }
tap_check "counters continue across the restart (getppid count grows from $count_before by the new 1000)" \
  wait_until 5 bash -c "$(declare -f ag_get ag_metric counted_on); AG_PORT=$AG_PORT count_before=$count_before; counted_on"

# ------------------------------------------------------------------ container restart
old_cg=$(jq -r '.containers[0].cgroup' "$AG_PODS/ag-a.json")
new_cg=$("$AG_REPO/build/test/agent/restart-container" "$AG_PODS" ag-a 0)
c1=$(ag_metric 'podconfigmap_controller_ebpf_syscall_count_total{namespace="shop",pod_name="ag-a",syscall="getppid"}')
"$AG_TESTPOD" syscalls --state-dir "$AG_PODS" --name ag-a --count 2000 --syscall getppid >/dev/null
counted_after() { v=$(ag_metric 'podconfigmap_controller_ebpf_syscall_count_total{namespace="shop",pod_name="ag-a",syscall="getppid"}'); [ "${v:-0}" -ge $((c1 + 2000)) ]; }
if [ -n "$new_cg" ] && [ "$new_cg" != "$old_cg" ] &&
   wait_until 5 bash -c "$(declare -f ag_get ag_metric counted_after); AG_PORT=$AG_PORT c1=$c1; counted_after" &&
   tcp_open 10.244.30.2 8080 && tcp_blocked 10.244.30.2 2222; then
  tap_ok "a restarted container (new cgroup) is followed: its 2000 getppid count for the pod, firewall unchanged"
else
  tap_not_ok "a restarted container (new cgroup) is followed: its 2000 getppid count for the pod, firewall unchanged"
  echo "# $old_cg -> $new_cg, count $c1 -> $(ag_metric 'podconfigmap_controller_ebpf_syscall_count_total{namespace="shop",pod_name="ag-a",syscall="getppid"}')"
fi

# ------------------------------------------------------------------ export disabled, SIGTERM
POL_C_SLOW='{"l4Firewall":{"enabled":true,"allowedPorts":[8080],"defaultAction":"block"},
             "metricsExport":{"enabled":true,"updateInterval":"1h"}}'
ag_put "$(body 4 2 "$(pod_json ag-a "$UA" '{"l4Firewall":{"enabled":true,"blockedPorts":[2222]}}')" "$(pod_json ag-c "$UC" "$POL_C_SLOW")")"
no_a_series() { ! ag_get /metrics | grep -q 'pod_name="ag-a"'; }
if [ "$AG_CODE" = 200 ] && [ "$(result_of "$UA")" = applied ] && wait_until 3 no_a_series && tcp_blocked 10.244.30.2 2222; then
  tap_ok "metricsExport disabled: the pod's series are no longer exported, its firewall still enforced"
else
  tap_not_ok "metricsExport disabled: the pod's series are no longer exported, its firewall still enforced"
fi
c_allowed() { ag_metric 'podconfigmap_controller_ebpf_l4_firewall_total{namespace="shop",pod_name="ag-c",stat_type="allowed"}'; }
a_allowed() { ag_metric 'podconfigmap_controller_ebpf_l4_firewall_total{namespace="shop",pod_name="ag-a",stat_type="allowed"}'; }
code_c=$AG_CODE result_c=$(result_of "$UC")
# Barrier: pod a exports again every 1 s; once its counter shows traffic sent after pod c's, the
# agent has read the counters since, and would have read pod c's too if they were due.
ag_put "$(body 4 3 "$(pod_json ag-a "$UA" '{"l4Firewall":{"enabled":true,"allowedPorts":[8080],"blockedPorts":[2222]},"metricsExport":{"enabled":true,"updateInterval":"1s"}}')" "$(pod_json ag-c "$UC" "$POL_C_SLOW")")"
c0=$(c_allowed)
for _ in 1 2 3 4 5; do tcp_open 10.244.30.4 8080; done
a0=$(a_allowed)
tcp_open 10.244.30.2 8080
a_read() { [ "$(a_allowed)" -gt "${a0:-0}" ]; }
if [ -n "$c0" ] && [ -n "$a0" ] && wait_until 5 a_read && [ "$(c_allowed)" = "$c0" ] && [ "$code_c" = 200 ] && [ "$result_c" = applied ] &&
   [ "$(result_of "$UC")" = unchanged ]; then
  tap_ok "updateInterval 1h: counters are served from the snapshot taken at the change, new traffic not yet read"
else
  tap_not_ok "updateInterval 1h: counters are served from the snapshot taken at the change, new traffic not yet read ($c0 -> $(c_allowed))"
fi

# ------------------------------------------------------------------ two rooms: probes never wait
# 4,096 pods (4,095 that do not run here, and pod a): the worker applies for seconds; meanwhile the
# HTTP thread answers probes and GET (the previous state) at once. A probe counts when the push's
# answer had not arrived yet after it returned.
big=$(python3 -c '
import json, sys
pods = [{"uid": "f%07d-0000-4000-8000-000000000000" % i, "namespace": "shop", "name": "big-%d" % i,
         "policy": {"l4Firewall": {"enabled": True, "blockedPorts": [2222]},
                    "syscallMonitoring": {"enabled": True, "syscallNames": ["read"]}}} for i in range(4095)]
pods.append({"uid": sys.argv[1], "namespace": "shop", "name": "ag-a",
             "policy": {"l4Firewall": {"enabled": True, "allowedPorts": [8080], "blockedPorts": [2222]},
                        "metricsExport": {"enabled": True, "updateInterval": "1s"}}})
print(json.dumps({"node": "node-1", "sender": {"identity": "ctl-5", "epoch": 5}, "revision": 1, "pods": pods}))' "$UA")
printf '%s' "$big" > "$AG_WORK/big.json"
curl -s --max-time 300 -o "$AG_WORK/big.out" -w '%{http_code}' -X PUT --data-binary @"$AG_WORK/big.json" \
  "http://127.0.0.1:$AG_PORT/v1/policy" > "$AG_WORK/big.code" &
big_pid=$!
in_flight=0 probe_failed=0
while kill -0 $big_pid 2>/dev/null; do
  h=$(curl -s --max-time 3 "http://127.0.0.1:$AG_PORT/healthz") r=$(curl -s --max-time 3 "http://127.0.0.1:$AG_PORT/readyz")
  m=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AG_PORT/metrics")
  g=$(curl -s --max-time 3 "http://127.0.0.1:$AG_PORT/v1/policy" | jq -r '.sender.epoch')
  [ "$h/$r/$m/$g" = "ok/ok/200/4" ] || { [ -s "$AG_WORK/big.code" ] || probe_failed=1; }
  [ -s "$AG_WORK/big.code" ] || in_flight=$((in_flight + 1))
done
wait $big_pid
if [ "$(cat "$AG_WORK/big.code")" = 200 ] && [ $in_flight -ge 1 ] && [ $probe_failed = 0 ] &&
   [ "$(jq '[.results[] | select(.result == "failed")] | length' "$AG_WORK/big.out")" = 4095 ] &&
   [ "$(ag_get /v1/policy | jq -r '.sender.epoch, (.pods | length)' | tr '\n' ' ')" = "5 4096 " ] &&
   tcp_blocked 10.244.30.2 2222; then
  tap_ok "while a 4,096-pod push is applied, /healthz, /readyz, /metrics and GET (the previous state) answer at once ($in_flight rounds in flight)"
else
  tap_not_ok "while a 4,096-pod push is applied, /healthz, /readyz, /metrics and GET (the previous state) answer at once"
  echo "# code $(cat "$AG_WORK/big.code"), $in_flight rounds in flight, probe failed: $probe_failed"
fi

# ------------------------------------------------------------------ odd requests, connection limit
raw() { python3 - "$AG_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
try:
    print(s.recv(100).decode("latin-1").split("\r\n")[0])
except socket.timeout:
    print("timeout")
PY
}
got_space=$(raw 'PUT /v1/policy HTTP/1.1\r\nHost: x\r\n Content-Length: 2\r\n\r\n{}')
token16k=$(head -c 16384 /dev/zero | tr '\0' a)
got_431=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $token16k" \
  --data-binary '{}' "http://127.0.0.1:$AG_PORT/v1/policy")
if [ "$got_space" = "HTTP/1.1 400 Bad Request" ] && [ "$got_431" = 431 ]; then
  tap_ok "a Content-Length line with a leading space gets 400 and a 16 KB Authorization header 431, at once"
else
  tap_not_ok "a Content-Length line with a leading space gets 400 and a 16 KB Authorization header 431, at once"
  echo "# leading space: $got_space; 16 KB Authorization: $got_431"
fi
limit_result=$(python3 - "$AG_PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
def ask(s):
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    return s.recv(200).decode("latin-1").split("\r\n")[0]
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(256)]
first = [ask(s) for s in held]
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
refused = ask(extra)
again = [ask(s) for s in held]
print(sum(a == "HTTP/1.1 200 OK" for a in first), refused, sum(a == "HTTP/1.1 200 OK" for a in again))
PY
)
after=$(ag_get /healthz)
if [ "$limit_result" = "256 HTTP/1.1 503 Service Unavailable 256" ] && [ "$after" = ok ] &&
   [ "$(ag_metric pcmc_agent_http_connections_refused_total)" -ge 1 ]; then
  tap_ok "past --max-connections (256) a new connection gets 503; the 256 open ones keep being answered"
else
  tap_not_ok "past --max-connections (256) a new connection gets 503; the 256 open ones keep being answered"
  echo "# $limit_result / after: $after"
fi
ag_stop TERM
if [ "$AG_EXIT" = 0 ] && grep -q '"msg":"stopped"' "$AG_LOG" && tcp_blocked 10.244.30.2 2222; then
  tap_ok "SIGTERM: the agent exits 0 and leaves enforcement pinned"
else
  tap_not_ok "SIGTERM: the agent exits 0 and leaves enforcement pinned (exit $AG_EXIT)"
fi
ag_no_sanitizer_reports "$AG_WORK"/agent-*.log
tap_done
