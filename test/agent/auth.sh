#!/usr/bin/env bash
# pcmc-agent's TokenReview auth against a real kube-apiserver (test/cluster, own state dir and
# ports): no token 401, a bad token 401, another service account 403, the controller's 200; the
# agent authenticates as its own service account (system:auth-delegator); cache; nothing applied
# by refused pushes. TAP on stdout.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/tap.sh"
. "$here/lib.sh"
ag_cluster_env "${PCMC_AGENT_CLUSTER_DIR:-/tmp/pcmc-agent-auth-cluster}" "${PCMC_AGENT_APISERVER_PORT:-19443}" \
  "${PCMC_AGENT_ETCD_CLIENT_PORT:-19379}" "${PCMC_AGENT_ETCD_PEER_PORT:-19380}"
cleanup() {
  ag_cleanup
  [ -n "${KUBECONFIG:-}" ] && kubectl delete clusterrolebinding pcmc-agent-auth-test >/dev/null 2>&1
  ag_cluster_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ag_require curl jq kubectl flock
ag_lock auth-suite
mkdir -p "$AG_WORK"

if ag_cluster_up; then tap_ok "local cluster up (kube-apiserver at $PCMC_APISERVER)"
else tap_not_ok "local cluster up"; tap_done; exit 1; fi

# The agent's own identity: service account pcmc-agent, allowed to create TokenReviews.
kubectl create clusterrolebinding pcmc-agent-auth-test --clusterrole system:auth-delegator \
  --serviceaccount pcmc-system:pcmc-agent >/dev/null
"$AG_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-agent "$AG_WORK/agent.kubeconfig" 1h >/dev/null
controller_token=$(kubectl -n pcmc-system create token pcmc-controller --duration 1h)
kubectl -n pcmc-system create serviceaccount intruder >/dev/null 2>&1
intruder_token=$(kubectl -n pcmc-system create token intruder --duration 1h)

# Answers are cached for 5 s (--tokenreview-cache-ttl), so the expiry below is seen without a long wait.
TTL=5
if ag_start --kubeconfig "$AG_WORK/agent.kubeconfig" --controller-sa pcmc-system:pcmc-controller --tokenreview-cache-ttl $TTL --fencing local &&
   ! grep -q 'authentication disabled' "$AG_LOG" && grep -q '"auth":"tokenreview"' "$AG_LOG"; then
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
  tap_ok "within the cache TTL ($TTL s) the same tokens are answered from the cache (positive and negative): no new TokenReview"
else
  tap_not_ok "within the cache TTL ($TTL s) the same tokens are answered from the cache (positive and negative): no new TokenReview"
  echo "# $code2 $code3 api $api_before -> $(reviews api), cache $(reviews cache)"
fi
# Once the answer expires the next push is reviewed again: push (each a new revision) until a
# TokenReview is counted, at most 4 TTLs.
rev=3 accepted=2 reviewed_again=0
for ((i = 0; i < 4 * TTL * 5; i++)); do
  rev=$((rev + 1))
  ag_put "$(body 1 $rev)" -H "Authorization: Bearer $controller_token"
  [ "$AG_CODE" = 200 ] && accepted=$((accepted + 1)) || break
  [ "$(reviews api)" -gt "$api_before" ] && { reviewed_again=1; break; }
  sleep 0.2
done
tap_check "after the cache expires the token is reviewed again (and still accepted)" \
  bash -c "[ '$AG_CODE' = 200 ] && [ $reviewed_again = 1 ]"
m=$(ag_get /metrics)
if grep -q '^pcmc_agent_policy_pushes_total{result="unauthenticated"} 3$' <<<"$m" &&
   grep -q '^pcmc_agent_policy_pushes_total{result="forbidden"} 3$' <<<"$m" &&
   grep -q "^pcmc_agent_policy_pushes_total{result=\"accepted\"} $accepted\$" <<<"$m"; then
  tap_ok "pushes_total counts 3 unauthenticated, 3 forbidden, $accepted accepted"
else
  tap_not_ok "pushes_total counts 3 unauthenticated, 3 forbidden, $accepted accepted"; grep pushes_total <<<"$m" | sed 's/^/# /'
fi
tap_check "GET /v1/policy needs no token (read-only)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$AG_PORT/v1/policy)\" = 200 ]"
ag_stop TERM
tap_check "agent exits 0 on SIGTERM" test "$AG_EXIT" = 0

# The API server gone: pushes cannot be verified, so they are refused (503), never let through.
if ag_start --kubeconfig "$AG_WORK/agent.kubeconfig" --fencing local; then
  ag_cluster_down
  ag_put "$(body 1 $((rev + 1)))" -H "Authorization: Bearer $controller_token"
  if [ "$AG_CODE" = 503 ] && [ "$(ag_get /v1/policy | jq -r .revision)" = "$rev" ]; then
    tap_ok "API server unreachable: a push is refused 503 (not let through), the held state stays"
  else
    tap_not_ok "API server unreachable: a push is refused 503 (not let through), the held state stays"; echo "# $AG_CODE $AG_BODY"
  fi
else
  tap_not_ok "agent restarts for the unreachable API server case"
fi
ag_stop TERM
ag_no_sanitizer_reports "$AG_WORK"/agent-*.log
tap_done
