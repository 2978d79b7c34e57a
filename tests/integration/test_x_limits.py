"""The X adapter's answers to X's refusals, end to end (a daemon whose sns
channel is the x adapter, against the X stand-in, real clock):

(a) an invalid request is a dead letter at once, with X's own message;
(b) a 503 is retried on the backoff and then sent;
(c) a 429 waits until the 15-minute window's reset (X sends no
    Retry-After: the delay comes from x-rate-limit-reset), then is sent;
(d) a 429 of the 24-hour cap (its remaining 0) waits for that cap's reset;
(e) a success that leaves a window's remaining at 0 holds the next send
    back until the reset without calling X (the stand-in sees no 429);
(f) the app's monthly usage cap holds the channel for a day with a reason
    that says so.
"""

import datetime
import os

import harness as h
from harness import check
from fakes import FakeError, start_fake

CLIENT_ID = "haechi-x-limits"
ACCESS = "x-access-limits"
SEED = "x-refresh-limits"
BACKOFF = 200


def daemon_for(redis, fake, name):
    channels = h.real_clock_channels()
    channels["sns"] = {"adapter": "x", "url": fake.url, "token_url": fake.url + "/2/oauth2/token",
                       "client_id": CLIENT_ID, "token_env": "HAECHI_TEST_X_TOKEN",
                       "refresh_token_env": "HAECHI_TEST_X_REFRESH"}
    d = h.RoleDaemon(name, redis.address, extra={
        "channels": channels,
        "engine": {"backoff_ms": BACKOFF, "backoff_max_ms": 60000, "max_attempts": 5}})
    env = dict(os.environ, HAECHI_TEST_X_TOKEN=ACCESS, HAECHI_TEST_X_REFRESH=SEED)
    ok = d.start(env=env, timeout=20.0)
    check("haechi serve (%s) starts with the x adapter on sns" % name, ok, "see stderr")
    return d if ok else None


def release(d, cid, seconds=2):
    """A campaign posting on X alone SECONDS from now; its due time (ms) or None."""
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
        datetime.timedelta(seconds=seconds)
    doc = h.minimal_campaign(cid, ["sns"], at.date().isoformat(),
                             (at.date() + datetime.timedelta(days=1)).isoformat(),
                             [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                               "channels": ["sns"]}])
    doc["sns"]["networks"] = ["x"]
    doc["sns"]["text"] = {"ko": "[서울시] %s 시험" % cid, "en": cid}
    s, b = h.submit_campaign(d, doc)
    return int(at.timestamp() * 1000) if check("campaign %s is accepted" % cid, s == 201,
                                               "%s %r" % (s, b)) else None


def record(redis, d, cid, at):
    return h.fires(redis, d, cid).get("go|%d|sns" % at) or {}


def wait_state(redis, d, cid, at, states, timeout=30.0):
    got = h.wait_until(lambda: record(redis, d, cid, at).get("state") in states and
                       record(redis, d, cid, at), timeout=timeout, interval=0.05)
    return got or record(redis, d, cid, at)


def first_gap(rec):
    r = (rec.get("retries") or [{}])[0]
    return r.get("next_attempt", 0) - r.get("at", 0), r.get("reason") or ""


def watch(redis, d, cid, at, states, timeout=30.0):
    """Polls the record until its state is one of STATES; returns it with
    every (state, reason, wait ms) seen on the way: an adapter's hold parks
    the item ("held", with until_ms) without a retry entry."""
    seen = []

    def look():
        rec = record(redis, d, cid, at)
        step = (rec.get("state"), rec.get("reason") or "",
                rec.get("until_ms", 0) - rec.get("at", 0) if rec.get("until_ms") else 0)
        if rec and (not seen or seen[-1] != step):
            seen.append(step)
        return rec if rec.get("state") in states else None

    rec = h.wait_until(look, timeout=timeout, interval=0.02) or record(redis, d, cid, at)
    for r in rec.get("retries") or []:
        seen.append(("retry", r.get("reason") or "", r.get("next_attempt", 0) - r.get("at", 0)))
    return rec, seen


def waited_for(seen, fragment):
    """The longest wait of a step whose reason holds FRAGMENT, and its reason."""
    hits = [(ms, why) for _, why, ms in seen if fragment in why]
    return max(hits) if hits else (0, "")


def statuses(fake):
    return [r.get("status") for r in fake.requests(path="/2/tweets", method="POST")]


def refusals(redis, fake, d):
    # (a) invalid: dead at once with X's message.
    fake.fault("error:invalid", count=1, route="/2/tweets")
    at = release(d, "xl-invalid")
    rec = wait_state(redis, d, "xl-invalid", at, ("dead", "sent"))
    check("(a) a 400 invalid-request is a dead letter after one attempt, with X's message",
          rec.get("state") == "dead" and rec.get("attempts") == 1 and
          "invalid request (HTTP 400: The `text` field is invalid.)" in (rec.get("reason") or ""),
          rec)

    # (b) 503: retried on the backoff, then sent.
    fake.fault("server-error", count=1, route="/2/tweets")
    at = release(d, "xl-503")
    rec = wait_state(redis, d, "xl-503", at, ("dead", "sent"))
    gap, why = first_gap(rec)
    check("(b) a 503 is retried after the backoff and then sent",
          rec.get("state") == "sent" and rec.get("attempts") == 2 and
          "server error (HTTP 503" in why and gap <= BACKOFF, rec)

    # (c) 429 of the 15-minute window: its reset, 2-3 s away.
    before = len(statuses(fake))
    fake.fault("rate-limit", count=1, route="/2/tweets", ms=2000)
    at = release(d, "xl-429")
    rec = wait_state(redis, d, "xl-429", at, ("dead", "sent"))
    gap, why = first_gap(rec)
    check("(c) a 429 waits for x-rate-limit-reset (no Retry-After), then is sent",
          rec.get("state") == "sent" and rec.get("attempts") == 2 and "rate limited" in why and
          1000 <= gap <= 3100, "gap %s; %r" % (gap, rec))
    check("(c) X saw the 429 and one successful post", statuses(fake)[before:] == [429, 201],
          statuses(fake)[before:])

    # (d) 429 of the 24-hour cap: the 15-minute window still has room.
    fake.fault("error:rate-limit-24h", count=1, route="/2/tweets", ms=2500)
    at = release(d, "xl-24h")
    rec = wait_state(redis, d, "xl-24h", at, ("dead", "sent"))
    gap, why = first_gap(rec)
    check("(d) a 429 of the 24-hour cap waits for x-user-limit-24hour-reset",
          rec.get("state") == "sent" and 1500 <= gap <= 3600, "gap %s; %r" % (gap, rec))


def usage_capped(redis, fake, d):
    fake.fault("error:usage-capped", count=1, route="/2/tweets")
    at = release(d, "xl-cap")
    if at is None:
        return

    def answered():
        rec = record(redis, d, "xl-cap", at)
        return rec if rec.get("state") == "held" or rec.get("retries") else None

    rec = h.wait_until(answered, timeout=20.0) or {}
    if rec.get("state") == "held":  # parked, no attempt used
        gap, why = rec.get("until_ms", 0) - rec.get("at", 0), rec.get("reason") or ""
    else:
        gap, why = first_gap(rec)
    check("(f) the monthly usage cap holds the send a day, with a reason that says so",
          "usage-capped" in why and "monthly post cap" in why and gap >= 23 * 3600 * 1000,
          "gap %s; %r" % (gap, rec))


def held_back(redis):
    """(e) a window of one post per 8 s: the second post is held, not refused."""
    tmp = h.new_dir("x-limits-hold")
    try:
        fake = start_fake("x", tmp, "--token", ACCESS, "--refresh-token", SEED, "--client-id",
                          CLIENT_ID, "--limit-15min", "1", "--window-15min-s", "8")
    except FakeError as e:
        check("(e) the X stand-in starts", False, str(e))
        return
    d = daemon_for(redis, fake, "xhold")
    try:
        if not d:
            return
        first = release(d, "xl-first", seconds=2)
        second = release(d, "xl-second", seconds=4)
        if first is None or second is None:
            return
        a = wait_state(redis, d, "xl-first", first, ("dead", "sent"))
        b, seen = watch(redis, d, "xl-second", second, ("dead", "sent"))
        gap, why = waited_for(seen, "rate window is used up")
        check("(e) both posts are made", a.get("state") == "sent" and b.get("state") == "sent",
              "%r %r" % (a, b))
        check("(e) the second waited for the window without calling X (no 429)",
              statuses(fake) == [201, 201] and "not called" in why and gap >= 1000,
              "%s; seen %r; %r" % (statuses(fake), seen, b))
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve (xhold) exits 0 on SIGTERM", status == 0, "exit %s" % status)
        fake.stop()


def main():
    tmp = h.new_dir("x-limits")
    try:
        fake = start_fake("x", tmp, "--token", ACCESS, "--refresh-token", SEED, "--client-id",
                          CLIENT_ID)
    except FakeError as e:
        check("the X stand-in starts", False, str(e))
        return
    redis = h.Redis()
    if not check("private redis-server answers PING", redis.start(), "see stderr"):
        fake.stop()
        return
    d = None
    try:
        d = daemon_for(redis, fake, "xlimits")
        if not d:
            return
        refusals(redis, fake, d)
        usage_capped(redis, fake, d)  # last: it pauses the channel for a day
        status = d.stop()
        d = None
        check("haechi serve (xlimits) exits 0 on SIGTERM", status == 0, "exit %s" % status)
        held_back(redis)
    finally:
        if d and d.process:
            d.stop()
        fake.stop()
        redis.stop()


if __name__ == "__main__":
    h.run(main)
