"""A live worker's slow sends are never taken over and sent twice.

Real clock. One `haechi serve --roles api,scheduler` and two workers whose
log adapter takes 1.5 s over every send, with engine.reclaim_idle_ms 500:
every send is three times slower than the reclaim time, so XAUTOCLAIM in
either worker sees every entry of the other one idle for long enough,
unless its holder keeps it fresh. Ten campaigns release once on all five
channels at the same second: each of the 50 deliveries must appear exactly
once in the log stream (read after both workers drained on SIGTERM, so
that a duplicate still in flight would be there too), with one attempt,
and nothing may stay pending.
"""

import datetime

import harness as h
from harness import check

NCAMP = 10
CHANNELS = h.ENGINE_CHANNELS
DELAY_MS = 1500


def main():
    redis = h.Redis("ss-redis")
    front = workers = None
    workers = []
    try:
        channels = h.real_clock_channels()
        front, up = h.start_front(redis, "ss-front", channels)
        if not up:
            return
        slow = {ch: dict(channels[ch], delay_ms=DELAY_MS) for ch in CHANNELS}
        for name in ("ss-a", "ss-b"):
            w = h.RoleDaemon(name, redis.address, roles="worker", like=front,
                             extra={"channels": slow,
                                    "engine": {"reclaim_idle_ms": 500,
                                               "worker_concurrency": 64}})
            workers.append(w)
            if not check("worker %s (delay_ms %d, reclaim_idle_ms 500) starts"
                         % (name, DELAY_MS), w.start(), "see stderr"):
                return

        at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
            datetime.timedelta(seconds=4)
        at_ms = int(at.timestamp() * 1000)
        bad = []
        for i in range(NCAMP):
            doc = h.minimal_campaign(
                "ss-%d" % i, list(CHANNELS), at.date().isoformat(),
                (at.date() + datetime.timedelta(days=1)).isoformat(),
                [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                  "channels": list(CHANNELS)}])
            s, b = h.submit_campaign(front, doc)
            if s != 201:
                bad.append((i, s, b))
        check("10 campaigns releasing on all 5 channels are accepted", not bad, bad[:2])
        if bad:
            return
        expected = {"ss-%d|go|%d|%s" % (i, at_ms, ch) for i in range(NCAMP) for ch in CHANNELS}

        def states():
            out = {}
            for i in range(NCAMP):
                for v in h.fires(redis, front, "ss-%d" % i).values():
                    out[v.get("state")] = out.get(v.get("state"), 0) + 1
            return out
        done = h.wait_until(lambda: states() == {"sent": len(expected)}, timeout=30.0,
                            interval=0.05)
        check("all 50 deliveries end \"sent\"", done, "states %s" % states())
        # A duplicate would still be on its way: SIGTERM drains each worker
        # (sends in flight finish first), so once both exited, all is logged.
        for w in workers:
            status = w.stop()
            check("%s drains and exits 0 on SIGTERM" % w.name, status == 0,
                  "exit status %s" % status)
        idle = all(h.stream_backlog(redis, front, ch) == (0, 0) for ch in CHANNELS)
        check("nothing stays pending or unread in any work stream", idle,
              {ch: h.stream_backlog(redis, front, ch) for ch in CHANNELS})

        entries = h.stream_entries(redis, h.engine_key(front, "log"))
        items = [f.get("item") for _, f in entries]
        dupes = sorted({i for i in items if items.count(i) > 1})
        check("the log stream holds each of the 50 items exactly once (sends 3x slower "
              "than reclaim_idle_ms, two workers)",
              len(items) == len(expected) and set(items) == expected and not dupes,
              "%d entries; %d duplicated, e.g. %s" % (len(items), len(dupes), dupes[:3]))
        slowest = min((int(eid.split("-")[0]) - at_ms for eid, _ in entries), default=0)
        check("every send really took longer than reclaim_idle_ms (first logged %d ms "
              "after due)" % slowest, slowest >= 500 + 200, slowest)
        records = {}
        for i in range(NCAMP):
            records.update({"ss-%d|%s" % (i, k): v for k, v in
                            h.fires(redis, front, "ss-%d" % i).items()})
        check("each delivery record shows one attempt",
              len(records) == len(expected) and
              all(v.get("attempts") == 1 for v in records.values()),
              [(k, v.get("attempts")) for k, v in records.items()
               if v.get("attempts") != 1][:3])
    finally:
        h.stop_all(workers + [front], redis)


if __name__ == "__main__":
    h.run(main)
