"""The API under descriptor pressure: limits.max_connections is enforced and kept
below the fd limit, and accept() failing with EMFILE neither spins the daemon
nor floods its log.

Two daemons, each on its own private redis-server prefix:
- one started with RLIMIT_NOFILE 256 and a config asking for 2,000 connections:
  it says at start that it takes fewer, holds that many idle connections, and
  answers the rest 503 (JSON) and closes them;
- one whose fd limit is lowered to 64 while it runs (prlimit), so that accept()
  fails with EMFILE: it pauses accepting, logs once per interval, and answers
  again as soon as descriptors are free.
"""

import os
import resource
import select
import socket
import time

import harness as h
from harness import check

CONNECTIONS = 300
WINDOW_S = 2.0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_over_window(pid):
    before = cpu_seconds(pid)
    t0 = time.monotonic()
    time.sleep(WINDOW_S)  # a measuring window, not synchronisation
    return (cpu_seconds(pid) - before) / (time.monotonic() - t0)


def address(url):
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    return host, int(port)


def open_many(url, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(address(url), timeout=2.0))
        except OSError:
            break
    return socks


def answered(socks):
    """The sockets on which the server has sent something or closed."""
    if not socks:
        return []
    ready, _, _ = select.select(socks, [], [], 0)
    return ready


def close_all(socks):
    for s in socks:
        s.close()


def with_fd_limit(soft, fn):
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, old[1]))
    try:
        return fn()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def run_capped(redis):
    d = h.Daemon("capped", redis.address,
                 extra={"limits": {"max_connections": 2000, "header_timeout_ms": 60000}})
    if not check("haechi serve starts with RLIMIT_NOFILE 256",
                 with_fd_limit(256, d.start), "see stderr"):
        return
    socks = []
    try:
        log = d.log_text()
        check("it says at start that it takes fewer connections than the config asks",
              "max_connections 2000" in log and "at most 192 connections" in log,
              "log: %s" % log[-600:])
        socks = open_many(d.url, CONNECTIONS)
        check("%d connections open at the TCP level" % CONNECTIONS, len(socks) == CONNECTIONS,
              "%d opened" % len(socks))
        over = CONNECTIONS - 192
        got = h.wait_until(lambda: len(answered(socks)) >= over, timeout=30)
        refused = answered(socks)
        bodies = b""
        for s in refused[:5]:
            s.settimeout(2.0)
            try:
                bodies += s.recv(4096)
            except OSError:
                pass
        kinds = {}
        for s in refused:
            s.settimeout(2.0)
            try:
                first = s.recv(4096)[:12]
            except OSError as e:
                first = repr(e)
            kinds[first] = kinds.get(first, 0) + 1
        check("connections over the cap are answered and closed (%d of %d)" % (over, CONNECTIONS),
              got and len(refused) == over, "%d answered: %s" % (len(refused), kinds))
        check("the refusal is a JSON 503 too-many-connections",
              b" 503 " in bodies and b"too-many-connections" in bodies, "got %r" % bodies[:300])
        load = cpu_over_window(d.pid)
        check("the daemon idles with %d connections held (CPU %.0f%%)" % (192, load * 100),
              load < 0.25, "CPU %.0f%% over %.1f s" % (load * 100, WINDOW_S))
        size = os.path.getsize(d.log_path)
        check("its log stays small (%d bytes)" % size, size < 20000, "%d bytes" % size)
    finally:
        close_all(socks)
    check("/healthz answers once the connections close",
          h.wait_until(lambda: h.healthz(d.url) == 200, timeout=20), "no 200")
    status = d.stop()
    check("haechi serve exits 0 after the flood (no leak)", status == 0, "exit status %s" % status)


def run_emfile(redis):
    d = h.Daemon("emfile", redis.address, extra={"limits": {"header_timeout_ms": 60000}})
    if not check("haechi serve starts", d.start(), "see stderr"):
        return
    socks = []
    try:
        hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)[1]
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (64, hard))
        socks = open_many(d.url, CONNECTIONS)
        check("connections open at the TCP level while the daemon has few descriptors",
              len(socks) > 100, "%d opened" % len(socks))
        logged = h.wait_until(lambda: "accept failed" in d.log_text(), timeout=20)
        check("accept failing is logged", logged, "log: %s" % d.log_text()[-400:])
        load = cpu_over_window(d.pid)
        check("accept failing with EMFILE does not spin (CPU %.0f%%)" % (load * 100),
              load < 0.25, "CPU %.0f%% over %.1f s" % (load * 100, WINDOW_S))
        lines = d.log_text().count("accept failed")
        size = os.path.getsize(d.log_path)
        check("it is logged once per interval, not per event (%d lines, %d bytes)"
              % (lines, size), 1 <= lines <= 3 and size < 20000,
              "%d lines, %d bytes" % (lines, size))
    finally:
        close_all(socks)
    check("/healthz answers again once descriptors are free",
          h.wait_until(lambda: h.healthz(d.url) == 200, timeout=30), "no 200")
    status = d.stop()
    check("haechi serve exits 0 after EMFILE (no leak)", status == 0, "exit status %s" % status)


def main():
    redis = h.Redis("limits-redis")
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        run_capped(redis)
        run_emfile(redis)
    finally:
        redis.stop()


if __name__ == "__main__":
    h.run(main)
