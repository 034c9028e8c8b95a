#!/usr/bin/env bash
# Runs each benchmark given as an argument; each prints "BENCH <name> <value> <unit>" lines.
set -u
rc=0
for b in "$@"; do
  echo "=== bench $b"
  bash -c "$b" || { echo "bench $b failed"; rc=1; }
done
exit $rc
