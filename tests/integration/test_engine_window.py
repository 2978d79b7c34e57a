"""The whole 잠시멈춤 window on a virtual clock, against the daemon and offline.

1. `haechi serve` (all roles, virtual clock) gets campaigns/jamsi-meomchum.json
   with its clock at 2020-03-21 12:00 KST; the test then moves the clock in
   30-minute steps to past the window (2020-04-06 01:00 KST), waiting after
   each step until nothing due is left unclaimed and every queued item has
   its outcome. Every delivery must appear in the log stream in the step in
   which it came due (never before, never a step late), exactly once; at the
   end the log holds exactly the 64 deliveries computed here independently
   (09:00 and 15:00 daily on sns and kakao, Monday 10:00 newsletter, the
   banner at 2020-03-22 00:00, the alert at 08:00), the campaign is
   "finished" and the sent metrics agree.
2. `haechi rehearse campaigns/jamsi-meomchum.json --json` prints the same 64
   (time, channel, release) triples, each "sent", exits 0, in a few seconds;
   an invalid campaign file makes it exit 1 with the reason.
"""

import datetime
import json
import os
import time

import harness as h
from harness import check

CID = "jamsi-meomchum"
STEP_MS = 30 * 60 * 1000
START_MS = h.seoul_ms(2020, 3, 21, 12, 0)
STOP_MS = h.seoul_ms(2020, 4, 6, 1, 0)
EXPECTED_PER_CHANNEL = {"banner": 1, "alert": 1, "sns": 30, "kakao": 30, "newsletter": 2}


def expected_deliveries():
    """{(release, channel, "YYYY-MM-DD HH:MM" KST)} from the campaign's own words."""
    out = set()
    day = datetime.date(2020, 3, 22)
    while day <= datetime.date(2020, 4, 5):
        stamp = day.isoformat()
        for ch in ("sns", "kakao"):
            out.add(("morning-post", ch, stamp + " 09:00"))
            out.add(("afternoon-post", ch, stamp + " 15:00"))
        if day.weekday() == 0:  # Monday
            out.add(("monday-newsletter", "newsletter", stamp + " 10:00"))
        day += datetime.timedelta(days=1)
    out.add(("banner-window", "banner", "2020-03-22 00:00"))
    out.add(("alert-first-morning", "alert", "2020-03-22 08:00"))
    return out


def item_due_ms(item):
    parts = item.split("|")
    return int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else None


def daemon_window():
    expected = expected_deliveries()
    check("the independently computed window has 64 deliveries (%s)" %
          ", ".join("%s %d" % kv for kv in sorted(EXPECTED_PER_CHANNEL.items())),
          len(expected) == 64 and all(
              sum(1 for e in expected if e[1] == ch) == n
              for ch, n in EXPECTED_PER_CHANNEL.items()),
          "computed %d" % len(expected))

    redis = h.Redis("window-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("window", redis.address,
                     extra={"environment": "test", "testing": {"virtual_clock": True}})
        if not check("haechi serve (virtual clock) writes its ready file", d.start(),
                     "see stderr"):
            return
        s, b = h.set_clock(d, now_ms=START_MS)
        check("POST /api/v1/test/clock to 2020-03-21 12:00 KST -> 200 with now_ms",
              s == 200 and isinstance(b, dict) and b.get("now_ms") == START_MS,
              "%s %r" % (s, b))
        s, b = h.submit_campaign(d, h.example_campaign())
        check("submitting jamsi-meomchum on the virtual clock -> 201 without past-window "
              "warning", s == 201 and isinstance(b, dict) and
              not any(w.get("rule") == "past-window" for w in b.get("warnings") or []),
              "%s %r" % (s, b))
        if s != 201:
            return

        log_key = h.engine_key(d, "log")
        seen = []            # (entry id, fields) in the order they were logged
        last_id = "-"
        early, late, stuck = [], [], []
        t = START_MS
        began = time.monotonic()
        steps = 0
        while t < STOP_MS:
            t += STEP_MS
            steps += 1
            s, b = h.set_clock(d, now_ms=t)
            if s != 200:
                check("every clock step -> 200", False,
                      "step to %s answered %s %r" % (h.seoul_text(t), s, b))
                return
            if not h.wait_engine_idle(redis, d, t, timeout=h.DEADLINE):
                stuck.append(h.seoul_text(t))
                if len(stuck) >= 3:
                    break
            new = redis.command("XRANGE", log_key, "(" + last_id if last_id != "-" else "-",
                                "+")
            for eid, flat in new or []:
                fields = dict(zip(flat[0::2], flat[1::2]))
                seen.append((eid, fields))
                last_id = eid
                due = item_due_ms(fields.get("item", ""))
                if due is None or due > t:
                    early.append((fields.get("item"), h.seoul_text(t)))
                elif due <= t - STEP_MS:
                    late.append((fields.get("item"), h.seoul_text(t)))
        elapsed = time.monotonic() - began
        h.log("%d clock steps in %.1f s" % (steps, elapsed))
        check("after every 30-minute clock step the engine went idle (all due claimed, "
              "all items acknowledged) within %.0f s" % h.DEADLINE, not stuck,
              "stuck after the steps to %s" % stuck)
        check("no delivery was logged before its due time", not early, early[:5])
        check("every delivery was logged in the step in which it came due (none late)",
              not late, late[:5])

        entries = h.stream_entries(redis, log_key)
        check("the log stream holds exactly 64 deliveries", len(entries) == 64,
              "%d entries" % len(entries))
        items = [f.get("item") for _, f in entries]
        dupes = sorted({i for i in items if items.count(i) > 1})
        check("no item id appears twice in the log stream", not dupes, dupes[:5])
        per_channel = {}
        for _, f in entries:
            per_channel[f.get("channel")] = per_channel.get(f.get("channel"), 0) + 1
        check("deliveries per channel: banner 1, alert 1, sns 30, kakao 30, newsletter 2",
              per_channel == EXPECTED_PER_CHANNEL, "got %s" % per_channel)

        got, malformed = set(), []
        for _, f in entries:
            parts = (f.get("item") or "").split("|")
            if (len(parts) != 4 or parts[0] != CID or parts[1] != f.get("release") or
                    parts[3] != f.get("channel") or f.get("campaign") != CID or
                    f.get("attempt") != "1"):
                malformed.append(f.get("item"))
                continue
            got.add((f["release"], f["channel"], h.seoul_text(int(parts[2]))))
        check("every log entry names its campaign, release and channel consistently with "
              "its item id, at attempt 1", not malformed, malformed[:5])
        check("the logged (release, channel, local time) set is exactly the expected one",
              got == expected,
              "missing %s; unexpected %s" % (sorted(expected - got)[:6],
                                             sorted(got - expected)[:6]))

        bad_payload = []
        for _, f in entries:
            try:
                p = json.loads(f.get("payload", ""))
            except ValueError:
                bad_payload.append((f.get("item"), "not JSON"))
                continue
            due = item_due_ms(f["item"])
            want_due = datetime.datetime.fromtimestamp(due / 1000, h.SEOUL).isoformat()
            if (p.get("channel") != f["channel"] or p.get("release") != f["release"] or
                    p.get("campaign") != CID or p.get("due") != want_due):
                bad_payload.append((f.get("item"), p.get("channel"), p.get("release"),
                                    p.get("due")))
            elif f["channel"] == "sns" and "1339" not in json.dumps(p, ensure_ascii=False):
                bad_payload.append((f.get("item"), "sns text without 120/1339"))
        check("every payload is the rendered message of its channel, release and due time",
              not bad_payload, bad_payload[:4])

        records = h.fires(redis, d, CID)
        not_sent = {k: v.get("state") for k, v in records.items() if v.get("state") != "sent"}
        check("64 delivery records, every one \"sent\" after 1 attempt",
              len(records) == 64 and not not_sent and
              all(v.get("attempts") == 1 for v in records.values()),
              "%d records; not sent: %s" % (len(records), list(not_sent.items())[:5]))
        too_late = [k for k, v in records.items()
                    if not (0 <= v.get("late", -1) < STEP_MS)]
        check("every delivery record was fired less than one step after its due time",
              not too_late, too_late[:5])

        s, _, b = d.http("GET", "/api/v1/campaigns/%s/releases" % CID, "viewer")
        check("GET releases route after the window: status finished, counts {sent: 64}",
              s == 200 and isinstance(b, dict) and b.get("status") == "finished" and
              b.get("counts") == {"sent": 64}, "%s %r" % (s, b if s != 200 else
                                                          (b.get("status"), b.get("counts"))))

        def stored_status():
            s, _, b = d.http("GET", "/api/v1/campaigns/%s" % CID, "viewer")
            return b.get("status") if s == 200 and isinstance(b, dict) else None
        st = h.wait_until(lambda: stored_status() == "finished" and "finished")
        check("the stored campaign's status becomes \"finished\"", st == "finished",
              "status %s" % stored_status())

        totals = h.metric_totals(redis, d, CID)
        sent = {ch: n for (ch, what), n in totals.items() if what == "sent"}
        check("metrics: sent per channel matches the log (banner 1, alert 1, sns 30, "
              "kakao 30, newsletter 2)", sent == EXPECTED_PER_CHANNEL, "got %s" % totals)
        other = {k: n for k, n in totals.items() if k[1] not in ("sent", "queued")}
        queued = {ch: n for (ch, what), n in totals.items() if what == "queued"}
        check("metrics: queued equals sent, and no retry, dead or expired counts",
              queued == EXPECTED_PER_CHANNEL and not other,
              "queued %s; others %s" % (queued, other))
        check("the daemon ran the whole window without dying", d.alive(), "it exited")
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM after the window (no leak)", status == 0,
                  "exit status %s" % status)
        redis.stop()


def rehearsal():
    expected = {(r, ch, when) for r, ch, when in expected_deliveries()}
    began = time.monotonic()
    p = h.cli(["rehearse", h.EXAMPLE_CAMPAIGN, "--json"], timeout=60)
    elapsed = time.monotonic() - began
    check("haechi rehearse jamsi-meomchum.json --json exits 0", p.returncode == 0,
          "status %s; stderr %s" % (p.returncode, p.stderr.strip()[-300:]))
    check("the rehearsal of the two-week window takes a few seconds (< 10 s)",
          elapsed < 10.0, "took %.1f s" % elapsed)
    lines = h.nonempty_lines(p.stdout)
    rows, bad = [], []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            bad.append(line)
    check("every rehearsal line is one JSON object", not bad and len(rows) == len(lines),
          bad[:3])
    triples = []
    unparsable = []
    for r in rows:
        try:
            when = datetime.datetime.fromisoformat(r["time"])
        except (KeyError, TypeError, ValueError):
            unparsable.append(r)
            continue
        if when.utcoffset() != datetime.timedelta(hours=9):
            unparsable.append(r)
            continue
        triples.append((r.get("release"), r.get("channel"), when.strftime("%Y-%m-%d %H:%M")))
    check("rehearsal times are RFC 3339 in +09:00", not unparsable, unparsable[:3])
    check("the rehearsal prints 64 lines, no (time, channel, release) twice",
          len(rows) == 64 and len(set(triples)) == len(triples),
          "%d lines, %d distinct" % (len(rows), len(set(triples))))
    check("the rehearsal's (time, channel, release) triples are exactly the expected 64",
          set(triples) == expected,
          "missing %s; unexpected %s" % (sorted(expected - set(triples))[:5],
                                         sorted(set(triples) - expected)[:5]))
    not_sent = [r for r in rows if r.get("state") != "sent"]
    check("every rehearsed delivery is \"sent\"", rows and not not_sent, not_sent[:3])

    work = h.new_dir("rehearse")
    try:
        doc = h.example_campaign()
        doc["schedule"]["releases"][2]["cron"] = "0 25 * * *"
        path = h.write_campaign(work, "invalid.json", doc)
        p = h.cli(["rehearse", path, "--json"], timeout=60)
        check("haechi rehearse of an invalid campaign (cron hour 25) exits 1 naming the "
              "problem", p.returncode == 1 and "/schedule/releases/2/cron" in
              (p.stdout + p.stderr) and h.nonempty_lines(p.stderr),
              "status %s; stdout %r; stderr %r" % (p.returncode, p.stdout[-300:],
                                                   p.stderr[-300:]))
        path = h.write_campaign(work, "not-json.json", b'{"id": "x", ')
        p = h.cli(["rehearse", path], timeout=60)
        check("haechi rehearse of a file that is not JSON exits 1", p.returncode == 1,
              "status %s; stderr %r" % (p.returncode, p.stderr[-300:]))
        p = h.cli(["rehearse", os.path.join(work, "missing.json")], timeout=60)
        check("haechi rehearse of a missing file exits non-zero with a reason",
              p.returncode not in (0, None) and h.nonempty_lines(p.stderr),
              "status %s; stderr %r" % (p.returncode, p.stderr[-300:]))
        small = h.minimal_campaign("rehearse-small", ["sns"], "2020-06-01", "2020-06-02",
                                   [{"id": "noon", "cron": "0 12 * * *",
                                     "channels": ["sns"]}])
        path = h.write_campaign(work, "small.json", small)
        p = h.cli(["rehearse", path, "--json"], timeout=60)
        rows = [json.loads(x) for x in h.nonempty_lines(p.stdout)] if p.returncode == 0 else []
        check("haechi rehearse of a small valid campaign exits 0 with its 2 deliveries",
              p.returncode == 0 and [(r.get("time"), r.get("state")) for r in rows] ==
              [("2020-06-01T12:00:00+09:00", "sent"), ("2020-06-02T12:00:00+09:00", "sent")],
              "status %s; stdout %r; stderr %r" % (p.returncode, p.stdout[-300:],
                                                   p.stderr[-300:]))
    finally:
        h.cleanup_dir(work)


def main():
    daemon_window()
    rehearsal()


if __name__ == "__main__":
    h.run(main)
