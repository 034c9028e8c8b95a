# free_port for the suites that start their own cluster (sourced): a free TCP port on this machine,
# not in use by any socket and none of those given as arguments. Each suite keeps its own range
# (FREE_PORT_BASE, 2768 ports, below the ephemeral range 32768+) so suites run side by side.
# shellcheck shell=bash
free_port() {
  local p base=${FREE_PORT_BASE:-30000}
  while :; do
    p=$((base + RANDOM % 2768))
    [[ " $* " == *" $p "* ]] && continue
    ss -Htan "( sport = :$p )" | grep -q . || { echo "$p"; return; }
  done
}
