"""The kakao adapter end to end: an audience list imported with `haechi
audience import`, releases on the kakao channel through the dealer stand-in
(fake-kakao), counted on both sides. Needs the audience store (scheduler/
audience.c) and the stand-in.

 1. real clock: 2,500 members (25 unsubscribed) in 3 batches; the stand-in
    refuses every 7th number as not a friend and one number always with a
    dealer error, and drops its first answer after storing it. Every member
    reaches the dealer at most once; the dropped batch is recognised by its
    idempotency key (-1005); the dealer-error member is retried alone and
    refused for good on the batch's 4th attempt, so the batch ends with its
    counts; the release's record adds up by reason.
 2. virtual clock at 21:00 KST, an ad FriendTalk: the release held by the adapter
    before any request ("Kakao blocks advertising messages 20:50-08:00
    KST"), sent at 08:00.
 3. the dealer's clock says night while ours says noon: every recipient
    comes back 3022, the batch is held until 08:00 and then sent.
"""

import datetime
import json
import os

import harness as h
from harness import check
from fakes import start_fake

APPKEY, SECRET = "haechi-appkey", "haechi-secret"
N = 2500
DEALER_ERROR = "01000002010"  # position 1010: the second batch


def number(i):
    return "010-%04d-%04d" % (i // 10000, i % 10000 + 1000)


def write_list(path, n, unsubscribed_every=0):
    with open(path, "w") as f:
        f.write("phone,name,lang,status\n")
        for i in range(n):
            status = "unsubscribed" if unsubscribed_every and i % unsubscribed_every == 3 else ""
            f.write("%s,member %d,%s,%s\n" % (number(i), i, "en" if i % 5 == 0 else "ko", status))


def not_friends(first):
    """Active members of the batch at FIRST the stand-in refuses as not friends
    (--not-friend-mod 7 on the number's last 7 digits)."""
    return sum(1 for i in range(first, min(first + 1000, N))
               if i % 100 != 3 and (i % 10000 + 1000 + (i // 10000) * 10000) % 7 == 0)


def kakao_channel(fake):
    return {"adapter": "kakao", "url": fake.url, "appkey": APPKEY, "secret_env": "HAECHI_KK_SECRET",
            "sender_key": "seoul-channel", "quiet_hours": False}


def import_list(redis, d, tmp, name, n, unsubscribed_every=0):
    csv = os.path.join(tmp, name + ".csv")
    write_list(csv, n, unsubscribed_every)
    cfg = os.path.join(tmp, name + "-cli.json")
    h.write_json(cfg, {"redis": {"address": redis.address, "prefix": d.prefix}})
    p = h.cli(["audience", "import", name, csv, "--config", cfg])
    return check("haechi audience import %s (%d rows)" % (name, n), p.returncode == 0,
                 p.stdout + p.stderr)


def settled(redis, d, cid, key):
    rec = h.fires(redis, d, cid).get(key)
    return rec if rec and rec.get("state") not in (None, "queued", "sending", "held") else None


def run_counts(redis, fake, tmp):
    fake.fault("drop-after-store", count=1)
    d = h.Daemon("kk-send", redis.address, extra={"channels": dict(
        h.real_clock_channels(), kakao=kakao_channel(fake))})
    if not import_list(redis, d, tmp, "seoul-friends", N, unsubscribed_every=100) or \
            not check("haechi serve with the kakao adapter starts", d.start(), "see stderr"):
        return
    try:
        at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + datetime.timedelta(seconds=4)
        doc = h.minimal_campaign("kk-counts", ["kakao"], at.date().isoformat(),
                                 (at.date() + datetime.timedelta(days=1)).isoformat(),
                                 [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                                   "channels": ["kakao"]}])
        s, b = h.submit_campaign(d, doc)
        check("a campaign releasing on kakao to seoul-friends is accepted", s == 201, b)
        at_ms = int(at.timestamp() * 1000)
        rec = h.wait_until(lambda: settled(redis, d, "kk-counts", "go|%d|kakao" % at_ms),
                           timeout=60.0, interval=0.2)
        fires = h.fires(redis, d, "kk-counts")
        check("the release settles: sent, 3 batches ok", bool(rec) and rec.get("state") == "sent"
              and rec.get("target_count") == 3 and rec.get("ok") == 3, rec)
        if not rec:
            return
        group = fake.state()["groups"].get("kk-counts:go:%d" % at_ms, {})
        check("the dealer accepted 2,120 members (2,475 active - 354 not friends - 1), none "
              "twice", group.get("accepted") == 2120 and group.get("duplicates") == 0, group)
        check("the record counts the 2,475 active members and the 25 unsubscribed as skipped",
              rec.get("recipients") == 2475 and rec.get("skipped") == 25, rec)
        check("accepted + rejected = the active members",
              rec.get("accepted", 0) + rec.get("rejected", 0) == 2475, rec)
        batches = {f: fires.get("go|%d|kakao|v1:%d" % (at_ms, f), {}) for f in (0, 1000, 2000)}
        dropped = [f for f, b in batches.items() if "-1005" in b.get("note", "")]
        check("the batch whose answer was dropped is recognised by its key (-1005), not resent",
              len(dropped) == 1 and batches[dropped[0]].get("state") == "sent", batches)
        # A lost answer's refusals are not known: that batch counts them as accepted.
        want = {f: not_friends(f) for f in batches if f not in dropped}
        got = {f: batches[f].get("rejected_by", {}).get("not-friend", 0) for f in want}
        check("each answered batch counts its not-friends by reason", got == want, (got, want))
        if 1000 not in dropped:
            second = batches[1000]
            check("the dealer-error member is retried alone, then refused on attempt 4; the "
                  "batch's earlier refusals keep their reason", second.get("state") == "sent"
                  and second.get("attempts") == 4 and second.get("rejected_by") ==
                  {"not-friend": not_friends(1000), "dealer-error": 1}, second)
        check("the release adds up its batches' refusals by reason",
              rec.get("rejected_by", {}).get("not-friend") == sum(want.values()), rec)
    finally:
        check("haechi serve exits 0", d.stop() == 0)


def run_night(redis, fake, tmp, dealer_night):
    tag = "kk-dealer-night" if dealer_night else "kk-night"
    d = h.Daemon(tag, redis.address, extra={"channels": dict(
        h.real_clock_channels(), kakao=kakao_channel(fake)), "environment": "test",
        "testing": {"virtual_clock": True}})
    if not import_list(redis, d, tmp, "night-friends", 30) or \
            not check("haechi serve (virtual clock) starts", d.start(), "see stderr"):
        return
    try:
        hour = 12 if dealer_night else 21
        at = h.seoul_ms(2020, 5, 4, hour, 0)
        fake.clock(now_ms=h.seoul_ms(2020, 5, 4, 22, 0) if dealer_night
                   else h.seoul_ms(2020, 5, 5, 9, 0))
        h.set_clock(d, now_ms=at - 60000)
        doc = h.minimal_campaign(tag, ["kakao"], "2020-05-04", "2020-05-06",
                                 [{"id": "ev", "at": "2020-05-04T%02d:00" % hour,
                                   "channels": ["kakao"]}])
        doc["kakao"]["list"] = "night-friends"
        doc["kakao"]["ad"] = True
        s, b = h.submit_campaign(d, doc)
        check("%s: an ad FriendTalk campaign is accepted" % tag, s == 201, b)
        h.set_clock(d, now_ms=at + 1000)
        # Our night block holds the whole release at its plan; the dealer's
        # 3022s hold the batch that met them.
        held_key = "ev|%d|kakao|v1:0" % at if dealer_night else "ev|%d|kakao" % at
        held = h.wait_until(lambda: (h.fires(redis, d, tag).get(held_key) or {}).get("state")
                            == "held" and h.fires(redis, d, tag)[held_key], timeout=20.0)
        group = fake.state()["groups"].get("%s:ev:%d" % (tag, at), {})
        until = h.seoul_ms(2020, 5, 5, 8, 0)
        if dealer_night:
            check("dealer night: every recipient answered 3022, the batch held until 08:00",
                  bool(held) and held.get("until_ms") == until and
                  "30 of 30 recipients held" in held.get("reason", "") and
                  group.get("accepted", 0) == 0, (held, group))
            fake.clock(now_ms=h.seoul_ms(2020, 5, 5, 9, 0))
        else:
            check("21:00 KST: held by the adapter before any request, until 08:00", bool(held)
                  and held.get("until_ms") == until and held.get("reason") ==
                  "Kakao blocks advertising messages 20:50-08:00 KST; waits until 08:00" and
                  not group, (held, group))
        h.set_clock(d, now_ms=until + 1000)
        rec = h.wait_until(lambda: settled(redis, d, tag, "ev|%d|kakao" % at), timeout=20.0)
        group = fake.state()["groups"].get("%s:ev:%d" % (tag, at), {})
        refused = sum(1 for i in range(30) if (i + 1000) % 7 == 0)  # --not-friend-mod 7
        check("%s: sent at 08:00 to the 30 members, each once (%d of them not friends)"
              % (tag, refused), bool(rec) and rec.get("state") == "sent" and
              rec.get("accepted") == 30 - refused and rec.get("rejected") == refused and
              group.get("accepted") == 30 - refused and group.get("duplicates") == 0,
              json.dumps([rec, group], ensure_ascii=False))
    finally:
        check("haechi serve (virtual clock) exits 0", d.stop() == 0)


def main():
    p = h.cli(["audience", "--help"])
    if not check("haechi has the audience store (`haechi audience`)", p.returncode == 0,
                 "this test needs scheduler/audience.c: %s" % (p.stderr or p.stdout)[:200]):
        return
    tmp = h.new_dir("kakao-send")
    redis = h.Redis("kakao-send-redis")
    if not check("private redis-server answers PING", redis.start(), "see stderr"):
        return
    os.environ["HAECHI_KK_SECRET"] = SECRET
    fake = start_fake("kakao", tmp, "--appkey", APPKEY, "--secret", SECRET,
                      "--not-friend-mod", "7", "--dealer-error", DEALER_ERROR)
    try:
        run_counts(redis, fake, tmp)
        run_night(redis, fake, tmp, dealer_night=False)
        run_night(redis, fake, tmp, dealer_night=True)
    finally:
        check("the stand-in stops cleanly", fake.stop() == 0)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
