# Configuration files of the real node (sourced by test/node/node): containerd's, the kubelet's and
# the two CNI network shapes, every path inside $PCMC_NODE_DIR except the few containerd 1.6 fixes.
# shellcheck shell=bash

# containerd: its own root, state and socket (never the Docker engine's), the CRI plugin with runc v2
# and the cgroupfs driver. restrict_oom_score_adj: this VM's bounding set lacks CAP_SYS_RESOURCE, so
# nothing may lower oom_score_adj (the pause container asks for -998; runc create fails without it).
node_write_containerd_config() {
  local c=$PCMC_NODE_DIR/containerd
  mkdir -p "$c/root" "$c/state" "$c/opt" "$c/runc" "$PCMC_NODE_DIR/cni/net.d"
  cat > "$c/config.toml" <<TOML
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$PCMC_NODE_CTR_SOCK"
[debug]
  address = ""
  level = "debug"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PCMC_NODE_PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$c/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$PCMC_NODE_CNI_BIN"
    conf_dir = "$PCMC_NODE_DIR/cni/net.d"
    max_conf_num = 1
TOML
}

# The CNI network (one at a time, containerd reloads conf_dir live): "bridge" puts pods on a Linux
# bridge whose address is their gateway; "ptp" gives each pod a routed veth pair (host side: the
# gateway address and a /32 route). Both keep one network name, so a pod made under one shape is
# still torn down (IPAM released by container id) after the node switched to the other.
node_cni_conflist() { # node_cni_conflist bridge|ptp
  local ipam_dir=$PCMC_NODE_DIR/cni/ipam
  case $1 in
    bridge) cat <<JSON
{"cniVersion": "0.4.0", "name": "pcmc-node", "plugins": [
  {"type": "bridge", "bridge": "$PCMC_NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$ipam_dir", "ranges": [[{"subnet": "$PCMC_NODE_BRIDGE_SUBNET"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}}]}
JSON
    ;;
    ptp) cat <<JSON
{"cniVersion": "0.4.0", "name": "pcmc-node", "plugins": [
  {"type": "ptp", "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$ipam_dir", "ranges": [[{"subnet": "$PCMC_NODE_PTP_SUBNET"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}}]}
JSON
    ;;
    *) echo "node: CNI shape must be bridge or ptp, not \"$1\"" >&2; return 2 ;;
  esac
}

# The kubelet: cgroupfs driver under its own cgroupRoot; failCgroupV1: false because this hybrid host
# counts as cgroup v1 (1.35+ refuses v1 unless told); webhook authentication and authorization
# (the API server's kubelet client is bound to system:kubelet-api-admin); no iptables chains; every
# directory in the node's state dir.
node_write_kubelet_config() {
  local k=$PCMC_NODE_DIR/kubelet pki=$PCMC_NODE_DIR/pki
  mkdir -p "$k/root" "$k/certs" "$k/volume-plugins" "$PCMC_NODE_DIR/pod-logs"
  cat > "$k/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: $PCMC_NODE_CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$PCMC_NODE_CTR_SOCK
address: $PCMC_NODE_IP
port: $PCMC_NODE_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $PCMC_NODE_KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
makeIPTablesUtilChains: false
protectKernelDefaults: false
resolvConf: ""
podLogsDir: $PCMC_NODE_DIR/pod-logs
volumePluginDir: $k/volume-plugins
evictionHard: {memory.available: 1Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
YAML
}

# kubeconfig FILE USER CERT KEY: a kubeconfig for the node's cluster with a client certificate.
node_write_kubeconfig() {
  local f=$1 user=$2 cert=$3 key=$4 server=https://127.0.0.1:$PCMC_NODE_APISERVER_PORT
  kubectl config --kubeconfig "$f" set-cluster pcmc --server "$server" \
    --certificate-authority "$PCMC_CLUSTER_DIR/pki/ca.crt" --embed-certs=true >/dev/null
  kubectl config --kubeconfig "$f" set-credentials "$user" --client-certificate "$cert" \
    --client-key "$key" --embed-certs=true >/dev/null
  kubectl config --kubeconfig "$f" set-context pcmc --cluster pcmc --user "$user" >/dev/null
  kubectl config --kubeconfig "$f" use-context pcmc >/dev/null
  chmod 600 "$f"
}

# node_client_cert NAME CN [ORG]: a client certificate signed by the cluster CA into $PCMC_NODE_DIR/pki.
node_client_cert() {
  local name=$1 cn=$2 org=${3:-} pki=$PCMC_NODE_DIR/pki ca=$PCMC_CLUSTER_DIR/pki subj
  mkdir -p "$pki"
  cp "$ca/ca.crt" "$pki/ca.crt"
  subj="/CN=$cn"; [ -n "$org" ] && subj="/O=$org$subj"
  (umask 077
   openssl req -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -out "$pki/$name.csr" -subj "$subj" 2>/dev/null &&
   printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' \
     > "$pki/$name.ext" &&
   openssl x509 -req -in "$pki/$name.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial \
     -out "$pki/$name.crt" -days 30 -extfile "$pki/$name.ext" 2>/dev/null)
}
