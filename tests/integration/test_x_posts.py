"""The X adapter on the worker's two later paths, end to end (a daemon on
the virtual clock, sns on the x adapter, against the X stand-in):

1. The answer to the post is dropped after X stored it: the attempt's
   outcome is unknown, the next attempt (maybe_sent) looks on the account
   (GET /2/users/:id/tweets, where links come back as t.co), finds the
   post and records its id: one post on X, never two. (When libcurl
   re-sends the request on a new connection, X refuses the copy as a
   duplicate and the same attempt looks and finds it.)
2. Insights: an hour after the post the worker polls it and records the
   stand-in's impressions (followers x minutes / 4800).
"""

import os

import harness as h
from harness import check
from fakes import FakeError, start_fake

CLIENT_ID = "haechi-x-posts"
ACCESS = "x-access-posts"
SEED = "x-refresh-posts"
DUE = h.seoul_ms(2020, 6, 1, 9, 0)
HOUR = 3600000
CID = "xposts"
TEXT = "[서울시] 잠시 멈춤에 함께해 주세요 https://www.seoul.go.kr/"


def key():
    return "go|%d|sns" % DUE


def record(redis, d):
    return h.fires(redis, d, CID).get(key()) or {}


def main():
    tmp = h.new_dir("x-posts")
    try:
        fake = start_fake("x", tmp, "--token", ACCESS, "--refresh-token", SEED, "--client-id",
                          CLIENT_ID)
    except FakeError as e:
        check("the X stand-in starts", False, str(e))
        return
    redis = h.Redis()
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        channels = h.real_clock_channels()
        channels["sns"] = {"adapter": "x", "url": fake.url,
                           "token_url": fake.url + "/2/oauth2/token", "client_id": CLIENT_ID,
                           "token_env": "HAECHI_TEST_X_TOKEN",
                           "refresh_token_env": "HAECHI_TEST_X_REFRESH", "quiet_hours": False}
        d = h.RoleDaemon("xposts", redis.address, extra={
            "environment": "test", "testing": {"virtual_clock": True}, "channels": channels,
            "engine": {"backoff_ms": 1000, "backoff_max_ms": 2000, "max_attempts": 5}})
        env = dict(os.environ, HAECHI_TEST_X_TOKEN=ACCESS, HAECHI_TEST_X_REFRESH=SEED)
        if not check("haechi serve (virtual clock, sns on x) starts", d.start(env=env, timeout=20.0),
                     "see stderr"):
            return
        h.set_clock(d, now_ms=DUE - 60000)
        doc = h.minimal_campaign(CID, ["sns"], "2020-06-01", "2020-06-02",
                                 [{"id": "go", "at": "2020-06-01T09:00", "channels": ["sns"]}])
        doc["sns"]["networks"] = ["x"]
        doc["sns"]["text"] = {"ko": TEXT, "en": "pause"}
        s, b = h.submit_campaign(d, doc)
        if not check("the campaign is accepted", s == 201, (s, b)):
            return

        # 1. The answer is dropped after the post was stored. Either the
        # attempt fails with an unknown outcome and the next one looks, or
        # (libcurl re-sends a request whose reused connection died) X
        # refuses the copy as a duplicate and the same attempt looks.
        fake.fault("drop-after-store", count=1, route="/2/tweets")
        h.set_clock(d, now_ms=DUE)
        first = h.wait_until(lambda: (record(redis, d).get("retries") or
                                      record(redis, d).get("state") == "sent") and
                             record(redis, d), timeout=20.0) or record(redis, d)
        if first.get("retries"):
            check("the dropped answer is a failed attempt whose outcome is unknown",
                  first.get("unknown") is True and
                  "may have been posted" in (first["retries"][0].get("reason") or ""), first)
            h.set_clock(d, now_ms=DUE + 10000)
        rec = h.wait_until(lambda: record(redis, d).get("state") == "sent" and record(redis, d),
                           timeout=20.0) or record(redis, d)
        posts = fake.state()["posts"]
        check("the post is found on the account and its id recorded: one post on X",
              rec.get("state") == "sent" and len(posts) == 1 and
              rec.get("external_id") == posts[0]["id"] and rec.get("reach") == 230000,
              "record %r; posts %r" % (rec, posts))
        looks = fake.requests(path="/2/users/%s/tweets" % fake.state()["user"]["id"])
        check("it looked among the account's posts since the due time minus 10 minutes",
              len(looks) == 1 and looks[0]["query"].get("start_time") == "2020-05-31T23:50:00Z",
              looks)

        # 2. Insights an hour after the post.
        fake.clock(advance_ms=HOUR)
        h.set_clock(d, now_ms=rec.get("at", DUE) + HOUR + 1000)
        got = h.wait_until(lambda: (record(redis, d).get("insights") or {}).get("polls") == 1 and
                           record(redis, d)["insights"], timeout=20.0)
        got = got or record(redis, d).get("insights") or {}
        minutes = 60  # the stand-in's age of the post, in whole minutes
        check("an hour later the worker records the post's impressions from X",
              got.get("impressions") in (230000 * minutes // 4800,
                                         230000 * (minutes + 1) // 4800), got)
        polls = fake.requests(path="/2/tweets/%s" % rec.get("external_id"))
        check("the poll asked for the post's public and non-public metrics",
              len(polls) == 1 and "non_public_metrics" in
              polls[0]["query"].get("tweet.fields", ""), polls)
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM", status == 0, "exit status %s" % status)
        fake.stop()
        redis.stop()


if __name__ == "__main__":
    h.run(main)
