"""The audit trail keeps what matters under pressure.

- A flood of anonymous refusals (2,000 401s) is rate-limited: the stream grows
  by a bounded number of entries, the rest are counted (/healthz
  audit.suppressed), and the real entry written before the flood is still there.
- Entries made while Redis is down wait in a local buffer (/healthz
  audit.buffered) and reach the stream once Redis is back.
"""

import socket

import harness as h
from harness import check

JT = "application/json"
FLOOD = 2000


def audit_entries(redis, d):
    return h.stream_entries(redis, "%s:audit" % d.prefix)


def health_audit(d):
    s, _, b = d.http("GET", "/healthz")
    return b.get("audit", {}) if isinstance(b, dict) else {}


def flood(d, n):
    """N anonymous POSTs pipelined on keep-alive connections; the statuses."""
    host, port = d.url.split("//", 1)[1].rsplit(":", 1)
    statuses = []
    req = (b"POST /api/v1/campaigns/a-real/pause HTTP/1.1\r\nHost: x\r\n"
           b"Content-Length: 0\r\n\r\n")
    while len(statuses) < n:
        batch = min(100, n - len(statuses))
        with socket.create_connection((host, int(port)), timeout=h.DEADLINE) as s:
            s.sendall(req * batch)
            buf = b""
            while buf.count(b"HTTP/1.1 ") < batch or not buf.endswith(b"}\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        statuses += [int(part[:3]) for part in buf.split(b"HTTP/1.1 ")[1:]]
    return statuses


def run_flood(redis, d):
    s, _, b = d.http("POST", "/api/v1/campaigns/a-real/pause", "editor")
    check("a real mutating call -> 200", s == 200, "status %s body %r" % (s, b))
    check("its audit entry is stored", h.wait_until(
        lambda: [f for _, f in audit_entries(redis, d) if f.get("action") == "pause"
                 and f.get("who") != "-"]), "entries %r" % audit_entries(redis, d)[-3:])
    statuses = flood(d, FLOOD)
    check("%d anonymous calls are all refused 401" % FLOOD,
          len(statuses) == FLOOD and set(statuses) == {401},
          "%d answers, statuses %s" % (len(statuses), sorted(set(statuses))))
    got = h.wait_until(lambda: health_audit(d).get("suppressed", 0) >= FLOOD - 30)
    after = audit_entries(redis, d)
    anon = [f for _, f in after if f.get("who") == "-"]
    check("the flood is suppressed and counted (/healthz audit.suppressed)",
          got, "audit %r" % health_audit(d))
    check("the stream grew by a bounded number of anonymous entries (%d)" % len(anon),
          len(anon) <= 30, "%d anonymous entries" % len(anon))
    real = [f for _, f in after if f.get("action") == "pause" and f.get("who") != "-"]
    check("the real entry written before the flood is still in the trail", len(real) == 1,
          "%d real pause entries" % len(real))


def run_outage(redis, d):
    redis.stop()
    check("/healthz says Redis is down",
          h.wait_until(lambda: d.http("GET", "/healthz")[0] == 503), "still 200")
    for i in range(5):
        s, _, _ = d.http("POST", "/api/v1/campaigns/a-real/resume", "editor")
        check("resume %d while Redis is down -> 503" % (i + 1), s == 503, "status %s" % s)
    check("the 5 audit entries wait in the local buffer (/healthz audit.buffered)",
          health_audit(d).get("buffered") == 5, "audit %r" % health_audit(d))
    check("Redis comes back", redis.start(), "see stderr")
    back = h.wait_until(lambda: len([f for _, f in audit_entries(redis, d)
                                     if f.get("action") == "resume"
                                     and f.get("status") == "503"]) == 5, timeout=30)
    check("the buffered entries reach the stream once Redis is back (5 resume 503s)", back,
          "entries %r" % audit_entries(redis, d)[-6:])
    check("nothing is left in the buffer and nothing was lost",
          h.wait_until(lambda: health_audit(d).get("buffered") == 0)
          and health_audit(d).get("lost") == 0, "audit %r" % health_audit(d))


def main():
    redis = h.Redis("audit-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("audit", redis.address)
        if not check("haechi serve writes its ready file", d.start(), "see stderr"):
            return
        s, _, b = d.http("POST", "/api/v1/campaigns", "editor",
                         body=h.campaign_json(h.future_campaign("a-real")), content_type=JT)
        check("setup: a campaign -> 201", s == 201, "status %s body %r" % (s, b))
        run_flood(redis, d)
        run_outage(redis, d)
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM (no leak, no sanitizer report)",
                  status == 0, "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
