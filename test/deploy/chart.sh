#!/usr/bin/env bash
# The Helm chart (charts/pcmc) with a real helm built from its Go module (build-helm.sh): helm lint;
# helm template with the default values renders the same objects as `kubectl kustomize manifests/`
# (compared object by object); each value changes what it says and nothing else; bad values are
# refused naming the value. (helm install on a cluster: images-e2e.sh with DEP_INSTALL=helm.)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/pcmc-deploy-chart.XXXXXX)
trap 'rm -rf "$work"' EXIT
need kubectl jq python3 go
CHART=$DEP_REPO/charts/pcmc
if ! HELM=$(bash "$here/build-helm.sh" 2>"$work/build.log"); then
  tap_not_ok "helm built from helm.sh/helm/v3 (test/deploy/build-helm.sh)"; sed 's/^/# /' "$work/build.log" | tail; tap_done; exit 1
fi
tap_ok "helm $("$HELM" version --template '{{.Version}}') built from its Go module"
helm() { "$HELM" "$@" 2> >(grep -v 'found symbolic link in path' >&2); }

tap_check "helm lint --strict charts/pcmc" helm lint --strict "$CHART"
tap_check "Chart appVersion is the programs' VERSION" \
  bash -c "grep -qx \"appVersion: \\\"\$(tr -d ' \\n' <'$DEP_REPO/VERSION')\\\"\" '$CHART/Chart.yaml'"

# render NAME HELM-ARGS...: helm template of the chart as a JSON list in $work/NAME.json.
render() {
  local name=$1; shift
  helm template pcmc "$CHART" --include-crds "$@" >"$work/$name.yaml" 2>"$work/$name.err" &&
    python3 "$here/yaml2json.py" <"$work/$name.yaml" >"$work/$name.json"
}
# Canonical objects: one per line, keys sorted, ordered by kind, namespace and name.
canon() { jq -c -S 'sort_by(.kind, (.metadata.namespace // ""), .metadata.name) | .[]' "$1"; }

kubectl kustomize "$DEP_REPO/manifests" | python3 "$here/yaml2json.py" >"$work/kustomize.json"
render default -n pcmc-system || { tap_not_ok "helm template (defaults)"; sed 's/^/# /' "$work/default.err"; tap_done; exit 1; }
canon "$work/kustomize.json" >"$work/kustomize.canon"; canon "$work/default.json" >"$work/default.canon"
same_objects() {
  local k h
  if diff <(jq -r '"\(.kind) \(.metadata.namespace // "-") \(.metadata.name)"' "$work/kustomize.canon") \
          <(jq -r '"\(.kind) \(.metadata.namespace // "-") \(.metadata.name)"' "$work/default.canon"); then
    diff "$work/kustomize.canon" "$work/default.canon" >"$work/diff" && return 0
    # Name the first object that differs and where.
    paste -d '\n' "$work/kustomize.canon" "$work/default.canon" | paste - - | while IFS=$'\t' read -r k h; do
      [ "$k" = "$h" ] && continue
      echo "$(jq -r '"\(.kind) \(.metadata.name)"' <<<"$k") differs:"
      diff <(jq . <<<"$k") <(jq . <<<"$h") | head -20
      break
    done
  fi
  return 1
}
tap_check "helm template (default values) renders the same $(wc -l <"$work/kustomize.canon") objects as kubectl kustomize manifests/, object by object" same_objects

# q NAME JQ: the rendering NAME satisfies the jq expression (over the JSON list).
q() { jq -e "$2" "$work/$1.json" >/dev/null || { echo "not true of $1: $2"; return 1; }; }
obj() { echo ".[] | select(.kind==\"$1\" and .metadata.name==\"$2\")"; }
D=$(obj Deployment pcmc-controller) DS=$(obj DaemonSet pcmc-agent)

render other -n platform-pcmc
tap_check "-n platform-pcmc: every object there, subjects too, nothing left in pcmc-system" bash -c "
  ! grep -q pcmc-system '$work/other.json' &&
  jq -e '[.[] | select(.metadata.namespace) | .metadata.namespace] | unique == [\"platform-pcmc\"]' '$work/other.json' >/dev/null &&
  jq -e '[.[] | .subjects[]? | .namespace] | unique == [\"platform-pcmc\"]' '$work/other.json' >/dev/null &&
  jq -e '.[] | select(.kind==\"Namespace\") | .metadata.name == \"platform-pcmc\"' '$work/other.json' >/dev/null"

render kps -n monitoring-test --set monitoring.labels.release=kps
tap_check "monitoring.labels.release=kps: on both ServiceMonitors and the PrometheusRule, their own labels kept" q kps \
  '[.[] | select(.kind=="ServiceMonitor" or .kind=="PrometheusRule") | .metadata.labels.release == "kps" and .metadata.labels["app.kubernetes.io/part-of"] == "pcmc"] | length == 3 and all'

render images --set images.controller.repository=reg.example/pcmc-controller --set images.controller.tag=0.1.0 \
  --set images.agent.repository=reg.example/pcmc-agent --set images.agent.tag=0.1.0 --set images.agent.pullPolicy=Always
tap_check "images: repository, tag and pull policy of each program" q images \
  "($D | .spec.template.spec.containers[0].image == \"reg.example/pcmc-controller:0.1.0\") and
   ($DS | .spec.template.spec.containers[0] | .image == \"reg.example/pcmc-agent:0.1.0\" and .imagePullPolicy == \"Always\")"

render tuned --set controller.replicas=3 --set logLevel=debug --set controller.leaderElection.leaseDuration=30s \
  --set controller.leaderElection.renewDeadline=20s --set controller.leaderElection.retryPeriod=4s \
  --set controller.resources.limits.memory=1Gi --set agent.resources.requests.cpu=100m
tap_check "replicas, resources, log level and leader election become the programs' flags" q tuned \
  "($D | .spec.replicas == 3 and (.spec.template.spec.containers[0] | .resources.limits.memory == \"1Gi\" and
      (.args | index(\"--log-level=debug\") and index(\"--leader-elect-lease-duration=30s\") and
               index(\"--leader-elect-renew-deadline=20s\") and index(\"--leader-elect-retry-period=4s\")))) and
   ($DS | .spec.template.spec.containers[0] | .resources.requests.cpu == \"100m\" and (.args | index(\"--log-level=debug\")))"
render nole --set controller.leaderElection.enabled=false --set controller.replicas=1
tap_check "leaderElection.enabled=false: --leader-elect=false, and the agent fences without a Lease (--fencing=local)" q nole \
  "($D | .spec.template.spec.containers[0].args | index(\"--leader-elect=false\")) and
   ($DS | .spec.template.spec.containers[0].args | index(\"--fencing=local\"))"
tap_check "leader election on (default): the agent keeps Lease fencing" q images \
  "$DS | .spec.template.spec.containers[0].args | index(\"--fencing=local\") == null"

render ports --set controller.metricsPort=8181 --set agent.port=9555 --set agent.metricsPort=9556
tap_check "ports: the controller's --metrics-addr, container port and Service; the agent's --listen and --metrics-listen, ports \"api\" and \"metrics\", Service" q ports \
  "($D | .spec.template.spec.containers[0] | (.args | index(\":8181\")) and .ports[0].containerPort == 8181) and
   ($(obj Service pcmc-controller) | .spec.ports[0].port == 8181) and
   ($DS | .spec.template.spec.containers[0] | (.args | index(\"--listen=0.0.0.0:9555\") and index(\"--metrics-listen=0.0.0.0:9556\")) and
      .ports == [{name: \"api\", containerPort: 9555, protocol: \"TCP\"}, {name: \"metrics\", containerPort: 9556, protocol: \"TCP\"}]) and
   ($(obj Service pcmc-agent) | [.spec.ports[].port] == [9555, 9556])"

render off --set namespace.create=false --set monitoring.serviceMonitors=false --set monitoring.prometheusRule=false \
  --set monitoring.dashboard=false
tap_check "namespace.create, serviceMonitors, prometheusRule, dashboard false: those objects left out, the rest there" q off \
  '([.[] | select(.kind == "Namespace" or .kind == "ServiceMonitor" or .kind == "PrometheusRule" or .kind == "ConfigMap")] | length == 0) and
   ([.[] | select(.kind == "Deployment" or .kind == "DaemonSet")] | length == 2)'

# Bad values: refused by the chart's schema, naming the value.
refused() { # NAME PHRASE HELM-ARGS...
  local name=$1 phrase=$2; shift 2
  if helm template pcmc "$CHART" "$@" >"$work/bad.out" 2>&1; then tap_not_ok "refused: $name"; return; fi
  grep -q -- "$phrase" "$work/bad.out" && tap_ok "refused: $name" || { tap_not_ok "refused: $name (no '$phrase')"; sed 's/^/# /' "$work/bad.out" | tail -5; }
}
refused "logLevel=loud" "logLevel" --set logLevel=loud
refused "agent.port=70000" "agent.port" --set agent.port=70000
refused "controller.replicas=-1" "controller.replicas" --set controller.replicas=-1
refused "a lease duration that is not a duration" "leaseDuration" --set controller.leaderElection.leaseDuration=soon
refused "a misspelled value (controler.replicas)" "controler" --set controler.replicas=3
tap_done
