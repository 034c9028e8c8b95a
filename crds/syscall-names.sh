#!/usr/bin/env bash
# Writes the syscall names of x86_64 and arm64 (the union of common/syscall_table's generated tables)
# into the syscallNames rule of the CRD: usage: syscall-names.sh GENERATED_TABLE_H CRD_YAML (make crd-syscalls).
set -euo pipefail
table=$1 crd=$2
[ -r "$table" ] || { echo "syscall-names.sh: $table missing (make build/common/syscall_table_generated.h)" >&2; exit 1; }
names=$(grep -o '^	{ "[a-z0-9_]*"' "$table" | sed 's/.*"\(.*\)"/\1/' | LC_ALL=C sort -u)
[ "$(wc -l <<<"$names")" -gt 300 ] || { echo "syscall-names.sh: too few names in $table" >&2; exit 1; }
grep -q '^ *self in \[$' "$crd" || { echo "syscall-names.sh: no 'self in [' line in $crd" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# Ten quoted names a line, indented like the "self in [" line they follow.
awk -v names="$names" '
  /^ *self in \[$/ {
    print; ind = $0; sub(/self.*/, "", ind)
    n = split(names, v, "\n"); line = ""
    for (i = 1; i <= n; i++) {
      line = line (line == "" ? "" : " ") "\x27" v[i] "\x27" (i < n ? "," : "")
      if (i % 10 == 0 || i == n) { print ind line; line = "" }
    }
    skip = 1; next
  }
  skip && /^ *\]$/ { skip = 0 }
  !skip { print }
' "$crd" > "$tmp"
cat "$tmp" > "$crd"
