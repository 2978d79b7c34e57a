"""A worker SIGKILLed while its posts are in flight, then restarted: every
post exists once on every network.

Each stand-in holds its answer to the post for a few seconds after it has
stored the post ("slow"), so that the daemon dies with every network's
request sent and unanswered. The restarted daemon reclaims the items;
their new attempts are maybe_sent, so each adapter first looks for the post
on the account, finds it, and records it as sent without posting again.
"""

import datetime
import signal

import harness as h
import sns_world
from harness import check

DUE_MS = h.seoul_ms(2020, 3, 23, 9, 0)


def main():
    cases = sns_world.contract_cases()
    nets = list(cases)
    world = sns_world.SnsWorld("kill", cases, engine={
        "backoff_ms": 1000, "max_attempts": 5, "reclaim_idle_ms": 1500})
    try:
        if not world.start():
            return
        d = world.daemon
        world.clock(DUE_MS - 60 * 1000)
        cid = "kill-in-flight"
        at = datetime.datetime.fromtimestamp(DUE_MS / 1000, h.SEOUL).strftime(
            "%Y-%m-%dT%H:%M:%S")
        doc = h.minimal_campaign(cid, ["sns"], "2020-03-22", "2020-04-05",
                                 [{"id": "go", "at": at, "channels": ["sns"]}])
        doc["sns"]["networks"] = nets
        doc["sns"]["image"] = "https://www.seoul.go.kr/res/jamsi/pause-01.jpg"
        s, b = h.submit_campaign(d, doc)
        if not check("the campaign is accepted", s == 201, "%s %r" % (s, b)):
            return
        for net, case in cases.items():
            world.fakes[net].fault("slow", count=1, ms=6000, route=case["post_route"][1])
        world.clock(DUE_MS)

        def all_stored():
            return all(len(world.posts(n)) >= 1 for n in nets)
        check("every network's stand-in received its post request",
              h.wait_until(all_stored, timeout=h.DEADLINE),
              {n: len(world.posts(n)) for n in nets})
        recs = h.fires(world.redis, d, cid)
        check("every network's item is in flight (sending) when the worker dies",
              all((recs.get("go|%d|sns|%s" % (DUE_MS, n)) or {}).get("state") == "sending"
                  for n in nets), recs)
        d.process.signal(signal.SIGKILL)
        d.process = None
        check("the restarted daemon comes up", d.start(env=world.env), "see stderr")

        def finished():
            r = h.fires(world.redis, d, cid)
            got = [r.get("go|%d|sns|%s" % (DUE_MS, n)) for n in nets]
            return got if all(g and g.get("state") in ("sent", "dead") for g in got) else None
        got = h.wait_until(finished, timeout=20)
        check("after the restart every network's post is recorded as sent",
              got and all(g["state"] == "sent" for g in got), got or h.fires(world.redis, d, cid))
        for net in nets:
            check("%s: exactly one post request reached the stand-in (none repeated)" % net,
                  len(world.posts(net)) == 1, len(world.posts(net)))
    finally:
        world.stop()


if __name__ == "__main__":
    h.run(main)
