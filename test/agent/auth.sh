#!/usr/bin/env bash
# pcmc-agent's TokenReview auth against a real kube-apiserver (test/cluster, own state dir and
# ports): no token 401, a bad token 401, another service account 403, the controller's 200; the
# agent authenticates as its own service account (system:auth-delegator); cache; nothing applied
# by refused pushes. TAP on stdout.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/tap.sh"
. "$here/lib.sh"
export PCMC_CLUSTER_DIR=${PCMC_AGENT_CLUSTER_DIR:-/tmp/pcmc-agent-auth-cluster}
export PCMC_APISERVER_PORT=${PCMC_AGENT_APISERVER_PORT:-19443}
export PCMC_ETCD_CLIENT_PORT=${PCMC_AGENT_ETCD_CLIENT_PORT:-19379}
export PCMC_ETCD_PEER_PORT=${PCMC_AGENT_ETCD_PEER_PORT:-19380}
export PCMC_KCM=0
unset PCMC_APISERVER_ARGS

cluster_down() { [ -d "$PCMC_CLUSTER_DIR" ] && "$AG_REPO/test/cluster/down" >/dev/null 2>&1; return 0; }
cleanup() {
  ag_cleanup
  [ -n "${KUBECONFIG:-}" ] && kubectl delete clusterrolebinding pcmc-agent-auth-test >/dev/null 2>&1
  cluster_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for t in curl jq kubectl flock; do
  command -v "$t" >/dev/null || { tap_not_ok "tool $t present (run bash test/setup.sh)"; tap_done; exit 1; }
done
[ -x "$AG_BIN" ] || { tap_not_ok "$AG_BIN built (run make)"; tap_done; exit 1; }
ag_lock auth-suite
mkdir -p "$AG_WORK"

cluster_down
if out=$("$AG_REPO/test/cluster/up" 2>"$AG_WORK/cluster-up.txt"); then
  eval "$out"
  tap_ok "local cluster up (kube-apiserver at $PCMC_APISERVER)"
else
  tap_not_ok "local cluster up"; tail -n 30 "$AG_WORK/cluster-up.txt" | sed 's/^/# /'; tap_done; exit 1
fi

# The agent's own identity: service account pcmc-agent, allowed to create TokenReviews.
kubectl create clusterrolebinding pcmc-agent-auth-test --clusterrole system:auth-delegator \
  --serviceaccount pcmc-system:pcmc-agent >/dev/null
"$AG_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-agent "$AG_WORK/agent.kubeconfig" 1h >/dev/null
controller_token=$(kubectl -n pcmc-system create token pcmc-controller --duration 1h)
kubectl -n pcmc-system create serviceaccount intruder >/dev/null 2>&1
intruder_token=$(kubectl -n pcmc-system create token intruder --duration 1h)

if ag_start --kubeconfig "$AG_WORK/agent.kubeconfig" --controller-sa pcmc-system:pcmc-controller &&
   ! grep -q 'AUTHENTICATION DISABLED' "$AG_LOG" && grep -q '"auth":"tokenreview"' "$AG_LOG"; then
  tap_ok "agent starts with --auth=tokenreview (the default) as service account pcmc-agent"
else
  tap_not_ok "agent starts with --auth=tokenreview (the default) as service account pcmc-agent"
fi

body() { printf '{"node":"node-1","sender":{"identity":"ctl","epoch":%s},"revision":%s,"pods":[]}' "$1" "$2"; }
nothing_applied() { [ "$(ag_get /v1/policy | jq -c '[.sender, .revision]')" = '[null,null]' ]; }

ag_put "$(body 1 1)"
if [ "$AG_CODE" = 401 ] && nothing_applied; then tap_ok "no token: 401, nothing applied"
else tap_not_ok "no token: 401, nothing applied"; echo "# $AG_CODE $AG_BODY"; fi
ag_put "$(body 1 1)" -H "Authorization: Bearer not-a-real-token"
if [ "$AG_CODE" = 401 ] && nothing_applied; then tap_ok "a token the API server does not know: 401, nothing applied"
else tap_not_ok "a token the API server does not know: 401, nothing applied"; echo "# $AG_CODE $AG_BODY"; fi
ag_put "$(body 1 1)" -H "Authorization: Basic dXNlcjpwYXNz"
tap_check "another scheme than Bearer: 401" test "$AG_CODE" = 401
ag_put "$(body 1 1)" -H "Authorization: Bearer $intruder_token"
if [ "$AG_CODE" = 403 ] && grep -q 'system:serviceaccount:pcmc-system:intruder' <<<"$AG_BODY" && nothing_applied; then
  tap_ok "a valid token of another service account: 403 naming it, nothing applied"
else tap_not_ok "a valid token of another service account: 403 naming it, nothing applied"; echo "# $AG_CODE $AG_BODY"; fi
agent_token=$(kubectl -n pcmc-system create token pcmc-agent --duration 1h)
ag_put "$(body 1 1)" -H "Authorization: Bearer $agent_token"
tap_check "the agent's own service account may not push either: 403" test "$AG_CODE" = 403
ag_put "$(body 1 1)" -H "Authorization: Bearer $controller_token"
if [ "$AG_CODE" = 200 ] && [ "$(ag_get /v1/policy | jq -c '[.sender.epoch, .revision]')" = '[1,1]' ]; then
  tap_ok "the controller's service-account token: 200, applied"
else tap_not_ok "the controller's service-account token: 200, applied"; echo "# $AG_CODE $AG_BODY"; fi

reviews() { ag_metric "pcmc_agent_tokenreviews_total{source=\"$1\"}"; }
api_before=$(reviews api)
ag_put "$(body 1 2)" -H "Authorization: Bearer $controller_token"
code2=$AG_CODE
ag_put "$(body 1 3)" -H "Authorization: Bearer $intruder_token"
code3=$AG_CODE
if [ "$code2" = 200 ] && [ "$code3" = 403 ] && [ "$(reviews api)" = "$api_before" ] && [ "$(reviews cache)" -ge 2 ]; then
  tap_ok "within 10 s the same tokens are answered from the cache (positive and negative): no new TokenReview"
else
  tap_not_ok "within 10 s the same tokens are answered from the cache (positive and negative): no new TokenReview"
  echo "# $code2 $code3 api $api_before -> $(reviews api), cache $(reviews cache)"
fi
sleep 11
ag_put "$(body 1 4)" -H "Authorization: Bearer $controller_token"
tap_check "after the cache expires the token is reviewed again (and still accepted)" \
  bash -c "[ '$AG_CODE' = 200 ] && [ \"$(reviews api)\" -gt '$api_before' ]"
m=$(ag_get /metrics)
if grep -q '^pcmc_agent_policy_pushes_total{result="unauthenticated"} 3$' <<<"$m" &&
   grep -q '^pcmc_agent_policy_pushes_total{result="forbidden"} 3$' <<<"$m" &&
   grep -q '^pcmc_agent_policy_pushes_total{result="accepted"} 3$' <<<"$m"; then
  tap_ok "pushes_total counts 3 unauthenticated, 3 forbidden, 3 accepted"
else
  tap_not_ok "pushes_total counts 3 unauthenticated, 3 forbidden, 3 accepted"; grep pushes_total <<<"$m" | sed 's/^/# /'
fi
tap_check "GET /v1/policy needs no token (read-only)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$AG_PORT/v1/policy)\" = 200 ]"
ag_stop TERM
tap_check "agent exits 0 on SIGTERM" test "$AG_EXIT" = 0

# The API server gone: pushes cannot be verified, so they are refused (503), never let through.
if ag_start --kubeconfig "$AG_WORK/agent.kubeconfig"; then
  cluster_down
  ag_put "$(body 1 9)" -H "Authorization: Bearer $controller_token"
  if [ "$AG_CODE" = 503 ] && [ "$(ag_get /v1/policy | jq -r .revision)" = 4 ]; then
    tap_ok "API server unreachable: a push is refused 503 (not let through), the held state stays"
  else
    tap_not_ok "API server unreachable: a push is refused 503 (not let through), the held state stays"; echo "# $AG_CODE $AG_BODY"
  fi
else
  tap_not_ok "agent restarts for the unreachable API server case"
fi
ag_stop TERM
if grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error' "$AG_WORK"/agent-*.log; then
  tap_not_ok "no sanitizer reports in the agent's logs"; grep -h 'Sanitizer\|runtime error' "$AG_WORK"/agent-*.log | head | sed 's/^/# /'
else
  tap_ok "no sanitizer reports in the agent's logs"
fi
tap_done
