"""The 잠시멈춤 campaign's KakaoTalk releases over its whole window on the
virtual clock, to a 5,000-member audience list through the dealer stand-in.

campaigns/jamsi-meomchum.json sends on kakao twice a day (09:00 and 15:00
KST) from 2020-03-22 to 2020-04-05: 30 releases. The clock steps through
the window in 30-minute steps; after each the engine must go idle. Along
the way the list changes as it would in real life: some members are
unsubscribed or bounced before the campaign starts, more unsubscribe in
the middle of it, and a re-import (--replace) in the second week adds
members and drops others. For each release the stand-in must have
received every member active at that release's snapshot exactly once, and
never a member whose status forbade it.
"""

import json

import audience_gen
import harness as h
import list_world
from harness import check

START_MS = h.seoul_ms(2020, 3, 21, 12, 0)
STOP_MS = h.seoul_ms(2020, 4, 6, 0, 0)
MIDDLE_MS = h.seoul_ms(2020, 3, 28, 12, 0)    # a Saturday noon: between two releases
REIMPORT_MS = h.seoul_ms(2020, 3, 31, 12, 0)
STEP_MS = 30 * 60 * 1000
RELEASES = 30
CID = "jamsi-meomchum"
N = 5000


def kakao_only(doc):
    """The example campaign on kakao alone: its releases keep their times."""
    for ch in ("sns", "banner", "newsletter", "alert"):
        doc.pop(ch, None)
    rels = []
    for r in doc["schedule"]["releases"]:
        if "kakao" in r["channels"]:
            r["channels"] = ["kakao"]
            r.pop("sns", None)
            rels.append(r)
    doc["schedule"]["releases"] = rels
    return doc


def main():
    world = list_world.ListWorld("kwindow")
    try:
        if not world.start():
            return
        d = world.daemon
        world.clock(START_MS)
        doc = kakao_only(h.example_campaign())
        list_id = doc["kakao"]["list"]
        p, wrote = world.import_list(list_id, N)
        if not check("the %d-member list %s is imported" % (N, list_id), p.returncode == 0,
                     (p.stdout + p.stderr)[-600:]):
            return
        members = list(audience_gen.ids(wrote))
        inactive = {}
        for i in range(0, 80):
            m = members[7 + i * 53]
            inactive[m] = "unsubscribed" if i % 8 else "bounced"
        for m, st in inactive.items():
            q = world.set_status(list_id, m, st)
            if q.returncode != 0:
                check("statuses are set before the campaign", False, q.stderr)
                return
        s, b = h.submit_campaign(d, doc)
        if not check("jamsi-meomchum (kakao only) is accepted on the virtual clock", s == 201,
                     "%s %r" % (s, b)):
            return

        # Who should get each release: the list as it stands when it fires.
        active_now = [m for m in members if m not in inactive]
        later_unsub = [active_now[100 + i * 97] for i in range(20)]
        t, stuck, changed, reimported = START_MS, [], False, False
        while t < STOP_MS:
            t += STEP_MS
            if not changed and t >= MIDDLE_MS:
                changed = True
                for m in later_unsub:
                    world.set_status(list_id, m, "unsubscribed")
                    inactive[m] = "unsubscribed"
            if not reimported and t >= REIMPORT_MS:
                reimported = True
                # The second half of the old list, and 700 new members.
                p, wrote2 = world.import_list(list_id, N + 700, replace=True, offset=2000)
                check("the re-import (--replace) mid-window is committed", p.returncode == 0,
                      (p.stdout + p.stderr)[-600:])
                members = list(audience_gen.ids(wrote2))
            world.clock(t)
            if not h.wait_engine_idle(world.redis, d, t, timeout=h.DEADLINE):
                stuck.append(h.seoul_text(t))
                if len(stuck) >= 3:
                    break
        check("after every 30-minute step the engine went idle", not stuck, stuck)

        recs = {k: v for k, v in h.fires(world.redis, d, CID).items()
                if k.count("|") == 2 and k.endswith("|kakao")}
        check("%d kakao releases, every one sent" % RELEASES,
              len(recs) == RELEASES and all(v.get("state") == "sent" for v in recs.values()),
              {k: (v.get("state"), v.get("reason")) for k, v in recs.items()
               if v.get("state") != "sent"} or len(recs))
        state = world.fake.state()
        groups = state.get("groups") or {}
        dups = sum(g.get("duplicates", 0) for g in groups.values())
        check("the stand-in saw %d releases and no recipient twice in any" % RELEASES,
              len(groups) == RELEASES and dups == 0, "%d groups, %d duplicates" % (
                  len(groups), dups))
        # Per release: every member active at its snapshot, once.
        wrong = []
        for key, rec in sorted(recs.items()):
            rid, due, _ = key.split("|")
            got = world.recipients("%s:%s:%s" % (CID, rid, due))
            want = rec.get("progress", {}).get("total") or rec.get("recipients")
            if len(got) != rec.get("accepted") or rec.get("accepted") != want:
                wrong.append((key, len(got), rec.get("accepted"), want))
        check("each release reached every member active at its snapshot (accepted = "
              "recipients = the stand-in's count)", not wrong, wrong[:4])
        by_due = [v for k, v in sorted(recs.items(), key=lambda kv: int(kv[0].split("|")[1]))]
        first = by_due[0]
        check("the first release went to the %d members then active" % (N - 80),
              first.get("accepted") == N - 80, first.get("accepted"))
        leaked = 0
        for key in recs:
            rid, due, _ = key.split("|")
            if int(due) < MIDDLE_MS:
                continue
            got = world.recipients("%s:%s:%s" % (CID, rid, due))
            leaked += sum(1 for m in inactive if audience_gen.domestic(m) in got)
        check("after the statuses changed no unsubscribed or bounced member got a release",
              leaked == 0, leaked)
        last = by_due[-1]
        want_last = sum(1 for m in members if m not in inactive)
        check("the releases after the re-import went to the new list's %d active members" %
              want_last, last.get("accepted") == want_last, json.dumps(last)[:400])
    finally:
        world.stop()


if __name__ == "__main__":
    h.run(main)
