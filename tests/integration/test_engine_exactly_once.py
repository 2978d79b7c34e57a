"""Invariant 1: a release fires once, however many schedulers share one Redis.

One Redis; one `haechi serve --roles api` (it owns the virtual clock), three
`--roles scheduler` and two `--roles worker` processes, all with the same
key prefix. Ten campaigns each have one cron "* * * * *" release on sns over
a 1000-minute window (2020-06-01 00:00-16:39 KST): 10,000 firings. The test
moves the clock in 20-minute steps through the window and waits after each
step until nothing due is left unclaimed and every work item is
acknowledged. Then it counts the log stream per item id: every expected
item exactly once (duplicates 0, misses 0).

A step leaves up to 20 firings of each release due at once: the schedulers
must claim them all by themselves (a step that does not go idle within its
deadline fails the test).

Two more campaigns release on the newsletter every ten minutes, which the
log adapter fans out into 3 batches: 200 parents, 600 target items, each
also exactly once, each parent rolled up to "sent" with 3 of 3 targets.

It also checks that the worker-only processes follow the virtual clock:
delivery records and metrics carry virtual times, not the epoch.
"""

import re
import time

import harness as h
from harness import check

NCAMP = 10
WINDOW_START = h.seoul_ms(2020, 6, 1, 0, 0)
NFIRINGS = 1000
WINDOW_LAST = WINDOW_START + (NFIRINGS - 1) * 60000
STEP_MS = 20 * 60 * 1000
STEP_DEADLINE_S = 30.0
NFAN = 2
FAN_TARGETS = ("b0001", "b0002", "b0003")
FAN_FIRINGS = NFIRINGS // 10


def campaign(i):
    return h.minimal_campaign("eo-%d" % i, ["sns"], "2020-06-01T00:00", "2020-06-01T16:39",
                              [{"id": "tick", "cron": "* * * * *", "channels": ["sns"]}])


def fan_campaign(i):
    return h.minimal_campaign("eo-fan-%d" % i, ["newsletter"], "2020-06-01T00:00",
                              "2020-06-01T16:39",
                              [{"id": "tick", "cron": "*/10 * * * *",
                                "channels": ["newsletter"]}])


def due_count(redis, d, now_ms):
    n = redis.command("ZCOUNT", h.engine_key(d, "due"), "-inf", str(now_ms))
    return n if isinstance(n, int) else -1


def main():
    redis = h.Redis("eo-redis")
    api = None
    nodes = []
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        base = {"environment": "test", "testing": {"virtual_clock": True},
                "engine": {"expires_after": "30d"},
                "channels": {"newsletter": {"adapter": "log", "fanout": 3,
                                            "quiet_hours": False}}}
        api = h.RoleDaemon("eo-api", redis.address, roles="api", extra=base)
        if not check("haechi serve --roles api starts", api.start(), "see stderr"):
            return
        for i in range(3):
            nodes.append(h.RoleDaemon("eo-sched%d" % i, redis.address, roles="scheduler",
                                      like=api))
        for i in range(2):
            nodes.append(h.RoleDaemon("eo-work%d" % i, redis.address, roles="worker",
                                      like=api))
        started = [n.start() for n in nodes]
        check("three --roles scheduler and two --roles worker processes start on the same "
              "prefix", all(started), "started: %s" % started)
        if not all(started):
            return

        t = WINDOW_START - 60000
        s, b = h.set_clock(api, now_ms=t)
        check("the virtual clock is set to 2020-05-31 23:59 KST", s == 200, "%s %r" % (s, b))
        bad = []
        for i in range(NCAMP):
            s, b = h.submit_campaign(api, campaign(i))
            if s != 201:
                bad.append((i, s, b))
        for i in range(NFAN):
            s, b = h.submit_campaign(api, fan_campaign(i))
            if s != 201:
                bad.append(("fan", i, s, b))
        check("10 campaigns of 1000 one-minute firings each, and 2 fanned-out newsletter "
              "campaigns, are accepted", not bad, bad[:2])
        pending = [redis.command("HGET", h.engine_key(api, "camp:eo-%d" % i), "pending")
                   for i in range(NCAMP)]
        check("each campaign is armed with 1000 firings", pending == ["1000"] * NCAMP,
              "pending %s" % pending)

        stuck_at = None
        began = time.monotonic()
        steps = 0
        while t < WINDOW_LAST + STEP_MS:
            t += STEP_MS
            steps += 1
            s, b = h.set_clock(api, now_ms=t)
            if s != 200:
                stuck_at = "clock step to %s answered %s %r" % (h.seoul_text(t), s, b)
                break
            idle = h.wait_until(lambda: h.engine_idle(redis, api, t), STEP_DEADLINE_S)
            if not idle:
                stuck_at = "not idle %.0f s after the step to %s (%d due unclaimed)" % (
                    STEP_DEADLINE_S, h.seoul_text(t), due_count(redis, api, t))
                break
        elapsed = time.monotonic() - began
        h.log("%d steps in %.1f s" % (steps, elapsed))
        check("every 20-minute step ran to idle by itself (all due firings claimed, every "
              "item acknowledged)", stuck_at is None, stuck_at)

        expected = {"eo-%d|tick|%d|sns" % (i, WINDOW_START + k * 60000)
                    for i in range(NCAMP) for k in range(NFIRINGS)}
        fan_expected = {"eo-fan-%d|tick|%d|newsletter|%s" % (i, WINDOW_START + k * 600000, t)
                        for i in range(NFAN) for k in range(FAN_FIRINGS) for t in FAN_TARGETS}
        expected |= fan_expected
        entries = h.stream_entries(redis, h.engine_key(api, "log"))
        counts = {}
        for _, f in entries:
            counts[f.get("item")] = counts.get(f.get("item"), 0) + 1
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        misses = len(expected - set(counts))
        unexpected = len(set(counts) - expected)
        check("every one of the 10,000 firings and 600 fanned-out targets is in the log "
              "stream exactly once (%d entries; duplicates %d, misses %d, unexpected %d)"
              % (len(entries), duplicates, misses, unexpected),
              len(expected) == NCAMP * NFIRINGS + len(fan_expected) and duplicates == 0 and
              misses == 0 and
              unexpected == 0,
              "duplicates %d (e.g. %s), misses %d (e.g. %s), unexpected %d"
              % (duplicates, [i for i, n in counts.items() if n > 1][:3], misses,
                 sorted(expected - set(counts))[:3], unexpected))

        records, states, clockless = {}, {}, []
        for i in range(NCAMP):
            for k, v in h.fires(redis, api, "eo-%d" % i).items():
                records["eo-%d|%s" % (i, k)] = v
                states[v.get("state")] = states.get(v.get("state"), 0) + 1
                if v.get("state") == "sent" and not (isinstance(v.get("at"), int) and
                                                     v["at"] >= v.get("due", 0)):
                    clockless.append((k, v.get("at")))
        check("10,000 delivery records, all \"sent\" after one attempt",
              len(records) == NCAMP * NFIRINGS and states == {"sent": NCAMP * NFIRINGS} and
              all(v.get("attempts") == 1 for v in records.values()),
              "%d records, states %s" % (len(records), states))
        check("worker-only processes follow the virtual clock: every sent record's time is "
              "at or after its due time", records and not clockless,
              "%d of %d sent records carry a time before their due time, e.g. %s (a "
              "--roles worker process never learns the virtual clock: it stays at 0)"
              % (len(clockless), len(records), clockless[:2]))
        hours = set()
        for i in range(NCAMP):
            for k in h.hash_all(redis, h.engine_key(api, "metrics:eo-%d" % i)):
                if k.endswith("|sent"):
                    hours.add(k.split("|")[1])
        window_hours = {time.strftime("%Y%m%d%H", time.gmtime(ms / 1000))
                        for ms in range(WINDOW_START, WINDOW_LAST + STEP_MS + 1, 600000)}
        check("sent metrics are counted in the hours of the virtual window (UTC)",
              hours and hours <= window_hours, "sent counted in hours %s" % sorted(hours))
        sent = sum(n for i in range(NCAMP)
                   for (ch, what), n in h.metric_totals(redis, api, "eo-%d" % i).items()
                   if what == "sent")
        check("metrics count 10,000 sent", sent == NCAMP * NFIRINGS, "sent %d" % sent)
        parents = [v for i in range(NFAN) for k, v in h.fires(redis, api, "eo-fan-%d" % i).items()
                   if k.count("|") == 2]
        check("the 200 fanned-out newsletter parents each end sent with 3 of 3 targets",
              len(parents) == NFAN * FAN_FIRINGS and
              all(p.get("state") == "sent" and p.get("ok") == 3 and p.get("remaining") == 0
                  for p in parents),
              "%d parents; e.g. %s" % (len(parents),
                                       [p for p in parents if p.get("state") != "sent"][:2]))
        statuses = [redis.command("HGET", h.engine_key(api, "camp:eo-%d" % i), "status")
                    for i in range(NCAMP)]
        check("all 10 campaigns are finished in the engine", statuses == ["finished"] * NCAMP,
              statuses)
        backlog = {ch: h.stream_backlog(redis, api, ch) for ch in h.ENGINE_CHANNELS}
        check("nothing left unread or pending in any work stream",
              all(v == (0, 0) for v in backlog.values()), backlog)

        # How the work split: each "finished" line comes from the scheduler whose
        # claim took that campaign's last firing.
        split = {}
        for n in nodes[:3]:
            split[n.name] = len(re.findall(r"scheduler: campaign eo-\d+ has nothing left",
                                           n.log_text()))
        h.log("last firings claimed per scheduler (from their logs): %s" % split)
        check("each campaign's last firing was claimed by exactly one scheduler "
              "(split %s)" % ", ".join("%s %d" % kv for kv in sorted(split.items())),
              sum(split.values()) == NCAMP, "finished lines %s" % split)
        alive = [n.name for n in nodes + [api] if not n.alive()]
        check("every process ran to the end", not alive, "exited: %s" % alive)
    finally:
        for n in nodes + [api]:
            if n and n.process:
                status = n.stop()
                check("%s (--roles %s) exits 0 on SIGTERM" % (n.name, n.roles), status == 0,
                      "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
