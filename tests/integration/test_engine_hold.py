"""An adapter's hold (AGAIN with hold=1) and maybe_sent, on the virtual clock.

One `haechi serve` (all roles) with engine.backoff_ms = backoff_max_ms =
1000 and one release at 2020-06-01 12:00 KST on three channels, each on the
log adapter:
(hold)    sns, hold_ms 3600000: the adapter answers AGAIN+hold until an
          hour after the due time. The record shows "held" with the
          adapter's reason and until_ms = due + 1 h, using no attempt:
          nothing is logged and nothing retried while the clock moves on
          by minutes; once it reaches due + 1 h the item is sent on its
          first attempt, maybe_sent 0, with no retries and no retry metric.
(timeout) kakao, fail_attempts 1 and fail_timeout: attempt 1 fails with
          error class timeout; its failed record says unknown: true, and
          attempt 2 is sent with maybe_sent 1.
(retry)   newsletter, fail_attempts 1: an ordinary failure (network, with
          an answer); its record says unknown: false and attempt 2 is sent
          with maybe_sent 0.
A worker that dies mid-send (maybe_sent 1 after a reclaim) is covered by
test_engine_worker_kill.
"""

import harness as h
from harness import check

DUE = h.seoul_ms(2020, 6, 1, 12, 0)
HOLD_MS = 3600000
CID = "hold-1"
CHANNELS = ("sns", "kakao", "newsletter")


def record(redis, d, ch):
    return h.fires(redis, d, CID).get("go|%d|%s" % (DUE, ch)) or {}


def wait_state(redis, d, ch, state, timeout=15.0):
    def got():
        if not d.alive():
            return "daemon died"
        r = record(redis, d, ch)
        return r if r.get("state") == state else None
    r = h.wait_until(got, timeout, interval=0.02)
    return r if isinstance(r, dict) else record(redis, d, ch)


def logged(redis, d, ch):
    item = "%s|go|%d|%s" % (CID, DUE, ch)
    return [f for _, f in h.stream_entries(redis, h.engine_key(d, "log"))
            if f.get("item") == item]


def main():
    redis = h.Redis("hold-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        channels = {ch: {"adapter": "log"} for ch in h.ENGINE_CHANNELS}
        channels["sns"]["hold_ms"] = HOLD_MS
        channels["kakao"].update(fail_attempts=1, fail_timeout=True, quiet_hours=False)
        channels["newsletter"].update(fail_attempts=1, quiet_hours=False)
        d = h.RoleDaemon("hold", redis.address, extra={
            "environment": "test", "testing": {"virtual_clock": True},
            "channels": channels,
            "engine": {"backoff_ms": 1000, "backoff_max_ms": 1000, "max_attempts": 5}})
        if not check("haechi serve (virtual clock, log adapter hold_ms and faults) starts",
                     d.start(), "see stderr"):
            return
        s, b = h.set_clock(d, now_ms=DUE - 60000)
        check("the virtual clock is set to a minute before the release", s == 200, (s, b))
        doc = h.minimal_campaign(CID, list(CHANNELS), "2020-06-01", "2020-06-02",
                                 [{"id": "go", "at": "2020-06-01T12:00",
                                   "channels": list(CHANNELS)}])
        s, b = h.submit_campaign(d, doc)
        if not check("a release on sns, kakao and newsletter is accepted", s == 201, (s, b)):
            return
        s, b = h.set_clock(d, now_ms=DUE)
        check("the clock reaches the due time", s == 200, (s, b))

        rec = wait_state(redis, d, "sns", "held")
        check("(hold) the sns record is held with the adapter's reason",
              rec.get("state") == "held" and "injected quota" in (rec.get("reason") or ""),
              rec)
        check("(hold) held until an hour after the due time (until_ms)",
              abs((rec.get("until_ms") or 0) - (DUE + HOLD_MS)) <= 1000, rec)

        for ch, unknown in (("kakao", True), ("newsletter", False)):
            rec = wait_state(redis, d, ch, "failed")
            check("(%s) attempt 1 failed, its record says unknown: %s"
                  % ("timeout" if unknown else "retry", str(unknown).lower()),
                  rec.get("state") == "failed" and rec.get("attempts") == 1 and
                  rec.get("unknown") is unknown, rec)

        # Past every retry's next attempt, far short of the hold.
        s, b = h.set_clock(d, now_ms=DUE + 5 * 60000)
        check("the clock moves on 5 minutes", s == 200, (s, b))
        for ch, maybe in (("kakao", "1"), ("newsletter", "0")):
            rec = wait_state(redis, d, ch, "sent")
            entries = logged(redis, d, ch)
            check("(%s) sent on attempt 2 with maybe_sent %s"
                  % ("timeout" if maybe == "1" else "retry", maybe),
                  rec.get("state") == "sent" and rec.get("attempts") == 2 and
                  len(entries) == 1 and entries[0].get("attempt") == "2" and
                  entries[0].get("maybe_sent") == maybe, (rec, entries))

        rec = record(redis, d, "sns")
        check("(hold) 5 minutes on, sns is still held, never logged, no attempt used",
              rec.get("state") == "held" and rec.get("attempts") == 1 and
              not rec.get("retries") and not logged(redis, d, "sns"), rec)

        s, b = h.set_clock(d, now_ms=DUE + HOLD_MS)
        check("the clock reaches due + 1 h", s == 200, (s, b))
        rec = wait_state(redis, d, "sns", "sent")
        entries = logged(redis, d, "sns")
        check("(hold) then sns is sent on its first attempt, maybe_sent 0, no retries",
              rec.get("state") == "sent" and rec.get("attempts") == 1 and
              not rec.get("retries") and len(entries) == 1 and
              entries[0].get("attempt") == "1" and entries[0].get("maybe_sent") == "0",
              (rec, entries))
        totals = h.metric_totals(redis, d, CID)
        check("(hold) metrics: sns sent 1, no retry; kakao and newsletter one retry each",
              totals.get(("sns", "sent")) == 1 and not totals.get(("sns", "retry")) and
              totals.get(("kakao", "retry")) == 1 and
              totals.get(("newsletter", "retry")) == 1, totals)
    finally:
        h.stop_all([d], redis)


if __name__ == "__main__":
    h.run(main)
