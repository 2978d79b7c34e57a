"""A campaign's life on a virtual clock: pause, resume, catch-up, cancel,
quiet hours and expiry.

Processes: `haechi serve --roles api,worker` (owns the clock) and
`haechi serve --roles scheduler`, on one Redis. The clock moves in steps of
30 minutes or less; after each step the test waits until the engine is idle
and looks at what was logged in that step. Day D is 2020-05-04 (KST).

- pause: an hourly release coming due while paused is not sent; its state
  is "held". resume (no catch-up) marks it "skipped"; later firings go out.
  Paused again, resume?catch_up=true sends the held firing at once, marked
  late (late_ms > 0 in the releases route).
- cancel: the campaign's due entries are dropped and nothing more is sent.
- quiet hours: a release at 22:00 on sns and kakao (expires_after 12h): sns
  goes at 22:00, kakao is "held" (reason names the quiet hours) and goes out
  when the clock reaches 08:00 the next morning; a kakao release at 22:30
  with the default expiry (1 h) is held too and also goes out at 08:00: a
  quiet-hours hold is deliberate, so it does not expire. An alert at 23:00
  is not held.
- expiry: with the scheduler stopped for two hours (the clock moved through
  the API process), the releases of that gap are "expired" with the reason,
  not sent, once a scheduler runs again; `haechi release ID:RID --now`
  sends one of them.
"""

import time

import harness as h
from harness import check

HALF_HOUR = 30 * 60 * 1000


def D(hour, minute=0, day=4):
    return h.seoul_ms(2020, 5, day, hour, minute)


class Run:
    def __init__(self, redis, api):
        self.redis = redis
        self.api = api
        self.t = None
        self.last_id = None
        self.logged = []        # (clock, fields) of every log entry, as seen
        self.stuck = []

    def step(self, t):
        """Moves the clock to T, waits for idle; returns this step's log entries."""
        s, b = h.set_clock(self.api, now_ms=t)
        if s != 200:
            self.stuck.append("clock to %s: %s %r" % (h.seoul_text(t), s, b))
            return []
        self.t = t
        return self.settle()

    def settle(self):
        if not h.wait_engine_idle(self.redis, self.api, self.t, timeout=h.DEADLINE):
            self.stuck.append("not idle at %s" % h.seoul_text(self.t))
        key = h.engine_key(self.api, "log")
        got = self.redis.command("XRANGE", key, "(" + self.last_id if self.last_id else "-",
                                 "+")
        new = []
        for eid, flat in got or []:
            f = dict(zip(flat[0::2], flat[1::2]))
            self.last_id = eid
            self.logged.append((self.t, f))
            new.append(f)
        return new

    def walk(self, until, step=HALF_HOUR):
        """Steps to UNTIL; returns [(t, entries)] of the steps."""
        out = []
        while self.t < until:
            out.append((min(self.t + step, until), self.step(min(self.t + step, until))))
        return out


def items_of(entries, cid):
    return [f.get("item") for f in entries if f.get("campaign") == cid]


def item(cid, rid, due, ch="sns"):
    return "%s|%s|%d|%s" % (cid, rid, due, ch)


def rec(run, cid, rid, due, ch="sns"):
    return h.fires(run.redis, run.api, cid).get("%s|%d|%s" % (rid, due, ch)) or {}


def releases(run, cid):
    s, _, b = run.api.http("GET", "/api/v1/campaigns/%s/releases" % cid, "viewer")
    return b if s == 200 and isinstance(b, dict) else {}


def firing(body, rid, due_ms):
    want = time.strftime("%Y-%m-%dT%H:%M:%S+09:00", time.gmtime(due_ms / 1000 + 9 * 3600))
    for f in body.get("releases") or []:
        if f.get("release") == rid and f.get("due") == want:
            return f
    return {}


def status_call(run, cid, action, query=""):
    s, _, b = run.api.http("POST", "/api/v1/campaigns/%s/%s%s" % (cid, action, query),
                           "editor")
    return s, b if isinstance(b, dict) else {}


def campaigns():
    out = [
        h.minimal_campaign("lc-pause", ["sns"], "2020-05-04T00:00", "2020-05-04T06:59",
                           [{"id": "hourly", "cron": "0 * * * *", "channels": ["sns"]}]),
        h.minimal_campaign("lc-cancel", ["sns"], "2020-05-04T00:00", "2020-05-04T12:59",
                           [{"id": "quarter", "cron": "15 * * * *", "channels": ["sns"]}]),
        h.minimal_campaign("lc-quiet", ["sns", "kakao", "alert"], "2020-05-04",
                           "2020-05-05",
                           [{"id": "evening", "at": "2020-05-04T22:00",
                             "channels": ["sns", "kakao"], "expires_after": "12h"},
                            {"id": "late-kakao", "at": "2020-05-04T22:30",
                             "channels": ["kakao"]},
                            {"id": "late-alert", "at": "2020-05-04T23:00",
                             "channels": ["alert"]}]),
        h.minimal_campaign("lc-expiry", ["sns"], "2020-05-05", "2020-05-05",
                           [{"id": "gap-1", "at": "2020-05-05T10:00", "channels": ["sns"]},
                            {"id": "gap-2", "at": "2020-05-05T10:30", "channels": ["sns"]},
                            {"id": "after", "at": "2020-05-05T12:00", "channels": ["sns"]}]),
    ]
    return out


def pause_and_resume(run):
    cid = "lc-pause"
    new = run.step(D(1))
    check("pause: the 01:00 firing goes out in the 01:00 step",
          items_of(new, cid) == [item(cid, "hourly", D(1))], new)
    s, b = status_call(run, cid, "pause")
    check("pause: POST pause -> 200 paused", s == 200 and b.get("status") == "paused",
          "%s %r" % (s, b))
    new = run.step(D(1, 30)) + run.step(D(2))
    check("pause: nothing is sent for the 02:00 firing while paused",
          not items_of(new, cid), new)
    r = rec(run, cid, "hourly", D(2))
    check("pause: the 02:00 firing's state is \"held\" (campaign paused)",
          r.get("state") == "held" and "paused" in (r.get("reason") or ""), r)
    f = firing(releases(run, cid), "hourly", D(2))
    check("pause: the releases route shows 02:00 held",
          f.get("channels", {}).get("sns", {}).get("state") == "held", f)
    run.step(D(2, 30))
    s, b = status_call(run, cid, "resume")
    check("resume without catch-up -> 200 scheduled, skipped 1",
          s == 200 and b.get("status") == "scheduled" and b.get("skipped") == 1,
          "%s %r" % (s, b))
    new = run.settle()
    r = rec(run, cid, "hourly", D(2))
    check("resume without catch-up: the held 02:00 firing is \"skipped\" with a reason and "
          "not sent", r.get("state") == "skipped" and r.get("reason") and
          not items_of(new, cid) and
          item(cid, "hourly", D(2)) not in [f.get("item") for _, f in run.logged],
          "record %r; logged on resume %r" % (r, new))
    new = run.step(D(3))
    check("after resume the 03:00 firing goes out on time",
          items_of(new, cid) == [item(cid, "hourly", D(3))], new)
    return cid


def cancel(run):
    cid = "lc-cancel"
    sent = [f.get("item") for _, f in run.logged if f.get("campaign") == cid]
    check("cancel: before cancelling, 01:15 and 02:15 went out",
          sent == [item(cid, "quarter", D(1, 15)), item(cid, "quarter", D(2, 15))], sent)
    s, b = status_call(run, cid, "cancel")
    check("cancel -> 200 cancelled, dropped 1 (its next due entry)",
          s == 200 and b.get("status") == "cancelled" and b.get("dropped") == 1,
          "%s %r" % (s, b))
    # A release's due-set member is "r:CAMPAIGN:RELEASE|..." (engine.lua).
    due = [m for m in run.redis.command("ZRANGE", h.engine_key(run.api, "due"), "0", "-1")
           if m.startswith("r:%s:quarter|" % cid)]
    occ = run.redis.command("EXISTS", h.engine_key(run.api, "occ:%s:quarter" % cid))
    check("cancel: its due entry and later firings are gone from Redis",
          not due and occ == 0, "due %r, occ exists %r" % (due, occ))
    body = releases(run, cid)
    check("cancel: the releases route says cancelled with nothing scheduled",
          body.get("status") == "cancelled" and not body.get("counts", {}).get("scheduled"),
          body.get("status"), )
    return cid


def catch_up(run):
    cid = "lc-pause"
    s, b = status_call(run, cid, "pause")
    check("catch-up: paused again -> 200", s == 200 and b.get("status") == "paused",
          "%s %r" % (s, b))
    new = run.step(D(3, 30)) + run.step(D(4)) + run.step(D(4, 30))
    check("catch-up: the 04:00 firing is held, not sent, while paused",
          not items_of(new, cid) and rec(run, cid, "hourly", D(4)).get("state") == "held",
          rec(run, cid, "hourly", D(4)))
    s, b = status_call(run, cid, "resume", "?catch_up=true")
    check("resume?catch_up=true -> 200 scheduled, caught_up 1",
          s == 200 and b.get("status") == "scheduled" and b.get("caught_up") == 1,
          "%s %r" % (s, b))
    new = run.settle()
    check("catch-up: the held 04:00 firing is sent at once (at 04:30)",
          items_of(new, cid) == [item(cid, "hourly", D(4))], new)
    f = firing(releases(run, cid), "hourly", D(4))
    check("catch-up: the releases route marks it late by 30 minutes (late_ms 1800000) and "
          "sent", f.get("late_ms") == HALF_HOUR and
          f.get("channels", {}).get("sns", {}).get("state") == "sent", f)


def after_cancel_and_pause(run, cancel_at):
    steps = run.walk(D(13))
    sent = [(t, i) for t, new in steps for i in items_of(new, "lc-pause")]
    check("after the catch-up, 05:00 and 06:00 go out in their steps",
          sent == [(D(5), item("lc-pause", "hourly", D(5))),
                   (D(6), item("lc-pause", "hourly", D(6)))], sent)
    late = [f.get("item") for t, f in run.logged
            if f.get("campaign") == "lc-cancel" and t > cancel_at]
    check("cancel: nothing of the cancelled campaign was sent afterwards (through 13:00)",
          not late, late)
    st = h.wait_until(lambda: releases(run, "lc-pause").get("status") == "finished")
    check("the paused-and-resumed campaign is finished after its last firing", st,
          releases(run, "lc-pause").get("status"))


def quiet_hours(run):
    cid = "lc-quiet"
    steps = run.walk(D(22))
    early = [i for t, new in steps if t < D(22) for i in items_of(new, cid)]
    check("quiet: nothing of the 22:00 release before 22:00", not early, early)
    new = [i for t, got in steps if t == D(22) for i in items_of(got, cid)]
    check("quiet: sns of the 22:00 release goes out at 22:00",
          new == [item(cid, "evening", D(22), "sns")], new)
    r = rec(run, cid, "evening", D(22), "kakao")
    check("quiet: kakao of the 22:00 release is \"held\", its reason naming the quiet hours",
          r.get("state") == "held" and "quiet hours" in (r.get("reason") or ""), r)
    f = firing(releases(run, cid), "evening", D(22))
    check("quiet: the releases route shows kakao held until 08:00 the next morning",
          f.get("channels", {}).get("kakao", {}).get("until") == "2020-05-05T08:00:00+09:00",
          f)
    new = run.step(D(22, 30))
    r = rec(run, cid, "late-kakao", D(22, 30), "kakao")
    check("quiet: kakao of the 22:30 release (expiry 1 h) is held too, not sent",
          not items_of(new, cid) and r.get("state") == "held", r)
    new = run.step(D(23))
    check("quiet: the alert at 23:00 is not held: it goes out in the 23:00 step",
          items_of(new, cid) == [item(cid, "late-alert", D(23), "alert")], new)
    steps = run.walk(D(7, 30, day=5))
    night = [(h.seoul_text(t), i) for t, new in steps for i in items_of(new, cid)]
    check("quiet: kakao stays unsent through the night (every step to 07:30)", not night,
          night)
    new = run.step(D(8, 0, day=5))
    check("quiet: kakao of the 22:00 release (expiry 12 h) goes out once the clock reaches "
          "08:00", item(cid, "evening", D(22), "kakao") in items_of(new, cid), new)
    r = rec(run, cid, "evening", D(22), "kakao")
    check("quiet: its record is sent, 10 hours after its due time",
          r.get("state") == "sent" and r.get("at") == D(8, 0, day=5), r)
    r = rec(run, cid, "late-kakao", D(22, 30), "kakao")
    check("quiet: the held 22:30 kakao (expiry 1 h) goes out at 08:00 too: a quiet-hours "
          "hold is deliberate and does not expire (docs/campaign-format.md)",
          item(cid, "late-kakao", D(22, 30), "kakao") in items_of(new, cid) and
          r.get("state") == "sent", r)


def expiry(run, sched, start_scheduler):
    cid = "lc-expiry"
    run.walk(D(9, 45, day=5), step=15 * 60 * 1000)
    status = sched.stop()
    check("expiry: the scheduler exits 0 on SIGTERM (stopped for two hours)", status == 0,
          "exit status %s" % status)
    s, b = h.set_clock(run.api, advance_ms=2 * 3600 * 1000)
    check("expiry: the API process moves the clock 2 hours (to 11:45) with no scheduler "
          "running", s == 200 and isinstance(b, dict) and b.get("now_ms") == D(11, 45, 5),
          "%s %r" % (s, b))
    run.t = D(11, 45, day=5)
    due = run.redis.command("ZRANGEBYSCORE", h.engine_key(run.api, "due"), "-inf",
                            str(run.t))
    check("expiry: with no scheduler, the gap's releases stay unclaimed in Redis",
          sorted(m.split("|")[0] for m in due or []) ==
          ["r:%s:gap-1" % cid, "r:%s:gap-2" % cid], due)
    sched2 = start_scheduler()
    check("expiry: a scheduler starts again", sched2 is not None, "see stderr")
    if sched2 is None:
        return None
    new = run.settle()
    check("expiry: nothing of the gap is sent once it runs again", not items_of(new, cid),
          new)
    for rid, due, late_s in (("gap-1", D(10, 0, 5), 6300), ("gap-2", D(10, 30, 5), 4500)):
        r = rec(run, cid, rid, due)
        want = ("not sent: %d s late, over its expiry of 3600 s; `haechi release %s:%s "
                "--now` sends it" % (late_s, cid, rid))
        check("expiry: %s is \"expired\" with the reason (%d s late)" % (rid, late_s),
              r.get("state") == "expired" and r.get("reason") == want, r)
    totals = h.metric_totals(run.redis, run.api, cid)
    check("expiry: metrics count 2 expired, none sent",
          totals.get(("sns", "expired")) == 2 and not totals.get(("sns", "sent")), totals)

    env = {"HAECHI_URL": run.api.url, "HAECHI_TOKEN": run.api.tokens["editor"]}
    p = h.cli(["release", "%s:gap-1" % cid, "--now"], env=env)
    check("expiry: `haechi release lc-expiry:gap-1 --now` queues it",
          p.returncode == 0 and "lc-expiry:gap-1 queued now on sns" in p.stdout,
          "status %s; stdout %r; stderr %r" % (p.returncode, p.stdout, p.stderr))
    new = run.settle()
    check("expiry: the expired gap-1 firing is sent now, once",
          items_of(new, cid) == [item(cid, "gap-1", D(10, 0, 5))], new)
    r = rec(run, cid, "gap-1", D(10, 0, 5))
    check("expiry: its record is sent, fired 105 minutes late",
          r.get("state") == "sent" and r.get("late") == 105 * 60 * 1000, r)
    p = h.cli(["release", "%s:gap-1" % cid, "--now"], env=env)
    check("expiry: a second `release lc-expiry:gap-1 --now` fails: nothing expired left",
          p.returncode not in (0, None) and h.nonempty_lines(p.stderr),
          "status %s; stderr %r" % (p.returncode, p.stderr))
    check("expiry: gap-2 stays expired",
          rec(run, cid, "gap-2", D(10, 30, 5)).get("state") == "expired",
          rec(run, cid, "gap-2", D(10, 30, 5)))
    new = run.step(D(12, 0, 5))
    check("expiry: the restarted scheduler sends the 12:00 release on time",
          items_of(new, cid) == [item(cid, "after", D(12, 0, 5))], new)
    return sched2


def main():
    redis = h.Redis("lc-redis")
    api = sched = None
    scheds = []
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        api = h.RoleDaemon("lc-api", redis.address, roles="api,worker",
                           extra={"environment": "test", "testing": {"virtual_clock": True}})
        if not check("haechi serve --roles api,worker (virtual clock) starts", api.start(),
                     "see stderr"):
            return

        def start_scheduler():
            s = h.RoleDaemon("lc-sched", redis.address, roles="scheduler", like=api)
            scheds.append(s)
            return s if s.start() else None
        sched = start_scheduler()
        if not check("haechi serve --roles scheduler starts", sched is not None, "see stderr"):
            return
        run = Run(redis, api)
        run.step(D(0, 30))
        bad = []
        for doc in campaigns():
            s, b = h.submit_campaign(api, doc)
            if s != 201:
                bad.append((doc["id"], s, b))
        check("four campaigns submitted at 00:30 on D", not bad, bad)
        began = time.monotonic()
        pause_and_resume(run)
        cancel_at = run.t
        cancel(run)
        catch_up(run)
        after_cancel_and_pause(run, cancel_at)
        quiet_hours(run)
        expiry(run, sched, start_scheduler)
        h.log("lifecycle steps took %.1f s" % (time.monotonic() - began))
        check("every clock step ran to idle", not run.stuck, run.stuck[:5])
    finally:
        for d in scheds + [api]:
            if d and d.process:
                status = d.stop()
                check("%s exits 0 on SIGTERM" % d.name, status == 0, "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
