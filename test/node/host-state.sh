# What the real node changes on the host outside its state dir (sourced by test/node/node): recorded
# before the node starts, put back by `down`. Only what this node made is removed.
# shellcheck shell=bash

# Host sysctls the kubelet sets when protectKernelDefaults is false, and forwarding (CNI gateways).
NODE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
              kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward)
# Fixed paths the kubelet, containerd 1.6 and the agent's DaemonSet write whatever the configuration.
NODE_FIXED_DIRS=(/var/lib/kubelet /var/log/containers /var/lib/cni /run/netns /run/containerd /sys/fs/bpf/pcmc
                 /var/lib/pcmc-agent)

# Mounts the agent's DaemonSet takes with HostToContainer propagation, which the runtime accepts only
# from a shared or slave host mount: shared on systemd hosts, private on this machine. /sys/fs/bpf and
# /sys/fs/cgroup with everything below; the root mount alone, because containerd finds /var/run/netns
# (a symlink path) on "/".
NODE_SHARED_MOUNTS=(/sys/fs/bpf /sys/fs/cgroup)

host_state_record() {
  local b=$PCMC_NODE_DIR/host-before s d m
  mkdir -p "$b"
  for m in "${NODE_SHARED_MOUNTS[@]}"; do
    findmnt -rn -o TARGET,PROPAGATION -R "$m" > "$b/propagation.${m//\//_}"
  done
  findmnt -rn -o TARGET,PROPAGATION --mountpoint / > "$b/propagation.root"
  for s in "${NODE_SYSCTLS[@]}"; do sysctl -n "$s" > "$b/sysctl.$s"; done
  for d in "${NODE_FIXED_DIRS[@]}"; do [ -e "$d" ] && echo "$d"; done > "$b/existing-dirs"
  ls /run/netns 2>/dev/null > "$b/netns" || true
}

# The mounts shared as on a systemd host (before the runtime starts any pod). /run/netns (the DaemonSet
# mounts it HostToContainer too) is made a shared mount the way `ip netns` makes it, and left so.
host_mounts_shared() {
  local m
  for m in "${NODE_SHARED_MOUNTS[@]}"; do mount --make-rshared "$m"; done
  mount --make-shared /
  if ! mountpoint -q /run/netns; then ip netns add pcmc-node-probe && ip netns del pcmc-node-probe; fi
}

host_state_restore() {
  local b=$PCMC_NODE_DIR/host-before s v m t p
  [ -d "$b" ] || return 0
  for m in "${NODE_SHARED_MOUNTS[@]}" root; do
    [ -f "$b/propagation.${m//\//_}" ] || continue
    while read -r t p; do
      case $p in private) mount --make-private "$t" ;; slave) mount --make-slave "$t" ;; esac
    done < "$b/propagation.${m//\//_}"
  done
  for s in "${NODE_SYSCTLS[@]}"; do
    [ -f "$b/sysctl.$s" ] || continue
    v=$(cat "$b/sysctl.$s")
    [ "$(sysctl -n "$s")" = "$v" ] || sysctl -qw "$s=$v" || echo "node: could not restore $s=$v" >&2
  done
}

# existed_before DIR: true if DIR was there before the node started (then it is not ours to remove).
existed_before() { grep -qxF "$1" "$PCMC_NODE_DIR/host-before/existing-dirs" 2>/dev/null; }

# host_fixed_prune DIR [ENTRY...]: removes the named entries of DIR, then, if DIR was not there before
# the node started, the directories left empty below it and DIR itself (never a file someone else made).
host_fixed_prune() {
  local d=$1 e; shift
  for e in "$@"; do rm -rf "${d:?}/$e"; done
  existed_before "$d" || { [ -d "$d" ] && find "$d" -depth -type d -empty -delete; }
  true
}

# Forwarding between the node's pods (routed: ptp pod to pod, bridge to ptp): Docker sets the iptables
# FORWARD policy to DROP, and only an accept inside that chain can let them through. Anything else
# forwarded from a pod is dropped: pod traffic never leaves the machine.
node_forward_rules() { # node_forward_rules -I|-D
  local pods=$PCMC_NODE_POD_NET
  command -v iptables >/dev/null || return 0
  if [ "$1" = -I ]; then
    iptables -w -I FORWARD 1 -s "$pods" ! -d "$pods" -j DROP -m comment --comment pcmc-node
    iptables -w -I FORWARD 1 -s "$pods" -d "$pods" -j ACCEPT -m comment --comment pcmc-node
  else
    while iptables -w -D FORWARD -s "$pods" -d "$pods" -j ACCEPT -m comment --comment pcmc-node 2>/dev/null; do :; done
    while iptables -w -D FORWARD -s "$pods" ! -d "$pods" -j DROP -m comment --comment pcmc-node 2>/dev/null; do :; done
  fi
}
