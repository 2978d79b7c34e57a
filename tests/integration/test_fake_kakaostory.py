"""The Kakao Story stand-in (tests/fakes/fake_kakaostory.c) over real HTTP:
Kakao's Story REST API routes (form bodies, bearer tokens), Kakao's error
shape {"msg", "code"} with the codes and statuses of Kakao's error-code
page, the read of recent stories that the adapter's look-up uses, the
named errors, and the switches --posting-ended and --not-story-user.

Then the kakaostory adapter in a daemon against it, for what the contract
suite does not cover: a release is declined, never retried, once Kakao
answers that the API has ended (-9), or when api_posting is "off" (and
then nothing reaches Kakao); an account without Kakao Story is a dead
letter saying so.
"""

import datetime
import itertools
import json
import os
import urllib.parse

import harness as h
from harness import check
from fakes import FakeError, start_fake

TOKEN = "kakao-user-token-1"
FORM = "application/x-www-form-urlencoded;charset=utf-8"
_serial = itertools.count(1)


def text(prefix="[서울시] 잠시 멈춤"):
    return "%s %d" % (prefix, next(_serial))


def form(fields):
    return urllib.parse.urlencode(fields)


def post(fake, path, fields, token=TOKEN):
    return h.http(fake.url, "POST", path, token=token, body=form(fields), content_type=FORM)


def get(fake, path, query=None, token=TOKEN):
    return h.http(fake.url, "GET", path + ("?" + urllib.parse.urlencode(query) if query else ""),
                  token=token)


def kakao_error(answer, status, code):
    s, _, b = answer
    return s == status and isinstance(b, dict) and b.get("code") == code and \
        isinstance(b.get("msg"), str) and b["msg"]


def test_note_and_reads(fake):
    fake.reset()
    first, second = text(), text()
    a = post(fake, "/v1/api/story/post/note", {"content": first, "permission": "A"})
    b = post(fake, "/v1/api/story/post/note", {"content": second, "permission": "F",
                                               "enable_share": "true"})
    check("POST /v1/api/story/post/note answers 200 {\"id\"}",
          a[0] == 200 and isinstance(a[2].get("id"), str) and a[2]["id"], repr(a))
    s, _, stories = get(fake, "/v1/api/story/mystories")
    ids = [x.get("id") for x in stories] if isinstance(stories, list) else []
    check("GET mystories lists the stories newest first", s == 200 and ids[:2] ==
          [b[2].get("id"), a[2].get("id")], repr(stories))
    one = stories[0] if ids else {}
    check("a story has the documented fields",
          all(k in one for k in ("id", "url", "content", "created_at", "media_type",
                                 "comment_count", "like_count", "permission")), repr(one))
    check("the content is as sent, permission F shows as FRIEND",
          one.get("content") == second and one.get("permission") == "FRIEND", repr(one))
    check("created_at is ISO 8601 in UTC", str(one.get("created_at", "")).endswith("Z") and
          "T" in str(one.get("created_at", "")), repr(one))
    older = get(fake, "/v1/api/story/mystories", {"last_id": b[2].get("id")})
    check("last_id gives the stories older than it", older[0] == 200 and
          [x["id"] for x in older[2]][:1] == [a[2].get("id")], repr(older))
    got = get(fake, "/v1/api/story/mystory", {"id": a[2].get("id")})
    check("GET mystory?id= finds one story, with likes and comments", got[0] == 200 and
          got[2].get("content") == first and got[2].get("likes") == [], repr(got))
    check("an unknown id is -2", kakao_error(get(fake, "/v1/api/story/mystory", {"id": "no"}),
                                             400, -2))
    check("the stand-in's state holds both", [x["content"] for x in fake.state()["stories"]] ==
          [first, second], repr(fake.state()))
    gone = h.http(fake.url, "DELETE", "/v1/api/story/delete/mystory?id=" + a[2].get("id"),
                  token=TOKEN)
    check("DELETE delete/mystory removes it", gone[0] == 200 and
          len(fake.state()["stories"]) == 1, repr(gone))


def test_profile_and_user(fake):
    s, _, b = get(fake, "/v1/api/story/isstoryuser")
    check("GET isstoryuser answers {\"isStoryUser\": true}", s == 200 and
          b == {"isStoryUser": True}, repr(b))
    s, _, b = get(fake, "/v1/api/story/profile")
    check("GET profile answers nickName, profileImageURL, permalink and no friend count",
          s == 200 and "nickName" in b and "profileImageURL" in b and "permalink" in b and
          not any("friend" in k.lower() or "follower" in k.lower() for k in b), repr(b))


def test_link_post(fake):
    s, _, info = get(fake, "/v1/api/story/linkinfo", {"url": "https://www.seoul.go.kr/"})
    check("GET linkinfo scrapes the link", s == 200 and info.get("url") ==
          "https://www.seoul.go.kr/" and info.get("host") == "www.seoul.go.kr" and
          isinstance(info.get("image"), list), repr(info))
    check("linkinfo without a URL is -2",
          kakao_error(get(fake, "/v1/api/story/linkinfo", {"url": "seoul"}), 400, -2))
    content = text()
    a = post(fake, "/v1/api/story/post/link", {"link_info": json.dumps(info), "content": content})
    check("POST post/link with the scrap answers an id", a[0] == 200 and a[2].get("id"), repr(a))
    last = fake.state()["stories"][-1]
    check("the link story keeps its scrap", last.get("link_info", {}).get("url") ==
          "https://www.seoul.go.kr/" and last.get("content") == content, repr(last))
    check("post/link without link_info is -2",
          kakao_error(post(fake, "/v1/api/story/post/link", {"content": "x"}), 400, -2))


def test_photo_post(fake):
    up = h.http(fake.url, "POST", "/v1/api/story/upload/multi", token=TOKEN, body=b"--b\r\nimg",
                content_type="multipart/form-data; boundary=b")
    check("POST upload/multi answers the paths", up[0] == 200 and isinstance(up[2], list) and
          up[2], repr(up))
    a = post(fake, "/v1/api/story/post/photo", {"image_url_list": json.dumps(up[2]),
                                                "content": text()})
    check("POST post/photo answers an id", a[0] == 200 and a[2].get("id"), repr(a))
    check("more than 5 images is -606", kakao_error(post(
        fake, "/v1/api/story/post/photo", {"image_url_list": json.dumps(["/p"] * 6)}), 400, -606))


def test_validation(fake):
    check("a note without content is -2 (400)",
          kakao_error(post(fake, "/v1/api/story/post/note", {"permission": "A"}), 400, -2))
    check("content of 2,049 characters is -2",
          kakao_error(post(fake, "/v1/api/story/post/note", {"content": "가" * 2049}), 400, -2))
    ok = post(fake, "/v1/api/story/post/note", {"content": "가" * 2048})
    check("content of 2,048 characters is taken", ok[0] == 200, repr(ok))
    check("2,048 characters counted as UTF-16 units (an emoji is 2)",
          kakao_error(post(fake, "/v1/api/story/post/note", {"content": "가" * 2047 + "😷"}),
                      400, -2))
    check("permission outside A, F, M is -2", kakao_error(
        post(fake, "/v1/api/story/post/note", {"content": "x", "permission": "P"}), 400, -2))
    check("enable_share must be true or false", kakao_error(
        post(fake, "/v1/api/story/post/note", {"content": "x", "enable_share": "yes"}), 400, -2))


def test_auth(fake):
    for what, token in (("no token", None), ("an unknown token", "nope")):
        check("%s is -401 with HTTP 401" % what,
              kakao_error(get(fake, "/v1/api/story/mystories", token=token), 401, -401))
    fake.add_token("short-lived")
    fake.expire("short-lived")
    check("an expired token is -401", kakao_error(
        post(fake, "/v1/api/story/post/note", {"content": "x"}, token="short-lived"), 401, -401))
    fake.fault("expire-token", route="/v1/api/story/post/note")
    fake.add_token("expires-next")
    check("the expire-token fault expires the request's token", kakao_error(
        post(fake, "/v1/api/story/post/note", {"content": "x"}, token="expires-next"), 401, -401))


def test_faults(fake):
    before = len(fake.state()["stories"])
    fake.fault("rate-limit", route="/v1/api/story/post/note")
    s, hd, b = post(fake, "/v1/api/story/post/note", {"content": text()})
    check("the rate-limit fault is Kakao's quota answer: -10 with HTTP 400", kakao_error(
        (s, hd, b), 400, -10))
    check("... without Retry-After, as Kakao documents none", hd.get("Retry-After") is None,
          repr(dict(hd)))
    fake.fault("server-error", route="/v1/api/story/post/note")
    check("server-error is a 503", post(fake, "/v1/api/story/post/note", {"content": "x"})[0] ==
          503)
    named = {"token-expired": (401, -401), "quota": (400, -10), "maintenance": (503, -9798),
             "not-story-user": (400, -601), "invalid": (400, -2), "not-enabled": (403, -3),
             "no-permission": (403, -5), "blocked": (403, -4), "scope": (403, -402),
             "internal": (400, -1), "inner-timeout": (400, -603), "ended": (400, -9)}
    for name, (status, code) in sorted(named.items()):
        fake.fault("error:" + name, route="/v1/api/story/post/note")
        check("error:%s answers %d code %d" % (name, status, code), kakao_error(
            post(fake, "/v1/api/story/post/note", {"content": "x"}), status, code))
    check("no faulted request stored a story", len(fake.state()["stories"]) == before,
          repr(fake.state()["stories"][before:]))
    content = text()
    fake.fault("drop-after-store", route="/v1/api/story/post/note")
    s, _, b = post(fake, "/v1/api/story/post/note", {"content": content})
    check("drop-after-store gives no answer", s is None, repr((s, b)))
    stories = get(fake, "/v1/api/story/mystories")[2]
    check("... and the story is on the account for the look-up",
          [x["content"] for x in stories][:1] == [content], repr(stories))


def test_log(fake):
    fake.reset()
    post(fake, "/v1/api/story/post/note", {"content": "로그"})
    got = fake.requests(path="/v1/api/story/post/note", method="POST")
    check("the log has the post with its form fields", len(got) == 1 and
          got[0]["body"].get("content") == "로그" and got[0]["status"] == 200, repr(got))


def test_posting_ended(tmp):
    fake = start_fake("kakaostory", tmp, "--token", TOKEN, "--posting-ended")
    try:
        for path, fields in (("/v1/api/story/post/note", {"content": "x"}),
                             ("/v1/api/story/post/link", {"link_info": "{}"}),
                             ("/v1/api/story/post/photo", {"image_url_list": "[]"})):
            check("--posting-ended: %s answers -9 (the API has ended), HTTP 400" % path,
                  kakao_error(post(fake, path, fields), 400, -9))
        s, _, b = get(fake, "/v1/api/story/mystories")
        check("--posting-ended: reads still answer", s == 200 and b == [], repr(b))
        check("--posting-ended: nothing was stored", fake.state()["stories"] == [])
    finally:
        fake.stop()
    fake = start_fake("kakaostory", tmp, "--token", TOKEN, "--posting-ended",
                      "--posting-ended-status", "410")
    try:
        check("--posting-ended-status sets the status",
              kakao_error(post(fake, "/v1/api/story/post/note", {"content": "x"}), 410, -9))
    finally:
        fake.stop()


def test_not_story_user(tmp):
    fake = start_fake("kakaostory", tmp, "--token", TOKEN, "--not-story-user")
    try:
        s, _, b = get(fake, "/v1/api/story/isstoryuser")
        check("--not-story-user: isStoryUser is false", s == 200 and b == {"isStoryUser": False},
              repr(b))
        check("--not-story-user: a post is -601",
              kakao_error(post(fake, "/v1/api/story/post/note", {"content": "x"}), 400, -601))
    finally:
        fake.stop()


def test_options(tmp):
    fake = start_fake("kakaostory", tmp, "--token", TOKEN, "--quota-status", "429",
                      "--stories-page", "2")
    try:
        fake.fault("error:quota")
        check("--quota-status 429 answers the quota with 429",
              kakao_error(post(fake, "/v1/api/story/post/note", {"content": "x"}), 429, -10))
        for i in range(3):
            post(fake, "/v1/api/story/post/note", {"content": "p%d" % i})
        got = get(fake, "/v1/api/story/mystories")[2]
        check("--stories-page bounds one read", [x["content"] for x in got] == ["p2", "p1"],
              repr(got))
    finally:
        fake.stop()
    for bad in (["--quota-status", "99"], ["--stories-page", "0"], ["--bogus"]):
        try:
            f = start_fake("kakaostory", tmp, *bad)
            f.stop()
            check("%s is refused" % " ".join(bad), False, "it started")
        except FakeError as e:
            check("%s is refused with exit status 2" % " ".join(bad), "exit status 2" in str(e),
                  str(e))


# ---- the adapter in a daemon ---------------------------------------------------------

BASE_MS = h.seoul_ms(2020, 3, 2, 10, 0)
ENV_TOKEN = "HAECHI_TEST_KAKAOSTORY_TOKEN"


class Daemon:
    """A daemon whose sns channel is the kakaostory adapter alone."""

    def __init__(self, name, fake, section):
        self.redis = h.Redis(name + "-redis")
        self.fake = fake
        channels = h.real_clock_channels()
        channels["sns"] = dict({"adapter": "kakaostory", "quiet_hours": False, "url": fake.url,
                                "token_env": ENV_TOKEN}, **section)
        self.d = h.Daemon(name, None, extra={
            "environment": "test", "testing": {"virtual_clock": True}, "channels": channels,
            "engine": {"backoff_ms": 1000, "backoff_max_ms": 60000, "max_attempts": 5}})
        self.n = 0

    def start(self):
        if not check("private redis-server answers PING", self.redis.start()):
            return False
        self.d.config["redis"]["address"] = self.redis.address
        env = dict(os.environ)
        env[ENV_TOKEN] = TOKEN
        return check("haechi serve starts with channels.sns on the kakaostory adapter",
                     self.d.start(env=env), h.tail(self.d.log_path, 20))

    def release(self, tag):
        """Submits a one-release campaign and moves both clocks to it; returns
        its delivery record once it settles (or None)."""
        self.n += 1
        due = BASE_MS + self.n * 2 * 3600 * 1000
        cid = "ks-%02d-%s" % (self.n, tag)
        at = datetime.datetime.fromtimestamp(due / 1000, h.SEOUL).strftime("%Y-%m-%dT%H:%M:%S")
        doc = h.minimal_campaign(cid, ["sns"], "2020-03-01", "2020-03-31",
                                 [{"id": "go", "at": at, "channels": ["sns"]}])
        doc["sns"]["networks"] = ["kakaostory"]
        doc["sns"]["text"] = {"ko": "[서울시] 잠시멈춤 %s %d" % (tag, self.n)}
        s, b = h.submit_campaign(self.d, doc)
        if not check("%s: the campaign is accepted" % tag, s == 201, "%s %r" % (s, b)):
            return None
        self.fake.clock(now_ms=due)
        h.set_clock(self.d, now_ms=due)

        def settled():
            r = h.fires(self.redis, self.d, cid).get("go|%d|sns" % due)
            return r if r and r.get("state") in ("sent", "declined", "dead", "failed") else None
        return h.wait_until(settled)

    def stop(self):
        h.stop_all([self.d], self.redis)


def test_adapter_declines_when_posting_ended(tmp):
    fake = start_fake("kakaostory", tmp, "--token", TOKEN, "--posting-ended")
    world = Daemon("ks-ended", fake, {})
    try:
        if not world.start():
            return
        rec = world.release("ended")
        reason = (rec or {}).get("reason") or ""
        check("posting ended: the release is declined at the first attempt",
              rec and rec["state"] == "declined" and rec.get("attempts") == 1, rec)
        check("posting ended: the reason states Kakao's answer and what to do",
              "Kakao answered that the Kakao Story API has ended (Kakao -9" in reason and
              "post by hand or remove kakaostory from sns.networks" in reason, reason)
        posts = fake.requests(path="/v1/api/story/post/link", method="POST")
        check("posting ended: one post request, not retried", len(posts) == 1, len(posts))
    finally:
        world.stop()
        fake.stop()


def test_adapter_posting_off(tmp):
    fake = start_fake("kakaostory", tmp, "--token", TOKEN)
    world = Daemon("ks-off", fake, {"api_posting": "off"})
    try:
        if not world.start():
            return
        rec = world.release("off")
        reason = (rec or {}).get("reason") or ""
        check("api_posting off: the release is declined with the advice",
              rec and rec["state"] == "declined" and "api_posting" in reason and
              "remove kakaostory from sns.networks" in reason, rec)
        check("api_posting off: nothing reached the stand-in", fake.requests() == [],
              fake.requests())
    finally:
        world.stop()
        fake.stop()


def test_adapter_not_story_user(tmp):
    fake = start_fake("kakaostory", tmp, "--token", TOKEN, "--not-story-user")
    world = Daemon("ks-nouser", fake, {})
    try:
        if not world.start():
            return
        rec = world.release("nouser")
        check("no Kakao Story: a dead letter at the first attempt saying so",
              rec and rec["state"] == "dead" and rec.get("attempts") == 1 and
              "no Kakao Story" in (rec.get("reason") or ""), rec)
        check("no Kakao Story: nothing was posted",
              fake.requests(path="/v1/api/story/post/link") == [] and
              fake.requests(path="/v1/api/story/post/note") == [])
    finally:
        world.stop()
        fake.stop()


def main():
    tmp = h.new_dir("fake-kakaostory")
    fake = start_fake("kakaostory", tmp, "--token", TOKEN)
    try:
        for t in (test_note_and_reads, test_profile_and_user, test_link_post, test_photo_post,
                  test_validation, test_auth, test_faults, test_log):
            t(fake)
    finally:
        check("the stand-in stops cleanly on SIGTERM", fake.stop() == 0)
    test_posting_ended(tmp)
    test_not_story_user(tmp)
    test_options(tmp)
    test_adapter_declines_when_posting_ended(tmp)
    test_adapter_posting_off(tmp)
    test_adapter_not_story_user(tmp)


if __name__ == "__main__":
    h.run(main)
