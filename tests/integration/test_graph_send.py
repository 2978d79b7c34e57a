"""The facebook and instagram adapters end to end: a daemon whose sns
channel is served by one of them, against its stand-in (real clock).

Facebook: a release is sent with the post's id and the page's fan count;
an answer dropped after the post was stored is found on the page (no second
post, whether the client's own resend met 506 or the next attempt looked); a duplicate refusal after an unknown
outcome counts as sent; a policy block (368) and an expired page token
(190/463) are dead letters with reasons naming the code (and the config
field for the token); usage headers at or over the threshold hold the next
send back before it calls.

Instagram: container, status polls while IN_PROGRESS, publish, with the
media id and the follower count; an answer dropped after the publish makes
no second media; an ERROR container is a dead letter with
its subcode's meaning; a full publishing quota holds the release (state
held, no attempt used, the reason names the quota) and sends nothing; a
campaign without an image is refused at submission.
"""

import datetime
import itertools
import os

import harness as h
from harness import check
from fakes import start_fake

FB_TOKEN = "fb-page-token-e2e"
IG_TOKEN = "ig-token-e2e"
PAGE = "104000000000001"
IG = "17841400000000001"
_serial = itertools.count(1)


def fb_section(fake, **extra):
    sec = {"adapter": "facebook", "url": fake.url, "page_id": PAGE,
           "token_env": "HAECHI_TEST_FB_TOKEN", "usage_backoff_s": 1}
    sec.update(extra)
    return sec


def ig_section(fake, **extra):
    sec = {"adapter": "instagram", "url": fake.url, "ig_user_id": IG,
           "token_env": "HAECHI_TEST_IG_TOKEN", "poll_interval_ms": 100, "poll_max": 40,
           "quota_wait_s": 600}
    sec.update(extra)
    return sec


def start_daemon(redis, name, section):
    channels = h.real_clock_channels()
    channels["sns"] = section
    # A call times out after 1.5 s: a "slow" answer (the post stored, the
    # answer held) is an unknown outcome, and the retry is maybe_sent.
    d = h.RoleDaemon(name, redis.address,
                     extra={"channels": channels, "outbound": {"timeout_ms": 1500}})
    env = dict(os.environ, HAECHI_TEST_FB_TOKEN=FB_TOKEN, HAECHI_TEST_IG_TOKEN=IG_TOKEN)
    ok = d.start(env=env, timeout=20.0)
    check("haechi serve (%s) starts with the %s adapter on sns" % (name, section["adapter"]),
          ok, "see stderr")
    return d if ok else None


def release_soon(daemon, cid, network, text, image=True, seconds=2, refused=None):
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
        datetime.timedelta(seconds=seconds)
    doc = h.minimal_campaign(cid, ["sns"], at.date().isoformat(),
                             (at.date() + datetime.timedelta(days=1)).isoformat(),
                             [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                               "channels": ["sns"]}])
    doc["sns"]["networks"] = [network]
    doc["sns"]["text"] = {"ko": text, "en": "graph test"}
    doc["message"].pop("image", None)
    doc["message"].pop("hashtags", None)
    doc["sns"].pop("hashtags", None)
    if image:
        doc["sns"]["image"] = image if isinstance(image, str) else \
            "https://www.seoul.go.kr/campaigns/jamsi-meomchum/poster.png"
    else:
        doc["sns"].pop("image", None)
    s, b = h.submit_campaign(daemon, doc)
    if refused:
        errs = b.get("errors", []) if isinstance(b, dict) else []
        check("campaign %s is refused: %s" % (cid, refused),
              s == 400 and any(refused in e.get("message", "") for e in errs), "%s %r" % (s, b))
        return None
    if not check("campaign %s is accepted" % cid, s == 201, "%s %r" % (s, b)):
        return None
    return int(at.timestamp() * 1000)


def record(redis, daemon, cid, at_ms, done=("sent", "dead", "declined", "failed")):
    rec = h.fires(redis, daemon, cid).get("go|%d|sns" % at_ms)
    return rec if rec and rec.get("state") in done else None


def wait_record(redis, d, cid, at, done=("sent", "dead", "declined", "failed"), timeout=30.0):
    return h.wait_until(lambda: record(redis, d, cid, at, done), timeout=timeout, interval=0.1)


def dead_reason(redis, d, cid):
    for _, fields in h.stream_entries(redis, h.engine_key(d, "dead")):
        if fields.get("campaign") == cid:
            return fields.get("reason", "")
    return ""


def text():
    return "[서울시] 잠시 멈춤 e2e %d" % next(_serial)


def facebook_cases(redis, tmp):
    fake = start_fake("facebook", tmp, "--token", FB_TOKEN, "--page-id", PAGE)
    d = start_daemon(redis, "fbsend", fb_section(fake))
    if not d:
        fake.stop()
        return
    try:
        msg = text()
        at = release_soon(d, "fb-ok", "facebook", msg)
        rec = wait_record(redis, d, "fb-ok", at) if at else None
        posts = [p for p in fake.state()["posts"] if p["message"] == msg]
        check("facebook: the release is sent with the post's id and 360000 fans as reach",
              bool(rec) and rec.get("state") == "sent" and len(posts) == 1 and
              rec.get("external_id") == posts[0]["id"] and str(rec.get("reach")) == "360000",
              "record %r; posts %r" % (rec, posts))
        feed = fake.state()["posts"]
        reads = fake.requests(path="/%s" % PAGE, method="GET")
        check("facebook: the fan count was read once before the post",
              len(reads) == 1 and reads[0]["query"].get("fields") == "fan_count,followers_count",
              repr(reads))

        fake.fault("drop-after-store", route="/:page/feed")
        msg = text()
        at = release_soon(d, "fb-drop", "facebook", msg)
        rec = wait_record(redis, d, "fb-drop", at, done=("sent", "dead"), timeout=60.0) \
            if at else None
        posts = [p for p in fake.state()["posts"] if p["message"] == msg]
        looks = [r for r in fake.requests(path="/%s/feed" % PAGE, method="GET")]
        check("facebook: an answer dropped after the post was stored: one post on the page, "
              "and the item is sent with its id",
              bool(rec) and rec.get("state") == "sent" and len(posts) == 1 and
              rec.get("external_id") == posts[0]["id"], "record %r; posts %r" % (rec, posts))
        check("facebook: the look-up that decided it read the page's feed since the window",
              len(looks) >= 1 and looks[-1]["query"].get("since"), repr(looks))

        fake.fault("slow", route="/:page/feed", ms=4000)
        msg = text()
        before = len(fake.requests(path="/%s/feed" % PAGE, method="POST"))
        at = release_soon(d, "fb-late", "facebook", msg)
        rec = wait_record(redis, d, "fb-late", at, done=("sent", "dead"), timeout=60.0) \
            if at else None
        posts = [p for p in fake.state()["posts"] if p["message"] == msg]
        tries = len(fake.requests(path="/%s/feed" % PAGE, method="POST")) - before
        check("facebook: a post whose answer came too late is found on the page by the retry "
              "(maybe_sent) and not posted again",
              bool(rec) and rec.get("state") == "sent" and len(posts) == 1 and
              rec.get("external_id") == posts[0]["id"] and tries == 1,
              "record %r; posts %r; post requests %d" % (rec, posts, tries))

        fake.fault("error:policy", route="/:page/feed")
        at = release_soon(d, "fb-policy", "facebook", text())
        rec = wait_record(redis, d, "fb-policy", at) if at else None
        reason = dead_reason(redis, d, "fb-policy")
        check("facebook: a policy block (368) is a dead letter at once, with an alert reason",
              bool(rec) and rec.get("state") in ("dead", "failed") and "Graph 368" in reason and
              "alert" in reason, "record %r; reason %r" % (rec, reason))

        fake.fault("expire-token", route="/:page/feed")
        at = release_soon(d, "fb-token", "facebook", text())
        rec = wait_record(redis, d, "fb-token", at) if at else None
        reason = dead_reason(redis, d, "fb-token")
        check("facebook: an expired page token is a dead letter naming 190/463 and token_env",
              bool(rec) and rec.get("state") in ("dead", "failed") and
              "190/463" in reason and "HAECHI_TEST_FB_TOKEN (token_env)" in reason and
              FB_TOKEN not in reason, "record %r; reason %r" % (rec, reason))
        check("facebook: no token in the daemon's log", FB_TOKEN not in d.log_text(),
              "token found")
        del feed
    finally:
        d.stop()
        fake.stop()


def facebook_hold_back(redis, tmp):
    fake = start_fake("facebook", tmp, "--token", FB_TOKEN, "--page-id", PAGE,
                      "--usage-after", "0", "--usage-percent", "97")
    d = start_daemon(redis, "fbhold", fb_section(fake, usage_backoff_s=3600))
    if not d:
        fake.stop()
        return
    try:
        msg = text()
        at = release_soon(d, "fb-usage1", "facebook", msg)
        rec = wait_record(redis, d, "fb-usage1", at) if at else None
        check("facebook at 97% usage: the post that saw it is sent",
              bool(rec) and rec.get("state") == "sent", repr(rec))
        before = len(fake.requests())
        at = release_soon(d, "fb-usage2", "facebook", text())
        rec = h.wait_until(lambda: (h.fires(redis, d, "fb-usage2") or {}).get(
            "go|%d|sns" % at, {}).get("reason"), timeout=20.0) if at else None
        check("facebook: the next send is held back without calling (usage at 97% >= 95%)",
              rec and "X-App-Usage" in rec and "97%" in rec and len(fake.requests()) == before,
              "%r; requests %d -> %d" % (rec, before, len(fake.requests())))
    finally:
        d.stop()
        fake.stop()


def instagram_cases(redis, tmp):
    fake = start_fake("instagram", tmp, "--token", IG_TOKEN, "--ig-user-id", IG,
                      "--ready-after-ms", "300")
    d = start_daemon(redis, "igsend", ig_section(fake))
    if not d:
        fake.stop()
        return
    try:
        cap = text()
        at = release_soon(d, "ig-ok", "instagram", cap)
        rec = wait_record(redis, d, "ig-ok", at) if at else None
        media = [m for m in fake.state()["media"] if m["caption"] == cap]
        polls = [r for r in fake.requests(method="GET")
                 if r["query"].get("fields") == "status_code,status"]
        check("instagram: sent with the media id and 280000 followers, after status polls",
              bool(rec) and rec.get("state") == "sent" and len(media) == 1 and
              rec.get("external_id") == media[0]["id"] and str(rec.get("reach")) == "280000" and
              len(polls) >= 2, "record %r; media %r; polls %d" % (rec, media, len(polls)))

        fake.fault("drop-after-store", route="/:ig/media_publish")
        cap = text()
        at = release_soon(d, "ig-drop", "instagram", cap)
        rec = wait_record(redis, d, "ig-drop", at, done=("sent", "dead"), timeout=60.0) \
            if at else None
        media = [m for m in fake.state()["media"] if m["caption"] == cap]
        check("instagram: an answer dropped after the publish: one media on the account, and "
              "the item is sent with its id",
              bool(rec) and rec.get("state") == "sent" and len(media) == 1 and
              rec.get("external_id") == media[0]["id"], "record %r; media %r" % (rec, media))

        fake.fault("slow", route="/:ig/media_publish", ms=4000)
        cap = text()
        at = release_soon(d, "ig-late", "instagram", cap)
        rec = wait_record(redis, d, "ig-late", at, done=("sent", "dead"), timeout=60.0) \
            if at else None
        media = [m for m in fake.state()["media"] if m["caption"] == cap]
        check("instagram: a publish whose answer came too late is found on the account by the "
              "retry (maybe_sent) and not published again",
              bool(rec) and rec.get("state") == "sent" and len(media) == 1 and
              rec.get("external_id") == media[0]["id"], "record %r; media %r" % (rec, media))

        release_soon(d, "ig-noimage", "instagram", text(), image=False,
                     refused="instagram cannot post text alone")
        doc_image = "https://broken.example/poster.jpg"
        at = release_soon(d, "ig-error", "instagram", text(), image=doc_image)
        rec = wait_record(redis, d, "ig-error", at) if at else None
        reason = dead_reason(redis, d, "ig-error")
        check("instagram: an ERROR container is a dead letter with its subcode's meaning",
              bool(rec) and rec.get("state") in ("dead", "failed") and
              "Graph 9004/2207052" in reason and "could not be fetched" in reason,
              "record %r; reason %r" % (rec, reason))
    finally:
        d.stop()
        fake.stop()


def instagram_quota(redis, tmp):
    fake = start_fake("instagram", tmp, "--token", IG_TOKEN, "--ig-user-id", IG,
                      "--quota-total", "0")
    d = start_daemon(redis, "igquota", ig_section(fake))
    if not d:
        fake.stop()
        return
    try:
        at = release_soon(d, "ig-quota", "instagram", text())
        rec = h.wait_until(lambda: (h.fires(redis, d, "ig-quota") or {}).get(
            "go|%d|sns" % at, {}), timeout=20.0) if at else None
        rec = h.wait_until(lambda: record(redis, d, "ig-quota", at, ("held",)) or
                           (h.fires(redis, d, "ig-quota") or {}).get("go|%d|sns" % at, {})
                           .get("reason"), timeout=20.0) if at else None
        check("instagram: a full quota holds the release with the quota in its reason",
              isinstance(rec, dict) and rec.get("state") == "held" and
              "publishing quota 0/0 in 24 h; waiting until" in rec.get("reason", "") or
              isinstance(rec, str) and "publishing quota 0/0" in rec, repr(rec))
        check("instagram: nothing was created or published over the quota",
              fake.requests(path="/%s/media" % IG, method="POST") == [] and
              fake.requests(path="/%s/media_publish" % IG) == [], repr(fake.requests()))
    finally:
        d.stop()
        fake.stop()


def main():
    redis = h.Redis()
    if not check("private redis-server answers PING", redis.start(), "see stderr"):
        return
    try:
        facebook_cases(redis, h.new_dir("graph-fb"))
        facebook_hold_back(redis, h.new_dir("graph-fb-hold"))
        instagram_cases(redis, h.new_dir("graph-ig"))
        instagram_quota(redis, h.new_dir("graph-ig-quota"))
    finally:
        redis.stop()


if __name__ == "__main__":
    h.run(main)
