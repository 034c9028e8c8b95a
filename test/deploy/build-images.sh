#!/usr/bin/env bash
# Builds the pcmc images with this machine's Docker engine: the local base image first (base-image.sh,
# cached), then Dockerfile.<name> for each NAME given (default: controller agent) as pcmc-<name>:dev.
# The context is the repository's tracked files (no build/, no .git), so no host build leaks in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
TAG=${PCMC_IMAGE_TAG:-dev}
names=("$@"); [ $# -gt 0 ] || names=(controller agent)
for n in "${names[@]}"; do
  [ -f "$repo/Dockerfile.$n" ] || { echo "build-images: no Dockerfile.$n" >&2; exit 2; }
done
command -v docker >/dev/null || { echo "build-images: MISSING: docker" >&2; exit 1; }
base=$(bash "$here/base-image.sh")

ctx=$(mktemp /tmp/pcmc-image-context.XXXXXX.tar)
trap 'rm -f "$ctx"' EXIT
# Tracked files as they are in the working tree (a file deleted but not yet committed is left out).
(cd "$repo" && { git ls-files -z; printf '%s\0' Dockerfile.*; } | sort -zu |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -cf "$ctx" -T -)
# The context has no .git: the revision for --version and *_build_info comes in as a build argument.
revision=$(bash "$repo/common/build_info.sh" --revision)
for n in "${names[@]}"; do
  t0=$(date +%s)
  log=$(mktemp /tmp/pcmc-image-build.XXXXXX.log)
  # The legacy builder: this engine has no buildx; it caches every step (apt layer shared by both).
  if ! DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "BASE_IMAGE=$base" --build-arg "GIT_REVISION=$revision" -f "Dockerfile.$n" -t "pcmc-$n:$TAG" - <"$ctx" >"$log" 2>&1; then
    tail -n 40 "$log" >&2; echo "build-images: FAILED: Dockerfile.$n (log $log)" >&2; exit 1
  fi
  rm -f "$log"
  echo "build-images: pcmc-$n:$TAG in $(($(date +%s) - t0))s" >&2
done
