# PID bookkeeping for processes the cluster scripts start (sourced): one file per process in $1/pids.
# Processes are stopped only by their recorded PID, and only if that PID still runs the same binary.

# pid_start DIR NAME LOG CMD...: start CMD in its own session, record its PID and executable.
pid_start() {
  local dir=$1 name=$2 log=$3; shift 3
  mkdir -p "$dir/pids"
  setsid "$@" >"$log" 2>&1 < /dev/null &
  local pid=$!
  disown "$pid" 2>/dev/null || true   # no "Killed" job notices when it is stopped
  echo "$pid" > "$dir/pids/$name.pid"
  readlink "/proc/$pid/exe" > "$dir/pids/$name.exe" 2>/dev/null || true
}

# pid_alive DIR NAME: true if the recorded process still runs.
pid_alive() {
  local f=$1/pids/$2.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# pid_stop DIR NAME [TIMEOUT_S]: TERM, wait, then KILL the recorded process; forget it.
pid_stop() {
  local dir=$1 name=$2 t=${3:-10} pid i
  [ -f "$dir/pids/$name.pid" ] || return 0
  pid=$(cat "$dir/pids/$name.pid")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < t * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster: $name (pid $pid) ignored TERM for ${t}s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$dir/pids/$name.pid" "$dir/pids/$name.exe"
}
