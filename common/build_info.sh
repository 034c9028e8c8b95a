#!/usr/bin/env bash
# Writes build/common/build_info_generated.h: PCMC_VERSION from VERSION, PCMC_REVISION from git
# (or from $1 where there is no .git, e.g. an image build given GIT_REVISION). The file is replaced
# only when its content changes, so an unchanged revision rebuilds nothing.
# usage: build_info.sh OUT [REVISION]    or    build_info.sh --revision (prints git's, for image builds)
set -euo pipefail
cd "$(dirname "$0")/.."
git_revision() {
  local rev
  if rev=$(git rev-parse --short=12 HEAD 2>/dev/null); then
    git diff --quiet HEAD -- 2>/dev/null || rev=$rev-dirty
    echo "$rev"
  else
    echo unknown
  fi
}
if [ "$1" = --revision ]; then git_revision; exit 0; fi
out=$1 rev=${2:-}
version=$(tr -d ' \n' <VERSION)
[ -n "$rev" ] || rev=$(git_revision)
case $version$rev in *[!A-Za-z0-9._+-]*) echo "build_info.sh: bad VERSION ($version) or revision ($rev)" >&2; exit 1 ;; esac
tmp=$(mktemp "$out.XXXXXX")
printf '#define PCMC_VERSION "%s"\n#define PCMC_REVISION "%s"\n' "$version" "$rev" >"$tmp"
if cmp -s "$tmp" "$out"; then rm -f "$tmp"; else mv "$tmp" "$out"; fi
