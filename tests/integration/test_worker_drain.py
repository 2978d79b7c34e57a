"""SIGTERM drains a worker: sends in flight finish, or are cancelled at
engine.drain_timeout_ms and recorded; the process exits 0 with no leak
(the test build exits 86 when LeakSanitizer finds one).

Real clock. One `haechi serve --roles api,scheduler`, and workers
(`--roles worker`) that come and go. Each case releases one campaign on
all five channels (5 deliveries) and SIGTERMs the worker once all 5 are
"sending" and none is logged yet:

(long)  log delay_ms 2000, drain_timeout_ms 10000: the worker waits for
        its sends; all 5 are "sent" by the time it has exited, each logged
        once.
(short) log delay_ms 5000, drain_timeout_ms 1000: the worker cancels them
        at the deadline; they surely were not sent, so they go back to the
        due set without using an attempt, and the worker exits in well
        under the 5 s a send takes. Nothing is logged.
(after) A worker without delay takes over: the 5 cancelled deliveries are
        sent once each with attempt 1, and none of the first case's is sent
        again.
"""

import datetime
import time

import harness as h
from harness import check

CHANNELS = h.ENGINE_CHANNELS


def release(front, cid, seconds=3):
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
        datetime.timedelta(seconds=seconds)
    doc = h.minimal_campaign(cid, list(CHANNELS), at.date().isoformat(),
                             (at.date() + datetime.timedelta(days=1)).isoformat(),
                             [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                               "channels": list(CHANNELS)}])
    s, b = h.submit_campaign(front, doc)
    at_ms = int(at.timestamp() * 1000)
    return s, b, {"%s|go|%d|%s" % (cid, at_ms, ch) for ch in CHANNELS}


def states(redis, front, cid):
    return sorted(v.get("state") for v in h.fires(redis, front, cid).values())


def logged(redis, front):
    return [f.get("item") for _, f in h.stream_entries(redis, h.engine_key(front, "log"))]


def worker(redis, front, name, channels, delay_ms, drain_ms):
    conf = {ch: dict(channels[ch], delay_ms=delay_ms) if delay_ms else channels[ch]
            for ch in CHANNELS}
    return h.RoleDaemon(name, redis.address, roles="worker", like=front,
                        extra={"channels": conf,
                               "engine": {"drain_timeout_ms": drain_ms,
                                          "reclaim_idle_ms": 60000}})


def sigterm_while_sending(redis, front, w, cid, expected, label):
    """Waits until W has all 5 deliveries "sending" with nothing logged, then
    SIGTERMs it; returns (status, seconds it took to exit)."""
    sending = h.wait_until(lambda: states(redis, front, cid) == ["sending"] * 5,
                           timeout=15.0, interval=0.02)
    mine = set(logged(redis, front)) & expected
    check("(%s) 5 sends in flight, none logged yet" % label, sending and not mine,
          "states %s, logged %s" % (states(redis, front, cid), sorted(mine)))
    began = time.monotonic()
    status = w.stop()
    return status, time.monotonic() - began


def main():
    redis = h.Redis("dr-redis")
    front = None
    started = []
    try:
        channels = h.real_clock_channels()
        front, up = h.start_front(redis, "dr-front", channels)
        if not up:
            return

        # (long): the sends finish within the drain.
        w = worker(redis, front, "dr-long", channels, 2000, 10000)
        started.append(w)
        if not check("(long) worker (delay_ms 2000, drain_timeout_ms 10000) starts",
                     w.start(), "see stderr"):
            return
        s, b, long_items = release(front, "dr-long")
        if not check("(long) campaign accepted", s == 201, "%s %s" % (s, b)):
            return
        status, took = sigterm_while_sending(redis, front, w, "dr-long", long_items, "long")
        check("(long) SIGTERM: exit status 0 (no leak) after %.1f s" % took, status == 0,
              "exit status %s" % status)
        check("(long) it waited for its sends: all 5 \"sent\" when it had exited",
              states(redis, front, "dr-long") == ["sent"] * 5, states(redis, front, "dr-long"))
        got = [i for i in logged(redis, front) if i in long_items]
        check("(long) each of the 5 logged exactly once", sorted(got) == sorted(long_items),
              got)

        # (short): cancelled at the deadline, put back unsent.
        w = worker(redis, front, "dr-short", channels, 5000, 1000)
        started.append(w)
        if not check("(short) worker (delay_ms 5000, drain_timeout_ms 1000) starts",
                     w.start(), "see stderr"):
            return
        s, b, short_items = release(front, "dr-short")
        if not check("(short) campaign accepted", s == 201, "%s %s" % (s, b)):
            return
        status, took = sigterm_while_sending(redis, front, w, "dr-short", short_items, "short")
        check("(short) SIGTERM: exit status 0 (no leak)", status == 0, "exit status %s" % status)
        check("(short) it exited at the deadline, not after its 5 s sends (took %.1f s)" % took,
              took < 4.0, "took %.1f s" % took)
        recs = h.fires(redis, front, "dr-short")
        check("(short) the 5 cancelled sends are back in line: held or queued again, with "
              "no failed attempt recorded",
              len(recs) == 5 and all(v.get("state") in ("held", "queued") and
                                     not v.get("retries") for v in recs.values()),
              recs)
        check("(short) nothing of them was logged",
              not set(logged(redis, front)) & short_items, logged(redis, front))
        totals = h.metric_totals(redis, front, "dr-short")
        check("(short) no retry or dead letter counted",
              not any(what in ("retry", "dead") for (_, what) in totals), totals)

        # (after): another worker takes over.
        w = worker(redis, front, "dr-after", channels, 0, 10000)
        started.append(w)
        if not check("(after) a worker without delay starts", w.start(), "see stderr"):
            return
        done = h.wait_until(lambda: states(redis, front, "dr-short") == ["sent"] * 5,
                            timeout=15.0)
        check("(after) the 5 cancelled deliveries end \"sent\"", done,
              states(redis, front, "dr-short"))
        status = w.stop()
        check("(after) it exits 0 on SIGTERM", status == 0, "exit status %s" % status)
        recs = h.fires(redis, front, "dr-short")
        check("(after) each sent at attempt 1: the cancelled try used no attempt",
              all(v.get("attempts") == 1 for v in recs.values()),
              [(k, v.get("attempts")) for k, v in recs.items()])
        items = logged(redis, front)
        dupes = sorted({i for i in items if items.count(i) > 1})
        check("(after) the log holds the 10 deliveries exactly once each",
              sorted(items) == sorted(long_items | short_items) and not dupes,
              "%d entries, duplicates %s" % (len(items), dupes))
    finally:
        h.stop_all(started + [front], redis)


if __name__ == "__main__":
    h.run(main)
