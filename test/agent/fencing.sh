#!/usr/bin/env bash
# pcmc-agent's fencing against a real kube-apiserver (own cluster dir and ports, test/README.md) and
# a Lease driven by hand, so each case of the protocol (docs/policy-distribution.md) is exact: the
# holder's pushes accepted, another sender's refused, an epoch above leaseTransitions refused until
# the Lease says so, a Lease no longer renewed refused, a deleted/recreated Lease and a state file
# from a higher epoch answered with what the agent holds (what the controller needs to recover),
# the API server frozen (503, never let through), a pod-bound token naming another pod refused,
# a change of sender logged and counted. The agent reads the Lease with its own RBAC. TAP.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/tap.sh"
. "$here/lib.sh"
ag_cluster_env "${PCMC_AGENT_FENCING_CLUSTER_DIR:-/tmp/pcmc-agent-fencing-cluster}" \
  "${PCMC_AGENT_FENCING_APISERVER_PORT:-19447}" "${PCMC_AGENT_FENCING_ETCD_CLIENT_PORT:-19385}" \
  "${PCMC_AGENT_FENCING_ETCD_PEER_PORT:-19386}"
RENEW_PID=
cleanup() {
  local p; p=$(ag_apiserver_pid); [ -n "$p" ] && kill -CONT "$p" 2>/dev/null
  renew_stop
  ag_cleanup
  ag_cluster_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ag_require curl jq kubectl flock
ag_lock fencing-suite
mkdir -p "$AG_WORK"

if ag_cluster_up; then tap_ok "local cluster up (kube-apiserver at $PCMC_APISERVER)"
else tap_not_ok "local cluster up"; tap_done; exit 1; fi
kubectl apply -k "$AG_REPO/config/rbac" >/dev/null
"$AG_REPO/test/cluster/sa-kubeconfig" pcmc-system pcmc-agent "$AG_WORK/agent.kubeconfig" 1h >/dev/null
token=$(kubectl -n pcmc-system create token pcmc-controller --duration 1h)

# --- the Lease, by hand ---------------------------------------------------------------------
LEASE=pcmc-controller-leader
now_micro() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
lease_set() { # lease_set HOLDER TRANSITIONS: create or replace the Lease's spec (4 s duration)
  kubectl -n pcmc-system apply -f - >/dev/null <<YAML
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: $LEASE, namespace: pcmc-system}
spec: {holderIdentity: $1, leaseDurationSeconds: 4, leaseTransitions: $2, renewTime: "$(now_micro)"}
YAML
}
renew_start() { # the holder renews every second, as a leader does
  ( while :; do
      kubectl -n pcmc-system patch lease $LEASE --type merge -p "{\"spec\":{\"renewTime\":\"$(now_micro)\"}}" >/dev/null 2>&1
      sleep 1
    done ) &
  RENEW_PID=$!
}
renew_stop() { [ -n "$RENEW_PID" ] && { kill "$RENEW_PID" 2>/dev/null; wait "$RENEW_PID" 2>/dev/null; }; RENEW_PID=; }

body() { printf '{"node":"node-1","sender":{"identity":"%s","epoch":%s},"revision":%s,"pods":[]}' "$1" "$2" "$3"; }
push() { ag_put "$(body "$1" "$2" "$3")" -H "Authorization: Bearer ${4:-$token}"; }
reason() { jq -r '.reason // empty' <<<"$AG_BODY"; }
held() { ag_get /v1/policy | jq -r '"\(.sender.identity) \(.sender.epoch) \(.revision)"'; }

lease_set ctl-a 3
renew_start
if ag_start --kubeconfig "$AG_WORK/agent.kubeconfig" && grep -q '"fencing":"lease"' "$AG_LOG" &&
   grep '"msg":"starting"' "$AG_LOG" | jq -e ".namespace == \"pcmc-system\" and .lease == \"$LEASE\"" >/dev/null; then
  tap_ok "agent starts with --fencing=lease (the default), watching pcmc-system/$LEASE with its own RBAC"
else
  tap_not_ok "agent starts with --fencing=lease (the default), watching pcmc-system/$LEASE with its own RBAC"
fi

push ctl-a 3 1
tap_check "the Lease's holder (ctl-a, epoch 3 = leaseTransitions) is accepted" test "$AG_CODE/$(held)" = "200/ctl-a 3 1"
push ctl-b 3 2
if [ "$AG_CODE/$(reason)" = 409/not_lease_holder ] &&
   [ "$(jq -r '"\(.lease.holderIdentity) \(.lease.leaseTransitions) \(.identity) \(.epoch)"' <<<"$AG_BODY")" = "ctl-a 3 ctl-a 3" ] &&
   [ "$(held)" = "ctl-a 3 1" ]; then
  tap_ok "another sender is refused 409 not_lease_holder, the answer names the holder and what the agent holds"
else
  tap_not_ok "another sender is refused 409 not_lease_holder, the answer names the holder and what the agent holds"
  echo "# $AG_CODE $AG_BODY"
fi
push ctl-a 4 1
tap_check "an epoch above the Lease's leaseTransitions is refused 409 epoch_above_lease (no runaway epochs)" \
  test "$AG_CODE/$(reason)/$(held)" = "409/epoch_above_lease/ctl-a 3 1"
# The controller raises leaseTransitions (an update conditioned on resourceVersion) and pushes at
# once: the agent's watch may not have seen it yet, so it reads the Lease again before answering.
kubectl -n pcmc-system patch lease $LEASE --type merge -p '{"spec":{"leaseTransitions":4}}' >/dev/null
push ctl-a 4 1
tap_check "right after leaseTransitions is raised to 4, epoch 4 is accepted (the view is read again first)" \
  test "$AG_CODE/$(held)" = "200/ctl-a 4 1"

# A new leader takes over: accepted, logged and counted as a change of sender.
lease_set ctl-b 5
push ctl-b 5 1
if [ "$AG_CODE/$(held)" = "200/ctl-b 5 1" ] && [ "$(ag_metric pcmc_agent_policy_sender_changes_total)" = 1 ] &&
   grep '"msg":"policy sender changed"' "$AG_LOG" | tail -n 1 | jq -e '.previous_identity == "ctl-a" and .identity == "ctl-b" and .epoch == 5' >/dev/null; then
  tap_ok "a new holder's push is accepted; \"policy sender changed\" is logged and pcmc_agent_policy_sender_changes_total counts it"
else
  tap_not_ok "a new holder's push is accepted; \"policy sender changed\" is logged and pcmc_agent_policy_sender_changes_total counts it"
  echo "# $AG_CODE $(held) $(ag_metric pcmc_agent_policy_sender_changes_total)"
fi
push ctl-a 5 9
tap_check "the deposed leader (ctl-a, whatever its epoch and revision) is refused 409 not_lease_holder" \
  test "$AG_CODE/$(reason)/$(held)" = "409/not_lease_holder/ctl-b 5 1"

# The holder stops renewing: after leaseDurationSeconds (4 s) as the agent sees it, refused.
renew_stop
expired() { push ctl-b 5 2; [ "$AG_CODE/$(reason)" = 409/lease_expired ]; }
if wait_until 20 expired && [ "$(held)" = "ctl-b 5 2" ]; then
  tap_ok "a Lease not renewed for leaseDurationSeconds (as the agent observes it) refuses even its holder: 409 lease_expired"
else
  tap_not_ok "a Lease not renewed for leaseDurationSeconds (as the agent observes it) refuses even its holder: 409 lease_expired"
  echo "# $AG_CODE $AG_BODY"
fi
renew_start
renewed() { push ctl-b 5 3; [ "$AG_CODE" = 200 ]; }
tap_check "renewals resume: the holder is accepted again" wait_until 20 renewed

# The Lease deleted, then recreated by hand with leaseTransitions 0.
renew_stop
kubectl -n pcmc-system delete lease $LEASE >/dev/null
# The agent's watch sees the deletion a moment later (until then its view still has a holder).
no_lease() { push ctl-b 5 4; [ "$AG_CODE/$(reason)" = 409/not_lease_holder ] && grep -q 'there is none' <<<"$AG_BODY"; }
tap_check "the Lease deleted: refused 409 not_lease_holder (there is none)" wait_until 10 no_lease
lease_set ctl-c 0
renew_start
push ctl-c 0 1
if [ "$AG_CODE/$(reason)" = 409/older_epoch ] && [ "$(jq -r '.epoch, .lease.leaseTransitions' <<<"$AG_BODY" | tr '\n' ' ')" = "5 0 " ]; then
  tap_ok "recreated with leaseTransitions 0: the new holder's epoch 0 is refused 409 older_epoch, the answer says the agent holds epoch 5"
else
  tap_not_ok "recreated with leaseTransitions 0: the new holder's epoch 0 is refused 409 older_epoch, the answer says the agent holds epoch 5"
  echo "# $AG_CODE $AG_BODY"
fi
kubectl -n pcmc-system patch lease $LEASE --type merge -p '{"spec":{"leaseTransitions":6}}' >/dev/null
push ctl-c 6 1
tap_check "the holder raises leaseTransitions above 5 and pushes epoch 6: accepted, no hand work on the agent" \
  test "$AG_CODE/$(held)" = "200/ctl-c 6 1"

# A state file from a higher epoch (an earlier cluster, an etcd restore).
ag_stop TERM
jq -c '.sender.epoch = 9' "$AG_WORK/state/state.json" > "$AG_WORK/state.json.new" && mv "$AG_WORK/state.json.new" "$AG_WORK/state/state.json"
ag_start --kubeconfig "$AG_WORK/agent.kubeconfig"
push ctl-c 6 2
tap_check "restarted with a state file at epoch 9: epoch 6 is refused 409 older_epoch naming epoch 9" \
  bash -c "[ '$AG_CODE/$(reason)' = 409/older_epoch ] && [ \"\$(jq -r .epoch <<<'$AG_BODY')\" = 9 ]"
kubectl -n pcmc-system patch lease $LEASE --type merge -p '{"spec":{"leaseTransitions":10}}' >/dev/null
push ctl-c 10 1
tap_check "leaseTransitions raised to 10: epoch 10 accepted" test "$AG_CODE/$(held)" = "200/ctl-c 10 1"

# The API server frozen: a push the view disagrees with cannot be confirmed: 503, never accepted.
kill -STOP "$(ag_apiserver_pid)"
push ctl-x 10 2
h=$(curl -s --max-time 3 "http://127.0.0.1:$AG_PORT/healthz")
kill -CONT "$(ag_apiserver_pid)"
if [ "$AG_CODE" = 503 ] && grep -q "cannot read the controller's Lease" <<<"$AG_BODY" && [ "$h" = ok ] &&
   [ "$(held)" = "ctl-c 10 1" ]; then
  tap_ok "API server frozen: a push from another sender cannot be confirmed and is refused 503; /healthz answers meanwhile"
else
  tap_not_ok "API server frozen: a push from another sender cannot be confirmed and is refused 503; /healthz answers meanwhile"
  echo "# $AG_CODE $AG_BODY / healthz: $h"
fi

# A token bound to a pod names that pod: it must be the sender.
kubectl -n pcmc-system apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: ctl-pod, namespace: pcmc-system}
spec:
  serviceAccountName: pcmc-controller
  nodeName: no-such-node
  containers: [{name: c, image: none}]
YAML
pod_token=$(kubectl -n pcmc-system create token pcmc-controller --bound-object-kind Pod --bound-object-name ctl-pod --duration 1h)
push ctl-c 10 2 "$pod_token"
tap_check "a token bound to pod ctl-pod pushing as sender ctl-c is refused 403" \
  bash -c "[ '$AG_CODE' = 403 ] && grep -q 'ctl-pod' <<<'$AG_BODY' && [ '$(held)' = 'ctl-c 10 1' ]"
renew_stop
lease_set ctl-pod 11
renew_start
push ctl-pod 11 1 "$pod_token"
tap_check "the same token pushing as ctl-pod, the Lease's holder, is accepted" test "$AG_CODE/$(held)" = "200/ctl-pod 11 1"

renew_stop
ag_stop TERM
tap_check "agent exits 0 on SIGTERM" test "$AG_EXIT" = 0
ag_no_sanitizer_reports "$AG_WORK"/agent-*.log
tap_done
