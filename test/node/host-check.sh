# What the real-node suite checks after `node down` and after Ctrl-C of `node up` (sourced by e2e.sh):
# the host as it was before `up`, nothing of the node left. A snapshot before, a footprint while it runs.
# shellcheck shell=bash
. "$here/host-state.sh" # NODE_SYSCTLS, NODE_SHARED_MOUNTS, NODE_FIXED_DIRS

# host_snapshot DIR: what the node changes, as it is before `up`.
host_snapshot() {
  local b=$1 s m d
  mkdir -p "$b"
  ls /run/netns 2>/dev/null > "$b/netns" || true
  for s in "${NODE_SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done > "$b/sysctls"
  { findmnt -rn -o TARGET,PROPAGATION --mountpoint /
    for m in "${NODE_SHARED_MOUNTS[@]}"; do findmnt -rn -o TARGET,PROPAGATION -R "$m"; done; } > "$b/propagation"
  for d in "${NODE_FIXED_DIRS[@]}" /var/lib/kubelet/device-plugins/kubelet.sock; do [ -e "$d" ] && echo "$d"; done > "$b/existing"
}

# node_footprint DIR: the node while it runs: its processes (PID and start time: a reused PID is not
# ours), pods' host veths and netns, containers (their shim sockets), mounts and cgroups.
node_footprint() {
  local f=$1 pid p
  mkdir -p "$f"
  { cat "$PCMC_NODE_DIR"/pids/*.pid "$PCMC_NODE_DIR"/cluster/pids/*.pid 2>/dev/null
    grep -lsF -- "$PCMC_NODE_CTR_SOCK" /proc/[0-9]*/cmdline | cut -d/ -f3
    find "/sys/fs/cgroup/unified$PCMC_NODE_CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null
  } | sort -u | while read -r pid; do
    [ -r "/proc/$pid/stat" ] && echo "$pid $(proc_start "$pid") $(cat "/proc/$pid/comm")"
  done > "$f/processes"
  { ip -o link show master "$PCMC_NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1
    ip -o route show root "$PCMC_NODE_PTP_SUBNET" 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i+1)}'
  } | sort -u > "$f/veths"
  for p in /var/lib/cni/results/pcmc-node-*; do
    [ -f "$p" ] && jq -r '.result.interfaces[]?.sandbox // empty' "$p"
  done 2>/dev/null | sed 's|.*/||' | sort -u > "$f/netns"
  ctr --address "$PCMC_NODE_CTR_SOCK" -n k8s.io containers ls -q 2>/dev/null > "$f/containers" || : > "$f/containers"
  findmnt -rn -o TARGET | grep -F "$PCMC_NODE_DIR/" > "$f/mounts" || true
  find /sys/fs/cgroup/*"$PCMC_NODE_CGROUP_ROOT" -type d 2>/dev/null > "$f/cgroups" || true
}
proc_start() { awk '{sub(/.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; } # field 22: start time

# footprint_summary DIR: what the footprint holds, for the check's name.
footprint_summary() {
  echo "$(wc -l < "$1/processes") processes, $(wc -l < "$1/containers") containers, $(wc -l < "$1/veths") host veths," \
       "$(wc -l < "$1/netns") pod netns, $(wc -l < "$1/mounts") mounts, $(wc -l < "$1/cgroups") cgroups"
}

# host_is_back BEFORE FOOTPRINT: nothing of the node left and the host as it was; says what is not.
host_is_back() {
  local b=$1 f=$2 left=() pid st comm x t p pods=$PCMC_NODE_POD_NET
  while read -r pid st comm; do
    [ "$(proc_start "$pid")" = "$st" ] && left+=("process $pid ($comm)")
  done < "$f/processes"
  for pid in $(grep -lsF -- "$PCMC_NODE_DIR/" /proc/[0-9]*/cmdline | cut -d/ -f3); do # (grep itself has exited)
    [ -d "/proc/$pid" ] && left+=("process $pid naming $PCMC_NODE_DIR ($(cat "/proc/$pid/comm" 2>/dev/null))")
  done
  while read -r x; do ip link show "$x" >/dev/null 2>&1 && left+=("veth $x"); done < "$f/veths"
  for x in "$PCMC_NODE_BRIDGE" "$PCMC_NODE_LINK"; do ip link show "$x" >/dev/null 2>&1 && left+=("link $x"); done
  x=$(ip -o route show root "$pods"; ip -o addr | grep -wF -e "$PCMC_NODE_IP" -e "$PCMC_NODE_SERVICE_IP")
  [ -z "$x" ] || left+=("routes/addresses: $x")
  while read -r x; do [ -e "/run/netns/$x" ] && left+=("netns $x"); done < "$f/netns"
  for x in $(ls /run/netns 2>/dev/null | grep '^cni-'); do grep -qxF "$x" "$b/netns" || left+=("netns $x (new)"); done
  x=$(findmnt -rn -o TARGET | grep -F -e "$PCMC_NODE_DIR/" -e /run/netns/cni- | grep -vxFf <(sed 's|^|/run/netns/|' "$b/netns"))
  [ -z "$x" ] || left+=("mounts: $x")
  while read -r t p; do
    x=$(findmnt -rn -o PROPAGATION --mountpoint "$t" | head -n1)
    [ "$x" = "$p" ] || left+=("propagation of $t: $x (was $p)")
  done < "$b/propagation"
  for x in /sys/fs/cgroup/*"$PCMC_NODE_CGROUP_ROOT"; do
    [ -d "$x" ] && left+=("cgroup $x")
  done
  while IFS== read -r x t; do [ "$(sysctl -n "$x")" = "$t" ] || left+=("sysctl $x=$(sysctl -n "$x") (was $t)"); done < "$b/sysctls"
  x=$(iptables -w -S FORWARD 2>/dev/null | grep -F pcmc-node)
  [ -z "$x" ] || left+=("iptables: $x")
  for x in "${NODE_FIXED_DIRS[@]}" /var/lib/kubelet/device-plugins/kubelet.sock; do
    [ -e "$x" ] && ! grep -qxF "$x" "$b/existing" && left+=("path $x")
  done
  x=$(ls -d /var/lib/cni/results/pcmc-node-* 2>/dev/null)
  [ -z "$x" ] || left+=("CNI cache: $x")
  for x in /var/log/containers/*; do [ -L "$x" ] && [[ $(readlink "$x") == "$PCMC_NODE_DIR/"* ]] && left+=("log link $x"); done
  while read -r x; do
    t=/run/containerd/s/$(printf '%s' "$PCMC_NODE_CTR_SOCK/k8s.io/$x" | sha256sum | cut -d' ' -f1)
    [ -e "$t" ] && left+=("shim socket $t")
  done < "$f/containers"
  [ -e "$PCMC_NODE_DIR" ] && left+=("$PCMC_NODE_DIR")
  [ ${#left[@]} = 0 ] && return 0
  printf 'left: %s\n' "${left[@]}"
  return 1
}
