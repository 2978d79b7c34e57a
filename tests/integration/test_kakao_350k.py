"""The KakaoTalk channel at the report's size. A 350,000-member audience
list (Seoul's channel had 35만 friends), of whom some thousands have
unsubscribed, bounced or blocked the channel, and one release to all of
them through the dealer stand-in, some of whose recipients are not friends
of the channel.

The stand-in must have received each active member exactly once, and none
of the others; the release's record and progress must say the same.
`make test` runs it on the sanitizer build, `make soak` on the release
build.

The daemon's Redis link gets 10 s before it declares Redis silent, not the
tests' usual 2 s: on the sanitizer build, with this machine's 2 cores
shared by the daemon, the stand-in and Redis, the daemon's loop sometimes
reads an answer more than 2 s late during this send (Redis's slowest
command meanwhile is a 13 ms batch read, SLOWLOG says), and each false
"Redis down" turns into retried batches. `perf record` of this run puts the
daemon's time in ASan's allocator (Allocate, the stack depot, unwinding):
the many small allocations of jansson building each 1,000-recipient body
and reading each answer, eight batches of them in one loop turn. The
release build sends all 350,000 at the usual 2 s, exactly, in about 8 s
(docs/benchmarks.md); writing the body as text would take most of those
allocations away.
"""

import datetime

import audience_gen
import harness as h
import list_world
from harness import check

N = 350000
LIST = "seoul-friends-350k"
DUE_MS = h.seoul_ms(2020, 3, 23, 10, 0)
NOT_FRIEND_MOD = 997  # the stand-in refuses numbers whose last 7 digits divide by it


def doc_text():
    return h.example_campaign()["sns"]["text"]["ko"]


def main():
    world = list_world.ListWorld("k350k", fake_args=["--not-friend-mod", str(NOT_FRIEND_MOD)],
                                 engine={"backoff_ms": 1000, "max_attempts": 5,
                                         "worker_concurrency": 64},
                                 redis_timeout_ms=10000)
    try:
        if not world.start():
            return
        world.clock(DUE_MS - 60 * 1000)
        # The file's status column marks some thousands unsubscribed, blocked,
        # bounced or suppressed (audience_gen.STATUS_EVERY).
        p, wrote = world.import_list(LIST, N, status=True)
        if not check("the %d-member list is imported" % N, p.returncode == 0,
                     (p.stdout + p.stderr)[-600:]):
            return
        members = audience_gen.ids(wrote)
        inactive = {audience_gen.number(i): audience_gen.status_of(i) for i in range(N)
                    if audience_gen.status_of(i) != "active"}
        s, _, body = world.daemon.http("GET", "/api/v1/audiences/%s" % LIST, "viewer")
        active = (body or {}).get("counts", {}).get("active") if isinstance(body, dict) else None
        check("the list counts %d active members" % (N - len(inactive)),
              active == N - len(inactive), body)

        at = datetime.datetime.fromtimestamp(DUE_MS / 1000, h.SEOUL).strftime(
            "%Y-%m-%dT%H:%M:%S")
        # A KakaoTalk message's length; FriendTalk repeats it for every recipient.
        doc = list_world.kakao_campaign("k350k", LIST, [{"id": "go", "at": at,
                                                            "channels": ["kakao"]}],
                                        text={"ko": doc_text()})
        s, b = h.submit_campaign(world.daemon, doc)
        if not check("the campaign is accepted", s == 201, "%s %r" % (s, b)):
            return
        world.clock(DUE_MS)
        rec = world.wait("k350k", "go", DUE_MS, ("sent", "partial", "dead"), timeout=600)
        check("the release is sent", rec and rec["state"] == "sent", rec)
        not_friends = sum(1 for m in members if m not in inactive and
                          int(audience_gen.domestic(m)[-7:]) % NOT_FRIEND_MOD == 0)
        want = N - len(inactive) - not_friends
        g = world.group("k350k", "go", DUE_MS)
        check("the stand-in accepted %d recipients, each once" % want,
              g.get("recipients") == want and g.get("duplicates") == 0, g)
        got = world.recipients("k350k:go:%d" % DUE_MS)
        leaked = [m for m in inactive if audience_gen.domestic(m) in got]
        check("none of the %d unsubscribed, bounced or blocked members received it" %
              len(inactive), not leaked, leaked[:5])
        check("the record says the same: %d accepted, %d refused as not-friend" % (
            want, not_friends),
            rec and rec.get("accepted") == want and rec.get("rejected") == not_friends and
            (rec.get("rejected_by") or {}).get("not-friend") == not_friends, rec)
    finally:
        world.stop()


if __name__ == "__main__":
    h.run(main)
