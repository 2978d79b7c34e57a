"""Invariant 2: the items of a worker that died are reclaimed by others.

Real clock. One `haechi serve --roles api,scheduler`; worker A
(`--roles worker`) whose log adapter takes 4 s over every send, with room for
all items at once. Ten campaigns each release once on all five channels at
the same second a few seconds ahead: 50 deliveries. Once worker A holds all
50 (XPENDING 50, every record "sending", nothing logged yet) it is
SIGKILLed. Worker B starts with engine.reclaim_idle_ms 500 and no delay:
every item must end "sent" exactly once in the log stream, and nothing may
stay pending. Each reclaimed send is told maybe_sent 1 (an attempt was in
flight when its worker died), which the log adapter records.
"""

import datetime
import signal
import time

import harness as h
from harness import check

NCAMP = 10
CHANNELS = h.ENGINE_CHANNELS


def pending_summary(redis, d):
    """{channel: (count, {consumer: n})} from XPENDING of each work stream."""
    out = {}
    for ch in CHANNELS:
        got = redis.command("XPENDING", h.engine_key(d, "q:" + ch), "workers")
        if isinstance(got, list) and got and isinstance(got[0], int):
            consumers = {c: int(n) for c, n in (got[3] or [])}
            out[ch] = (got[0], consumers)
        else:
            out[ch] = (0, {})
    return out


def main():
    redis = h.Redis("wk-redis")
    front = worker_a = worker_b = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        # Real clock: no quiet hours, so that the test runs at any time of day.
        channels = h.real_clock_channels()
        front = h.RoleDaemon("wk-front", redis.address, roles="api,scheduler",
                             extra={"channels": channels})
        if not check("haechi serve --roles api,scheduler starts", front.start(), "see stderr"):
            return
        slow = {ch: dict(channels[ch], delay_ms=4000) for ch in CHANNELS}
        worker_a = h.RoleDaemon("wk-a", redis.address, roles="worker", like=front,
                                extra={"channels": slow,
                                       "engine": {"worker_concurrency": 200}})
        if not check("worker A (--roles worker, log adapter delay_ms 4000) starts",
                     worker_a.start(), "see stderr"):
            return

        at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
            datetime.timedelta(seconds=5)
        at_ms = int(at.timestamp() * 1000)
        bad = []
        for i in range(NCAMP):
            doc = h.minimal_campaign(
                "wk-%d" % i, list(CHANNELS), at.date().isoformat(),
                (at.date() + datetime.timedelta(days=1)).isoformat(),
                [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                  "channels": list(CHANNELS)}])
            s, b = h.submit_campaign(front, doc)
            if s != 201:
                bad.append((i, s, b))
        check("10 campaigns releasing on all 5 channels at %s are accepted" % at.isoformat(),
              not bad, bad[:2])
        if bad:
            return
        expected = {"wk-%d|go|%d|%s" % (i, at_ms, ch) for i in range(NCAMP) for ch in CHANNELS}

        def sending():
            return sum(1 for i in range(NCAMP)
                       for v in h.fires(redis, front, "wk-%d" % i).values()
                       if v.get("state") == "sending")

        def a_holds_all():
            p = pending_summary(redis, front)
            total = sum(n for n, _ in p.values())
            return total == len(expected) and sending() == len(expected) and p
        held = h.wait_until(a_holds_all, timeout=15.0, interval=0.01)
        log_len = redis.command("XLEN", h.engine_key(front, "log"))
        consumers = set()
        for _, cons in (held or {}).values():
            consumers.update(cons)
        check("worker A took and began all 50 items once they came due (XPENDING 50, one "
              "consumer, every record \"sending\")",
              bool(held) and len(consumers) == 1,
              "pending %s" % pending_summary(redis, front))
        check("worker A had sent nothing yet when it was killed", log_len == 0,
              "log stream length %s" % log_len)
        status = worker_a.kill()
        check("worker A dies on SIGKILL", status == -signal.SIGKILL, "status %s" % status)
        p = pending_summary(redis, front)
        check("its 50 items stay pending after it died",
              sum(n for n, _ in p.values()) == len(expected), p)

        worker_b = h.RoleDaemon("wk-b", redis.address, roles="worker", like=front,
                                extra={"channels": channels,
                                       "engine": {"reclaim_idle_ms": 500}})
        began = time.monotonic()
        if not check("worker B (reclaim_idle_ms 500, no delay) starts", worker_b.start(),
                     "see stderr"):
            return

        def all_sent():
            states = {}
            for i in range(NCAMP):
                for v in h.fires(redis, front, "wk-%d" % i).values():
                    states[v.get("state")] = states.get(v.get("state"), 0) + 1
            return states if states == {"sent": len(expected)} else None
        done = h.wait_until(all_sent, timeout=15.0, interval=0.05)
        took = time.monotonic() - began
        h.log("worker B finished the reclaimed items %.1f s after it started" % took)
        states = {}
        for i in range(NCAMP):
            for v in h.fires(redis, front, "wk-%d" % i).values():
                states[v.get("state")] = states.get(v.get("state"), 0) + 1
        check("all 50 deliveries end \"sent\" once worker B reclaimed them (took %.1f s)"
              % took, bool(done), "states %s" % states)

        entries = h.stream_entries(redis, h.engine_key(front, "log"))
        items = [f.get("item") for _, f in entries]
        dupes = sorted({i for i in items if items.count(i) > 1})
        check("the log stream holds each of the 50 items exactly once",
              len(items) == len(expected) and set(items) == expected and not dupes,
              "%d entries; duplicates %s; missing %s" % (len(items), dupes[:3],
                                                         sorted(expected - set(items))[:3]))
        check("every reclaimed send was told maybe_sent 1",
              entries and all(f.get("maybe_sent") == "1" for _, f in entries),
              [(f.get("item"), f.get("maybe_sent")) for _, f in entries
               if f.get("maybe_sent") != "1"][:3])
        p = h.wait_until(lambda: all(n == 0 for n, _ in pending_summary(redis, front).values()),
                         timeout=5.0)
        check("nothing stays pending (XPENDING 0 on every work stream)", bool(p),
              pending_summary(redis, front))
        backlog = {ch: h.stream_backlog(redis, front, ch) for ch in CHANNELS}
        check("nothing is left unread in any work stream",
              all(v == (0, 0) for v in backlog.values()), backlog)
        records = {}
        for i in range(NCAMP):
            records.update({"wk-%d|%s" % (i, k): v for k, v in
                            h.fires(redis, front, "wk-%d" % i).items()})
        check("each delivery record shows one attempt (a reclaim is not a retry)",
              len(records) == len(expected) and
              all(v.get("attempts") == 1 for v in records.values()),
              [(k, v.get("attempts")) for k, v in records.items()
               if v.get("attempts") != 1][:3])
        totals = {}
        for i in range(NCAMP):
            for (ch, what), n in h.metric_totals(redis, front, "wk-%d" % i).items():
                totals[what] = totals.get(what, 0) + n
        check("metrics count 50 sent and nothing dead or retried",
              totals.get("sent") == len(expected) and not totals.get("dead") and
              not totals.get("retry"), totals)
    finally:
        for n in (worker_b, front):
            if n and n.process:
                status = n.stop()
                check("%s exits 0 on SIGTERM" % n.name, status == 0, "exit status %s" % status)
        if worker_a and worker_a.process:
            worker_a.kill()
        redis.stop()


if __name__ == "__main__":
    h.run(main)
