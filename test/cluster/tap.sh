# TAP helpers for the cluster suites (sourced): ok/not ok lines, a counter, and the final status.
TAP_N=0 TAP_FAILED=0
tap_ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
tap_not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
# tap_check NAME CMD...: ok if CMD succeeds; otherwise not ok, with CMD's output as # comments.
tap_check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then tap_ok "$name"; else tap_not_ok "$name"; echo "$out" | tail -n 20 | sed 's/^/# /'; fi
}
tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds (0) or the deadline passes (1).
wait_until() {
  local t=$1 i; shift
  for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
