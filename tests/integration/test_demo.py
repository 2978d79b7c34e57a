"""The demo environment: the 잠시멈춤 campaign replayed on a clock that starts
just before its window (March 2020) and runs SPEED times faster than real
time, by itself.

Processes: `haechi serve --roles api,worker` and `haechi serve --roles
scheduler` on one Redis, both given the same demo config (start, speed and
a shared epoch), so that the two read the same time.

- every firing of the campaign goes out on its channels, and the campaign
  ends "finished", within a real deadline of a few seconds;
- each firing goes out no earlier than its due time on the demo clock and
  promptly after it in real time (the scheduler's timer divides wall delays
  by the speed; without that it would sleep up to a minute per release);
- observed from outside, no firing is sent before the real moment at which
  the demo clock reaches its due time;
- the worker (another process) records each send at the scheduler's time;
- the test clock route answers 404: a demo clock cannot be set;
- both daemons exit 0 (no leak).
"""

import datetime
import time

import harness as h
from harness import check

SPEED = 2 * 86400             # two days a second: the 15 days in 7.5 s
LEAD_S = 2                    # real seconds from now to the epoch: start-up and submission
START = datetime.datetime(2020, 3, 21, 23, 50, tzinfo=h.SEOUL)  # 10 min before the window
# Real time the daemons may take to notice a due time: a timer's slop under
# sanitizers on a busy machine, plus one claim. At SPEED it is 4.8 h of
# campaign time; an unconverted timer would be hours of real time late.
PROMPT_S = 0.1


def expected_firings():
    """(release, due ms) of 잠시멈춤, from its rules (docs: 34 in the window)."""
    out = [("banner-window", h.seoul_ms(2020, 3, 22, 0)),
           ("alert-first-morning", h.seoul_ms(2020, 3, 22, 8))]
    day = datetime.date(2020, 3, 22)
    while day <= datetime.date(2020, 4, 5):
        out.append(("morning-post", h.seoul_ms(day.year, day.month, day.day, 9)))
        out.append(("afternoon-post", h.seoul_ms(day.year, day.month, day.day, 15)))
        if day.weekday() == 0:
            out.append(("monday-newsletter", h.seoul_ms(day.year, day.month, day.day, 10)))
        day += datetime.timedelta(days=1)
    return sorted(out, key=lambda f: f[1])


CHANNELS = {"banner-window": ["banner"], "alert-first-morning": ["alert"],
            "morning-post": ["kakao", "sns"], "afternoon-post": ["kakao", "sns"],
            "monday-newsletter": ["newsletter"]}


def ms_of(text):
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def main():
    redis = h.Redis("redis-demo")
    if not check("redis-server starts", redis.start()):
        return
    epoch = int(time.time()) + LEAD_S
    start_ms = int(START.timestamp() * 1000)
    extra = {
        "environment": "demo",
        "demo": {"start": START.isoformat(), "speed": SPEED,
                 "epoch": datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
                 .strftime("%Y-%m-%dT%H:%M:%SZ")},
        # Expiry is in campaign time: at SPEED the default hour is 21 ms.
        "engine": {"expires_after": "30d"},
    }

    def demo_now_ms(real):
        return start_ms + (real - epoch) * SPEED * 1000

    api = h.RoleDaemon("demo-api", redis.address, roles="api,worker", extra=extra)
    sched = h.RoleDaemon("demo-sched", redis.address, roles="scheduler", like=api)
    try:
        if not check("both daemons start in the demo environment",
                     api.start() and sched.start()):
            return
        s, b = h.submit_campaign(api, h.example_campaign())
        submitted = time.time()
        check("the campaign is submitted before the demo clock reaches its window",
              s == 201 and submitted < epoch + 10 * 60 / SPEED,
              "status %s %r; %.2f s after the epoch" % (s, b, submitted - epoch))

        s, _, b = api.http("POST", "/api/v1/test/clock", "admin", body={"advance_ms": 1000},
                           content_type="application/json")
        check("a demo clock cannot be set: POST /api/v1/test/clock answers 404",
              s == 404 and h.is_error_body(b), "status %s %r" % (s, b))

        seen_sent = {}  # (release, due, channel) -> real time first seen sent

        def finished():
            s, _, b = api.http("GET", "/api/v1/campaigns/jamsi-meomchum/releases", "viewer")
            # A send seen in this answer happened before the answer came: only
            # the time after it can prove a send early (the time before the
            # request would blame the daemon for the request's own duration).
            after = time.time()
            if s != 200 or not isinstance(b, dict):
                return None
            for f in b.get("releases") or []:
                for ch, rec in (f.get("channels") or {}).items():
                    if rec.get("state") == "sent":
                        seen_sent.setdefault((f["release"], ms_of(f["due"]), ch), after)
            # "finished" comes with the claim of the last firing; its sends
            # are still on their way then.
            moving = [rec for f in b.get("releases") or []
                      for rec in (f.get("channels") or {}).values()
                      if rec.get("state") in ("scheduled", "queued", "sending")]
            return b if b.get("status") == "finished" and not moving else None

        window_real = (expected_firings()[-1][1] - start_ms) / 1000 / SPEED
        body = h.wait_until(finished, timeout=LEAD_S + window_real + 10)
        took = time.time() - epoch
        check("the whole campaign is replayed and finished within %.0f s of real time"
              % (window_real + 10), body, "after %.1f s; last seen %r" % (took, body))
        if not body:
            return

        got = sorted(((f["release"], ms_of(f["due"])) for f in body["releases"]),
                     key=lambda f: f[1])
        want = expected_firings()
        check("every firing of the window went out: %d, as the rules say" % len(want),
              got == want, "missing %s; extra %s" % (
                  [(r, h.seoul_text(d)) for r, d in want if (r, d) not in got][:5],
                  [(r, h.seoul_text(d)) for r, d in got if (r, d) not in want][:5]))

        bad_state = [(f["release"], f["due"], ch, rec.get("state"))
                     for f in body["releases"] for ch, rec in f["channels"].items()
                     if rec.get("state") != "sent"]
        bad_channels = [(f["release"], f["due"], sorted(f["channels"]))
                        for f in body["releases"]
                        if sorted(f["channels"]) != CHANNELS.get(f["release"])]
        check("each firing was sent on each of its channels",
              not bad_state and not bad_channels, "%r %r" % (bad_state[:5], bad_channels[:5]))

        late = [(f["release"], f["due"], f.get("late_ms")) for f in body["releases"]
                if not isinstance(f.get("late_ms"), int) or f["late_ms"] < 0 or
                f["late_ms"] > PROMPT_S * SPEED * 1000]
        check("each fired at its due time on the demo clock: never early, late by at "
              "most %.1f s of real time" % PROMPT_S, not late, late[:5])

        order = [ms_of(f["due"]) + f.get("late_ms", 0) for f in body["releases"]]
        check("the firings fired in due order", len(order) == len(want) and order == sorted(order),
              [h.seoul_text(t) for t in order][:10])

        early = []
        for (rid, due, ch), real in sorted(seen_sent.items(), key=lambda kv: kv[0][1]):
            if demo_now_ms(real) < due:
                early.append("%s %s %s seen sent %.3f s of real time early"
                             % (rid, h.seoul_text(due), ch, (due - demo_now_ms(real)) / 1000
                                / SPEED))
        check("seen from outside, no firing was sent before the demo clock reached it "
              "(%d sends watched)" % len(seen_sent), seen_sent and not early, early[:5])

        skew = []
        for f in body["releases"]:
            fired_ms = ms_of(f["due"]) + f.get("late_ms", 0)
            for ch, rec in f["channels"].items():
                at = ms_of(rec["at"]) if rec.get("at") else None
                # "at" is in whole seconds of campaign time.
                if at is None or at < fired_ms - 1000 or at > fired_ms + PROMPT_S * SPEED * 1000:
                    skew.append((f["release"], f["due"], ch, rec.get("at"), f.get("fired")))
        check("the worker process recorded each send at the scheduler's time "
              "(the two processes read one clock)", not skew, skew[:5])
    finally:
        statuses = (sched.stop(), api.stop())
        check("both daemons exit 0 (no leak)", statuses == (0, 0), statuses)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
