"""Retries, backoff, Retry-After, giving up, and dead letters (real clock).

Two `haechi serve` daemons (all roles) on one Redis, each with its own key
prefix and engine.backoff_ms 300, max_attempts 5.

Daemon "retry", one release on three channels:
(a) sns, log adapter fail_attempts 2: one log entry (attempt 3); the record
    is "sent" after 3 attempts with 2 retries, each retry's next_attempt
    inside the equal-jitter window [b*2^(n-1)/2, b*2^(n-1)] and the next
    attempt not before it; metrics count 2 retries.
(b) kakao, fail_attempts 1 and retry_after_ms 1500 (over the backoff): the
    retry waits the 1500 ms asked for.
(c) banner, failing every attempt: after 5 attempts a dead letter whose
    reason is "gave up after 5 attempts; last: ...".

Daemon "faults", log adapter faults_from_redis on sns, newsletter, alert,
banner:
(d) HSET PREFIX:{e}:log:faults newsletter/alert/banner "fail": permanent
    failures, dead letters with the reason, listed by GET /api/v1/dead (and
    ?channel=) and `haechi dead list [CHANNEL]`. sns "retry" keeps retrying
    until the fault is removed, then is sent. With the faults removed,
    `haechi dead retry ID` sends the newsletter; `haechi dead retry --all`
    sends the alert while banner, still failing, comes back as a dead
    letter; with its fault removed too, `haechi dead retry --all banner`
    sends it. The dead list ends empty; the log holds each delivery once.
"""

import datetime
import time

import harness as h
from harness import check

BACKOFF = 300
TOL_MS = 5  # next_attempt is computed a moment before the failure is stamped


def release_time(seconds=4):
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
        datetime.timedelta(seconds=seconds)
    return at, int(at.timestamp() * 1000)


def one_release(cid, channels, at):
    return h.minimal_campaign(cid, list(channels), at.date().isoformat(),
                              (at.date() + datetime.timedelta(days=1)).isoformat(),
                              [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                                "channels": list(channels)}])


def record(redis, d, cid, at_ms, ch):
    return h.fires(redis, d, cid).get("go|%d|%s" % (at_ms, ch))


def wait_state(redis, d, cid, at_ms, ch, states, timeout=15.0):
    def got():
        if not d.alive():
            return "daemon died"
        r = record(redis, d, cid, at_ms, ch)
        return r if r and r.get("state") in states else None
    r = h.wait_until(got, timeout, interval=0.02)
    return r if isinstance(r, dict) else None


def log_entries(redis, d, item):
    return [f for _, f in h.stream_entries(redis, h.engine_key(d, "log"))
            if f.get("item") == item]


def dead_entries(redis, d):
    return h.stream_entries(redis, h.engine_key(d, "dead"))


def check_backoff(name, rec, final_at):
    """Each retry n: next_attempt - at within [b*2^(n-1)/2, b*2^(n-1)], and
    the following attempt (the next retry's at, or FINAL_AT) not earlier."""
    retries = rec.get("retries") or []
    problems = []
    for n, r in enumerate(retries, start=1):
        full = BACKOFF * 2 ** (n - 1)
        gap = r.get("next_attempt", 0) - r.get("at", 0)
        if r.get("attempt") != n:
            problems.append("retry %d has attempt %r" % (n, r.get("attempt")))
        if not (full // 2 - TOL_MS <= gap <= full):
            problems.append("retry %d waits %d ms, outside [%d, %d]" % (n, gap, full // 2,
                                                                        full))
        following = retries[n]["at"] if n < len(retries) else final_at
        if following is None or following < r.get("next_attempt", 0):
            problems.append("attempt %d ran at %s, before its next_attempt %s"
                            % (n + 1, following, r.get("next_attempt")))
    check(name, not problems, "; ".join(problems) + " (retries %r)" % retries)


def retry_daemon(redis):
    channels = {"sns": {"adapter": "log", "fail_attempts": 2},
                "kakao": {"adapter": "log", "fail_attempts": 1, "retry_after_ms": 1500,
                          "quiet_hours": False},
                "banner": {"adapter": "log", "fail_attempts": 100},
                "newsletter": {"adapter": "log", "quiet_hours": False},
                "alert": {"adapter": "log"}}
    d = h.RoleDaemon("retries", redis.address, extra={
        "channels": channels,
        "engine": {"backoff_ms": BACKOFF, "backoff_max_ms": 60000, "max_attempts": 5}})
    return d


FAULT_CHANNELS = ("sns", "newsletter", "alert", "banner")


def fault_daemon(redis):
    channels = {"sns": {"adapter": "log", "faults_from_redis": True},
                "kakao": {"adapter": "log", "quiet_hours": False},
                "banner": {"adapter": "log", "faults_from_redis": True},
                "newsletter": {"adapter": "log", "faults_from_redis": True,
                               "quiet_hours": False},
                "alert": {"adapter": "log", "faults_from_redis": True}}
    return h.RoleDaemon("faults", redis.address, extra={
        "channels": channels,
        "engine": {"backoff_ms": BACKOFF, "backoff_max_ms": 600, "max_attempts": 100}})


def run_retries(redis, d, cid, at_ms):
    # (a) sns: two failures, then sent.
    rec = wait_state(redis, d, cid, at_ms, "sns", ("sent", "dead"))
    check("(a) sns with fail_attempts 2 ends \"sent\" after 3 attempts",
          rec and rec.get("state") == "sent" and rec.get("attempts") == 3,
          "record %r" % rec)
    rec = rec or {}
    retries = rec.get("retries") or []
    check("(a) its record keeps 2 retries, each with attempt, time, reason and next_attempt",
          len(retries) == 2 and all(isinstance(r.get("at"), int) and
                                    isinstance(r.get("next_attempt"), int) and
                                    "injected failure of attempt %d" % r.get("attempt")
                                    in (r.get("reason") or "") for r in retries),
          "retries %r" % retries)
    check_backoff("(a) retry delays follow equal-jitter exponential backoff from 300 ms "
                  "and each next attempt waits for its time", rec, rec.get("at"))
    item = "%s|go|%d|sns" % (cid, at_ms)
    logged = log_entries(redis, d, item)
    check("(a) exactly one sns log entry, at attempt 3",
          [f.get("attempt") for f in logged] == ["3"], "log entries %r" %
          [(f.get("item"), f.get("attempt")) for f in logged])
    totals = h.metric_totals(redis, d, cid)
    check("(a) sns metrics: retry 2, sent 1, queued 3",
          totals.get(("sns", "retry")) == 2 and totals.get(("sns", "sent")) == 1 and
          totals.get(("sns", "queued")) == 3, totals)

    # (b) kakao: Retry-After over the backoff.
    rec = wait_state(redis, d, cid, at_ms, "kakao", ("sent", "dead"))
    rec = rec or {}
    retries = rec.get("retries") or []
    gap = retries[0]["next_attempt"] - retries[0]["at"] if len(retries) == 1 else None
    check("(b) kakao with retry_after_ms 1500 ends \"sent\" after 2 attempts",
          rec.get("state") == "sent" and rec.get("attempts") == 2, "record %r" % rec)
    check("(b) the retry waits the 1500 ms asked for, not the 150-300 ms backoff",
          gap is not None and 1500 - TOL_MS <= gap <= 1500 and
          rec.get("at", 0) >= retries[0]["next_attempt"],
          "gap %s; record %r" % (gap, rec))
    logged = log_entries(redis, d, "%s|go|%d|kakao" % (cid, at_ms))
    check("(b) exactly one kakao log entry, at attempt 2",
          [f.get("attempt") for f in logged] == ["2"], logged)

    # (c) banner: every attempt fails; it gives up after max_attempts.
    rec = wait_state(redis, d, cid, at_ms, "banner", ("sent", "dead"), timeout=20.0)
    rec = rec or {}
    want = "gave up after 5 attempts; last: log adapter: injected failure of attempt 5"
    check("(c) banner failing every attempt ends \"dead\" after 5 attempts with the reason",
          rec.get("state") == "dead" and rec.get("attempts") == 5 and
          rec.get("reason") == want, "record %r" % rec)
    check("(c) its record keeps the 4 retries before it gave up",
          len(rec.get("retries") or []) == 4, rec.get("retries"))
    check_backoff("(c) its retries followed the backoff (300, 600, 1200, 2400 ms windows)",
                  rec, rec.get("at"))
    dead = dead_entries(redis, d)
    check("(c) one dead letter in the dead stream, for the banner item, with its reason",
          len(dead) == 1 and dead[0][1].get("item") == "%s|go|%d|banner" % (cid, at_ms) and
          dead[0][1].get("reason") == want and dead[0][1].get("attempts") == "5",
          dead)
    check("(c) nothing was logged for banner",
          not log_entries(redis, d, "%s|go|%d|banner" % (cid, at_ms)), "")
    totals = h.metric_totals(redis, d, cid)
    check("(c) banner metrics: retry 4, dead 1, no sent",
          totals.get(("banner", "retry")) == 4 and totals.get(("banner", "dead")) == 1 and
          not totals.get(("banner", "sent")), totals)
    s, _, b = d.http("GET", "/api/v1/campaigns/%s/releases" % cid, "viewer")
    chans = {}
    if s == 200 and isinstance(b, dict) and b.get("releases"):
        chans = b["releases"][0].get("channels", {})
    check("(c) the releases route shows banner dead with the reason",
          chans.get("banner", {}).get("state") == "dead" and
          chans.get("banner", {}).get("reason") == want, "%s %r" % (s, chans))


def run_faults(redis, d, cid, at_ms):
    env = {"HAECHI_URL": d.url, "HAECHI_TOKEN": d.tokens["editor"]}
    items = {ch: "%s|go|%d|%s" % (cid, at_ms, ch) for ch in FAULT_CHANNELS}
    failing = ("newsletter", "alert", "banner")
    recs = {ch: wait_state(redis, d, cid, at_ms, ch, ("dead", "sent")) for ch in failing}
    for ch in failing:
        r = recs[ch] or {}
        check("(d) %s with fault \"fail\" switched on is dead after 1 attempt with the "
              "reason" % ch, r.get("state") == "dead" and r.get("attempts") == 1 and
              r.get("reason") == "log adapter: failures switched on for %s" % ch,
              "record %r" % r)
    rec = wait_state(redis, d, cid, at_ms, "sns", ("failed",))
    check("(d) sns with fault \"retry\" switched on is retried, with the reason",
          rec and rec.get("reason") == "log adapter: retries switched on for sns" and
          rec.get("retries"), "record %r" % rec)

    s, _, b = d.http("GET", "/api/v1/dead", "viewer")
    listed = b.get("dead") if s == 200 and isinstance(b, dict) else None
    check("(d) GET /api/v1/dead lists the three dead letters with item, channel, attempts "
          "and reason", isinstance(listed, list) and
          sorted(x.get("item") for x in listed) == sorted(items[ch] for ch in failing) and
          all(x.get("reason") == "log adapter: failures switched on for %s" % x.get("channel")
              and x.get("attempts") == "1" and x.get("id") for x in listed),
          "%s %r" % (s, b))
    listed = listed or []
    s, _, b = d.http("GET", "/api/v1/dead?channel=newsletter", "viewer")
    only = b.get("dead") if s == 200 and isinstance(b, dict) else None
    check("(d) GET /api/v1/dead?channel=newsletter lists only the newsletter one",
          isinstance(only, list) and [x.get("item") for x in only] == [items["newsletter"]],
          "%s %r" % (s, b))
    s, _, b = d.http("GET", "/api/v1/dead?channel=fax", "viewer")
    check("(d) GET /api/v1/dead?channel=fax -> 400", s == 400 and h.is_error_body(b),
          "%s %r" % (s, b))
    p = h.cli(["dead", "list"], env=env)
    check("(d) `haechi dead list` shows the dead letters with their reasons",
          p.returncode == 0 and all(items[ch] in p.stdout and
                                    "failures switched on for %s" % ch in p.stdout
                                    for ch in failing),
          "status %s; stdout %r; stderr %r" % (p.returncode, p.stdout, p.stderr))
    p = h.cli(["dead", "list", "alert"], env=env)
    check("(d) `haechi dead list alert` shows only the alert one",
          p.returncode == 0 and items["alert"] in p.stdout and
          items["newsletter"] not in p.stdout and items["banner"] not in p.stdout,
          "status %s; %r" % (p.returncode, p.stdout))

    # Faults off (banner's stays on for now): the sns retries now succeed.
    fk = h.engine_key(d, "log:faults")
    redis.command("HDEL", fk, "sns", "newsletter", "alert")
    rec = wait_state(redis, d, cid, at_ms, "sns", ("sent", "dead"))
    check("(d) once the sns fault is removed its next attempt is sent",
          rec and rec.get("state") == "sent" and rec.get("attempts", 0) >= 2 and
          len(rec.get("retries") or []) == rec.get("attempts", 0) - 1, "record %r" % rec)
    logged = log_entries(redis, d, items["sns"])
    check("(d) exactly one sns log entry, at the attempt that succeeded",
          len(logged) == 1 and rec and logged[0].get("attempt") == str(rec.get("attempts")),
          logged)

    p = h.cli(["dead", "retry", "0-1"], env=env)
    check("(d) `haechi dead retry` of an unknown id fails with a reason",
          p.returncode not in (0, None) and h.nonempty_lines(p.stderr),
          "status %s; stderr %r" % (p.returncode, p.stderr))
    s, _, b = d.http("POST", "/api/v1/dead/retry", "editor", body={"id": "not-an-id"},
                     content_type="application/json")
    check("(d) POST /api/v1/dead/retry with a malformed id -> 400 or 404 (bad input, not a "
          "server error)", s in (400, 404) and h.is_error_body(b), "%s %r" % (s, b))
    news = [x for x in listed if x.get("channel") == "newsletter"]
    news_id = news[0]["id"] if news else "missing"
    p = h.cli(["dead", "retry", news_id], env=env)
    check("(d) `haechi dead retry ID` requeues the newsletter dead letter",
          p.returncode == 0 and "requeued 1" in p.stdout,
          "status %s; stdout %r; stderr %r" % (p.returncode, p.stdout, p.stderr))
    rec = wait_state(redis, d, cid, at_ms, "newsletter", ("sent",))
    check("(d) the retried newsletter item is sent and logged once",
          rec is not None and len(log_entries(redis, d, items["newsletter"])) == 1,
          "record %r" % record(redis, d, cid, at_ms, "newsletter"))
    s, _, b = d.http("GET", "/api/v1/dead", "viewer")
    check("(d) the dead list then holds alert and banner",
          s == 200 and sorted(x.get("item") for x in b.get("dead", [])) ==
          sorted([items["alert"], items["banner"]]), "%s %r" % (s, b))

    p = h.cli(["dead", "retry", "--all"], env=env)
    check("(d) `haechi dead retry --all` requeues both (2)",
          p.returncode == 0 and "requeued 2" in p.stdout,
          "status %s; stdout %r; stderr %r" % (p.returncode, p.stdout, p.stderr))
    rec = wait_state(redis, d, cid, at_ms, "alert", ("sent",))
    check("(d) the alert item is sent and logged once",
          rec is not None and len(log_entries(redis, d, items["alert"])) == 1,
          "record %r" % record(redis, d, cid, at_ms, "alert"))

    def banner_dead_again():
        s, _, b = d.http("GET", "/api/v1/dead", "viewer")
        dead = b.get("dead") if s == 200 and isinstance(b, dict) else None
        return dead if dead and [x.get("item") for x in dead] == [items["banner"]] else None
    again = h.wait_until(banner_dead_again, timeout=10.0)
    check("(d) banner, whose fault is still on, comes back as a dead letter with the reason",
          again and again[0].get("reason") == "log adapter: failures switched on for banner"
          and again[0].get("id") not in [x.get("id") for x in listed],
          "dead list %r" % again)

    redis.command("HDEL", fk, "banner")
    p = h.cli(["dead", "retry", "--all", "banner"], env=env)
    check("(d) `haechi dead retry --all banner` (one channel) requeues it (1)",
          p.returncode == 0 and "requeued 1" in p.stdout,
          "status %s; stdout %r; stderr %r" % (p.returncode, p.stdout, p.stderr))
    died = h.wait_until(lambda: not d.alive(), timeout=0.3)
    check("(d) the daemon survives a dead retry filtered by channel", not died,
          "it died with status %s (see its log: sanitizer report in handle_dead_retry)"
          % (d.process.proc.poll() if d.process else None))
    rec = wait_state(redis, d, cid, at_ms, "banner", ("sent",))
    check("(d) the banner item is sent and logged once",
          rec is not None and len(log_entries(redis, d, items["banner"])) == 1,
          "record %r" % record(redis, d, cid, at_ms, "banner"))
    s, _, b = d.http("GET", "/api/v1/dead", "viewer")
    check("(d) GET /api/v1/dead is empty at the end",
          s == 200 and isinstance(b, dict) and b.get("dead") == [], "%s %r" % (s, b))
    p = h.cli(["dead", "list"], env=env)
    check("(d) `haechi dead list` says there are no dead letters",
          p.returncode == 0 and "no dead letters" in p.stdout,
          "status %s; stdout %r" % (p.returncode, p.stdout))
    check("(d) the dead stream is empty", dead_entries(redis, d) == [],
          dead_entries(redis, d))
    entries = h.stream_entries(redis, h.engine_key(d, "log"))
    check("(d) the log holds exactly the four deliveries, once each",
          sorted(f.get("item") for _, f in entries) == sorted(items.values()),
          [f.get("item") for _, f in entries])


def main():
    redis = h.Redis("retries-redis")
    daemons = []
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        rd, fd = retry_daemon(redis), fault_daemon(redis)
        for d in (rd, fd):
            daemons.append(d)
            if not check("haechi serve (%s) starts" % d.name, d.start(), "see stderr"):
                return
        fk = h.engine_key(fd, "log:faults")
        redis.command("HSET", fk, "newsletter", "fail", "alert", "fail", "banner", "fail",
                      "sns", "retry")
        at, at_ms = release_time()
        s, b = h.submit_campaign(rd, one_release("rt", ["sns", "kakao", "banner"], at))
        check("a release on sns, kakao and banner at %s is accepted" % at.isoformat(),
              s == 201, "%s %r" % (s, b))
        s2, b2 = h.submit_campaign(fd, one_release("ft", FAULT_CHANNELS, at))
        check("a release on sns, newsletter, alert and banner with faults switched on is "
              "accepted",
              s2 == 201, "%s %r" % (s2, b2))
        if s != 201 or s2 != 201:
            return
        began = time.monotonic()
        run_retries(redis, rd, "rt", at_ms)
        run_faults(redis, fd, "ft", at_ms)
        h.log("retry cases took %.1f s from submission" % (time.monotonic() - began))
    finally:
        for d in daemons:
            if d.process:
                status = d.stop()
                check("haechi serve (%s) exits 0 on SIGTERM" % d.name, status == 0,
                      "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
