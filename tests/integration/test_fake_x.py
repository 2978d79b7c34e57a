"""The stand-in core (tests/fakes/fake.c) and the X stand-in (fake_x.c) over
real HTTP: the X API v2 answers of shared/CHANNELS.md §1 (201 with an id,
rate-limit headers, 429 without Retry-After, 401/403 bodies, the token
refresh that rotates), the faults of the control API, the stand-in clock,
and the request log.
"""

import itertools
import json
import socket
import time

import harness as h
from harness import check
from fakes import FakeError, start_fake

TOKEN = "user-token-1"
APP = "app-token-1"
REFRESH = "refresh-1"
USER = "1233000000000000001"
_serial = itertools.count(1)


def text(prefix="잠시멈춤"):
    return "%s %d" % (prefix, next(_serial))


def post(fake, body=None, token=TOKEN, timeout=h.DEADLINE):
    if body is None:
        body = {"text": text()}
    return h.http(fake.url, "POST", "/2/tweets", token=token, body=body,
                  content_type="application/json", timeout=timeout)


def header(hdrs, name):
    return hdrs.get(name) if hdrs else None


def posted_texts(fake):
    return [p["raw_text"] for p in fake.state()["posts"]]


def test_post(fake):
    msg = text("[서울시] 코로나19 확산을 막기 위해 https://www.seoul.go.kr/")
    s, hd, b = post(fake, {"text": msg})
    data = b.get("data") if isinstance(b, dict) else None
    check("POST /2/tweets answers 201 with a string id",
          s == 201 and isinstance(data, dict) and isinstance(data.get("id"), str) and
          data["id"].isdigit(), "%s %r" % (s, b))
    check("the answer's text shows the link as t.co",
          isinstance(data, dict) and "https://t.co/" in data.get("text", "") and
          "seoul.go.kr" not in data.get("text", ""), repr(b))
    check("the post is in the state with the text as sent", msg in posted_texts(fake),
          repr(fake.state()))
    got = h.http(fake.url, "GET", "/2/tweets/%s" % (data or {}).get("id"), token=TOKEN)
    check("GET /2/tweets/:id finds it", got[0] == 200 and got[2].get("data", {}).get("id") ==
          (data or {}).get("id"), repr(got[2]))


def test_rate_headers(fake):
    fake.reset()
    seen = []
    for _ in range(3):
        s, hd, _ = post(fake)
        seen.append((s, header(hd, "x-rate-limit-limit"), header(hd, "x-rate-limit-remaining"),
                     header(hd, "x-rate-limit-reset"), header(hd, "x-user-limit-24hour-limit"),
                     header(hd, "x-user-limit-24hour-remaining"),
                     header(hd, "x-user-limit-24hour-reset")))
    complete = all(all(v is not None for v in row) for row in seen)
    check("every answer carries x-rate-limit-* and x-user-limit-24hour-*", complete, repr(seen))
    if complete:
        rem = [int(r[2]) for r in seen]
        day = [int(r[5]) for r in seen]
        check("x-rate-limit-remaining goes down by one a post", rem == [99, 98, 97], repr(rem))
        check("x-user-limit-24hour-remaining goes down too", day == [9999, 9998, 9997], repr(day))
        now = time.time()
        check("x-rate-limit-reset is epoch seconds about 15 minutes ahead",
              now + 800 < int(seen[0][3]) <= now + 901, "%s vs now %d" % (seen[0][3], now))


def test_exhaustion(tmp):
    fake = start_fake("x", tmp, "--token", TOKEN, "--limit-15min", "3")
    try:
        got = [post(fake) for _ in range(4)]
        s, hd, b = got[3]
        check("the 4th post over a limit of 3 per 15 minutes is 429",
              [g[0] for g in got] == [201, 201, 201, 429], repr([g[0] for g in got]))
        check("the 429 has the problem-details body",
              isinstance(b, dict) and b.get("title") == "Too Many Requests" and
              b.get("status") == 429, repr(b))
        check("the 429 has no Retry-After", header(hd, "Retry-After") is None, repr(dict(hd)))
        reset = int(header(hd, "x-rate-limit-reset") or 0)
        check("the 429 says remaining 0 and a reset in the future",
              header(hd, "x-rate-limit-remaining") == "0" and reset > time.time(),
              repr(dict(hd)))
        fake.clock(advance_ms=15 * 60 * 1000)
        s, hd, _ = post(fake)
        check("after the window (stand-in clock) posting works again",
              s == 201 and header(hd, "x-rate-limit-remaining") == "2", "%s %r" % (s, hd))
    finally:
        check("fake-x exits 0 on SIGTERM", fake.stop() == 0)


def test_daily_limit(tmp):
    fake = start_fake("x", tmp, "--token", TOKEN, "--limit-24h", "2")
    try:
        got = [post(fake) for _ in range(3)]
        s, hd, _ = got[2]
        check("the 24-hour user limit gives 429 while the 15-minute window has room",
              [g[0] for g in got] == [201, 201, 429] and
              header(hd, "x-user-limit-24hour-remaining") == "0" and
              int(header(hd, "x-rate-limit-remaining") or 0) > 0, repr([g[0] for g in got]))
    finally:
        fake.stop()


def test_fault_rate_limit(fake):
    fake.fault("rate-limit", count=2, route="/2/tweets", ms=30000)
    got = [post(fake) for _ in range(3)]
    check("fault rate-limit x2: 429, 429, then 201", [g[0] for g in got] == [429, 429, 201],
          repr([g[0] for g in got]))
    hd = got[0][1]
    reset = int(header(hd, "x-rate-limit-reset") or 0)
    now = fake.clock()
    check("the injected 429 has remaining 0 and its reset ms ahead",
          header(hd, "x-rate-limit-remaining") == "0" and
          now / 1000 + 20 < reset <= now / 1000 + 31, "%r now %d" % (dict(hd), now))
    check("the injected 429 has no Retry-After", header(hd, "Retry-After") is None)
    log = fake.requests(path="/2/tweets")
    check("the log names the fault of each injected answer",
          [e["fault"] for e in log[-3:]] == ["rate-limit", "rate-limit", None] and
          [e["status"] for e in log[-3:]] == [429, 429, 201], repr(log[-3:]))
    fake.fault("error:rate-limit-24h")
    s, hd, _ = post(fake)
    check("fault error:rate-limit-24h: 429 with the 24-hour remaining 0",
          s == 429 and header(hd, "x-user-limit-24hour-remaining") == "0", repr(dict(hd)))


def test_fault_server_error(fake):
    fake.fault("server-error", status=503)
    before = len(posted_texts(fake))
    s, _, b = post(fake)
    check("fault server-error answers 503, nothing stored",
          s == 503 and len(posted_texts(fake)) == before, "%s %r" % (s, b))
    fake.fault("server-error")
    s, _, _ = post(fake)
    check("fault server-error without a status answers 503", s == 503, repr(s))
    s, _, _ = post(fake)
    check("the next request is served again", s == 201, repr(s))


def test_fault_slow(fake):
    fake.fault("slow", ms=400)
    t0 = time.monotonic()
    s, _, _ = post(fake)
    took = time.monotonic() - t0
    check("fault slow holds the answer at least ms", s == 201 and took >= 0.39,
          "%s after %.3f s" % (s, took))
    check("and not much longer", took < 5.0, "%.3f s" % took)


def test_fault_drop(fake):
    msg = text("drop-after-store")
    fake.fault("drop-after-store")
    s, _, b = post(fake, {"text": msg})
    check("drop-after-store: the connection closes without an answer", s is None, repr((s, b)))
    check("drop-after-store: the post IS stored", msg in posted_texts(fake))
    entry = fake.requests(path="/2/tweets")[-1]
    check("drop-after-store: logged with status null", entry["status"] is None and
          entry["fault"] == "drop-after-store", repr(entry))
    s, _, b = post(fake, {"text": msg})
    check("posting it again is the duplicate refusal", s == 403 and "duplicate" in
          b.get("detail", ""), repr((s, b)))
    msg = text("drop")
    fake.fault("drop")
    s, _, b = post(fake, {"text": msg})
    check("drop: the connection closes without an answer", s is None, repr((s, b)))
    check("drop: nothing is stored", msg not in posted_texts(fake))
    s, _, _ = post(fake, {"text": msg})
    check("after a drop the same post goes through", s == 201, repr(s))


def server_sockets(fake, client_port):
    """The TCP states (hex, as /proc/net/tcp has them) of the stand-in's side
    of the connection from CLIENT_PORT."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            local, remote, state = cols[1], cols[2], cols[3]
            if int(local.rsplit(":", 1)[1], 16) == fake.port and \
                    int(remote.rsplit(":", 1)[1], 16) == client_port:
                out.append(state)
    return out


def test_timeout_client_leaves(fake):
    fake.fault("timeout")
    before = len(fake.requests())
    s = socket.create_connection(("127.0.0.1", fake.port), timeout=h.DEADLINE)
    body = json.dumps({"text": text("timeout-leaves")}).encode()
    s.sendall(b"POST /2/tweets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (TOKEN.encode(), len(body), body))
    port = s.getsockname()[1]
    held = h.wait_until(lambda: len(fake.requests()) > before, 5.0)
    open_while_held = server_sockets(fake, port)
    s.close()
    gone = h.wait_until(lambda: not server_sockets(fake, port), 5.0)
    check("timeout: the held connection stays open while the client waits",
          held and open_while_held == ["01"], repr(open_while_held))
    check("timeout: the stand-in closes it once the client gave up", gone,
          repr(server_sockets(fake, port)))


def test_fault_timeout(fake):
    fake.fault("timeout")
    msg = text("timeout")
    t0 = time.monotonic()
    s, _, b = post(fake, {"text": msg}, timeout=1.0)
    took = time.monotonic() - t0
    check("timeout: the client gives up, no answer came", s is None and took >= 0.9,
          "%r after %.2f s" % ((s, b), took))
    check("timeout: nothing is stored", msg not in posted_texts(fake))
    s, _, _ = post(fake)
    check("the stand-in serves the next request after a timeout", s == 201, repr(s))


def share_pattern(fake):
    fake.reset()
    fake.fault("server-error", share=0.5, route="/2/tweets", status=500)
    pattern = [post(fake)[0] for _ in range(20)]
    fake.clear_faults()
    return pattern


def test_share(fake):
    first = share_pattern(fake)
    second = share_pattern(fake)
    hits = first.count(500)
    check("share 0.5 over 20 requests hits some, not all",
          0 < hits < 20 and hits + first.count(201) == 20, repr(first))
    check("share is seeded: the same hits on a second run", first == second,
          "%r vs %r" % (first, second))
    check("share 0.5 is near half", 5 <= hits <= 15, repr(hits))


def test_tokens(fake):
    fake.reset()
    s, _, b = post(fake, token="nobody")
    check("an unknown token gets 401 with the Unauthorized body",
          s == 401 and b == {"title": "Unauthorized", "type": "about:blank", "status": 401,
                             "detail": "Unauthorized"}, "%s %r" % (s, b))
    s, _, b = post(fake, token=APP)
    check("an app-only token gets 403 unsupported-authentication",
          s == 403 and str(b.get("type", "")).endswith("/unsupported-authentication"), repr(b))
    fake.add_token("extra")
    fake.expire("extra")
    s, _, b = post(fake, token="extra")
    check("an expired token gets 401", s == 401 and b.get("title") == "Unauthorized", repr(b))
    s, _, _ = h.http(fake.url, "GET", "/2/users/me?access_token=" + TOKEN)
    check("the access_token query parameter is a token too", s == 200, repr(s))
    fake.add_token("other")
    fake.fault("expire-token")
    s, _, _ = post(fake, token="other")
    s2, _, _ = post(fake, token="other")
    check("fault expire-token: that request and the next get 401", (s, s2) == (401, 401),
          repr((s, s2)))


def refresh(fake, token, client="haechi"):
    return h.http(fake.url, "POST", "/2/oauth2/token",
                  body="grant_type=refresh_token&refresh_token=%s&client_id=%s" % (token, client),
                  content_type="application/x-www-form-urlencoded")


def test_refresh(fake):
    fake.reset()
    s, _, b = refresh(fake, REFRESH)
    ok = s == 200 and isinstance(b, dict) and b.get("token_type") == "bearer" and \
        b.get("expires_in") == 7200 and b.get("access_token") and b.get("refresh_token")
    check("refresh_token grant answers a new access and refresh token", ok, "%s %r" % (s, b))
    if not ok:
        return
    check("the refresh token rotated", b["refresh_token"] != REFRESH)
    s2, _, b2 = refresh(fake, REFRESH)
    check("the old refresh token is refused afterwards",
          s2 == 400 and b2 == {"error": "invalid_request",
                               "error_description": "Value passed for the token was invalid."},
          "%s %r" % (s2, b2))
    s3, _, _ = post(fake, token=b["access_token"])
    check("the new access token posts", s3 == 201, repr(s3))
    s4, _, b4 = refresh(fake, b["refresh_token"])
    check("the new refresh token refreshes once more", s4 == 200 and
          b4.get("refresh_token") not in (b["refresh_token"], REFRESH), repr(b4))
    fake.clock(advance_ms=7200 * 1000 + 1000)
    s5, _, b5 = post(fake, token=b["access_token"])
    check("an access token is dead after 7,200 s of stand-in clock", s5 == 401 and
          b5.get("title") == "Unauthorized", "%s %r" % (s5, b5))
    s6, _, _ = post(fake)
    check("so is the --token one", s6 == 401, repr(s6))
    fake.reset()


def test_duplicate(fake):
    fake.reset()
    msg = text("같은 글")
    s1, _, _ = post(fake, {"text": msg})
    s2, _, b = post(fake, {"text": msg})
    check("the same text twice: 201 then 403 duplicate",
          (s1, s2) == (201, 403) and b == {
              "detail": "You are not allowed to create a Tweet with duplicate content.",
              "type": "about:blank", "title": "Forbidden", "status": 403}, "%s %s %r" % (s1, s2, b))
    fake.fault("error:duplicate")
    s, _, b = post(fake)
    check("fault error:duplicate gives the same body", s == 403 and "duplicate" in
          b.get("detail", ""), repr(b))


def test_validation(fake):
    fake.reset()
    s, _, b = post(fake, {"text": "가" * 140})
    check("140 Hangul syllables (280 weighted) are accepted", s == 201, "%s %r" % (s, b))
    s, _, b = post(fake, {"text": "나" * 141})
    check("141 Hangul syllables (282) are refused with 403 problem details",
          s == 403 and b.get("title") and "282" in b.get("detail", ""), "%s %r" % (s, b))
    url = "https://www.seoul.go.kr/" + "a" * 200
    s, _, b = post(fake, {"text": ("다" * 128) + " " + url})
    check("a URL counts 23 however long (256 + 1 + 23 = 280)", s == 201, "%s %r" % (s, b))
    s, _, b = post(fake, {"txt": "x"})
    check("a body without text is 400 invalid-request",
          s == 400 and str(b.get("type", "")).endswith("/invalid-request") and b.get("errors"),
          "%s %r" % (s, b))
    s, _, b = post(fake, b"{not json")
    check("invalid JSON is 400 invalid-request", s == 400 and b.get("title") ==
          "Invalid Request", "%s %r" % (s, b))


def test_overlength_option(tmp):
    fake = start_fake("x", tmp, "--token", TOKEN, "--overlength-status", "400")
    try:
        s, _, b = post(fake, {"text": "x" * 281})
        check("--overlength-status 400 makes an over-long post 400", s == 400, repr((s, b)))
    finally:
        fake.stop()


def test_reads(fake):
    fake.reset()
    s, _, b = h.http(fake.url, "GET", "/2/users/me?user.fields=public_metrics", token=TOKEN)
    data = b.get("data", {}) if isinstance(b, dict) else {}
    check("GET /2/users/me gives the account with 230,000 followers",
          s == 200 and data.get("id") == USER and
          data.get("public_metrics", {}).get("followers_count") == 230000, repr(b))
    t0 = fake.clock()
    first = text("첫 글")
    post(fake, {"text": first})
    fake.clock(advance_ms=10 * 60 * 1000)
    second = text("둘째 글")
    s, _, b = post(fake, {"text": second})
    sid = b["data"]["id"]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 / 1000 + 5 * 60))
    s, _, b = h.http(fake.url, "GET", "/2/users/%s/tweets?start_time=%s&max_results=5"
                     "&tweet.fields=created_at,public_metrics" % (USER, since), token=TOKEN)
    data = b.get("data") if isinstance(b, dict) else None
    check("GET /2/users/:id/tweets?start_time gives only the posts since",
          s == 200 and isinstance(data, list) and [p["id"] for p in data] == [sid] and
          b["meta"]["result_count"] == 1 and "created_at" in data[0], repr(b))
    fake.clock(advance_ms=100 * 60 * 1000)  # 100 minutes after the second post
    s, _, b = h.http(fake.url, "GET", "/2/tweets/%s?tweet.fields=public_metrics,"
                     "non_public_metrics,organic_metrics" % sid, token=TOKEN)
    d = b.get("data", {}) if isinstance(b, dict) else {}
    imp = 230000 * 100 // 4800
    check("GET /2/tweets/:id figures follow the documented formula",
          s == 200 and d.get("public_metrics", {}).get("impression_count") == imp and
          d.get("public_metrics", {}).get("like_count") == imp // 100 and
          d.get("non_public_metrics", {}).get("impression_count") == imp and
          d.get("organic_metrics", {}).get("user_profile_clicks") == imp // 200, repr(b))
    s, _, b = h.http(fake.url, "GET", "/2/tweets/1", token=TOKEN)
    check("an unknown post id gives a resource-not-found error",
          s == 200 and isinstance(b, dict) and "errors" in b, repr(b))
    s, _, _ = h.http(fake.url, "GET", "/2/nothing", token=TOKEN)
    check("an unknown route is 404", s == 404, repr(s))


def test_access_ttl_option(tmp):
    fake = start_fake("x", tmp, "--token", TOKEN, "--access-ttl-s", "0")
    try:
        fake.clock(advance_ms=3 * 3600 * 1000)
        s, _, b = post(fake)
        check("--access-ttl-s 0: a --token token still posts 3 hours on", s == 201,
              "%s %r" % (s, b))
    finally:
        fake.stop()


def test_log(tmp):
    fake = start_fake("x", tmp, "--token", TOKEN)
    try:
        sent = [post(fake)[0], post(fake, token="nobody")[0],
                h.http(fake.url, "GET", "/2/users/me?user.fields=public_metrics",
                       token=TOKEN)[0]]
        fake.state()  # control requests are not logged
        log = fake.requests()
        check("the log has one line per accepted request, none for /_fake/",
              [(e["method"], e["path"], e["status"]) for e in log] ==
              [("POST", "/2/tweets", sent[0]), ("POST", "/2/tweets", sent[1]),
               ("GET", "/2/users/me", sent[2])], repr(log))
        check("a line has at_ms, query and the parsed body",
              log and isinstance(log[0].get("at_ms"), int) and
              log[0].get("body", {}).get("text", "").startswith("잠시멈춤") and
              log[2].get("query") == {"user.fields": "public_metrics"}, repr(log[:3]))
        ctl = fake.control("GET", "requests")
        check("GET /_fake/requests gives the same lines", ctl == log, repr(ctl))
        fake.reset()
        check("reset empties the log", fake.requests() == [], repr(fake.requests()))
    finally:
        fake.stop()


def test_demo_clock(tmp):
    """--demo-clock runs the stand-in's clock as make run's demo clock: START
    at the real EPOCH, SPEED times real time."""
    start, speed = 1584835200000, 1440  # 2020-03-22 09:00 KST
    epoch = int(time.time() * 1000)
    fake = start_fake("x", tmp, "--token", TOKEN, "--demo-clock", "%d:%d:%d" % (start, epoch,
                                                                                 speed))
    try:
        before = int(time.time() * 1000)
        now = fake.clock()
        after = int(time.time() * 1000)
        check("--demo-clock: the clock reads START + (real - EPOCH) x SPEED",
              start + (before - epoch) * speed <= now <= start + (after - epoch) * speed,
              "%d not in [%d, %d]" % (now, start + (before - epoch) * speed,
                                      start + (after - epoch) * speed))
    finally:
        fake.stop()
    for bad in ("1:2", "1:2:0", "a:b:c", "1:2:3x"):
        try:
            f = start_fake("x", tmp, "--demo-clock", bad, timeout=5)
            f.stop()
            check("--demo-clock %s is refused" % bad, False, "it started")
        except FakeError as e:
            check("--demo-clock %s is refused with the expected form" % bad,
                  "START_MS:EPOCH_MS:SPEED" in str(e), str(e)[-200:])


def test_options(tmp):
    for args, what in ((["--listen", "0.0.0.0:0"], "--listen 0.0.0.0"),
                       (["--listen", "192.168.1.1:0"], "--listen on a LAN address"),
                       (["--no-such-option"], "an unknown option"),
                       (["--followers", "many"], "a bad service option value")):
        try:
            fake = start_fake("x", tmp, *args, timeout=5)
            fake.stop()
            check("%s is refused" % what, False, "it started")
        except FakeError as e:
            check("%s is refused with exit status 2" % what, "exit status 2" in str(e), str(e))


def main():
    tmp = h.new_dir("fake-x")
    fake = start_fake("x", tmp, "--token", TOKEN, "--app-token", APP,
                      "--refresh-token", REFRESH)
    try:
        for t in (test_post, test_rate_headers, test_fault_rate_limit, test_fault_server_error,
                  test_fault_slow, test_fault_drop, test_fault_timeout,
                  test_timeout_client_leaves, test_share, test_tokens,
                  test_refresh, test_duplicate, test_validation, test_reads):
            t(fake)
        check("fake-x is still up after every fault", fake.alive())
    finally:
        check("fake-x exits 0 on SIGTERM with requests held", fake.stop() == 0)
    for t in (test_exhaustion, test_daily_limit, test_overlength_option, test_access_ttl_option,
              test_log, test_demo_clock, test_options):
        t(h.new_dir("fake-x-" + t.__name__))
    h.cleanup_dir(tmp)


if __name__ == "__main__":
    h.run(main)
