#!/usr/bin/env bash
# The log checker against docs/logging.md: a line that follows the schema passes; each way a line
# can break it is reported with its file and line; a broken schema or a log call in the sources
# that the schema does not list is caught too.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/test/cluster/tap.sh"
check=("python3" "$repo/test/common/logcheck.py")
work=$(mktemp -d /tmp/pcmc-logcheck.XXXXXX)
trap 'rm -rf "$work"' EXIT

ts='"ts":"2026-01-31T12:00:00.123Z"'
good="{$ts,\"level\":\"info\",\"component\":\"agent\",\"msg\":\"pod removed\",\"namespace\":\"shop\",\"pod\":\"db-1\",\"pod_uid\":\"u1\",\"slot\":3}"
printf '%s\n\n%s\n' "$good" "{$ts,\"level\":\"info\",\"component\":\"controller\",\"msg\":\"stopped\"}" >"$work/good.log"
tap_check "lines that follow the schema pass" "${check[@]}" "$work/good.log"

# expect_problem NAME LINE PHRASE: the checker fails on LINE (as line 2, after a good one) and says PHRASE.
expect_problem() {
  printf '%s\n%s\n' "$good" "$2" >"$work/bad.log"
  local out rc
  out=$("${check[@]}" "$work/bad.log" 2>&1); rc=$?
  if [ "$rc" -eq 1 ] && grep -qF "$work/bad.log:2: $3" <<<"$out" && ! grep -q "bad.log:1:" <<<"$out"; then
    tap_ok "$1"
  else
    tap_not_ok "$1 (want exit 1 and '$3' for line 2)"; sed 's/^/# /' <<<"$out"
  fi
}
expect_problem "a line that is not JSON" 'ERROR: AddressSanitizer: heap-use-after-free' "not a JSON object"
expect_problem "a line without component" "{$ts,\"level\":\"info\",\"msg\":\"stopped\"}" "no component"
expect_problem "a timestamp that is not UTC with milliseconds" \
  '{"ts":"2026-01-31 12:00:00","level":"info","component":"agent","msg":"stopped"}' "ts '2026-01-31 12:00:00' is not UTC"
expect_problem "an unknown level" "{$ts,\"level\":\"fatal\",\"component\":\"agent\",\"msg\":\"stopped\"}" "level 'fatal' is not one of"
expect_problem "an unknown (camelCase) field" \
  "{$ts,\"level\":\"info\",\"component\":\"agent\",\"msg\":\"stopped\",\"resourceVersion\":\"12\"}" "unknown field 'resourceVersion'"
expect_problem "a field of the wrong type (signal as a number)" \
  "{$ts,\"level\":\"info\",\"component\":\"agent\",\"msg\":\"stopping\",\"signal\":15}" "field 'signal' is 15, not a string"
expect_problem "a boolean where a count belongs" \
  "{$ts,\"level\":\"info\",\"component\":\"agent\",\"msg\":\"ready\",\"pods\":true}" "field 'pods' is true, not a integer"
expect_problem "a message the schema does not list" \
  "{$ts,\"level\":\"info\",\"component\":\"agent\",\"msg\":\"something new\"}" "message 'something new' is not listed for agent at level info"
expect_problem "a listed message at another level" \
  "{$ts,\"level\":\"error\",\"component\":\"agent\",\"msg\":\"stopped\"}" "message 'stopped' is not listed for agent at level error"
expect_problem "a message without a field it always has" \
  "{$ts,\"level\":\"info\",\"component\":\"agent\",\"msg\":\"pod removed\",\"pod\":\"db-1\",\"pod_uid\":\"u1\",\"slot\":3}" \
  "message 'pod removed' lacks field 'namespace'"
expect_problem "a key given twice" \
  "{$ts,\"level\":\"info\",\"component\":\"agent\",\"msg\":\"stopped\",\"msg\":\"stopped\"}" "key given twice: msg"

# expect_exit NAME RC PHRASE CMD...: CMD exits with RC and prints PHRASE (a fixed string).
expect_exit() {
  local name=$1 want=$2 phrase=$3 out rc; shift 3
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq "$want" ] && grep -qF -- "$phrase" <<<"$out"; then
    tap_ok "$name"
  else
    tap_not_ok "$name (want exit $want and '$phrase', got exit $rc)"; sed 's/^/# /' <<<"$out"
  fi
}

# The schema's own mistakes stop the checker (exit 2) instead of passing everything.
sed 's/^| `pods` | integer |/| `pods` | int |/' "$repo/docs/logging.md" >"$work/schema1.md"
expect_exit "a field of unknown type in the schema: exit 2 naming it" 2 "field pods has unknown type 'int'" \
  "${check[@]}" --schema "$work/schema1.md" "$work/good.log"
sed 's/| `ready` | `pods` |/| `ready` | `pod_count` |/' "$repo/docs/logging.md" >"$work/schema2.md"
expect_exit "a message listing a field the schema lacks: exit 2 naming it" 2 "message 'ready' lists unknown field pod_count" \
  "${check[@]}" --schema "$work/schema2.md" "$work/good.log"

# --source: log calls in C sources whose message or key the schema lacks.
mkdir -p "$work/src"
cat >"$work/src/x.c" <<'EOF'
static void f(void)
{
	log_info("pod removed", LOG_POD(ns, name), LOG_STR("pod_uid", uid), LOG_INT("slot", 1));
	log_warn("a new warning", LOG_STR("podName", name));
}
EOF
expect_exit "--source: an unlisted message is named with file and line" 1 \
  "x.c:4: message 'a new warning' at warn is not in docs/logging.md" "${check[@]}" --source "$work/src"
expect_exit "--source: an unknown key is named with file and line" 1 \
  "x.c:4: field 'podName' is not in docs/logging.md" "${check[@]}" --source "$work/src"
tap_check "--source: a listed message with known keys passes" bash -c "! ${check[*]} --source '$work/src' | grep -q 'x.c:3'"
tap_done
