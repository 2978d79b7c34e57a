"""The X adapter's OAuth 2.0 token flow, end to end: a daemon whose sns
channel is served by the x adapter, against the X stand-in.

1. The access token the daemon starts with expires (the stand-in's clock
   moves past its two hours); the next release's first request gets a 401,
   the adapter refreshes with the seed refresh token, and posts.
2. The rotated pair is in Redis (PREFIX:{e}:cred:x:CLIENT_ID), and no token
   (the seed, the rotated ones) appears in the daemon's log.
3. A restarted daemon, with the same config (its seed is dead by now) and
   the stand-in's clock moved past the new access token's life too, takes
   the Redis copy, refreshes with it and posts.
4. Two worker processes whose token expired at once: one refresh between
   them (the stand-in kills a refresh token on use, so a second refresh
   with the same one would be refused), every post made.
"""

import datetime
import os

import harness as h
from harness import check
from fakes import FakeError, start_fake

CLIENT_ID = "haechi-x-tokens"
ACCESS = "x-access-seed"
SEED = "x-refresh-seed"
TWO_HOURS_MS = 7200 * 1000


def x_channels(fake):
    channels = h.real_clock_channels()
    channels["sns"] = {
        "adapter": "x",
        "url": fake.url,
        "token_url": fake.url + "/2/oauth2/token",
        "client_id": CLIENT_ID,
        "token_env": "HAECHI_TEST_X_TOKEN",
        "refresh_token_env": "HAECHI_TEST_X_REFRESH",
    }
    return channels


def release_soon(daemon, cid, text, seconds=3):
    """A campaign posting TEXT on sns (X only) a few seconds from now; the
    release's due time in epoch ms, or None when it was refused."""
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
        datetime.timedelta(seconds=seconds)
    doc = h.minimal_campaign(cid, ["sns"], at.date().isoformat(),
                             (at.date() + datetime.timedelta(days=1)).isoformat(),
                             [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                               "channels": ["sns"]}])
    doc["sns"]["networks"] = ["x"]
    doc["sns"]["text"] = {"ko": text, "en": "token test"}  # en: or the long body is checked
    s, b = h.submit_campaign(daemon, doc)
    if not check("campaign %s is accepted" % cid, s == 201, "%s %r" % (s, b)):
        return None
    return int(at.timestamp() * 1000)


def settled(redis, daemon, cid, at_ms):
    rec = h.fires(redis, daemon, cid).get("go|%d|sns" % at_ms)
    if not rec or rec.get("state") in (None, "queued", "sending"):
        return None
    return rec


def tokens_seen(fake):
    """Every access and refresh token the stand-in issued or took."""
    out = {ACCESS, SEED}
    for r in fake.requests(path="/2/oauth2/token"):
        body = r.get("body")
        if isinstance(body, dict) and body.get("refresh_token"):
            out.add(body["refresh_token"])
    state = fake.state()
    if state.get("refresh_token"):
        out.add(state["refresh_token"])
    return out


def start_daemon(redis, name, fake, like=None):
    """`haechi serve` with every role; with LIKE, on that daemon's prefix and config."""
    d = h.RoleDaemon(name, redis.address, extra=None if like else {"channels": x_channels(fake)},
                     like=like)
    env = dict(os.environ, HAECHI_TEST_X_TOKEN=ACCESS, HAECHI_TEST_X_REFRESH=SEED)
    ok = d.start(env=env, timeout=20.0)
    check("haechi serve (%s) starts with the x adapter on sns" % name, ok, "see stderr")
    return d if ok else None


def post_and_wait(redis, d, fake, cid, text):
    at = release_soon(d, cid, text)
    if at is None:
        return None
    rec = h.wait_until(lambda: settled(redis, d, cid, at), timeout=30.0, interval=0.1)
    posts = [p for p in fake.state()["posts"] if p["raw_text"].startswith(text)]
    check("%s: the release is sent, with the stand-in's post id and its follower count" % cid,
          bool(rec) and rec.get("state") == "sent" and len(posts) == 1 and
          rec.get("external_id") == posts[0]["id"] and rec.get("reach") == 230000,
          "record %r; posts %r" % (rec, posts))
    return rec


def another_process_refreshes(redis, fake, front):
    """The test plays another process that holds the refresh lock: the
    workers wait for it rather than refresh, and take the pair it stores."""
    key = h.engine_key(front, "cred:x:" + CLIENT_ID)
    before = len(fake.requests(path="/2/oauth2/token"))
    fake.clock(advance_ms=TWO_HOURS_MS + 1000)
    check("the lock is taken by 'another process'",
          redis.command("SET", key + ":lock", "someone-else", "NX", "PX", "15000") == "OK")
    unauthorized = len([r for r in fake.requests() if r.get("status") == 401])
    at = release_soon(front, "xrace-lock", "[서울시] 잠금 대기")
    if at is None:
        return
    met_401 = h.wait_until(lambda: len([r for r in fake.requests() if r.get("status") == 401]) >
                           unauthorized, timeout=20.0)
    check("a worker met the expired token", bool(met_401))
    rotated = h.hash_all(redis, key).get("refresh_token")
    s, _, b = h.http(fake.url, "POST", "/2/oauth2/token",
                     body=("grant_type=refresh_token&refresh_token=%s&client_id=%s"
                           % (rotated, CLIENT_ID)).encode(),
                     content_type="application/x-www-form-urlencoded")
    check("'another process' refreshes", s == 200 and b.get("access_token"), "%s %r" % (s, b))
    if s != 200:
        return
    exp = int((datetime.datetime.now().timestamp() + 7200) * 1000)
    redis.command("HSET", key, "access_token", b["access_token"], "refresh_token",
                  b["refresh_token"], "expires_at_ms", str(exp))
    redis.command("DEL", key + ":lock")
    rec = h.wait_until(lambda: settled(redis, front, "xrace-lock", at), timeout=20.0,
                       interval=0.1)
    check("the release waiting on the lock is sent with the other process's token",
          bool(rec) and rec.get("state") == "sent", rec)
    check("no worker refreshed while the other process held the lock",
          len(fake.requests(path="/2/oauth2/token")) == before + 1,
          fake.requests(path="/2/oauth2/token")[before:])


def race(redis, fake):
    fake.reset()  # the seed is alive again, the posts are forgotten
    fake.clock(advance_ms=TWO_HOURS_MS + 1000)
    front = h.RoleDaemon("xrace", redis.address, roles="api,scheduler",
                         extra={"channels": x_channels(fake)})
    env = dict(os.environ, HAECHI_TEST_X_TOKEN=ACCESS, HAECHI_TEST_X_REFRESH=SEED)
    nodes = [front]
    try:
        if not check("haechi serve --roles api,scheduler starts", front.start(env=env)):
            return
        for i in (1, 2):
            w = h.RoleDaemon("xrace-w%d" % i, redis.address, roles="worker", like=front)
            nodes.append(w)
            if not check("worker %d starts" % i, w.start(env=env, timeout=20.0)):
                return
        at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
            datetime.timedelta(seconds=3)
        dues = {}
        for i in range(6):
            cid = "xrace-%d" % i
            doc = h.minimal_campaign(cid, ["sns"], at.date().isoformat(),
                                     (at.date() + datetime.timedelta(days=1)).isoformat(),
                                     [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                                       "channels": ["sns"]}])
            doc["sns"]["networks"] = ["x"]
            doc["sns"]["text"] = {"ko": "[서울시] 동시 갱신 %d" % i, "en": "race %d" % i}
            s, b = h.submit_campaign(front, doc)
            if not check("campaign %s is accepted" % cid, s == 201, "%s %r" % (s, b)):
                return
            dues[cid] = int(at.timestamp() * 1000)
        recs = h.wait_until(
            lambda: all(settled(redis, front, c, t) for c, t in dues.items()) and
            [settled(redis, front, c, t) for c, t in dues.items()], timeout=40.0, interval=0.1)
        check("all 6 releases are sent", bool(recs) and
              all(r.get("state") == "sent" for r in recs), recs)
        refreshes = fake.requests(path="/2/oauth2/token")
        check("the two workers refreshed once between them, and nothing was refused",
              [r["status"] for r in refreshes] == [200], refreshes)
        check("the stand-in holds 6 posts, none twice", len(fake.state()["posts"]) == 6,
              len(fake.state()["posts"]))
        stored = h.hash_all(redis, h.engine_key(front, "cred:x:" + CLIENT_ID))
        check("Redis holds the refresh token the stand-in will take next",
              stored.get("refresh_token") == fake.state()["refresh_token"], stored)
        another_process_refreshes(redis, fake, front)
    finally:
        for n in nodes:
            if n.process:
                status = n.stop()
                check("%s exits 0 on SIGTERM" % n.name, status == 0, "exit status %s" % status)


def main():
    tmp = h.new_dir("x-tokens")
    try:
        fake = start_fake("x", tmp, "--token", ACCESS, "--refresh-token", SEED,
                          "--client-id", CLIENT_ID)
    except FakeError as e:
        check("the X stand-in starts", False, str(e))
        return
    redis = h.Redis()
    if not check("private redis-server answers PING", redis.start(), "see stderr"):
        fake.stop()
        return
    first = second = None
    try:
        first = start_daemon(redis, "xtok1", fake)
        if not first:
            return
        key = h.engine_key(first, "cred:x:" + CLIENT_ID)

        # 1. The seed access token expires on the stand-in's clock.
        fake.clock(advance_ms=TWO_HOURS_MS + 1000)
        if not post_and_wait(redis, first, fake, "xtok-a", "[서울시] 잠시 멈춤 토큰 시험 1"):
            return
        refreshes = fake.requests(path="/2/oauth2/token")
        check("one refresh, with the seed refresh token and the client id, answered 200",
              len(refreshes) == 1 and refreshes[0]["body"].get("refresh_token") == SEED and
              refreshes[0]["body"].get("client_id") == CLIENT_ID and
              refreshes[0]["status"] == 200, refreshes)
        unauthorized = [r for r in fake.requests() if r.get("status") == 401]
        check("the expired token met one 401 before the refresh", len(unauthorized) == 1,
              unauthorized)

        # 2. The rotated pair is in Redis; no token is in the daemon's log.
        stored = h.hash_all(redis, key)
        rotated = fake.state()["refresh_token"]
        check("Redis holds the rotated refresh token (not the seed) and a new access token",
              stored.get("refresh_token") == rotated and rotated != SEED and
              stored.get("access_token") not in (None, "", ACCESS) and
              int(stored.get("expires_at_ms", "0")) > 0, stored)
        check("no lock is left behind", redis.command("EXISTS", key + ":lock") == 0)
        first_conf = first
        status = first.stop()
        first = None
        check("the first daemon exits 0", status == 0, "exit status %s" % status)

        # 3. A restarted daemon (same prefix and config): the seed is dead,
        # and the access token in Redis expires too.
        fake.clock(advance_ms=TWO_HOURS_MS + 1000)
        second = start_daemon(redis, "xtok2", fake, like=first_conf)
        if not second:
            return
        if not post_and_wait(redis, second, fake, "xtok-b", "[서울시] 잠시 멈춤 토큰 시험 2"):
            return
        refreshes = fake.requests(path="/2/oauth2/token")
        check("the restarted daemon refreshed with the Redis copy, not the dead seed",
              len(refreshes) == 2 and refreshes[1]["body"].get("refresh_token") == rotated and
              refreshes[1]["status"] == 200, refreshes)
        stored = h.hash_all(redis, key)
        check("Redis holds the pair rotated again",
              stored.get("refresh_token") == fake.state()["refresh_token"] and
              stored.get("refresh_token") != rotated, stored)
        log_text = ""
        for d in (first_conf, second):
            log_text += d.log_text()
        leaked = sorted(t for t in tokens_seen(fake) if t in log_text)
        check("no token (seed, rotated, access) is in the daemons' logs", not leaked and log_text,
              "found %s" % leaked)
        status = second.stop()
        second = None
        check("the restarted daemon exits 0", status == 0, "exit status %s" % status)
        race(redis, fake)
    finally:
        for d in (first, second):
            if d and d.process:
                status = d.stop()
                check("haechi serve (%s) exits 0 on SIGTERM" % d.name, status == 0,
                      "exit status %s" % status)
        fake.stop()
        redis.stop()


if __name__ == "__main__":
    h.run(main)
