#!/usr/bin/env bash
# The CRD (crds/podconfigmapconfig.yaml) states the limits and grammars of common/policy_limits.h:
# list sizes, port range, name and duration patterns, the interval range and defaults; and the C
# parsers agree with the CRD's regular expressions on the same sample strings. TAP.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$repo/build/test/common/policy-limits
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
[ -x "$bin" ] || { echo "not ok 1 - $bin built (run make)"; echo "1..1"; exit 1; }
c=$("$bin")
crd=$(python3 "$repo/test/deploy/yaml2json.py" < "$repo/crds/podconfigmapconfig.yaml") ||
  { echo "not ok 1 - CRD readable"; echo "1..1"; exit 1; }
E='.[0].spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.ebpfConfig.properties'
check() { # check DESCRIPTION C_JQ CRD_JQ
  local want got
  want=$(jq -c "$2" <<<"$c") got=$(jq -c "$3" <<<"$crd")
  if [ "$want" = "$got" ] && [ "$want" != null ]; then ok "$1 ($want)"; else not_ok "$1" "C: $want" "CRD: $got"; fi
}
check "syscallNames maxItems" .syscallNamesMaxItems "$E.syscallMonitoring.properties.syscallNames.maxItems"
check "syscall name maxLength" .syscallNameMaxLength "$E.syscallMonitoring.properties.syscallNames.items.maxLength"
check "syscall name pattern" .syscallNamePattern "$E.syscallMonitoring.properties.syscallNames.items.pattern"
for list in allowedPorts blockedPorts; do
  check "$list maxItems" .portsMaxItems "$E.l4Firewall.properties.$list.maxItems"
  check "$list minimum" .portMinimum "$E.l4Firewall.properties.$list.items.minimum"
  check "$list maximum" .portMaximum "$E.l4Firewall.properties.$list.items.maximum"
done
check "defaultAction values" '["allow","block"]' "$E.l4Firewall.properties.defaultAction.enum"
check "defaultAction default" '"allow"' "$E.l4Firewall.properties.defaultAction.default"
check "updateInterval maxLength" .durationMaxLength "$E.metricsExport.properties.updateInterval.maxLength"
check "updateInterval pattern" .durationPattern "$E.metricsExport.properties.updateInterval.pattern"
check "updateInterval default" .intervalDefault "$E.metricsExport.properties.updateInterval.default"
rule=$(jq -r "$E.metricsExport.properties.updateInterval[\"x-kubernetes-validations\"][0].rule" <<<"$crd")
lo=$(jq -r .intervalMinSeconds <<<"$c") hi=$(jq -r .intervalMaxSeconds <<<"$c")
h=$((hi / 3600))
if [[ $rule == *"duration('${lo}s')"* && $rule == *"duration('${h}h')"* ]]; then
  ok "updateInterval range ${lo}s..${h}h in the CEL rule"
else
  not_ok "updateInterval range ${lo}s..${h}h in the CEL rule" "rule: $rule"
fi

# The C grammars and the CRD's regular expressions give the same verdict on every sample.
agree() { # agree KIND PATTERN_JQ SAMPLE...
  local kind=$1 pattern c_out py_out; pattern=$(jq -r "$2" <<<"$crd"); shift 2
  c_out=$("$bin" "$kind" "$@")
  py_out=$(python3 -c 'import re,sys
p=re.compile(sys.argv[1])
for s in sys.argv[2:]: print(("ok " if p.fullmatch(s) else "bad ") + s)' "$pattern" "$@")
  if [ "$c_out" = "$py_out" ]; then ok "$kind grammar: C and the CRD agree on $# samples"
  else not_ok "$kind grammar: C and the CRD agree" "$(diff <(echo "$c_out") <(echo "$py_out") | tr '\n' ' ')"; fi
}
agree duration "$E.metricsExport.properties.updateInterval.pattern" \
  1s 500ms 1m30s 1.5h 2h45m0.5s 1500us 7ns 0s "" 5 s .5s 1.s -1s +1s "1 s" 1e3s inf 1d 0x10s 1s1 "3µs" 1.5.5s 10m5
agree syscall-name "$E.syscallMonitoring.properties.syscallNames.items.pattern" \
  read write _llseek rt_sigreturn openat "" 1read Read "no such" read- "réad" a1 _
echo "1..$n"
exit $failed
