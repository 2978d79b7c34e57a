"""The Instagram content-publishing stand-in (tests/fakes/fake_instagram.c)
over real HTTP: the container state machine on the stand-in clock
(IN_PROGRESS, FINISHED, EXPIRED, PUBLISHED), the early publish (9007/2207027),
the rolling 24-hour publishing quota (content_publishing_limit, 9/2207042),
the caption limit, the named errors of shared/CHANNELS.md §3.4, and the
reads of the account, its media and their insights.
"""

import itertools

import harness as h
from harness import check
from fakes import start_fake

TOKEN = "ig-token-1"
IG = "17841400000000001"
IMAGE = "https://www.seoul.go.kr/campaigns/jamsi-meomchum/poster.png"
DAY_MS = 86400 * 1000
_serial = itertools.count(1)


def caption():
    return "[서울시] 잠시 멈춤 %d #잠시멈춤" % next(_serial)


def call(fake, method, path, body=None, token=TOKEN):
    return h.http(fake.url, method, path, token=token, body=body,
                  content_type="application/json" if body is not None else None)


def container(fake, text=None, image=IMAGE):
    s, _, b = call(fake, "POST", "/%s/media" % IG, {"image_url": image,
                                                    "caption": text or caption()})
    return s, b


def status(fake, cid):
    s, _, b = call(fake, "GET", "/%s?fields=status_code,status" % cid)
    return b.get("status_code") if isinstance(b, dict) else (s, b)


def publish(fake, cid):
    return call(fake, "POST", "/%s/media_publish?creation_id=%s" % (IG, cid))


def err(body):
    e = body.get("error") if isinstance(body, dict) else None
    return (e.get("code"), e.get("error_subcode")) if isinstance(e, dict) else None


def test_flow(fake):
    text = caption()
    s, b = container(fake, text)
    cid = b.get("id") if isinstance(b, dict) else None
    check("POST /{ig}/media answers 200 with a container id",
          s == 200 and isinstance(cid, str) and cid.isdigit(), "%s %r" % (s, b))
    check("with --ready-after-ms 0 the container is FINISHED at once",
          status(fake, cid) == "FINISHED", repr(status(fake, cid)))
    s, _, b = publish(fake, cid)
    mid = b.get("id") if isinstance(b, dict) else None
    check("media_publish?creation_id answers 200 with a media id",
          s == 200 and isinstance(mid, str) and mid != cid, "%s %r" % (s, b))
    check("the container is PUBLISHED after the publish", status(fake, cid) == "PUBLISHED")
    s, _, b = publish(fake, cid)
    check("publishing it again is refused (24/2207008)", err(b) == (24, 2207008), repr(b))
    s, _, b = call(fake, "GET", "/%s/media?fields=id,caption,timestamp" % IG)
    data = b.get("data") if isinstance(b, dict) else None
    check("GET /{ig}/media lists it first, with its caption and timestamp",
          s == 200 and data and data[0]["id"] == mid and data[0]["caption"] == text and
          data[0]["timestamp"].endswith("+0000"), repr(b))
    s, _, b = publish(fake, "999")
    check("publishing an unknown container is 24/2207006", err(b) == (24, 2207006), repr(b))


def test_validation(fake):
    s, _, b = call(fake, "POST", "/%s/media" % IG, {"caption": "no image"})
    check("a container without image_url is code 100", s == 400 and err(b) == (100, None),
          repr(b))
    s, b = container(fake, "가" * 2201)
    check("a caption of 2,201 characters is 400 36004/2207010",
          s == 400 and err(b) == (36004, 2207010), repr(b))
    s, b = container(fake, "가" * 2200)
    check("a caption of 2,200 characters is accepted", s == 200, repr(b))
    s, b = container(fake, image="https://unreachable.example/poster.jpg")
    check("an image that cannot be fetched is 9004/2207052", err(b) == (9004, 2207052), repr(b))
    s, b = container(fake, image="https://broken.example/poster.jpg")
    st = call(fake, "GET", "/%s?fields=status_code,status" % b.get("id"))[2]
    check("an image the service cannot process makes an ERROR container naming 2207052",
          s == 200 and st.get("status_code") == "ERROR" and "2207052" in st.get("status", ""),
          repr(st))
    s, _, b = call(fake, "POST", "/%s/media" % IG, {"image_url": IMAGE}, token="nobody")
    check("an unknown token is 190/467", err(b) == (190, 467), repr(b))


def test_state_machine(tmp):
    fake = start_fake("instagram", tmp, "--token", TOKEN, "--ready-after-ms", "30000")
    try:
        _, b = container(fake)
        cid = b["id"]
        check("with --ready-after-ms 30000 a new container is IN_PROGRESS",
              status(fake, cid) == "IN_PROGRESS")
        s, _, b = publish(fake, cid)
        check("publishing it early is 400 9007/2207027 (not ready)",
              s == 400 and err(b) == (9007, 2207027), repr(b))
        fake.clock(advance_ms=30000)
        check("30 s later (stand-in clock) it is FINISHED", status(fake, cid) == "FINISHED")
        _, b2 = container(fake)
        fake.clock(advance_ms=DAY_MS)
        check("24 h later an unpublished container is EXPIRED",
              status(fake, b2["id"]) == "EXPIRED", repr(status(fake, b2["id"])))
        s, _, b = publish(fake, b2["id"])
        check("publishing an EXPIRED container is -2/2207020", err(b) == (-2, 2207020), repr(b))
    finally:
        check("fake-instagram exits 0 on SIGTERM", fake.stop() == 0)


def test_quota(tmp):
    fake = start_fake("instagram", tmp, "--token", TOKEN, "--quota-total", "2")
    try:
        s, _, b = call(fake, "GET", "/%s/content_publishing_limit?fields=quota_usage,config" % IG)
        entry = (b.get("data") or [{}])[0] if isinstance(b, dict) else {}
        check("content_publishing_limit reports usage 0 of --quota-total 2 in 86400 s",
              s == 200 and entry.get("quota_usage") == 0 and
              entry.get("config") == {"quota_total": 2, "quota_duration": 86400}, repr(b))
        first_at = fake.clock()
        for _ in range(2):
            _, c = container(fake)
            publish(fake, c["id"])
            fake.clock(advance_ms=60000)
        _, c = container(fake)
        s, _, b = publish(fake, c["id"])
        check("a publish over the quota is 400 9/2207042", s == 400 and err(b) == (9, 2207042),
              repr(b))
        _, _, b = call(fake, "GET", "/%s/content_publishing_limit?fields=quota_usage,config" % IG)
        check("content_publishing_limit now reports 2", b["data"][0]["quota_usage"] == 2, repr(b))
        st = fake.state()["quota"]
        check("the state says when the oldest publish leaves the window",
              first_at + DAY_MS <= st["frees_ms"] < first_at + DAY_MS + 5000, repr(st))
        fake.clock(now_ms=st["frees_ms"])
        s, _, b = publish(fake, c["id"])
        check("once the oldest publish is 24 h old, publishing works again", s == 200, repr(b))
    finally:
        fake.stop()


def test_named_errors(fake):
    cases = [("error:spam", (4, 2207051)), ("error:restricted", (25, 2207050)),
             ("error:expired-container", (-2, 2207020)), ("error:not-ready", (9007, 2207027)),
             ("error:quota", (9, 2207042)), ("error:caption", (36004, 2207010)),
             ("error:image", (9004, 2207052)), ("error:token-expired", (190, 463)),
             ("error:permission", (200, None)), ("rate-limit", (4, None)),
             ("server-error", (-1, 2207001))]
    for fault, want in cases:
        fake.fault(fault, route="/:ig/media")
        s, b = container(fake)
        check("fault %s answers Graph %s" % (fault, "/".join(str(x) for x in want if x)),
              err(b) == want, "%s %r" % (s, b))


def test_reads(fake):
    fake.reset()
    s, _, b = call(fake, "GET", "/%s?fields=followers_count" % IG)
    check("GET /{ig}?fields=followers_count gives 280000 (28만)",
          s == 200 and b.get("followers_count") == 280000, repr(b))
    _, c = container(fake)
    mid = publish(fake, c["id"])[2]["id"]
    fake.clock(advance_ms=100 * 60 * 1000)
    s, _, b = call(fake, "GET", "/%s/insights?metric=impressions,reach" % mid)
    got = {m["name"]: m["values"][0]["value"] for m in b.get("data", [])} \
        if isinstance(b, dict) else {}
    imp = 280000 * 100 // 4800
    check("media insights follow the documented formula",
          s == 200 and got == {"impressions": imp, "reach": imp * 7 // 10}, repr(b))
    s, _, b = call(fake, "GET", "/%s/insights?metric=views" % mid)
    check("views is answered too", s == 200 and b["data"][0]["values"][0]["value"] == imp,
          repr(b))
    s, _, b = call(fake, "GET", "/%s/insights?metric=likes_per_hour" % mid)
    check("an unknown metric is code 100", err(b) == (100, None), repr(b))


def main():
    tmp = h.new_dir("fake-instagram")
    fake = start_fake("instagram", tmp, "--token", TOKEN)
    try:
        for t in (test_flow, test_validation, test_named_errors, test_reads):
            t(fake)
        n = len(fake.requests(path="/%s/media_publish" % IG, method="POST"))
        check("the log counts the publishes since the reset", n == 1, repr(n))
        check("fake-instagram is still up after every fault", fake.alive())
    finally:
        check("fake-instagram exits 0 on SIGTERM", fake.stop() == 0)
    test_state_machine(h.new_dir("fake-instagram-states"))
    test_quota(h.new_dir("fake-instagram-quota"))
    h.cleanup_dir(tmp)


if __name__ == "__main__":
    h.run(main)
