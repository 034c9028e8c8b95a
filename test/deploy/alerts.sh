#!/usr/bin/env bash
# The PrometheusRule in manifests/ checked by promtool: its spec.groups extracted into a rules file,
# `promtool check rules`, `promtool test rules` (alerts.test.yml), and every alert tested both
# firing and quiet.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/pcmc-deploy-alerts.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
need kubectl promtool python3
python3 -c 'import yaml' 2>/dev/null || { tap_not_ok "python3 yaml module (python3-yaml; run: bash test/setup.sh)"; tap_done; exit 1; }

if kubectl kustomize "$DEP_REPO/manifests" | python3 "$here/yaml2json.py" --rules >"$work/pcmc-rules.json" 2>"$work/err"; then
  tap_ok "PrometheusRule spec.groups extracted from kubectl kustomize manifests/"
else
  tap_not_ok "PrometheusRule spec.groups extracted"; sed 's/^/# /' "$work/err"; tap_done; exit 1
fi
tap_check "promtool check rules" promtool check rules "$work/pcmc-rules.json"
cp "$here/alerts.test.yml" "$work/"
tap_check "promtool test rules alerts.test.yml" promtool test rules "$work/alerts.test.yml"

# Coverage: for every alert in the rules, a test that expects it and a test that expects none.
python3 - "$work/pcmc-rules.json" "$work/alerts.test.yml" >"$work/coverage" <<'PY'
import json, sys, yaml
alerts = [r["alert"] for g in json.load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r]
fires, quiet = set(), set()
for t in yaml.safe_load(open(sys.argv[2]))["tests"]:
    for a in t.get("alert_rule_test", []):
        (fires if a.get("exp_alerts") else quiet).add(a["alertname"])
for a in alerts:
    print(a, "fires" if a in fires else "NO-FIRING-TEST", "quiet" if a in quiet else "NO-QUIET-TEST")
PY
while read -r alert f q; do
  if [ "$f" = fires ] && [ "$q" = quiet ]; then tap_ok "$alert: tested firing and quiet"
  else tap_not_ok "$alert: $f $q"; fi
done <"$work/coverage"
tap_done
