#!/usr/bin/env bash
# config/rbac/ against a real kube-apiserver: each ServiceAccount may do everything its program calls
# (kubectl auth can-i --as) and none of a list of things it must not; plus real requests with tokens.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
trap cluster_stop EXIT
trap 'exit 130' INT TERM
need kubectl curl jq ss

cluster_start || { tap_not_ok "local cluster up"; tap_done; exit 1; }
tap_check "kubectl apply -k config/rbac" kubectl apply -k "$DEP_REPO/config/rbac"

# can WHO yes|no VERB RESOURCE [kubectl auth can-i flags...]
can() {
  local who=$1 want=$2 verb=$3 res=$4 got; shift 4
  got=$(kubectl auth can-i "$verb" "$res" "$@" --as "$who" 2>/dev/null); got=${got:-no}
  if [ "$got" = "$want" ]; then tap_ok "${who##*:} $want: $verb $res${*:+ $*}"
  else tap_not_ok "${who##*:} $want: $verb $res${*:+ $*} (got $got)"; fi
}
PCMC=podconfigmapconfigs.podconfig.example.com
LEASES=leases.coordination.k8s.io

# pcmc-controller: exactly the calls in controller/*.c (reflectors, reconcile, status, events, Lease).
for v in get list watch; do can "$CTL_SA" yes $v pods -A; done
for v in get list watch; do can "$CTL_SA" yes $v nodes; done
for v in create update patch delete; do can "$CTL_SA" no $v nodes; done
for v in get list watch create update delete; do can "$CTL_SA" yes $v configmaps -n default; done
for v in list watch; do can "$CTL_SA" yes $v configmaps -A; done
for v in get list watch; do can "$CTL_SA" yes $v $PCMC -A; done
can "$CTL_SA" yes patch $PCMC --subresource=status -n default
can "$CTL_SA" yes update pods --subresource=finalizers -n default   # blockOwnerDeletion on its ConfigMaps
can "$CTL_SA" yes create events -n default
can "$CTL_SA" yes create $LEASES -n pcmc-system
for v in get update watch; do can "$CTL_SA" yes $v $LEASES/pcmc-controller-leader -n pcmc-system; done

for v in get list; do can "$CTL_SA" no $v secrets -A; done
for v in create delete update patch; do can "$CTL_SA" no $v pods -n default; done
can "$CTL_SA" no create pods --subresource=exec -n default
can "$CTL_SA" no create pods --subresource=eviction -n default
can "$CTL_SA" no patch configmaps -n default
can "$CTL_SA" no deletecollection configmaps -n default
for v in create update patch delete; do can "$CTL_SA" no $v $PCMC -n default; done
can "$CTL_SA" no update $PCMC --subresource=status -n default
can "$CTL_SA" no update $LEASES/some-other-lease -n pcmc-system
can "$CTL_SA" no delete $LEASES/pcmc-controller-leader -n pcmc-system
can "$CTL_SA" no list $LEASES -n pcmc-system
can "$CTL_SA" no get $LEASES/pcmc-controller-leader -n kube-system
can "$CTL_SA" no create $LEASES -n kube-system
can "$CTL_SA" no create tokenreviews.authentication.k8s.io
can "$CTL_SA" no create serviceaccounts --subresource=token -n pcmc-system
can "$CTL_SA" no impersonate users
can "$CTL_SA" no escalate clusterroles.rbac.authorization.k8s.io
can "$CTL_SA" no bind clusterroles.rbac.authorization.k8s.io
can "$CTL_SA" no create clusterrolebindings.rbac.authorization.k8s.io
can "$CTL_SA" no patch nodes
can "$CTL_SA" no update customresourcedefinitions.apiextensions.k8s.io
can "$CTL_SA" no patch daemonsets.apps -n pcmc-system
can "$CTL_SA" no '*' '*' -A

# pcmc-agent: TokenReview only.
can "$AGENT_SA" yes create tokenreviews.authentication.k8s.io
for v in get list watch; do can "$AGENT_SA" no $v pods -A; done
can "$AGENT_SA" no get secrets -n pcmc-system
can "$AGENT_SA" no get configmaps -n default
can "$AGENT_SA" no list $PCMC -A
can "$AGENT_SA" no create events -n pcmc-system
can "$AGENT_SA" no create $LEASES -n pcmc-system
can "$AGENT_SA" no get nodes
can "$AGENT_SA" no create subjectaccessreviews.authorization.k8s.io
can "$AGENT_SA" no create serviceaccounts --subresource=token -n pcmc-system
can "$AGENT_SA" no impersonate serviceaccounts -n pcmc-system
can "$AGENT_SA" no '*' '*' -A

# Real requests with the service accounts' own tokens (what can-i predicts, the apiserver does).
ctl_token=$(kubectl -n pcmc-system create token pcmc-controller --duration 10m)
agent_token=$(kubectl -n pcmc-system create token pcmc-agent --duration 10m)
ca=$PCMC_CLUSTER_DIR/pki/ca.crt
api() { # api TOKEN METHOD PATH [BODY]: prints the HTTP status
  curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $1" -X "$2" \
    -H 'Content-Type: application/json' ${4:+--data "$4"} --max-time 5 "$PCMC_APISERVER$3"
}
expect_status() { # NAME WANT TOKEN METHOD PATH [BODY]
  local name=$1 want=$2 got; shift 2
  got=$(api "$@")
  if [ "$got" = "$want" ]; then tap_ok "$name (HTTP $got)"; else tap_not_ok "$name (HTTP $got, want $want)"; fi
}
L=/apis/coordination.k8s.io/v1/namespaces/pcmc-system/leases
lease='{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"pcmc-controller-leader"},"spec":{"holderIdentity":"rbac-test","leaseDurationSeconds":15}}'
expect_status "controller creates its Lease" 201 "$ctl_token" POST "$L" "$lease"
expect_status "controller reads its Lease" 200 "$ctl_token" GET "$L/pcmc-controller-leader"
expect_status "controller watches its Lease by fieldSelector name" 200 "$ctl_token" GET \
  "$L?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dpcmc-controller-leader"
expect_status "controller may not watch all Leases" 403 "$ctl_token" GET "$L?watch=1&timeoutSeconds=1"
expect_status "controller may not delete its Lease" 403 "$ctl_token" DELETE "$L/pcmc-controller-leader"
expect_status "controller lists pods" 200 "$ctl_token" GET "/api/v1/pods?limit=1"
expect_status "controller may not list secrets" 403 "$ctl_token" GET "/api/v1/secrets?limit=1"
expect_status "agent may not list pods" 403 "$agent_token" GET "/api/v1/pods?limit=1"
review=$(jq -nc --arg t "$ctl_token" '{apiVersion:"authentication.k8s.io/v1",kind:"TokenReview",spec:{token:$t}}')
user=$(curl -sS --cacert "$ca" -H "Authorization: Bearer $agent_token" -H 'Content-Type: application/json' \
  --data "$review" --max-time 5 "$PCMC_APISERVER/apis/authentication.k8s.io/v1/tokenreviews" | jq -r '.status.user.username')
if [ "$user" = "$CTL_SA" ]; then tap_ok "agent's TokenReview of the controller's token says $user"
else tap_not_ok "agent's TokenReview of the controller's token (user: $user)"; fi
tap_done
