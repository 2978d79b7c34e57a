"""The 잠시멈춤 campaign over its whole window on the virtual clock, posted
through the sns adapter to every network's stand-in.

campaigns/jamsi-meomchum.json posts on sns twice a day (09:00 and 15:00
KST) from 2020-03-22 to 2020-04-05: 30 releases. The clock steps through
the window in 30-minute steps; after each the engine must go idle. Then
each stand-in's request log must hold exactly 30 post requests, one per
release, none twice, and every delivery record must be "sent" with the
service's id and the follower count as reach.

Each release posts its own words every day at the same time: 24 hours
apart, which is where the X stand-in's duplicate window ends by default
(X does not document its window; CHANNELS.md lists only the refusal). A
post a few milliseconds early would count as a repeat there, so this run
gives the X stand-in a 12-hour window: what is tested here is that every
release posts once, not where X draws its line. The duplicate refusal has
its own contract case (test_contract.py).
"""

import harness as h
import sns_world
from harness import check

START_MS = h.seoul_ms(2020, 3, 21, 12, 0)
STOP_MS = h.seoul_ms(2020, 4, 6, 0, 0)
STEP_MS = 30 * 60 * 1000
SNS_RELEASES = 30
CID = "jamsi-meomchum"


def main():
    cases = sns_world.contract_cases()
    world = sns_world.SnsWorld("window", cases,
                               fake_extra={"x": ["--duplicate-window-s", "43200"]})
    try:
        if not world.start():
            return
        d = world.daemon
        world.clock(START_MS)
        doc = h.example_campaign()
        s, b = h.submit_campaign(d, doc)
        if not check("jamsi-meomchum is accepted on the virtual clock", s == 201,
                     "%s %r" % (s, b)):
            return
        t, stuck = START_MS, []
        while t < STOP_MS:
            t += STEP_MS
            world.clock(t)
            if not h.wait_engine_idle(world.redis, d, t, timeout=h.DEADLINE):
                stuck.append(h.seoul_text(t))
                if len(stuck) >= 3:
                    break
        check("after every 30-minute step the engine went idle", not stuck, stuck)

        recs = h.fires(world.redis, d, CID)
        for net, case in cases.items():
            posts = world.posts(net)
            ok = [p for p in posts if p.get("status") in (200, 201)]
            check("%s: exactly %d post requests reached the stand-in" % (net, SNS_RELEASES),
                  len(posts) == SNS_RELEASES, "%d requests, %d answered 2xx" % (
                      len(posts), len(ok)))
            mine = {k: v for k, v in recs.items() if k.endswith("|sns|" + net)}
            check("%s: %d delivery records, every one sent" % (net, SNS_RELEASES),
                  len(mine) == SNS_RELEASES and all(v.get("state") == "sent"
                                                    for v in mine.values()),
                  {k: (v.get("state"), v.get("reason")) for k, v in mine.items()
                   if v.get("state") != "sent"})
            ids = [v.get("external_id") for v in mine.values()]
            check("%s: every record holds a distinct id from the service" % net,
                  len(set(ids)) == len(ids) and all(ids), ids[:5])
            check("%s: reach is the follower count (%d)" % (net, case["followers"]),
                  all(v.get("reach") == case["followers"] for v in mine.values()),
                  sorted({v.get("reach") for v in mine.values()}, key=str))
    finally:
        world.stop()


if __name__ == "__main__":
    h.run(main)
