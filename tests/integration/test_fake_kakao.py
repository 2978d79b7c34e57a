"""The Kakao dealer stand-in (tests/fakes/fake_kakao.c) over real HTTP: the
NHN Cloud-style routes (AlimTalk v2.2 messages and raw-messages, FriendTalk
v2.3 messages), appkey + X-Secret-Key auth answered as header errors with
HTTP 200, the template registry, per-recipient results (named numbers and
the -mod rules), the 20:50-08:00 KST night block on the stand-in clock, the
idempotency key, the field limits with exact counts, the injected faults,
the recipient counts of /_fake/state with duplicates, the recipients log,
the core's --log-body-max, and reset.
"""

import json
import os
import re
import time

import harness as h
from harness import check
from fakes import start_fake

AK = "haechi-test-appkey"
SK = "haechi-test-secret"
SENDER = "a" * 40
SENDER2 = "seoul-channel-2"
BLOCKED_SENDER = "b" * 40
JSON_CT = "application/json;charset=UTF-8"
TEMPLATE = "[서울시] #{name}님, 2주간 '잠시멈춤'에 동참해 주세요. #{link}"
ROUTES = {"alimtalk": "/alimtalk/v2.2/appkeys/%s/messages",
          "raw": "/alimtalk/v2.2/appkeys/%s/raw-messages",
          "friendtalk": "/friendtalk/v2.3/appkeys/%s/messages"}
NOT_FRIEND, BLOCKED, NOT_TALK, INVALID, DEALER = (
    "01000000101", "01000000102", "01000000103", "01000000104", "01000000105")
DAY = h.seoul_ms(2020, 3, 2, 11, 0)
REQUEST_ID = re.compile(r"^[0-9]{14}[A-Za-z]{8}$")


def send(fake, route, body, secret=SK, appkey=AK, key=None, raw=None):
    headers = {} if secret is None else {"X-Secret-Key": secret}
    if key is not None:
        headers["X-NC-API-IDEMPOTENCY-KEY"] = key
    return h.http(fake.url, "POST", ROUTES[route] % appkey,
                  body=raw if raw is not None else body, content_type=JSON_CT, headers=headers)


def friend(no, content="[서울시] 잠시멈춤", **extra):
    r = {"recipientNo": no, "content": content}
    r.update(extra)
    return r


def alim(no, name="시민", link="https://www.seoul.go.kr/", **extra):
    r = {"recipientNo": no, "templateParameter": {"name": name, "link": link}}
    r.update(extra)
    return r


def ft_body(recipients, group="jamsi-2020-03", ad=False, sender=SENDER):
    body = {"senderKey": sender, "recipientList": recipients}
    if group is not None:
        body["senderGroupingKey"] = group
    if ad is not None:
        body["isAd"] = ad
    return body


def at_body(recipients, group="jamsi-2020-03", code="JAMSI01", sender=SENDER):
    body = {"senderKey": sender, "templateCode": code, "recipientList": recipients}
    if group is not None:
        body["senderGroupingKey"] = group
    return body


def codes(answer):
    s, _, b = answer
    if s != 200 or not isinstance(b, dict) or not isinstance(b.get("message"), dict):
        return None
    return [r["resultCode"] for r in b["message"]["sendResults"]]


def refused(answer, code, message=None):
    """A header error: HTTP 200, isSuccessful false, message null (and MESSAGE)."""
    s, _, b = answer
    if s != 200 or not isinstance(b, dict) or b.get("message", "absent") is not None:
        return False
    hd = b.get("header") or {}
    return hd.get("resultCode") == code and hd.get("isSuccessful") is False and \
        isinstance(hd.get("resultMessage"), str) and \
        (message is None or hd["resultMessage"] == message)


def accepted(fake):
    return fake.state()["accepted"]


def test_success_shape(fake):
    fake.reset()
    fake.clock(now_ms=DAY)
    s, hd, b = send(fake, "alimtalk", at_body([alim("01000000001", recipientGroupingKey="r1"),
                                               alim("01000000002")]))
    msg = b.get("message") or {} if isinstance(b, dict) else {}
    rid = msg.get("requestId", "")
    check("AlimTalk: HTTP 200, a JSON answer", s == 200 and "json" in hd.get("Content-Type", ""),
          repr((s, dict(hd))))
    check("AlimTalk: the answer is exactly the protocol's shape", b == {
        "header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": True},
        "message": {"requestId": rid, "senderGroupingKey": "jamsi-2020-03", "sendResults": [
            {"recipientSeq": 1, "recipientNo": "01000000001", "resultCode": 0,
             "resultMessage": "SUCCESS", "recipientGroupingKey": "r1"},
            {"recipientSeq": 2, "recipientNo": "01000000002", "resultCode": 0,
             "resultMessage": "SUCCESS", "recipientGroupingKey": None}]}}, repr(b))
    check("requestId is 14 digits of KST time and 8 letters", REQUEST_ID.match(rid) and
          rid.startswith("20200302110"), rid)
    ft = send(fake, "friendtalk", ft_body([friend("01000000003")], group=None))
    check("FriendTalk: success, senderGroupingKey null when absent", codes(ft) == [0] and
          ft[2]["message"]["senderGroupingKey"] is None and
          ft[2]["message"]["requestId"] != rid, repr(ft))
    raw = send(fake, "raw", at_body([{"recipientNo": "01000000004", "content": "렌더링된 본문"}]))
    check("AlimTalk raw-messages: success", codes(raw) == [0], repr(raw))
    ids = {rid, ft[2]["message"]["requestId"], raw[2]["message"]["requestId"]}
    check("every accepted request has its own requestId", len(ids) == 3, ids)
    check("the state counts the 4 accepted recipients", fake.state() == {
        "requests": 3, "accepted": 4, "refused": {}, "rejected": {}, "rate_limited": 0,
        "groups": {"jamsi-2020-03": {"recipients": 3, "accepted": 3, "duplicates": 0},
                   "": {"recipients": 1, "accepted": 1, "duplicates": 0}}}, fake.state())


def test_auth(fake):
    fake.reset()
    body = at_body([alim("01000000001")])
    check("a wrong appkey in the path is -1000 (HTTP 200)",
          refused(send(fake, "alimtalk", body, appkey="other"), -1000, "invalid appkey: other"))
    check("no X-Secret-Key is -1001", refused(send(fake, "alimtalk", body, secret=None), -1001,
                                              "X-Secret-Key is required"))
    check("a wrong X-Secret-Key is -1001",
          refused(send(fake, "friendtalk", ft_body([friend("01000000001")]), secret="x"), -1001))
    check("the appkey is checked before the secret",
          refused(send(fake, "raw", body, appkey="other", secret="x"), -1000))
    st = fake.state()
    check("refused requests are counted, none accepted", st["requests"] == 4 and
          st["accepted"] == 0 and st["rejected"] == {"-1000": 2, "-1001": 2}, st)


def test_templates(fake):
    fake.reset()
    check("an unknown templateCode is -1020 naming it", refused(
        send(fake, "alimtalk", at_body([alim("01000000001")], code="NOPE")), -1020,
        "template not found: NOPE"))
    check("raw-messages wants a registered template too", refused(
        send(fake, "raw", at_body([{"recipientNo": "01000000001", "content": "x"}],
                                  code="NOPE")), -1020))
    check("no templateCode is -2001", refused(send(fake, "alimtalk", {
        "senderKey": SENDER, "recipientList": [alim("01000000001")]}), -2001,
        "templateCode is required"))
    missing = [alim("01000000001"), {"recipientNo": "01000000002",
                                     "templateParameter": {"name": "김"}}]
    check("a placeholder without a value is -1021 naming it and the recipient", refused(
        send(fake, "alimtalk", at_body(missing)), -1021,
        "template parameter missing: #{link} in recipientList[1]"))
    check("no templateParameter at all is -1021 for the first placeholder", refused(
        send(fake, "alimtalk", at_body([{"recipientNo": "01000000001"}])), -1021,
        "template parameter missing: #{name} in recipientList[0]"))
    check("a number is a value", codes(send(fake, "alimtalk", at_body(
        [{"recipientNo": "01000000001", "templateParameter": {"name": 7, "link": "x"}}]))) == [0])
    fixed = len(TEMPLATE) - len("#{name}") - len("#{link}")
    fits = alim("01000000001", name="가" * (1000 - fixed), link="")
    over = alim("01000000001", name="가" * (1001 - fixed), link="")
    check("the rendered template may be 1,000 characters",
          codes(send(fake, "alimtalk", at_body([fits]))) == [0])
    check("1,001 rendered characters is -2003", refused(
        send(fake, "alimtalk", at_body([over])), -2003,
        "recipientList[0].content (the rendered template) is 1001 characters, over 1000"))
    check("only the 2 good requests were accepted", accepted(fake) == 2, fake.state())


def test_night_block(fake):
    fake.reset()
    one = [friend("01000000001"), friend("01000000002")]
    cases = [((20, 49), True, [0, 0]), ((20, 50), True, [3022, 3022]),
             ((23, 0), None, [3022, 3022]), ((23, 0), False, [0, 0]),
             ((7, 59), True, [3022, 3022]), ((8, 0), True, [0, 0])]
    for (hour, minute), ad, want in cases:
        fake.clock(now_ms=h.seoul_ms(2020, 3, 3, hour, minute) + 1000)
        got = send(fake, "friendtalk", ft_body(one, ad=ad))
        check("FriendTalk isAd %s at %02d:%02d KST: %s" % (ad, hour, minute, want),
              codes(got) == want and got[2]["header"]["resultCode"] == 0, repr(got))
    fake.clock(now_ms=h.seoul_ms(2020, 3, 3, 23, 0))
    check("AlimTalk at 23:00 KST is not held",
          codes(send(fake, "alimtalk", at_body([alim("01000000001")]))) == [0])
    st = fake.state()
    check("night-blocked recipients are refused 3022, not accepted",
          st["refused"] == {"3022": 6} and st["accepted"] == 7, st)
    fake.clock(now_ms=DAY)


def test_idempotency(fake):
    fake.reset()
    fake.clock(now_ms=DAY)
    body = ft_body([friend("01000000001")])
    first = send(fake, "friendtalk", body, key="batch-1")
    check("the first request with a key is accepted", codes(first) == [0], repr(first))
    fake.clock(advance_ms=9 * 60 * 1000 + 59 * 1000)
    check("the same key 9:59 later is -1005", refused(
        send(fake, "friendtalk", body, key="batch-1"), -1005,
        "duplicate idempotency key: batch-1"))
    check("... also on another route",
          refused(send(fake, "alimtalk", at_body([alim("01000000001")]), key="batch-1"), -1005))
    check("... and nothing was recorded", accepted(fake) == 1, fake.state())
    fake.clock(advance_ms=1000)
    check("10:00 after it, the key is free again",
          codes(send(fake, "friendtalk", body, key="batch-1")) == [0])
    check("a request refused by a header error leaves its key unused",
          refused(send(fake, "friendtalk", ft_body([friend("01000000001")], sender="nope"),
                       key="batch-2"), -2017) and
          codes(send(fake, "friendtalk", body, key="batch-2")) == [0])
    fake.fault("server-error", route=ROUTES["friendtalk"] % ":appkey")
    check("an injected 503 leaves its key unused",
          send(fake, "friendtalk", body, key="batch-3")[0] == 503 and
          codes(send(fake, "friendtalk", body, key="batch-3")) == [0])
    fake.fault("drop-after-store", route=ROUTES["friendtalk"] % ":appkey")
    dropped = send(fake, "friendtalk", body, key="batch-4")
    check("drop-after-store: no answer", dropped[0] is None, repr(dropped))
    check("... the retry with the key is -1005, the recipient counted once",
          refused(send(fake, "friendtalk", body, key="batch-4"), -1005) and
          accepted(fake) == 5, fake.state())
    fake.reset()
    check("reset forgets the keys", codes(send(fake, "friendtalk", body, key="batch-4")) == [0])


def test_recipient_results(fake):
    fake.reset()
    fake.clock(now_ms=DAY)
    nos = [NOT_FRIEND, BLOCKED, NOT_TALK, INVALID, DEALER, "01000000106", "+821000000107",
           "010-0000-0108"]
    ft = send(fake, "friendtalk", ft_body([friend(n) for n in nos]))
    check("FriendTalk: not-friend 2003, blocked 3018, not-talk-user 3019, invalid 3008, "
          "dealer-error 3000, accepted 0, not digits 3008",
          codes(ft) == [2003, 3018, 3019, 3008, 3000, 0, 3008, 3008], repr(codes(ft)))
    msgs = [r["resultMessage"] for r in ft[2]["message"]["sendResults"]]
    check("each result has its message", msgs[:3] == [
        "not a channel friend", "cannot be sent: the user blocked the channel",
        "not a KakaoTalk user"] and msgs[3] == "invalid phone number" and msgs[5] == "SUCCESS",
        msgs)
    at = send(fake, "alimtalk", at_body([alim(n) for n in nos]))
    check("AlimTalk: not-friend does not apply (0), the others as for FriendTalk",
          codes(at) == [0, 3018, 3019, 3008, 3000, 0, 3008, 3008], repr(codes(at)))
    st = fake.state()
    check("the refusals are counted by code, the accepted ones by group", st["refused"] == {
        "2003": 1, "3018": 2, "3019": 2, "3008": 6, "3000": 2} and st["groups"] == {
        "jamsi-2020-03": {"recipients": 2, "accepted": 3, "duplicates": 1}}, st)


def expected_mod(numbers, mods, friendtalk=True):
    """The stand-in's documented rule: L = the last 7 digits; 3019, 3018, 2003 in turn."""
    out = []
    for no in numbers:
        last7 = int(no[-7:])
        if mods.get("not-talk-user") and last7 % mods["not-talk-user"] == 0:
            out.append(3019)
        elif mods.get("blocked") and last7 % mods["blocked"] == 0:
            out.append(3018)
        elif friendtalk and mods.get("not-friend") and last7 % mods["not-friend"] == 0:
            out.append(2003)
        else:
            out.append(0)
    return out


def test_mod_rules(tmp):
    fake = start_fake("kakao", tmp, "--appkey", AK, "--secret", SK, "--not-friend-mod", "3",
                      "--blocked-mod", "5", "--not-talk-user-mod", "7", "--night-block", "off")
    try:
        mods = {"not-friend": 3, "blocked": 5, "not-talk-user": 7}
        fake.clock(now_ms=h.seoul_ms(2020, 3, 2, 23, 0))
        first = ["010%08d" % i for i in range(1, 1001)]
        second = ["010%08d" % i for i in range(501, 1501)]
        a = send(fake, "friendtalk", ft_body([friend(n) for n in first], group="g", ad=True,
                                             sender="any-key"))
        b = send(fake, "alimtalk", at_body([{"recipientNo": n, "content": "x"} for n in second],
                                           group="g", code="T"), key=None)
        check("-mod: no --template means no template is known", refused(b, -1020))
        b = send(fake, "raw", at_body([{"recipientNo": n, "content": "x"} for n in second],
                                      group="g", code="T"))
        check("-mod: no --template, raw-messages is refused too", refused(b, -1020))
        b = send(fake, "friendtalk", ft_body([friend(n) for n in second], group="g"))
        want_a, want_b = expected_mod(first, mods), expected_mod(second, mods)
        check("-mod: without --sender-key any key is known; --night-block off lets ads through "
              "at 23:00", codes(a) is not None and len(codes(a)) == 1000)
        check("-mod: the results of 1,000 recipients are the documented rule's",
              codes(a) == want_a and codes(b) == want_b)
        ok = [n for n, c in zip(first, want_a) if c == 0] + \
            [n for n, c in zip(second, want_b) if c == 0]
        refusals = {}
        for c in want_a + want_b:
            if c:
                refusals[str(c)] = refusals.get(str(c), 0) + 1
        st = fake.state()
        check("-mod: the state's counts are exact", st["accepted"] == len(ok) and
              st["groups"]["g"] == {"recipients": len(set(ok)), "accepted": len(ok),
                                    "duplicates": len(ok) - len(set(ok))} and
              st["refused"] == refusals, (st, len(ok), len(set(ok)), refusals))
        zero = send(fake, "friendtalk", ft_body([friend("01000000000")]))
        check("-mod: L = 0 matches every rule: the first, 3019", codes(zero) == [3019])
    finally:
        check("the -mod stand-in stops cleanly", fake.stop() == 0)


def test_limits(fake):
    fake.reset()
    fake.clock(now_ms=DAY)
    thousand = [friend("0102%07d" % i) for i in range(1000)]
    check("1,000 recipients are accepted", codes(send(fake, "friendtalk", ft_body(thousand))) ==
          [0] * 1000)
    check("1,001 recipients are -2004", refused(
        send(fake, "friendtalk", ft_body(thousand + [friend("01099999999")])), -2004,
        "recipientList over 1000 (1001)"))
    check("no recipients is -2001", refused(send(fake, "friendtalk", ft_body([])), -2001))
    check("no recipientList is -2001", refused(
        send(fake, "friendtalk", {"senderKey": SENDER}), -2001))
    check("a recipientList that is not an array is -2000", refused(
        send(fake, "friendtalk", ft_body("01000000001")), -2000, "recipientList must be an array"))
    rules = [
        ("content of 1,000 characters", [friend("01000000001", "가" * 1000)], None),
        ("1,000 astral characters (code points, not UTF-16 units)",
         [friend("01000000001", "😷" * 1000)], None),
        ("content of 1,001 characters", [friend("01000000001", "가" * 1001)],
         (-2003, "recipientList[0].content is 1001 characters, over 1000")),
        ("content of 400 characters with an image",
         [friend("01000000001", "가" * 400, imageUrl="https://x/y.jpg")], None),
        ("content of 401 characters with an image",
         [friend("01000000001", "가" * 401, imageUrl="https://x/y.jpg")],
         (-2003, "recipientList[0].content (with imageUrl) is 401 characters, over 400")),
        ("no content", [{"recipientNo": "01000000001"}],
         (-2001, "recipientList[0].content is required")),
        ("5 buttons", [friend("01000000001", buttons=[
            {"ordering": i, "type": "BK", "name": "버튼%d" % i} for i in range(5)])], None),
        ("6 buttons", [friend("01000000001", buttons=[
            {"ordering": i, "type": "BK", "name": "버튼%d" % i} for i in range(6)])],
         (-2018, "recipientList[0].buttons has 6 buttons, at most 5")),
        ("a button name of 14 characters", [friend("01000000001", buttons=[
            {"type": "WL", "name": "가" * 14, "linkMo": "https://m.seoul.go.kr/"}])], None),
        ("a button name of 15 characters", [friend("01000000001", buttons=[
            {"type": "WL", "name": "가" * 15, "linkMo": "https://m.seoul.go.kr/"}])],
         (-2018, "recipientList[0].buttons[0].name must be 1..14 characters, not 15")),
        ("a WL button without linkMo", [friend("01000000001", buttons=[
            {"type": "WL", "name": "보기", "linkPc": "https://www.seoul.go.kr/"}])],
         (-3000, "recipientList[0].buttons[0].linkMo is required for a WL button")),
        ("a button of an unknown type", [friend("01000000001", buttons=[
            {"type": "XX", "name": "보기"}])], (-2018, None)),
        ("a recipientNo of 15 digits", [friend("0" * 15)], None),
        ("a recipientNo of 16 digits", [friend("01000000001"), friend("0" * 16)],
         (-2002, "recipientList[1].recipientNo is over 15 characters")),
        ("no recipientNo", [{"content": "x"}], (-2001, "recipientList[0].recipientNo is required")),
        ("an SMS fallback", [friend("01000000001", resendParameter={
            "isResend": True, "resendType": "LMS", "resendTitle": "서울시",
            "resendContent": "(광고) 잠시멈춤", "resendSendNo": "0212345678",
            "resendUnsubscribeNo": "0801234567"})], None),
        ("an MMS fallback", [friend("01000000001", resendParameter={"resendType": "MMS"})],
         (-2005, "recipientList[0].resendParameter.resendType must be SMS or LMS")),
    ]
    for name, recipients, want in rules:
        got = send(fake, "friendtalk", ft_body(recipients))
        if want is None:
            check("limits: %s is accepted" % name, codes(got) == [0] * len(recipients),
                  repr(got)[:300])
        else:
            check("limits: %s is %d" % (name, want[0]), refused(got, *want), repr(got)[:300])
    headers = [("no senderKey", {"recipientList": [friend("01000000001")]},
                (-2001, "senderKey is required")),
               ("an unknown senderKey", ft_body([friend("01000000001")], sender="unknown"),
                (-2017, "unknown sender profile: senderKey unknown")),
               ("a second configured senderKey", ft_body([friend("01000000001")],
                                                         sender=SENDER2), None),
               ("a blocked senderKey", ft_body([friend("01000000001")], sender=BLOCKED_SENDER),
                (-1027, None)),
               ("isAd that is not a boolean", dict(ft_body([friend("01000000001")]), isAd="yes"),
                (-2000, "isAd must be a boolean"))]
    for name, body, want in headers:
        got = send(fake, "friendtalk", body)
        if want is None:
            check("fields: %s is accepted" % name, codes(got) == [0], repr(got))
        else:
            check("fields: %s is %d" % (name, want[0]), refused(got, *want), repr(got))
    check("a body that is not JSON is -2000", refused(
        send(fake, "friendtalk", None, raw="not json"), -2000, "the body must be a JSON object"))
    ok = 1000 + sum(1 for _, r, w in rules if w is None) + 1
    check("refused requests recorded nothing", accepted(fake) == ok, (fake.state(), ok))


def test_faults(fake):
    fake.reset()
    route = ROUTES["friendtalk"] % ":appkey"
    body = ft_body([friend("01000000001")])
    fake.fault("rate-limit", route=route, ms=2500)
    s, hd, b = send(fake, "friendtalk", body)
    check("rate-limit: HTTP 429, Retry-After the fault's ms rounded up, the header body",
          s == 429 and hd.get("Retry-After") == "3" and b == {
              "header": {"resultCode": -9999, "resultMessage": "rate limit",
                         "isSuccessful": False}, "message": None}, repr((s, dict(hd), b)))
    fake.fault("rate-limit", route=route)
    s, hd, _ = send(fake, "friendtalk", body)
    check("rate-limit without ms: Retry-After 1", s == 429 and hd.get("Retry-After") == "1")
    fake.fault("server-error", route=route)
    s, _, b = send(fake, "friendtalk", body)
    check("server-error: 503 with the header body", s == 503 and b == {
        "header": {"resultCode": -9000, "resultMessage": "internal server error",
                   "isSuccessful": False}, "message": None}, repr((s, b)))
    fake.fault("server-error", route=route, status=500)
    check("server-error with status 500", send(fake, "friendtalk", body)[0] == 500)
    fake.fault("drop", route=route)
    check("drop: no answer", send(fake, "friendtalk", body)[0] is None)
    named = {"bad-appkey": -1000, "bad-secret": -1001, "duplicate": -1005,
             "no-sender-key": -1006, "sender-blocked": -1027, "unknown-sender": -2017,
             "bad-button": -2018, "template-not-found": -1020}
    for name, code in sorted(named.items()):
        fake.fault("error:" + name, route=route)
        check("error:%s is header %d with HTTP 200" % (name, code),
              refused(send(fake, "friendtalk", body), code))
    st = fake.state()
    check("no faulted request was handled or accepted", st["accepted"] == 0 and
          st["requests"] == 0 and st["rate_limited"] == 2, st)
    fake.fault("slow", route=route, ms=300)
    t = time.monotonic()
    got = send(fake, "friendtalk", body)
    check("slow: answered after the delay, accepted", codes(got) == [0] and
          time.monotonic() - t >= 0.3, repr(got))


def test_rate(tmp):
    fake = start_fake("kakao", tmp, "--appkey", AK, "--secret", SK, "--rate", "2")
    try:
        body = ft_body([friend("01000000001")], ad=False)
        for _ in range(5):  # a second of the stand-in clock may pass under load: try again
            start = (fake.clock() // 1000 + 10) * 1000
            fake.clock(now_ms=start)
            got = [send(fake, "friendtalk", body) for _ in range(3)]
            if fake.clock() < start + 1000:
                break
        check("--rate 2: two requests in a second are accepted",
              [codes(g) for g in got[:2]] == [[0], [0]], repr(got[:2]))
        check("--rate 2: the third is 429 with Retry-After 1", got[2][0] == 429 and
              got[2][1].get("Retry-After") == "1" and
              got[2][2]["header"]["resultCode"] == -9999, repr(got[2]))
        fake.clock(now_ms=start + 1000)
        check("--rate 2: the next second takes requests again",
              codes(send(fake, "friendtalk", body)) == [0])
        check("--rate: the state counts the refused one", fake.state()["rate_limited"] == 1)
    finally:
        fake.stop()


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f.read().splitlines()]


def test_state_and_log(fake, recipients_log):
    fake.reset()
    fake.clock(now_ms=DAY)
    check("after reset the state is empty", fake.state() == {
        "requests": 0, "accepted": 0, "groups": {}, "refused": {}, "rejected": {},
        "rate_limited": 0}, fake.state())
    three = [friend("01000000001"), friend("01000000002"), friend("01000000003")]
    a = send(fake, "friendtalk", ft_body(three, group="g-a"))
    b = send(fake, "friendtalk", ft_body(three + [friend(BLOCKED)], group="g-a"))
    c = send(fake, "alimtalk", at_body([alim("01000000001"), alim("01000000001")], group="g-b"))
    st = fake.state()
    check("state: per group distinct recipients, accepted and duplicates", st["groups"] == {
        "g-a": {"recipients": 3, "accepted": 6, "duplicates": 3},
        "g-b": {"recipients": 1, "accepted": 2, "duplicates": 1}} and st["accepted"] == 8 and
        st["requests"] == 3 and st["refused"] == {"3018": 1}, st)
    lines = read_lines(recipients_log)
    ids = [x[2]["message"]["requestId"] for x in (a, b, c)]
    check("the recipients log has one line per accepted recipient", len(lines) == 8, lines)
    check("a line is {at_ms, group, no, type, request}", lines[0] == {
        "at_ms": DAY + (lines[0]["at_ms"] - DAY), "group": "g-a", "no": "01000000001",
        "type": "friendtalk", "request": ids[0]} and 0 <= lines[0]["at_ms"] - DAY < 60000,
        lines[0])
    check("the lines name their requests and types",
          [x["request"] for x in lines] == [ids[0]] * 3 + [ids[1]] * 3 + [ids[2]] * 2 and
          [x["type"] for x in lines[6:]] == ["alimtalk", "alimtalk"] and
          BLOCKED not in [x["no"] for x in lines], lines)
    fake.reset()
    check("reset empties the recipients log and the state", read_lines(recipients_log) == [] and
          fake.state()["groups"] == {})


def test_core_log(fake):
    fake.reset()
    big = ft_body([friend("010%08d" % i, "가" * 50) for i in range(1000)], group="log")
    send(fake, "friendtalk", big)
    send(fake, "friendtalk", ft_body([friend("01000000001")], group="small"))
    got = fake.requests()
    first = got[0]["body"] if got else {}
    check("--log-body-max: a long body is logged cut, with its length",
          len(got) == 2 and first.get("truncated") is True and
          first.get("bytes") > 100000 and len(first.get("head", "").encode()) <= 2048 and
          first["head"].startswith('{"senderKey"'), repr(got)[:300])
    check("... a short one whole", len(got) == 2 and got[1]["body"]["senderGroupingKey"] ==
          "small" and got[1]["status"] == 200, repr(got[1:])[:300])


def test_speed(fake):
    """A benchmark's load: 1,000-recipient requests, each answered in full. How
    fast is for `make bench` to say (tests/bench/kakao.py), never a test."""
    fake.reset()
    fake.clock(now_ms=DAY)
    bodies = [json.dumps(ft_body([friend("0103%07d" % (k * 1000 + i), "[서울시] 잠시멈춤 " * 8)
                                  for i in range(1000)], group="speed"),
                         ensure_ascii=False) for k in range(20)]
    answers = [send(fake, "friendtalk", None, raw=b) for b in bodies]
    check("load: 20 requests of 1,000 recipients all accepted, 20,000 distinct recipients",
          all(codes(a) == [0] * 1000 for a in answers) and
          fake.state()["groups"]["speed"]["recipients"] == 20000)


def test_options(tmp):
    for bad in (["--night-block", "maybe"], ["--template", "NOEQUALS"], ["--not-friend", "x1"],
                ["--blocked-mod", "-1"], ["--rate", "lots"], ["--log-body-max", "-5"]):
        try:
            start_fake("kakao", tmp, *bad, timeout=5).stop()
            check("a bad option %s stops the start" % bad, False)
        except Exception as e:  # noqa: BLE001 - FakeError with its output
            check("a bad option %s stops the start, naming it" % bad, bad[0] in str(e), str(e))


def main():
    tmp = h.new_dir("fake-kakao")
    recipients_log = os.path.join(tmp, "recipients.jsonl")
    fake = start_fake("kakao", tmp, "--appkey", AK, "--secret", SK, "--sender-key", SENDER,
                      "--sender-key", SENDER2, "--blocked-sender-key", BLOCKED_SENDER,
                      "--template", "JAMSI01=" + TEMPLATE, "--not-friend", NOT_FRIEND,
                      "--blocked", BLOCKED, "--not-talk-user", NOT_TALK, "--invalid", INVALID,
                      "--dealer-error", DEALER, "--recipients-log", recipients_log,
                      "--log-body-max", "2048")
    try:
        for t in (test_success_shape, test_auth, test_templates, test_night_block,
                  test_idempotency, test_recipient_results, test_limits, test_faults,
                  test_core_log, test_speed):
            t(fake)
        test_state_and_log(fake, recipients_log)
    finally:
        check("the stand-in stops cleanly on SIGTERM", fake.stop() == 0)
    test_mod_rules(tmp)
    test_rate(tmp)
    test_options(tmp)


if __name__ == "__main__":
    h.run(main)
