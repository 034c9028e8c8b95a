# `test/node/node down` (sourced): pods torn down by the kubelet itself while it still runs (CNI DEL
# removes veths, addresses, cache entries), then every process by its PID, then whatever is left of
# ours: tasks and shims, mounts, network namespaces, links, cgroups, fixed paths, host sysctls.
# shellcheck shell=bash

ctr_node() { ctr --address "$PCMC_NODE_CTR_SOCK" -n k8s.io "$@"; }

# Pods first, through the API and the kubelet (the real teardown path), workload controllers before
# their pods so nothing is recreated meanwhile.
teardown_pods() {
  local i
  kc get --raw /readyz >/dev/null 2>&1 && pid_alive "$D" kubelet || return 0
  kc delete daemonsets,deployments,replicasets --all --all-namespaces --wait=false >/dev/null 2>&1
  kc delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1
  # Done when no task runs and the CNI has released every sandbox (our result cache entries gone).
  for ((i = 0; i < 300; i++)); do
    if ! ctr_node tasks ls 2>/dev/null | grep -q RUNNING && ! ls /var/lib/cni/results/pcmc-node-* >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  log "pods still running after 30s; removing them without the kubelet"
}

# Tasks, containers and their shims, by containerd's own list (shims outlive containerd).
teardown_containers() {
  local id pid ids
  ids=
  pid_alive "$D" containerd && ids=$(ctr_node containers ls -q 2>/dev/null)
  for id in $ids; do
    ctr_node tasks kill -s SIGKILL "$id" >/dev/null 2>&1
    ctr_node tasks delete -f "$id" >/dev/null 2>&1
    ctr_node containers delete "$id" >/dev/null 2>&1
    # containerd 1.6 puts shim sockets in /run/containerd/s whatever its state dir: sha256(<socket>/<ns>/<id>).
    rm -f "/run/containerd/s/$(printf '%s' "$PCMC_NODE_CTR_SOCK/k8s.io/$id" | sha256sum | cut -d' ' -f1)"
  done
  # A shim whose container containerd no longer lists: found by our socket address, stopped by PID.
  for pid in $(grep -lsF -- "$PCMC_NODE_CTR_SOCK" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(command -v containerd-shim-runc-v2)" ] && kill -KILL "$pid"
  done
}

teardown_mounts() {
  local m ns
  # Network namespaces the CNI made for our pods (named in our result cache, or new since up).
  for ns in $(ls /run/netns 2>/dev/null | grep '^cni-' || true); do
    grep -qxF "$ns" "$D/host-before/netns" 2>/dev/null && continue
    umount "/run/netns/$ns" 2>/dev/null; rm -f "/run/netns/$ns"
  done
  # Everything mounted below the node's dir (rootfs overlays, shm, the kubelet's tmpfs and its root
  # bind mount), deepest first.
  findmnt -rn -o TARGET | grep -F "$D/" | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

teardown_network() {
  local l
  # Host ends of pod veths (bridge ports and ptp /32 routes die with their netns); the bridge; the link.
  for l in $(ip -o link show master "$PCMC_NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$l" 2>/dev/null
  done
  for l in $(ip -o route show "$PCMC_NODE_PTP_SUBNET" root "$PCMC_NODE_PTP_SUBNET" 2>/dev/null | awk '{for(i=1;i<NF;i++) if($i=="dev") print $(i+1)}'); do
    ip link del "$l" 2>/dev/null
  done
  ip link del "$PCMC_NODE_BRIDGE" 2>/dev/null
  ip link del "$PCMC_NODE_LINK" 2>/dev/null
  node_forward_rules -D
  true
}

teardown_cgroups() {
  local h d
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
    d=$h${PCMC_NODE_CGROUP_ROOT#/}
    [ -d "$d" ] || continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$d" ] && log "cgroup $d not removed (processes left in it?)"
  done
  true
}

teardown_fixed_paths() {
  local f
  # containerd 1.6's CNI result cache (fixed path): our network's entries.
  host_fixed_prune /var/lib/cni $(cd /var/lib/cni 2>/dev/null && ls -d results/pcmc-node-* 2>/dev/null)
  # /run/netns: `up` made it a mount the way `ip netns` does (host_mounts_shared); unmounted when `up`
  # did not find it and no namespace is left in it, so the directory can go too.
  if ! existed_before /run/netns && mountpoint -q /run/netns && [ -z "$(ls -A /run/netns)" ]; then
    while mountpoint -q /run/netns && umount /run/netns; do :; done
  fi
  host_fixed_prune /run/netns
  host_fixed_prune /run/containerd # the shims' socket dir s/ (sockets removed with their containers)
  # The kubelet's device-plugin socket (fixed path) and its /var/log/containers links to our pod logs.
  host_fixed_prune /var/lib/kubelet device-plugins/kubelet.sock
  for f in /var/log/containers/*; do
    [ -L "$f" ] && [[ $(readlink "$f") == "$D/"* ]] && rm -f "$f"
  done
  host_fixed_prune /var/log/containers
  # The agent DaemonSet's hostPaths: pins (its programs stay attached while pinned) and state. `up`
  # refuses to start when either exists, so both are the node's own.
  existed_before /sys/fs/bpf/pcmc || rm -rf /sys/fs/bpf/pcmc
  existed_before /var/lib/pcmc-agent || rm -rf /var/lib/pcmc-agent
}

teardown() {
  [ -d "$D" ] || { log "nothing to stop ($D does not exist)"; return 0; }
  teardown_pods
  pid_stop "$D" kubelet 10
  teardown_containers
  pid_stop "$D" containerd 10
  teardown_containers
  teardown_mounts
  teardown_network
  teardown_cgroups
  [ -d "$D/host-before" ] && teardown_fixed_paths
  host_state_restore
  pid_stop "$D" service-proxy 5
  [ -d "$PCMC_CLUSTER_DIR" ] && "$PCMC_REPO/test/cluster/down" 2>/dev/null
  rm -rf "$D"
  log "stopped and removed $D"
}
