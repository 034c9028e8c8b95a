#!/usr/bin/env bash
# The Grafana dashboard (manifests/dashboards/pcmc.json, shipped as the ConfigMap pcmc-dashboard):
# a real Prometheus scrapes two agents and two controllers on the local cluster (test/e2e/lib.sh)
# while pods get traffic, an agent cannot attach (wrong --cgroup-root), a node's agent is gone
# (pushes fail) and the leader is killed; then every panel's PromQL, as Grafana would send it, returns
# data from that Prometheus, and the panels that show a problem show that one.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export E2E_NODE_INDEX_BASE=${DASHBOARD_NODE_INDEX_BASE:-70} E2E_LOCK=${DASHBOARD_LOCK:-/run/lock/pcmc-dashboard.lock}
. "$here/../e2e/lib.sh"
DASHBOARD=$E2E_REPO/manifests/dashboards/pcmc.json
e2e_lock || { tap_not_ok "dashboard suite lock"; tap_done; exit 1; }
prom_pid= empty_cgroup=/sys/fs/cgroup/pcmc-dashboard-$$
cleanup() {
  [ -n "$prom_pid" ] && { kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null; }
  e2e_cleanup
  rmdir "$empty_cgroup" 2>/dev/null
}
trap cleanup EXIT
for b in pcmc-controller pcmc-agent pcmc-testpod; do
  [ -x "$E2E_REPO/build/$b" ] || { tap_not_ok "build/$b built (run make test-build)"; tap_done; exit 1; }
done
for t in prometheus jq curl; do command -v $t >/dev/null || { tap_not_ok "$t installed (test/setup.sh)"; tap_done; exit 1; }; done

# --- the artifacts --------------------------------------------------------------------------------
tap_check "the dashboard is a Grafana dashboard JSON: uid, title, panels with unique ids, every query on \${datasource}" \
  jq -e '(.uid | length > 0) and (.title | length > 0) and (.schemaVersion >= 36) and
         ([.panels[].id] | length == (unique | length)) and
         ([.panels[] | select(.type != "row") | .targets[] | .datasource.uid] | all(. == "${datasource}")) and
         ([.templating.list[] | select(.type == "datasource")] | length == 1)' "$DASHBOARD"
kubectl kustomize "$E2E_REPO/manifests" >"$E2E_DIR/all.yaml" 2>"$E2E_DIR/kustomize.err"
python3 "$E2E_REPO/test/deploy/yaml2json.py" <"$E2E_DIR/all.yaml" >"$E2E_DIR/all.json" 2>>"$E2E_DIR/kustomize.err"
tap_check "kubectl kustomize manifests/: ConfigMap pcmc-dashboard with label grafana_dashboard=\"1\" holding that very file" \
  jq -e --slurpfile d "$DASHBOARD" '.[] | select(.kind == "ConfigMap" and .metadata.name == "pcmc-dashboard") |
    .metadata.labels.grafana_dashboard == "1" and (.data["pcmc.json"] | fromjson) == $d[0]' "$E2E_DIR/all.json"
tap_check "the agents' ServiceMonitor labels each target with its node (the per-node panels use it)" \
  jq -e '.[] | select(.kind == "ServiceMonitor" and .metadata.name == "pcmc-agent") | .spec.endpoints[0].relabelings[] |
    select(.targetLabel == "node" and .sourceLabels == ["__meta_kubernetes_pod_node_name"])' "$E2E_DIR/all.json"

# --- the cluster: e2e-a enforces, e2e-b's agent looks for cgroups in an empty cgroup, e2e-c has an
# --- agent pod but no agent process (pushes to it fail), two controllers --------------------------
e2e_cluster_up || { tap_not_ok "local cluster"; tap_done; exit 1; }
"$E2E_REPO/test/cluster/nodesim" start e2e-c 2>>"$E2E_LOGS/nodesim.txt" 8>&- || { tap_not_ok "node e2e-c"; tap_done; exit 1; }
mkdir -p "$empty_cgroup"
ok=1
e2e_agent_start e2e-a && e2e_agent_start e2e-b --cgroup-root "$empty_cgroup" || ok=0
for n in e2e-a e2e-b e2e-c; do e2e_agent_pod "$n"; done
# Fixed metrics ports: Prometheus finds a restarted controller where it was.
declare -A ctl_port=()
ctl_port[ctl-a]=$(free_port "$E2E_APISERVER_PORT" "$E2E_ETCD_CLIENT_PORT" "$E2E_ETCD_PEER_PORT" "$E2E_AGENT_PORT")
ctl_port[ctl-b]=$(free_port "$E2E_APISERVER_PORT" "$E2E_ETCD_CLIENT_PORT" "$E2E_ETCD_PEER_PORT" "$E2E_AGENT_PORT" "${ctl_port[ctl-a]}")
e2e_ctl_start ctl-a --metrics-addr "127.0.0.1:${ctl_port[ctl-a]}" && e2e_ctl_start ctl-b --metrics-addr "127.0.0.1:${ctl_port[ctl-b]}" || ok=0
[ $ok = 1 ] && tap_ok "agents on e2e-a and e2e-b (cgroup root $empty_cgroup), none behind e2e-c's agent pod, two controllers" ||
  tap_not_ok "agents and controllers started"
e2e_pod web-1 e2e-a app=web; e2e_pod web-2 e2e-b app=web; e2e_pod web-3 e2e-c app=web
running() { local p; for p in web-1 web-2 web-3; do e2e_pod_running $p || return 1; done; }
tap_check "pods web-1, web-2, web-3 Running on e2e-a, e2e-b, e2e-c" wait_until 60 running
kubectl apply -f - >/dev/null <<YAML
apiVersion: podconfig.example.com/v1alpha1
kind: PodConfigMapConfig
metadata: {name: web, namespace: $E2E_NS}
spec:
  podSelector: {matchLabels: {app: web}}
  ebpfConfig:
    syscallMonitoring: {enabled: true, syscallNames: [accept4, read]}
    l4Firewall: {enabled: true, allowedPorts: [8080], blockedPorts: [9999]}
    metricsExport: {enabled: true, updateInterval: 1s}
YAML
tap_check "web-1 enforced on e2e-a" wait_until 30 bash -c \
  ". '$here/../e2e/lib.sh'; [ \"\$(e2e_agent_pod_state e2e-a \$(e2e_pod_uid web-1))\" = applied ]"

# --- Prometheus scraping both programs, with the target labels the ServiceMonitors give ----------
cat >"$E2E_DIR/prometheus.yml" <<EOF
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: pcmc-agent
    honor_labels: true
    static_configs:
      - {targets: ['${E2E_NODE_IP[e2e-a]}:$E2E_AGENT_PORT'], labels: {node: e2e-a, pod: pcmc-agent-e2e-a}}
      - {targets: ['${E2E_NODE_IP[e2e-b]}:$E2E_AGENT_PORT'], labels: {node: e2e-b, pod: pcmc-agent-e2e-b}}
  - job_name: pcmc-controller
    static_configs:
      - {targets: ['127.0.0.1:${ctl_port[ctl-a]}'], labels: {pod: ctl-a}}
      - {targets: ['127.0.0.1:${ctl_port[ctl-b]}'], labels: {pod: ctl-b}}
EOF
prom_port=$(free_port "$E2E_APISERVER_PORT" "$E2E_ETCD_CLIENT_PORT" "$E2E_ETCD_PEER_PORT" "$E2E_AGENT_PORT" "${ctl_port[@]}")
prometheus --config.file="$E2E_DIR/prometheus.yml" --storage.tsdb.path="$E2E_DIR/prometheus" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$E2E_LOGS/prometheus.log" 2>&1 8>&- &
prom_pid=$!
PROM=http://127.0.0.1:$prom_port
tap_check "Prometheus ready" wait_until 30 curl -fsS "$PROM/-/ready"
targets_up() {
  [ "$(curl -fsS "$PROM/api/v1/targets" | jq '[.data.activeTargets[] | select(.health == "up")] | length')" = 4 ]
}
tap_check "Prometheus scrapes both agents and both controllers (4 targets up)" wait_until 30 targets_up

# Traffic to web-1: allowed and blocked packets, listed syscalls and others.
web1=$(e2e_pod_ip web-1)
( while :; do tcp_open "$web1" 8080; tcp_closed "$web1" 9999; sleep 0.2; done ) >/dev/null 2>&1 8>&- &
traffic=$!
# A new leader: the lease transitions step.
leader=$(e2e_lease_holder)
e2e_ctl_stop "$leader" KILL
tap_check "the leader ($leader) killed: the other controller takes the Lease" wait_until 30 bash -c \
  ". '$here/../e2e/lib.sh'; h=\$(e2e_lease_holder); [ -n \"\$h\" ] && [ \"\$h\" != $leader ]"
e2e_ctl_start "$leader" --metrics-addr "127.0.0.1:${ctl_port[$leader]}"

# query EXPR: the result array of an instant query (fails on an error answer).
query() { curl -fsS --get --data-urlencode "query=$1" "$PROM/api/v1/query" | jq -e '.status == "success"' >/dev/null &&
  curl -fsS --get --data-urlencode "query=$1" "$PROM/api/v1/query" | jq -c '.data.result'; }
# Grafana's variables as it fills them with "All" namespaces and a 1 s scrape interval.
as_grafana() { sed -e 's/\$__rate_interval/10s/g' -e 's/\$namespace/.*/g' <<<"$1"; }
has_data() { local r; r=$(query "$(as_grafana "$1")") && [ "$(jq length <<<"$r")" -gt 0 ]; }

# --- every panel's queries return data ---------------------------------------------------------
n=0
while IFS=$'\t' read -r title expr; do
  n=$((n + 1))
  tap_check "panel \"$title\": $(as_grafana "$expr" | cut -c1-90) returns data" wait_until 60 has_data "$expr"
done < <(jq -r '.panels[] | select(.type != "row") | .title as $t | .targets[] | [$t, .expr] | @tsv' "$DASHBOARD")
[ "$n" -ge 15 ] || tap_not_ok "the dashboard has at least 15 queries ($n)"

# --- and the problems show where they are ----------------------------------------------------------
positive() { local r; r=$(query "$1") && jq -e 'length > 0 and all(.[]; (.value[1] | tonumber) > 0)' <<<"$r" >/dev/null; }
tap_check "blocked packets per second of web-1 above 0" wait_until 30 positive \
  "sum by (pod_name) (rate(podconfigmap_controller_ebpf_l4_firewall_total{pod_name=\"web-1\",stat_type=\"blocked\"}[10s]))"
tap_check "syscalls outside the allowlist of web-1 above 0" wait_until 30 positive \
  "sum by (pod_name) (rate(podconfigmap_controller_ebpf_syscall_outside_allowlist_total{pod_name=\"web-1\"}[10s]))"
tap_check "attach failures of web-2 (e2e-b: pod_not_ready) above 0" wait_until 30 positive \
  "sum by (pod_name, error_type) (podconfigmap_controller_ebpf_program_errors_total{pod_name=\"web-2\"})"
tap_check "pods enforced per node: e2e-a 1 applied, e2e-b 1 failed" wait_until 30 bash -c "
  $(declare -f query); PROM=$PROM
  query 'sum by (node, state) (pcmc_agent_pods{job=\"pcmc-agent\"})' | jq -e '
    (map(select(.metric.node == \"e2e-a\" and .metric.state == \"applied\"))[0].value[1] == \"1\") and
    (map(select(.metric.node == \"e2e-b\" and .metric.state == \"failed\"))[0].value[1] == \"1\")' >/dev/null"
tap_check "failed pushes (e2e-c's agent is not there) above 0" wait_until 60 positive \
  'sum(increase(pcmc_controller_policy_pushes_total{job="pcmc-controller", result="failed"}[30s]))'
tap_check "lease transitions at least 1 after the takeover; exactly one leader" wait_until 30 bash -c "
  $(declare -f query); PROM=$PROM
  query 'max(pcmc_controller_lease_transitions{job=\"pcmc-controller\"})' | jq -e '(.[0].value[1] | tonumber) >= 1' >/dev/null &&
  query 'sum(pcmc_controller_leader{job=\"pcmc-controller\"})' | jq -e '.[0].value[1] == \"1\"' >/dev/null"
tap_check "the versions table names this build's revision for both programs" bash -c "
  $(declare -f query); PROM=$PROM
  query 'count by (job, revision) ({__name__=~\"pcmc_agent_build_info|pcmc_controller_build_info\"})' |
    jq -e --arg r \"\$(bash '$E2E_REPO/common/build_info.sh' --revision)\" '[.[] | select(.metric.revision == \$r) | .metric.job] | sort == [\"pcmc-agent\", \"pcmc-controller\"]' >/dev/null"
kill "$traffic" 2>/dev/null; wait "$traffic" 2>/dev/null
tap_check "every controller and agent log line follows docs/logging.md" e2e_logcheck "$E2E_LOGS"/ctl-*.log "$E2E_LOGS"/agent-*.log
tap_done
