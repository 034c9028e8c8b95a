#!/usr/bin/env bash
# Starts a real Prometheus scraping TARGET every second and waits until each QUERY returns its
# EXPECTED value (numeric compare) through /api/v1/query; stops Prometheus by PID either way.
#
# usage: prometheus-scrape.sh HOST:PORT QUERY EXPECTED [QUERY EXPECTED ...]
# env:   PROM_METRICS_PATH (default /metrics), PROM_TIMEOUT seconds for all queries (default 30)
# exit:  0 when every query matched, 1 on timeout (prints last values, target health, log tail),
#        2 on bad usage or a missing tool.
set -euo pipefail

if [ $# -lt 3 ] || [ $(( ($# - 1) % 2 )) -ne 0 ]; then
  echo "usage: $0 HOST:PORT QUERY EXPECTED [QUERY EXPECTED ...]" >&2
  exit 2
fi
for tool in prometheus curl jq ss; do
  command -v "$tool" >/dev/null || { echo "prometheus-scrape: $tool not found (test/setup.sh installs it)" >&2; exit 2; }
done

target=$1; shift
metrics_path=${PROM_METRICS_PATH:-/metrics}
timeout=${PROM_TIMEOUT:-30}
dir=$(mktemp -d /tmp/pcmc-prometheus.XXXXXX)
pid=

stop_prometheus() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=
}
cleanup() {
  stop_prometheus
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pcmc-test
    metrics_path: $metrics_path
    static_configs:
      - targets: ['$target']
EOF

# A free port is only free until someone binds it: retry if Prometheus cannot listen.
api=
for attempt in $(seq 10); do
  port=$((20000 + RANDOM % 30000))
  [ -z "$(ss -Htln "sport = :$port")" ] || continue
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn >"$dir/prometheus.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; then
      api="http://127.0.0.1:$port"
      break
    fi
    sleep 0.1
  done
  [ -n "$api" ] && break
  echo "prometheus-scrape: prometheus did not start on port $port (attempt $attempt)" >&2
  tail -5 "$dir/prometheus.log" >&2 || true
  stop_prometheus
done
[ -n "$api" ] || { echo "prometheus-scrape: could not start prometheus" >&2; exit 1; }

query_value() {
  curl -fsS --get --data-urlencode "query=$1" "$api/api/v1/query" 2>/dev/null |
    jq -r 'if .status == "success" and (.data.result | length) > 0
           then (if .data.resultType == "scalar" then .data.result[1] else .data.result[0].value[1] end)
           else empty end' 2>/dev/null || true
}

same_number() {
  [ "$1" = "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0 && a ~ /^[-+0-9.eE]+$/) }'
}

start=$SECONDS
deadline=$((SECONDS + timeout))
while [ $# -gt 0 ]; do
  query=$1 expected=$2 got=
  while :; do
    got=$(query_value "$query")
    if [ -n "$got" ] && same_number "$got" "$expected"; then
      echo "prometheus-scrape: $query = $got after $((SECONDS - start))s"
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "prometheus-scrape: timeout after ${timeout}s: $query = '${got}', expected $expected" >&2
      curl -fsS "$api/api/v1/targets" 2>/dev/null |
        jq -c '.data.activeTargets[] | {scrapeUrl, health, lastError}' >&2 || true
      tail -20 "$dir/prometheus.log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  shift 2
done
exit 0
