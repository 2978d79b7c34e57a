"""No release is lost when Redis restarts under a running campaign.

Redis runs with --appendonly yes --appendfsync everysec. One `haechi serve`
(all roles, virtual clock, engine.reclaim_idle_ms 1000, banner's log adapter
taking 400 ms per send) runs a two-day campaign (2020-05-11..12 KST):
hourly sns, kakao at 22:00 (held overnight by the quiet hours; it expires
after 12 h), banner every 4 hours at :30, alert every 6 hours at :45 - 70
deliveries. The clock moves in 30-minute steps. Redis is restarted (SIGTERM, wait for its exit, start
again on the same socket and directory) three times:

1. while the engine is idle (05-11 12:00);
2. while a kakao delivery waits for the end of the quiet hours (05-12 02:00);
3. right after a clock step that releases a banner delivery, without
   waiting: the banner send (400 ms) is in flight while Redis goes away,
   so its outcome cannot be stored; Redis stays down until the daemon says
   so, and the item must be reclaimed once Redis is back (05-12 04:30).

Each time /healthz must turn 200 again in the same daemon process, and the
run goes on. The sns channel fans out into its four networks (the log
adapter's plan), so each hourly sns release is four target items. At the
end every one of the 70 deliveries (the sns ones as 4 x 48 = 192 targets)
is in the log stream exactly once and every record is "sent".
"""

import time

import harness as h
from harness import check

CID = "rr"
NETWORKS = ("facebook", "instagram", "x", "kakaostory")
HALF_HOUR = 30 * 60 * 1000
START = h.seoul_ms(2020, 5, 10, 23, 30)
STOP = h.seoul_ms(2020, 5, 13, 8, 30)
IDLE_RESTART = h.seoul_ms(2020, 5, 11, 12, 0)
HELD_RESTART = h.seoul_ms(2020, 5, 12, 2, 0)
BUSY_RESTART = h.seoul_ms(2020, 5, 12, 4, 30)


def campaign():
    return h.minimal_campaign(CID, ["sns", "kakao", "banner", "alert"], "2020-05-11",
                              "2020-05-12",
                              [{"id": "hourly", "cron": "0 * * * *", "channels": ["sns"]},
                               {"id": "evening", "cron": "0 22 * * *", "channels": ["kakao"],
                                "expires_after": "12h"},
                               {"id": "slow", "cron": "30 */4 * * *", "channels": ["banner"]},
                               {"id": "alerts", "cron": "45 */6 * * *",
                                "channels": ["alert"]}])


def expected_items():
    out = set()
    for day in (11, 12):
        for hour in range(24):
            for net in NETWORKS:
                out.add("%s|hourly|%d|sns|%s" % (CID, h.seoul_ms(2020, 5, day, hour), net))
        out.add("%s|evening|%d|kakao" % (CID, h.seoul_ms(2020, 5, day, 22)))
        for hour in range(0, 24, 4):
            out.add("%s|slow|%d|banner" % (CID, h.seoul_ms(2020, 5, day, hour, 30)))
        for hour in range(0, 24, 6):
            out.add("%s|alerts|%d|alert" % (CID, h.seoul_ms(2020, 5, day, hour, 45)))
    return out


def restart(redis, d, label, while_down=None):
    """SIGTERM, wait for exit, (WHILE_DOWN()), start again; then /healthz 200.
    Returns True when all went."""
    pid = d.pid
    status = redis.stop()
    check("%s: redis-server exits 0 on SIGTERM" % label, status == 0, "status %s" % status)
    if while_down:
        while_down()
    began = time.monotonic()
    check("%s: redis-server starts again on the same socket and directory" % label,
          redis.start(), "see stderr")
    ok = h.wait_until(lambda: h.healthz(d.url) == 200, timeout=h.DEADLINE, interval=0.05)
    check("%s: /healthz turns 200 again (%.1f s after the restart)"
          % (label, time.monotonic() - began), ok, "last %s" % h.healthz(d.url))
    check("%s: the same daemon process runs on" % label, d.alive() and d.pid == pid,
          "alive %s, pid %s was %s" % (d.alive(), d.pid, pid))
    return bool(ok)


def outcome_lost(d):
    """Waits until the daemon reports an outcome it could not store: the banner
    send (400 ms) that was in flight when Redis went away."""
    said = h.wait_until(lambda: "stays pending" in d.log_text(), timeout=5.0, interval=0.02)
    check("restart 3: the banner send in flight met the outage (its outcome could not be "
          "stored; the item stays pending)", said,
          "the daemon never said so; log tail: %s" % h.tail(d.log_path, 5))


def main():
    redis = h.PersistentRedis("rr-redis")
    d = None
    try:
        if not check("redis-server with appendonly yes, appendfsync everysec answers",
                     redis.start(), "see stderr"):
            return
        d = h.Daemon("rr", redis.address, extra={
            "environment": "test", "testing": {"virtual_clock": True},
            "engine": {"reclaim_idle_ms": 1000},
            "channels": {"banner": {"adapter": "log", "delay_ms": 400},
                         "sns": {"adapter": "log", "fanout_networks": True}}})
        if not check("haechi serve (virtual clock) starts", d.start(), "see stderr"):
            return
        s, b = h.set_clock(d, now_ms=START)
        check("clock set to 2020-05-10 23:30 KST", s == 200, "%s %r" % (s, b))
        s, b = h.submit_campaign(d, campaign())
        check("the two-day campaign is accepted", s == 201, "%s %r" % (s, b))
        if s != 201:
            return
        expected = expected_items()
        kakao_first = "%s|evening|%d|kakao" % (CID, h.seoul_ms(2020, 5, 11, 22))

        stuck, restarts = [], 0
        log_key = h.engine_key(d, "log")
        t = START
        began = time.monotonic()
        while t < STOP:
            t += HALF_HOUR
            s, b = h.set_clock(d, now_ms=t)
            if s != 200:
                stuck.append("clock to %s: %s %r" % (h.seoul_text(t), s, b))
                break
            if t == BUSY_RESTART:
                field = "slow|%d|banner" % BUSY_RESTART

                def sending():
                    r = h.fires(redis, d, CID).get(field)
                    return r and r.get("state") in ("sending", "sent") and r["state"]
                state = h.wait_until(sending, timeout=5.0, interval=0.005)
                check("restart 3: the 04:30 banner send is in flight (state \"sending\") "
                      "when Redis is stopped", state == "sending", "state %r" % state)
                restarts += restart(redis, d, "restart 3 (work in flight)",
                                    while_down=lambda: outcome_lost(d))
            if not h.wait_engine_idle(redis, d, t, timeout=h.DEADLINE):
                stuck.append("not idle at %s" % h.seoul_text(t))
                if len(stuck) > 2:
                    break
            if t == IDLE_RESTART:
                restarts += restart(redis, d, "restart 1 (engine idle)")
            elif t == HELD_RESTART:
                delayed = redis.command("HEXISTS", h.engine_key(d, "delayed"), kakao_first)
                check("restart 2: the 22:00 kakao delivery is waiting for the quiet hours",
                      delayed == 1, "HEXISTS delayed %r" % delayed)
                restarts += restart(redis, d, "restart 2 (a delivery held)")
                delayed = redis.command("HEXISTS", h.engine_key(d, "delayed"), kakao_first)
                due = redis.command("ZSCORE", h.engine_key(d, "due"), "i:" + kakao_first)
                check("restart 2: the held kakao delivery survived the restart, still due at "
                      "08:00", delayed == 1 and due is not None and
                      int(float(due)) == h.seoul_ms(2020, 5, 12, 8),
                      "delayed %r, due %r" % (delayed, due))
            if t == h.seoul_ms(2020, 5, 12, 7, 30):
                got = [f.get("item") for _, f in h.stream_entries(redis, log_key)]
                check("the held kakao delivery is not sent before 08:00", kakao_first not in got,
                      "")
        h.log("%d steps, %d restarts in %.1f s" % ((STOP - START) // HALF_HOUR, restarts,
                                                    time.monotonic() - began))
        check("every clock step ran to idle", not stuck, stuck)

        entries = h.stream_entries(redis, log_key)
        items = [f.get("item") for _, f in entries]
        counts = {}
        for i in items:
            counts[i] = counts.get(i, 0) + 1
        dupes = sorted(i for i, n in counts.items() if n > 1)
        missing = sorted(expected - set(counts))
        check("all 70 deliveries (sns as 192 network targets) are in the log stream, none "
              "twice, none extra (%d entries)" % len(items),
              len(expected) == 22 + 192 and not dupes and not missing and set(counts) == expected,
              "duplicates %s; missing %s; extra %s"
              % (dupes[:4], [(i, h.seoul_text(int(i.split("|")[2]))) for i in missing[:4]],
                 sorted(set(counts) - expected)[:4]))
        records = h.fires(redis, d, CID)
        states, targets = {}, {}
        for k, v in records.items():
            into = targets if k.count("|") == 3 else states
            into[v.get("state")] = into.get(v.get("state"), 0) + 1
        check("70 delivery records, all \"sent\"", states == {"sent": 70}, states)
        check("192 sns target records, all \"sent\"", targets == {"sent": 192}, targets)
        kakao = [f for _, f in entries if f.get("channel") == "kakao"]
        check("both kakao deliveries went out after the night", len(kakao) == 2, kakao)
        s, _, b = d.http("GET", "/api/v1/campaigns/%s/releases" % CID, "viewer")
        check("the releases route: finished, counts {sent: 70}",
              s == 200 and b.get("status") == "finished" and b.get("counts") == {"sent": 70},
              "%s %r" % (s, (b.get("status"), b.get("counts")) if isinstance(b, dict) else b))
        backlog = {ch: h.stream_backlog(redis, d, ch) for ch in h.ENGINE_CHANNELS}
        check("nothing left pending in the work streams",
              all(v == (0, 0) for v in backlog.values()), backlog)
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM after three Redis restarts", status == 0,
                  "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
