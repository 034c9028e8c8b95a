#!/usr/bin/env bash
# Runs every libFuzzer target listed in build/fuzz-targets.txt (one "binary:seed dir:dict" a line,
# from FUZZ_TARGETS in the make fragments; ASan+UBSan+libFuzzer builds) from its seeds. TAP: one
# line per target, ok when it ran without a crash, a leak or a sanitizer report.
#   fuzz.sh                 make test's short run: PCMC_FUZZ_SECONDS (default 20) seconds each
#   PCMC_FUZZ=long fuzz.sh  make fuzz: PCMC_FUZZ_RUNS (default 1000000) executions each
#   fuzz.sh --runs N        N executions each
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
list=$repo/build/fuzz-targets.txt
limit="-max_total_time=${PCMC_FUZZ_SECONDS:-20}" what="${PCMC_FUZZ_SECONDS:-20}s"
[ "${PCMC_FUZZ:-}" = long ] && { limit="-runs=${PCMC_FUZZ_RUNS:-1000000}"; what="${PCMC_FUZZ_RUNS:-1000000} executions"; }
[ "${1:-}" = --runs ] && { limit="-runs=$2"; what="$2 executions"; }
[ -s "$list" ] || { echo "not ok 1 - fuzz target list $list (run make)"; echo "1..1"; exit 1; }
work=$(mktemp -d /tmp/pcmc-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=0 failed=0
while IFS=: read -r bin seeds dict; do
  [ -n "$bin" ] || continue
  n=$((n + 1)) name=$(basename "$bin")
  if [ ! -x "$repo/$bin" ]; then
    echo "not ok $n - $name built ($repo/$bin missing: run make)"; failed=1; continue
  fi
  corpus=$work/$name/corpus; mkdir -p "$corpus" "$work/$name/artifacts"
  [ -n "$seeds" ] && cp "$repo/$seeds"/* "$corpus/" 2>/dev/null
  if "$repo/$bin" "$limit" -timeout=10 -rss_limit_mb=2048 -max_len=65536 ${dict:+-dict="$repo/$dict"} \
       -artifact_prefix="$work/$name/artifacts/" -print_final_stats=1 "$corpus" >"$work/$name/log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name/log" | grep -o '[0-9]*$')
    echo "ok $n - $name fuzzed ($what) under ASan+UBSan: ${runs:-?} inputs, no crash, no leak"
  else
    failed=1
    echo "not ok $n - $name fuzzed ($what) under ASan+UBSan: no crash, no leak"
    grep -E 'ERROR|SUMMARY|leak|#[0-9]+ ' "$work/$name/log" | head -n 40 | sed 's/^/# /'
    for a in "$work/$name"/artifacts/*; do
      [ -f "$a" ] && { echo "# input ($a):"; head -c 600 "$a" | od -c | head -n 20 | sed 's/^/#   /'; }
    done
  fi
done < "$list"
echo "1..$n"
exit $failed
