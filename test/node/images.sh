#!/usr/bin/env bash
# Builds the real node's own images with this machine's Docker engine (FROM scratch, no registry): pause,
# and the test image (Debian's static busybox, /www/index.html = "pcmc", the syscall workload); imports
# them and the IMAGEs given (pcmc's, from make images) into the node's containerd. Usage: images.sh [IMAGE...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
log() { echo "node images: $*" >&2; }
for t in docker gcc ctr; do command -v "$t" >/dev/null || { log "MISSING: $t (run: bash test/setup.sh)"; exit 1; }; done
[ -x /bin/busybox ] || { log "MISSING: /bin/busybox (apt-get install busybox-static, test/setup.sh does)"; exit 1; }

work=$(mktemp -d /tmp/pcmc-node-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
# docker_scratch TAG DIR: an image FROM scratch holding DIR's files.
docker_scratch() {
  local tag=$1 dir=$2 entry=$3
  printf 'FROM scratch\nCOPY . /\nENTRYPOINT ["%s"]\n' "$entry" > "$dir/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$dir" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; return 1; }
}

mkdir -p "$work/pause" "$work/test/bin" "$work/test/www"
gcc -O2 -static -Wall -Wextra -Werror -o "$work/pause/pause" "$here/images/pause.c"
docker_scratch "$PCMC_NODE_PAUSE_IMAGE" "$work/pause" /pause
cp /bin/busybox "$work/test/bin/busybox"
printf pcmc > "$work/test/www/index.html"
for applet in sh sleep cat echo httpd nc wget ls; do ln -s busybox "$work/test/bin/$applet"; done
gcc -O2 -static -nostdlib -ffreestanding -fno-stack-protector -Wall -Wextra -Werror \
  -o "$work/test/syscall-workload" "$here/images/syscall_workload.c"
docker_scratch "$PCMC_NODE_TEST_IMAGE" "$work/test" /bin/sh

images=("$PCMC_NODE_PAUSE_IMAGE" "$PCMC_NODE_TEST_IMAGE" "$@")
for i in "${images[@]}"; do
  docker image inspect "$i" >/dev/null 2>&1 || { log "MISSING image $i (make images builds pcmc's)"; exit 1; }
done
docker save "${images[@]}" > "$work/images.tar"
ctr --address "$PCMC_NODE_CTR_SOCK" -n k8s.io images import "$work/images.tar" >/dev/null
log "imported ${images[*]}"
