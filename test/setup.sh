#!/usr/bin/env bash
# Installs everything pcmc's build, tests, benchmarks and demo need on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped by apt; bpffs is mounted if missing.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config clang llvm lld libclang-rt-14-dev
  libbpf-dev libelf-dev zlib1g-dev bpftool
  libyaml-dev libcjson-dev libcurl4-openssl-dev check
  iproute2 nftables iperf3 socat netcat-openbsd bpftrace
  etcd-server etcd-client prometheus jq curl openssl procps psmisc util-linux
  debootstrap ca-certificates python3-yaml strace
  containerd runc containernetworking-plugins busybox-static
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kubectl is not in Debian 12: machines of this kind ship one; elsewhere build the release the local
# cluster runs, from the same Go modules (test/cluster/build-apiserver.sh), and put it on PATH.
if ! command -v kubectl >/dev/null; then
  bash "$(dirname "$0")/cluster/build-apiserver.sh" kubectl
  ln -sfn "${PCMC_CACHE_DIR:-/var/cache/pcmc}/bin/kubectl" /usr/local/bin/kubectl
fi

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
echo "setup: ok"
