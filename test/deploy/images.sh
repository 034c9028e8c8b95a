#!/usr/bin/env bash
# Both images built with this machine's Docker engine from the local base image (debootstrap + docker
# import, cached), then checked: only the binary, its libraries, CA certificates (and the agent's BPF
# objects) inside; the controller runs as 65532 on a read-only root; both binaries start.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d /tmp/pcmc-deploy-images.XXXXXX)
# Containers are created (never started) to export their filesystem; each one's id is kept in $work.
cleanup() { local f; for f in "$work"/*.cid; do [ -f "$f" ] && docker rm -f "$(cat "$f")" >/dev/null 2>&1; done; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
need docker debootstrap git tar

t0=$(date +%s)
tap_check "base image pcmc-base:bookworm (debootstrap + docker import, cached)" bash "$here/base-image.sh"
t1=$(date +%s)
tap_check "docker build Dockerfile.controller and Dockerfile.agent" bash "$here/build-images.sh" controller agent
t2=$(date +%s)
echo "# base image $((t1 - t0))s, both images $((t2 - t1))s"

# rootfs IMAGE: the image's filesystem as a tar on stdout (a created, never started container)
rootfs() {
  local cid=$work/$RANDOM.cid
  docker create --cidfile "$cid" "$1" >/dev/null || return 1
  docker export "$(cat "$cid")"
  docker rm "$(cat "$cid")" >/dev/null && rm -f "$cid"
}
# files IMAGE: every regular file and symlink in the image (what docker adds at create left out)
files() {
  rootfs "$1" | tar -t | grep -v '/$' |
    grep -vxE '\.dockerenv|dev/.*|etc/(hostname|hosts|mtab|resolv\.conf)|proc/.*|sys/.*' | sort
}
only_allowed() { # IMAGE EXTRA-REGEX: every file is the binary's library, the CA bundle, or EXTRA
  local bad
  bad=$(files "$1" | grep -vxE "lib/x86_64-linux-gnu/[^/]+\.so(\.[0-9]+)*|lib64/ld-linux-x86-64\.so\.2|etc/ssl/certs/ca-certificates\.crt|$2")
  [ -z "$bad" ] || { echo "unexpected: $bad"; return 1; }
}
tap_check "controller image holds only its binary, libraries, CA bundle, passwd/group" \
  only_allowed pcmc-controller:dev 'usr/bin/pcmc-controller|etc/passwd|etc/group'
tap_check "agent image holds only its binary, libraries, CA bundle, BPF objects" \
  only_allowed pcmc-agent:dev 'usr/bin/pcmc-agent|usr/lib/pcmc-agent/bpf/(syscall_counter|l4_firewall)\.bpf\.o'
tap_check "no shell in either image" bash -c '! docker run --rm --entrypoint /bin/sh pcmc-controller:dev -c true 2>/dev/null &&
  ! docker run --rm --entrypoint /bin/sh pcmc-agent:dev -c true 2>/dev/null'
tap_check "controller image user is 65532:65532" test "$(docker image inspect -f '{{.Config.User}}' pcmc-controller:dev)" = 65532:65532
ca_bundle() { # IMAGE: the CA bundle holds certificates
  local n
  n=$(rootfs "$1" | tar -xO etc/ssl/certs/ca-certificates.crt | grep -c 'BEGIN CERTIFICATE')
  echo "$n certificates"; [ "$n" -gt 0 ]
}
tap_check "controller image: CA bundle with certificates" ca_bundle pcmc-controller:dev
tap_check "agent image: CA bundle with certificates" ca_bundle pcmc-agent:dev
# A binary whose libraries are all there prints its version, with the revision it was built from
# (the image context has no .git: build-images.sh passes it in).
version_runs() { # IMAGE WORD [docker run flags]
  local out want
  want="$2 $(tr -d ' \n' <"$DEP_REPO/VERSION") (revision $(bash "$DEP_REPO/common/build_info.sh" --revision),"
  out=$(docker run --rm --read-only --cap-drop ALL "${@:3}" "$1" --version 2>&1)
  [[ $out == "$want"* ]] || { echo "want: $want..."; echo "got:  $out"; return 1; }
}
tap_check "controller binary starts in its image (read-only, uid 65532, no capabilities): --version names this revision" \
  version_runs pcmc-controller:dev pcmc-controller --user 65532:65532
tap_check "agent binary starts in its image: --version names this revision" version_runs pcmc-agent:dev pcmc-agent
for i in controller agent; do
  echo "# pcmc-$i:dev $(docker image inspect -f '{{.Size}}' pcmc-$i:dev | awk '{printf "%.1f MB", $1/1e6}')"
done
tap_done
