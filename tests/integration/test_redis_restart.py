"""The daemon outlives Redis: killed under it, and not yet there when it starts.

1. Redis is SIGKILLed while the daemon runs: /healthz turns 503, changes are
   refused with 503 "redis-unavailable"; Redis is started again on the same
   socket: /healthz turns 200 and a submission succeeds, all from the same
   daemon process, which then exits 0 on SIGTERM.
2. The daemon starts before Redis: /healthz answers 503 until Redis comes up,
   then 200, and the API works.
3. Redis hangs (SIGSTOP) with calls in flight, some of whose clients hang
   up: the others get 503 within the command timeout; once Redis resumes
   (SIGCONT) the daemon works again and still exits 0 (nothing leaked).
"""

import socket

import harness as h
from harness import check


def wait_health(url, want, timeout=h.DEADLINE):
    """Polls /healthz until it answers WANT; returns the last status seen."""
    seen = []

    def poll():
        status = h.healthz(url)
        seen.append(status)
        return status == want
    h.wait_until(poll, timeout, interval=0.05)
    return seen[-1] if seen else None


def submit(d, cid, role="editor"):
    return d.http("POST", "/api/v1/campaigns", role,
                  body=h.campaign_json(h.future_campaign(cid)),
                  content_type="application/json")


def redis_killed_under_the_daemon():
    redis = h.Redis("restart-redis")
    d = None
    try:
        if not check("private redis-server answers PING (kill scenario)",
                     redis.start(), "see stderr"):
            return
        d = h.Daemon("restart", redis.address)
        if not check("haechi serve writes its ready file (kill scenario)",
                     d.start(), "see stderr"):
            return
        pid = d.pid
        last = wait_health(d.url, 200)
        check("/healthz is 200 while Redis runs", last == 200, "last status %s" % last)
        s, _, b = submit(d, "before-kill")
        check("a submission before the kill -> 201", s == 201, "%s %r" % (s, b))

        killed = redis.kill()
        check("redis-server killed with SIGKILL", killed == -9, "status %s" % killed)
        last = wait_health(d.url, 503)
        check("/healthz turns 503 once Redis is gone", last == 503, "last status %s" % last)
        s, _, b = h.http(d.url, "GET", "/healthz")
        check("/healthz 503 says what is wrong",
              s == 503 and isinstance(b, dict) and b.get("status") == "unavailable" and
              isinstance(b.get("redis"), str) and b.get("redis") not in ("", "ready"),
              "%s %r" % (s, b))

        for label, method, path, kw in (
                ("submit", "POST", "/api/v1/campaigns",
                 {"body": h.campaign_json(h.future_campaign("during-outage")),
                  "content_type": "application/json"}),
                ("replace", "PUT", "/api/v1/campaigns/before-kill",
                 {"body": h.campaign_json(h.future_campaign("before-kill")),
                  "content_type": "application/json"}),
                ("pause", "POST", "/api/v1/campaigns/before-kill/pause", {}),
                ("cancel", "POST", "/api/v1/campaigns/before-kill/cancel", {})):
            s, _, b = d.http(method, path, "editor", **kw)
            check("%s while Redis is down -> 503 redis-unavailable" % label,
                  s == 503 and h.is_error_body(b) and b.get("error") == "redis-unavailable",
                  "%s %r" % (s, b))
        for label, path, role in (("list", "/api/v1/campaigns", "viewer"),
                                  ("get", "/api/v1/campaigns/before-kill", "viewer"),
                                  ("audit", "/api/v1/audit", "admin")):
            s, _, b = d.http("GET", path, role)
            check("%s while Redis is down -> 503 with a JSON error" % label,
                  s == 503 and h.is_error_body(b), "%s %r" % (s, b))
        # Authentication needs no Redis: a bad token is still 401.
        s, _, b = h.http(d.url, "GET", "/api/v1/campaigns", token="unknown-token-0123456789")
        check("an unknown token while Redis is down -> 401", s == 401, "%s %r" % (s, b))
        check("the daemon keeps running while Redis is down", d.alive() and d.pid == pid,
              "it exited")

        check("redis-server starts again on the same socket", redis.start(), "see stderr")
        last = wait_health(d.url, 200)
        check("/healthz turns 200 again once Redis is back", last == 200,
              "last status %s" % last)
        s, _, b = submit(d, "after-restart")
        check("a submission after Redis came back -> 201",
              s == 201 and isinstance(b, dict) and b.get("version") == 1, "%s %r" % (s, b))
        s, _, b = d.http("GET", "/api/v1/campaigns/after-restart", "viewer")
        check("the new submission reads back -> 200", s == 200 and b.get("id") == "after-restart",
              "%s %r" % (s, b))
        s, _, b = d.http("POST", "/api/v1/campaigns/after-restart/pause", "editor")
        check("a status change after Redis came back -> 200 paused",
              s == 200 and isinstance(b, dict) and b.get("status") == "paused",
              "%s %r" % (s, b))
        s, _, b = d.http("GET", "/api/v1/audit?count=10", "admin")
        entries = b.get("entries", []) if isinstance(b, dict) else []
        check("the audit trail works again after Redis came back",
              s == 200 and any(e.get("action") == "pause" and e.get("target") ==
                               "after-restart" for e in entries), "%s %r" % (s, b))
        check("the same daemon process served throughout (not restarted)",
              d.alive() and d.pid == pid, "pid %s, was %s; alive %s" % (d.pid, pid, d.alive()))
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM after the outage (no leak)", status == 0,
                  "exit status %s" % status)
        redis.stop()


def daemon_before_redis():
    redis = h.Redis("late-redis")
    d = None
    try:
        d = h.Daemon("late", redis.address)
        if not check("haechi serve starts (ready file) while Redis is not running",
                     d.start(redis_up=False), "see stderr"):
            return
        pid = d.pid
        s, _, b = h.http(d.url, "GET", "/healthz")
        check("/healthz is 503 before Redis starts",
              s == 503 and isinstance(b, dict) and b.get("status") == "unavailable",
              "%s %r" % (s, b))
        s, _, b = submit(d, "too-early")
        check("a submission before Redis starts -> 503 redis-unavailable",
              s == 503 and h.is_error_body(b) and b.get("error") == "redis-unavailable",
              "%s %r" % (s, b))
        if not check("private redis-server answers PING once started after the daemon",
                     redis.start(), "see stderr"):
            return
        last = wait_health(d.url, 200)
        check("/healthz turns 200 once Redis starts", last == 200, "last status %s" % last)
        s, _, b = submit(d, "late-one")
        check("a submission once Redis is up -> 201", s == 201, "%s %r" % (s, b))
        check("the same daemon process served throughout", d.alive() and d.pid == pid,
              "pid %s, was %s" % (d.pid, pid))
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve (started before Redis) exits 0 on SIGTERM", status == 0,
                  "exit status %s" % status)
        redis.stop()


def hang_up(d, method, path, token, body):
    """Sends one request and closes the connection without reading the answer."""
    host, port = d.url.split("://", 1)[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=h.DEADLINE)
    try:
        head = ("%s %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (method, path, host, port, token, len(body)))
        s.sendall(head.encode() + body)
    finally:
        s.close()


def redis_hangs():
    """Redis stops answering (SIGSTOP) with calls in flight: they are answered 503
    within the command timeout, and the daemon recovers when Redis resumes."""
    redis = h.Redis("hung-redis")
    d = None
    try:
        if not check("private redis-server answers PING (hang scenario)",
                     redis.start(), "see stderr"):
            return
        d = h.Daemon("hung", redis.address)
        d.config["redis"]["command_timeout_ms"] = 500
        if not check("haechi serve writes its ready file (hang scenario)",
                     d.start(), "see stderr"):
            return
        pid = d.pid
        s, _, _ = submit(d, "before-hang")
        check("a submission before Redis hangs -> 201", s == 201, "status %s" % s)
        redis.freeze()
        try:
            # Clients that hang up while their call waits on Redis.
            for method, path, role, body in (
                    ("GET", "/api/v1/campaigns/before-hang", "viewer", b""),
                    ("POST", "/api/v1/campaigns/before-hang/pause", "editor", b""),
                    ("POST", "/api/v1/campaigns", "editor",
                     h.campaign_json(h.future_campaign("hung-up")))):
                hang_up(d, method, path, d.tokens[role], body)
            for label, method, path, role, kw in (
                    ("get", "GET", "/api/v1/campaigns/before-hang", "viewer", {}),
                    ("pause", "POST", "/api/v1/campaigns/before-hang/pause", "editor", {}),
                    ("list", "GET", "/api/v1/campaigns", "viewer", {})):
                s, _, b = d.http(method, path, role, timeout=5.0, **kw)
                check("%s while Redis hangs -> 503 within the timeout" % label,
                      s == 503 and h.is_error_body(b) and
                      b.get("error") in ("redis-timeout", "redis-unavailable"),
                      "%s %r" % (s, b))
        finally:
            redis.thaw()
        last = wait_health(d.url, 200)
        check("/healthz turns 200 once Redis answers again", last == 200,
              "last status %s" % last)
        s, _, b = d.http("POST", "/api/v1/campaigns/before-hang/cancel", "editor")
        check("a status change after the hang -> 200", s == 200, "%s %r" % (s, b))
        s, _, b = d.http("GET", "/api/v1/campaigns/before-hang", "viewer")
        check("after the hang the campaign reads back (status %s)" %
              (b.get("status") if isinstance(b, dict) else "?"), s == 200, "%s %r" % (s, b))
        check("the same daemon process served throughout the hang",
              d.alive() and d.pid == pid, "pid %s, was %s" % (d.pid, pid))
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM after the hang (no leak)", status == 0,
                  "exit status %s" % status)
        redis.thaw()
        redis.stop()


def main():
    redis_killed_under_the_daemon()
    daemon_before_redis()
    redis_hangs()


if __name__ == "__main__":
    h.run(main)
