"""Kakao's night block for advertising messages and the channel's quiet
hours, on the virtual clock.

Kakao refuses advertising FriendTalk/brand messages from 20:50 to 08:00
KST (CHANNELS.md 4.2). An ad release due at 20:55 is held with that
reason until 08:00 and nothing reaches the dealer before; an AlimTalk
(information on an approved template) due at the same minute is sent at
once, with each member's own values in the template. Quiet hours are the
operator's own rule on top: a non-ad message due at 22:00 inside the
section's 21:00-08:00 waits until 08:00 too, with the quiet-hours reason.
"""

import datetime
import json

import harness as h
import list_world
from harness import check

LIST = "night-friends"
N = 1500
DAY = 24 * 3600 * 1000


def at_text(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, h.SEOUL).strftime("%Y-%m-%dT%H:%M:%S")


def submit(world, cid, due, **section):
    doc = list_world.kakao_campaign(cid, LIST, [{"id": "go", "at": at_text(due),
                                                 "channels": ["kakao"]}], **section)
    s, b = h.submit_campaign(world.daemon, doc)
    return check("%s: the campaign is accepted" % cid, s == 201, "%s %r" % (s, b))


def main():
    world = list_world.ListWorld("knight")
    try:
        if not world.start():
            return
        ad_due = h.seoul_ms(2020, 3, 24, 20, 55)
        morning = h.seoul_ms(2020, 3, 25, 8, 0)
        quiet_due = h.seoul_ms(2020, 3, 24, 22, 0)
        world.clock(ad_due - 3600 * 1000)
        p, _ = world.import_list(LIST, N)
        if not check("the %d-member list is imported" % N, p.returncode == 0,
                     (p.stdout + p.stderr)[-400:]):
            return
        ok = submit(world, "night-ad", ad_due, ad=True)
        ok = submit(world, "night-alimtalk", ad_due, type="alimtalk",
                    template_code="JAMSI_NOTICE",
                    text={"ko": "[서울시] #{name}님, 잠시멈춤에 함께해 주세요. #{district} "
                                "선별진료소 안내: 120"},
                    member_fields=["name", "district"]) and ok
        ok = submit(world, "night-quiet", quiet_due,
                    quiet_hours={"start": "21:00", "end": "08:00"}) and ok
        if not ok:
            return
        world.clock(ad_due)
        held = world.wait("night-ad", "go", ad_due, ("held", "sent", "dead", "failed"))
        check("the ad release due at 20:55 is held with Kakao's night block as its reason",
              held and held["state"] == "held" and "20:50" in (held.get("reason") or "") and
              "08:00" in (held.get("reason") or ""), held)
        sent = world.wait("night-alimtalk", "go", ad_due, ("sent", "partial", "dead"))
        check("the AlimTalk due at the same minute is sent at once (information is not "
              "blocked)", sent and sent["state"] == "sent" and sent.get("accepted") == N, sent)
        g = world.group("night-ad", "go", ad_due)
        check("nothing of the ad release reached the dealer at night", not g, g)
        # The request log keeps the first 4 KB of each body (--log-body-max):
        # enough for the first recipients.
        reqs = [r for r in world.fake.requests()
                if r.get("path", "").startswith("/alimtalk/")]
        body = reqs[0].get("body") if reqs else None
        head = body.get("head", "") if isinstance(body, dict) and body.get("truncated") else \
            json.dumps(body, ensure_ascii=False)
        check("each AlimTalk recipient carries its own template values (name, district)",
              '"templateParameter"' in head and "시민0001" in head and "시민0002" in head and
              "종로구" in head and "중구" in head, head[:600])

        world.clock(quiet_due)
        quiet = world.wait("night-quiet", "go", quiet_due, ("held", "sent", "dead"))
        check("the non-ad message due at 22:00 waits for the section's quiet hours",
              quiet and quiet["state"] == "held" and "quiet hours" in (quiet.get("reason") or ""),
              quiet)

        world.clock(morning - 60 * 1000)
        check("at 07:59 the ad release is still held",
              (world.record("night-ad", "go", ad_due) or {}).get("state") == "held" and
              not world.group("night-ad", "go", ad_due),
              world.record("night-ad", "go", ad_due))
        world.clock(morning + 1000)
        for cid, due in (("night-ad", ad_due), ("night-quiet", quiet_due)):
            rec = world.wait(cid, "go", due, ("sent", "partial", "dead"), timeout=h.DEADLINE)
            check("%s: sent at 08:00 to all %d members, each once" % (cid, N),
                  rec and rec["state"] == "sent" and world.group(cid, "go", due).get(
                      "recipients") == N and world.group(cid, "go", due).get("duplicates") == 0,
                  {"record": rec, "dealer": world.group(cid, "go", due)})
    finally:
        world.stop()


if __name__ == "__main__":
    h.run(main)
