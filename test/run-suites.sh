#!/usr/bin/env bash
# Runs each test suite given as an argument, in order, and sums their TAP lines.
# Prints each suite's wall time after it and "N passed, N failed" last; exits non-zero if any test or suite failed, or none ran.
set -u
# The suites run the sanitized tree (`make test-build`); a release build (`make`) would hide what
# ASan/UBSan find, so refuse it loudly.
flags=$(cat "$(dirname "$0")/../build/.flags" 2>/dev/null)
case $flags in
  *-fsanitize=address*) ;;
  *) echo "run-suites: build/ holds no sanitized build (build/.flags: ${flags:-none}); run make test-build"
     echo "0 passed, 1 failed"; exit 1 ;;
esac
passed=0 failed=0 broken=()
for suite in "$@"; do
  echo "=== suite $suite"
  out=$(mktemp) start=$SECONDS
  bash -c "$suite" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  p=$(grep -cE '^ok [0-9]+' "$out")
  f=$(grep -cE '^not ok [0-9]+' "$out")
  rm -f "$out"
  echo "=== suite $suite: $p ok, $f not ok, $((SECONDS - start)) s"
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ] || [ $((p + f)) -eq 0 ]; then
    [ "$f" -gt 0 ] || { failed=$((failed + 1)); }
    broken+=("$suite (exit $rc, $p ok, $f not ok)")
  fi
done
for b in "${broken[@]+"${broken[@]}"}"; do echo "FAILED SUITE: $b"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
