"""The Facebook Page stand-in (tests/fakes/fake_facebook.c) over real HTTP:
the Graph API answers of shared/CHANNELS.md §2 (the feed post and its id,
the Graph error object with its codes, the page token checks, the usage
headers once enough calls were made), its named errors, the reads of the
feed, the page and the insights.
"""

import itertools
import json

import harness as h
from harness import check
from fakes import start_fake

TOKEN = "fb-page-token-1"
PAGE = "104000000000001"
_serial = itertools.count(1)


def message():
    return "[서울시] 잠시 멈춤 %d" % next(_serial)


def feed_post(fake, body, token=TOKEN, form=False):
    if form:
        from urllib.parse import urlencode
        return h.http(fake.url, "POST", "/%s/feed" % PAGE, token=token,
                      body=urlencode(body), content_type="application/x-www-form-urlencoded")
    return h.http(fake.url, "POST", "/%s/feed" % PAGE, token=token, body=body,
                  content_type="application/json")


def graph_error(body):
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def test_post(fake):
    msg = message()
    s, _, b = feed_post(fake, {"message": msg, "link": "https://www.seoul.go.kr/"})
    pid = b.get("id") if isinstance(b, dict) else None
    check("POST /{page}/feed answers 200 {\"id\": \"PAGE_POST\"}",
          s == 200 and isinstance(pid, str) and pid.startswith(PAGE + "_"), "%s %r" % (s, b))
    posts = fake.state()["posts"]
    check("the post is in the state with its message and link",
          any(p["id"] == pid and p["message"] == msg and p["link"] == "https://www.seoul.go.kr/"
              for p in posts), repr(posts))
    s, _, b = feed_post(fake, {"message": message(), "access_token": TOKEN}, token=None,
                        form=True)
    check("a form body with access_token is accepted too", s == 200 and "id" in b, repr(b))
    s, _, b = h.http(fake.url, "GET", "/%s?fields=id,message" % pid, token=TOKEN)
    check("GET /{post} reads it back", s == 200 and b.get("message") == msg, repr(b))


def test_validation(fake):
    s, _, b = feed_post(fake, {})
    e = graph_error(b)
    check("a post with neither message nor link is 400 code 100",
          s == 400 and e.get("code") == 100 and "Missing message" in e.get("message", "") and
          e.get("type") == "OAuthException" and e.get("fbtrace_id"), "%s %r" % (s, b))
    msg = message()
    first = feed_post(fake, {"message": msg})
    s, _, b = feed_post(fake, {"message": msg})
    check("the same message again is 506 (duplicate status message)",
          first[0] == 200 and s == 400 and graph_error(b).get("code") == 506, repr(b))
    s, _, b = h.http(fake.url, "POST", "/999/feed", token=TOKEN, body={"message": message()},
                     content_type="application/json")
    check("another page's feed is 100/33 (no such object)",
          s == 400 and graph_error(b).get("code") == 100 and
          graph_error(b).get("error_subcode") == 33, repr(b))


def test_tokens(fake):
    s, _, b = feed_post(fake, {"message": message()}, token="not-a-token")
    e = graph_error(b)
    check("an unknown token is 190/467",
          s == 400 and e.get("code") == 190 and e.get("error_subcode") == 467, repr(b))
    s, _, b = feed_post(fake, {"message": message()}, token=None)
    check("no token at all is 190", graph_error(b).get("code") == 190, repr(b))
    fake.add_token("fb-short-lived")
    fake.expire("fb-short-lived")
    s, _, b = feed_post(fake, {"message": message()}, token="fb-short-lived")
    e = graph_error(b)
    check("an expired token is 190/463 (session has expired)",
          s == 400 and e.get("code") == 190 and e.get("error_subcode") == 463 and
          "expired" in e.get("message", ""), repr(b))


def test_named_errors(fake):
    cases = [("error:policy", 368, None), ("error:duplicate", 506, None),
             ("error:throttle", 80001, True), ("error:throttle-page", 32, True),
             ("error:throttle-custom", 613, True), ("error:throttle-app", 4, True),
             ("error:permission", 200, None), ("error:invalid", 100, None),
             ("error:link", 1609005, None), ("error:token-expired", 190, None),
             ("error:transient", 1, True), ("rate-limit", 80001, True),
             ("server-error", 2, True)]
    for fault, code, transient in cases:
        fake.fault(fault, route="/:page/feed")
        s, _, b = feed_post(fake, {"message": message()})
        e = graph_error(b)
        check("fault %s answers Graph code %d%s" % (fault, code,
                                                     " with is_transient" if transient else ""),
              e.get("code") == code and bool(e.get("is_transient")) == bool(transient) and
              s in (400, 403, 500, 503), "%s %r" % (s, b))
    fake.fault("error:throttle", route="/:page/feed", ms=5 * 60 * 1000)
    s, hd, b = feed_post(fake, {"message": message()})
    buc = json.loads(hd.get("X-Business-Use-Case-Usage") or "{}")
    entry = (buc.get(PAGE) or [{}])[0]
    check("error:throttle with ms 300000 sends estimated_time_to_regain_access 5 (minutes)",
          graph_error(b).get("code") == 80001 and entry.get("estimated_time_to_regain_access")
          == 5 and entry.get("type") == "pages", repr(dict(hd)))


def test_usage_headers(tmp):
    fake = start_fake("facebook", tmp, "--token", TOKEN, "--usage-after", "2",
                      "--call-limit", "10")
    try:
        seen = []
        for _ in range(4):
            s, hd, _ = h.http(fake.url, "GET", "/%s?fields=fan_count" % PAGE, token=TOKEN)
            seen.append(hd.get("X-App-Usage"))
        check("the first --usage-after answers carry no usage headers, later ones do",
              seen[0] is None and seen[1] is None and seen[2] and seen[3], repr(seen))
        app = json.loads(seen[3] or "{}")
        check("X-App-Usage figures grow with the calls (4 of 10: 40%)",
              app.get("call_count") == 40 and "total_time" in app and "total_cputime" in app,
              repr(app))
    finally:
        check("fake-facebook exits 0 on SIGTERM", fake.stop() == 0)
    fake = start_fake("facebook", tmp, "--token", TOKEN, "--usage-after", "0",
                      "--usage-percent", "97")
    try:
        s, hd, _ = h.http(fake.url, "GET", "/%s?fields=fan_count" % PAGE, token=TOKEN)
        buc = json.loads(hd.get("X-Business-Use-Case-Usage") or "{}")
        check("--usage-percent 97 shows 97% in both headers",
              json.loads(hd.get("X-App-Usage") or "{}").get("call_count") == 97 and
              buc.get(PAGE, [{}])[0].get("call_count") == 97, repr(dict(hd)))
    finally:
        fake.stop()


def test_reads(fake):
    fake.reset()
    s, _, b = h.http(fake.url, "GET", "/%s?fields=fan_count,followers_count" % PAGE,
                     token=TOKEN)
    check("GET /{page}?fields=fan_count,followers_count gives 360000 (36만) fans",
          s == 200 and b.get("fan_count") == 360000 and b.get("followers_count") == 367200,
          repr(b))
    t0 = fake.clock()
    old = message()
    feed_post(fake, {"message": old})
    fake.clock(advance_ms=20 * 60 * 1000)
    since = (t0 + 10 * 60 * 1000) // 1000
    new = message()
    pid = feed_post(fake, {"message": new})[2].get("id")
    s, _, b = h.http(fake.url, "GET", "/%s/feed?fields=id,message,created_time&since=%d" %
                     (PAGE, since), token=TOKEN)
    data = b.get("data") if isinstance(b, dict) else None
    check("GET /{page}/feed?since gives only the posts since, with created_time",
          s == 200 and isinstance(data, list) and [p["id"] for p in data] == [pid] and
          data[0]["message"] == new and data[0]["created_time"].endswith("+0000"), repr(b))
    fake.clock(advance_ms=100 * 60 * 1000)
    s, _, b = h.http(fake.url, "GET", "/%s/insights?metric=post_impressions,"
                     "post_impressions_unique,post_clicks" % pid, token=TOKEN)
    imp = 360000 * 100 // 4800
    got = {m["name"]: m["values"][0]["value"] for m in b.get("data", [])} \
        if isinstance(b, dict) else {}
    check("insights follow the documented formula, in Graph's shape",
          s == 200 and got == {"post_impressions": imp, "post_impressions_unique": imp * 6 // 10,
                               "post_clicks": imp // 50} and
          all(m.get("period") == "lifetime" for m in b["data"]), repr(b))
    s, _, b = h.http(fake.url, "GET", "/%s/insights?metric=nothing" % pid, token=TOKEN)
    check("an unknown metric is code 100", s == 400 and graph_error(b).get("code") == 100,
          repr(b))
    s, _, b = h.http(fake.url, "GET", "/1234_5678/insights?metric=post_impressions",
                     token=TOKEN)
    check("insights of an unknown post are 100/33",
          graph_error(b).get("code") == 100 and graph_error(b).get("error_subcode") == 33,
          repr(b))


def test_drop_after_store(fake):
    fake.fault("drop-after-store", route="/:page/feed")
    msg = message()
    s, _, _ = feed_post(fake, {"message": msg})
    check("drop-after-store: no answer", s is None, repr(s))
    check("... but the post is stored", any(p["message"] == msg for p in fake.state()["posts"]),
          repr(fake.state()["posts"][-2:]))


def main():
    tmp = h.new_dir("fake-facebook")
    fake = start_fake("facebook", tmp, "--token", TOKEN)
    try:
        for t in (test_post, test_validation, test_tokens, test_named_errors, test_reads,
                  test_drop_after_store):
            t(fake)
        n = len(fake.requests(path="/%s/feed" % PAGE, method="POST"))
        check("the log counts the feed posts since the reset (2 reads' posts, 1 dropped)",
              n == 3, repr(n))
        check("fake-facebook is still up after every fault", fake.alive())
    finally:
        check("fake-facebook exits 0 on SIGTERM", fake.stop() == 0)
    test_usage_headers(h.new_dir("fake-facebook-usage"))
    h.cleanup_dir(tmp)


if __name__ == "__main__":
    h.run(main)
