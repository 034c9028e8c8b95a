#!/usr/bin/env python3
"""Times one `kubectl apply` to enforcement for test/e2e/bench.sh, and reads where the time went.

`apply_timer.py time --agent NODE=HOST:PORT... --want N -- CMD...` opens a keep-alive connection to
each agent, takes t0 just before it starts CMD (the `kubectl apply`), then reads every agent's
GET /v1/policy in turn every --interval-ms until the agents together hold N pods in state
`applied`. It prints one JSON object: t0 (wall clock, s), `s` (t0 to the answer that showed the
last missing pod applied), `kubectl_s` (t0 to CMD's exit, seen at the same resolution), `nodes`
(per node: seconds to the answer that first showed its final count) and `resolution_ms` (the
longest gap between two answers of one agent: the figure is late by at most that).

`apply_timer.py timeline --controller LOG --agent NODE=LOG... RUN_JSON...` reads the program logs
(docs/logging.md) for each run printed by `time` and prints where its time went, each phase as
seconds after t0 (ts in the logs has millisecond resolution): the leader's first `reconciled` of
the run (its start and end), each node's `policy pushed` (start = ts - duration_ms, end), the
agent's `policy applied` (start = ts - duration_ms, end), and the medians over the runs.
"""
import argparse
import datetime
import http.client
import json
import statistics
import subprocess
import sys
import time


def parse_nodes(specs):
    out = []
    for spec in specs:
        node, sep, rest = spec.partition("=")
        if not sep or not node or not rest:
            sys.exit(f"apply_timer: --agent wants NODE=VALUE, got {spec!r}")
        out.append((node, rest))
    return out


class Agent:
    def __init__(self, node, addr):
        host, _, port = addr.rpartition(":")
        self.node, self.host, self.port = node, host, int(port)
        self.conn = None
        self.count = -1
        self.changed = None     # monotonic time of the answer that first showed `count`
        self.last_answer = None
        self.max_gap = 0.0

    def applied(self):
        """Pods the agent holds as applied (None when it could not be read)."""
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
                self.conn.request("GET", "/v1/policy")
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    return None
                return sum(1 for p in json.loads(body).get("pods", []) if p.get("state") == "applied")
            except (OSError, http.client.HTTPException, ValueError):
                if self.conn:
                    self.conn.close()
                self.conn = None
        return None

    def poll(self, now_fn):
        n = self.applied()
        now = now_fn()
        if self.last_answer is not None:
            self.max_gap = max(self.max_gap, now - self.last_answer)
        self.last_answer = now
        if n is not None and n != self.count:
            self.count, self.changed = n, now
        return n


def cmd_time(a):
    agents = [Agent(node, addr) for node, addr in parse_nodes(a.agent)]
    for ag in agents:  # connect (and read) before t0
        ag.applied()
    interval = a.interval_ms / 1000.0
    t0_wall = time.time()
    t0 = time.monotonic()
    proc = subprocess.Popen(a.cmd, stdout=subprocess.DEVNULL)
    kubectl_s = None
    for ag in agents:
        ag.last_answer = time.monotonic()
    while True:
        total = 0
        for ag in agents:
            n = ag.poll(time.monotonic)
            total += n or 0
        now = time.monotonic()
        if kubectl_s is None and proc.poll() is not None:
            kubectl_s = now - t0
            if proc.returncode != 0:
                sys.exit(f"apply_timer: {a.cmd[0]} exited {proc.returncode}")
        if total == a.want and kubectl_s is not None:
            break
        if now - t0 > a.timeout:
            proc.kill()
            sys.exit(f"apply_timer: {total} of {a.want} pods applied after {a.timeout} s")
        time.sleep(interval)
    done = max(ag.changed for ag in agents if ag.changed is not None)
    print(json.dumps({
        "t0": round(t0_wall, 6),
        "s": round(done - t0, 6),
        "kubectl_s": round(kubectl_s, 6),
        "nodes": {ag.node: round(ag.changed - t0, 6) for ag in agents if ag.count > 0},
        "resolution_ms": round(max(ag.max_gap for ag in agents) * 1000, 2),
    }))


def ts_of(line):
    return datetime.datetime.strptime(line["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def read_log(path, msg):
    out = []
    with open(path, errors="replace") as f:
        for raw in f:
            if msg not in raw:
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("msg") == msg:
                line["_ts"] = ts_of(line)
                out.append(line)
    return out


def cmd_timeline(a):
    reconciled = read_log(a.controller, "reconciled")
    pushed = read_log(a.controller, "policy pushed")
    applied = {node: read_log(path, "policy applied") for node, path in parse_nodes(a.agent)}
    runs = [json.loads(x) for path in a.runs for x in open(path) if x.strip()]
    phases = {}

    def put(name, value):
        phases.setdefault(name, []).append(value)
        return f"{name}={value:.3f}"

    for i, run in enumerate(runs):
        t0, end = run["t0"], run["t0"] + run["s"]
        parts = [put("kubectl_exit", run["kubectl_s"])]
        # The CR's first sync that ended after t0 (the previous run's cleanup may end after it too).
        rec = next((r for r in reconciled
                    if r["_ts"] >= t0 and r.get("pcmc") == a.pcmc and r.get("action") == "sync"), None)
        if rec:
            parts.append(put("reconcile_start", rec["_ts"] - rec["duration_ms"] / 1000 - t0))
            parts.append(put("reconcile_end", rec["_ts"] - t0))
        for node in run["nodes"]:
            # The push that brought the pods: the last one that ended by the time they were seen
            # applied (its log line follows the agent's answer; allow 50 ms for it).
            p = [x for x in pushed if x.get("node") == node and t0 <= x["_ts"] <= end + 0.05 and x.get("applied", 0) > 0]
            if p:
                parts.append(put(f"push_start.{node}", p[-1]["_ts"] - p[-1]["duration_ms"] / 1000 - t0))
                parts.append(put(f"push_end.{node}", p[-1]["_ts"] - t0))
                put("pushes_per_node", len(p))
            ap = [x for x in applied.get(node, []) if t0 <= x["_ts"] <= end + 0.01 and x.get("applied", 0) > 0]
            if ap:
                parts.append(put(f"agent_apply_start.{node}", ap[-1]["_ts"] - ap[-1]["duration_ms"] / 1000 - t0))
                parts.append(put(f"agent_apply_end.{node}", ap[-1]["_ts"] - t0))
            parts.append(put(f"seen_applied.{node}", run["nodes"][node]))
        parts.append(put("total", run["s"]))
        parts.append(f"resolution_ms={run['resolution_ms']}")
        print(f"# run {i + 1}: " + " ".join(parts))
    print("# medians (s after kubectl apply starts): " +
          " ".join(f"{k}={statistics.median(v):.3f}" for k, v in phases.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("time")
    t.add_argument("--agent", action="append", required=True, help="NODE=HOST:PORT")
    t.add_argument("--want", type=int, required=True, help="pods applied on all agents together")
    t.add_argument("--interval-ms", type=float, default=5)
    t.add_argument("--timeout", type=float, default=60)
    t.add_argument("cmd", nargs="+")
    t.set_defaults(func=cmd_time)
    tl = sub.add_parser("timeline")
    tl.add_argument("--controller", required=True, help="the leader's log")
    tl.add_argument("--agent", action="append", required=True, help="NODE=LOG")
    tl.add_argument("--pcmc", required=True, help="the CR's name")
    tl.add_argument("runs", nargs="+", help="files of `time` output lines")
    tl.set_defaults(func=cmd_timeline)
    a = ap.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
