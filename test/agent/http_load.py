#!/usr/bin/env python3
"""Client load on pcmc-agent's HTTP port for test/agent/bench-http.sh (real sockets, 127.0.0.1).

probes PORT STOPFILE   probe /healthz, /readyz, /metrics in turn, each on a new connection (as a
                       kubelet does), until STOPFILE exists (with /dev/null: 300 probes); print
                       "<p50_ms> <p99_ms> <count>".
unauth PORT N BYTES READYFILE
                       open N connections, each a PUT /v1/policy with its own forged bearer token
                       and Content-Length BYTES, then write the body as fast as each socket takes
                       it; write READYFILE when every connection is blocked (the agent reads
                       nothing) or closed; hold them until stdin closes; print how many bytes each
                       sent on average and how many were answered before the body was sent.
"""
import os
import socket
import sys
import time


def probe(port, path):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    if not data.startswith(b"HTTP/1.1 200"):
        raise SystemExit("probe %s answered %r" % (path, data[:40]))
    return (time.perf_counter() - t0) * 1000


def probes(port, stopfile):
    paths = [b"/healthz", b"/readyz", b"/metrics"]
    times = []
    while (not os.path.exists(stopfile)) if stopfile != "/dev/null" else len(times) < 300:
        times.append(probe(port, paths[len(times) % 3]))
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print("%.2f %.2f %d" % (p(0.5), p(0.99), len(times)))


def unauth(port, n, size, readyfile):
    conns, sent, answered = [], [0] * n, 0
    chunk = b"x" * 65536
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"PUT /v1/policy HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer forged-token-%d\r\nContent-Length: %d\r\n\r\n" % (i, size))
        s.setblocking(False)
        conns.append(s)
    open_ = set(range(n))
    idle_rounds = 0
    while open_ and idle_rounds < 20:
        progress = False
        for i in list(open_):
            if sent[i] >= size:
                open_.discard(i)
                continue
            try:
                k = conns[i].send(chunk[:min(len(chunk), size - sent[i])])
                sent[i] += k
                progress = progress or k > 0
            except BlockingIOError:
                pass
            except OSError:
                open_.discard(i)  # the agent answered and closed
        idle_rounds = 0 if progress else idle_rounds + 1
        time.sleep(0.05)
    for s in conns:
        try:
            if s.recv(12, socket.MSG_PEEK):
                answered += 1
        except (BlockingIOError, OSError):
            pass
    open(readyfile, "w").close()
    sys.stdin.read()
    print("%d %d" % (sum(sent) // n, answered))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "probes":
        probes(int(sys.argv[2]), sys.argv[3])
    elif cmd == "unauth":
        unauth(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(__doc__)
