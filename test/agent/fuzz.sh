#!/usr/bin/env bash
# Fuzzes the policy parser (build/test/agent/fuzz_policy, libFuzzer + ASan/UBSan) for a fixed time
# (PCMC_FUZZ_SECONDS, default 60) from the seeds in test/agent/fuzz-seeds; TAP: no crash, no leak.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=$repo/build/test/agent/fuzz_policy
secs=${PCMC_FUZZ_SECONDS:-60}
[ -x "$bin" ] || { echo "not ok 1 - fuzz target built ($bin missing: run make)"; echo "1..1"; exit 1; }
work=$(mktemp -d /tmp/pcmc-agent-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$here"/fuzz-seeds/* "$work/" 2>/dev/null
mkdir -p "$work/artifacts"
if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
     -dict="$here/policy.dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
     "$work" >"$work/log" 2>&1; then
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$')
  echo "ok 1 - policy parser fuzzed ${secs}s under ASan+UBSan: ${runs:-?} inputs, no crash, no leak"
  echo "1..1"
  exit 0
fi
echo "not ok 1 - policy parser fuzzed ${secs}s under ASan+UBSan: no crash, no leak"
grep -E 'ERROR|SUMMARY|leak|#[0-9]+ ' "$work/log" | head -n 40 | sed 's/^/# /'
for a in "$work"/artifacts/*; do [ -f "$a" ] && { echo "# input ($a):"; head -c 600 "$a" | sed 's/^/#   /'; echo; }; done
echo "1..1"
exit 1
