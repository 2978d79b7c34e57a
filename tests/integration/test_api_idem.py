"""Idempotency-Key on mutating calls.

The first outcome of a key (status and body) is kept for a day, scoped by
token name, method and path: a retry with the same key answers it again
(Idempotent-Replayed: true) instead of 409 or "changed": false; another token
with the same key is a call of its own. While the first call's outcome is
unknown (Redis stalled past the command timeout), a retry answers 503
outcome-pending rather than running the call a second time. The CLI sends a
key of its own with every mutating call.
"""

import harness as h
from harness import check

JT = "application/json"


def call(d, method, path, role, key=None, body=None):
    hdrs = {"Idempotency-Key": key} if key else None
    return d.http(method, path, role, body=body, content_type=JT if body else None,
                  headers=hdrs)


def run_replays(d):
    doc = h.campaign_json(h.future_campaign("i-one"))
    s1, _, b1 = call(d, "POST", "/api/v1/campaigns", "editor", "key-1", doc)
    check("submit with a key -> 201", s1 == 201, "status %s body %r" % (s1, b1))
    s2, hd2, b2 = call(d, "POST", "/api/v1/campaigns", "editor", "key-1", doc)
    check("the same submit with the same key -> the first outcome again (201, same body)",
          s2 == 201 and b2 == b1 and hd2.get("Idempotent-Replayed") == "true",
          "status %s headers %r body %r" % (s2, dict(hd2), b2))
    s3, _, _ = call(d, "POST", "/api/v1/campaigns", "editor", None, doc)
    check("the same submit without a key -> 409", s3 == 409, "status %s" % s3)
    s4, _, _ = call(d, "POST", "/api/v1/campaigns", "admin", "key-1", doc)
    check("another token with the same key is its own call -> 409", s4 == 409, "status %s" % s4)
    s5, _, b5 = call(d, "POST", "/api/v1/campaigns/i-one/pause", "editor", "key-2")
    s6, _, b6 = call(d, "POST", "/api/v1/campaigns/i-one/pause", "editor", "key-2")
    check("a retried pause answers its first outcome (changed: true twice)",
          s5 == s6 == 200 and b5.get("changed") is True and b6 == b5,
          "answers %s %r / %s %r" % (s5, b5, s6, b6))
    s7, _, b7 = call(d, "POST", "/api/v1/campaigns/i-one/pause", "editor", "key-3")
    check("a new key is a new call (changed: false)", s7 == 200 and b7.get("changed") is False,
          "status %s body %r" % (s7, b7))
    s8, _, b8 = call(d, "POST", "/api/v1/campaigns/i-one/pause", "editor", "k" * 129)
    check("a key over 128 characters -> 400", s8 == 400 and "Idempotency-Key" in
          b8.get("message", ""), "status %s body %r" % (s8, b8))


def run_stalled(redis, d):
    redis.freeze()
    try:
        s1, _, b1 = call(d, "POST", "/api/v1/campaigns/i-one/resume", "editor", "key-4")
        check("resume while Redis hangs -> 503", s1 == 503, "status %s body %r" % (s1, b1))
    finally:
        redis.thaw()
    h.wait_until(lambda: d.http("GET", "/healthz")[0] == 200, timeout=20)
    s2, _, b2 = call(d, "POST", "/api/v1/campaigns/i-one/resume", "editor", "key-4")
    ok = (s2 == 503 and b2.get("error") == "outcome-pending") or \
         (s2 == 200 and b2.get("changed") is True)
    check("its retry with the same key does not run it twice: 503 outcome-pending or the "
          "first outcome", ok, "status %s body %r" % (s2, b2))


def run_cli(redis, d):
    before = len(redis.command("KEYS", "%s:idem:*" % d.prefix))
    p = h.cli(["pause", "i-one", "--url", d.url, "--token", d.tokens["editor"]])
    after = len(redis.command("KEYS", "%s:idem:*" % d.prefix))
    check("haechi pause sends an Idempotency-Key (one more kept outcome)",
          p.returncode == 0 and after == before + 1,
          "exit %s, keys %d -> %d, stderr %r" % (p.returncode, before, after, p.stderr))


def main():
    redis = h.Redis("idem-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("idem", redis.address)
        d.config["redis"]["command_timeout_ms"] = 1000
        if not check("haechi serve writes its ready file", d.start(), "see stderr"):
            return
        run_replays(d)
        run_cli(redis, d)
        run_stalled(redis, d)
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM (no leak, no sanitizer report)",
                  status == 0, "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
