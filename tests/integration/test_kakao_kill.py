"""A worker SIGKILLed in the middle of a list release's fan-out, restarted:
every member receives the message, and no more duplicates than the
recipients of the requests that were in flight at the kill.

The dealer stand-in acts on every request at once and holds its answer for
a few seconds ("slow"), so the daemon dies with its batches taken by the
dealer and unanswered: the worst case. The restarted daemon reclaims them.

Twice: with the dealer's idempotency key (the adapter's default), a
reclaimed batch sends the same recipients under the same key, the dealer
recognises it, and nobody gets the message twice; without it (idempotency
"off"), only the delivered bitmap protects the members, so the members of
the batches in flight get it twice and nobody else does. The test prints
both counts.
"""

import datetime
import signal

import harness as h
import list_world
from harness import check

DUE_MS = h.seoul_ms(2020, 3, 23, 10, 0)
N = 12000
LIST = "kill-friends"


def run(idempotency):
    tag = "idem-" + idempotency
    world = list_world.ListWorld("kkill-" + tag, section={"idempotency": idempotency},
                                 engine={"backoff_ms": 1000, "max_attempts": 5,
                                         "reclaim_idle_ms": 1500})
    try:
        if not world.start():
            return
        d = world.daemon
        world.clock(DUE_MS - 60 * 1000)
        p, _ = world.import_list(LIST, N)
        if not check("%s: the %d-member list is imported" % (tag, N), p.returncode == 0,
                     (p.stdout + p.stderr)[-400:]):
            return
        cid = "kill-" + tag
        at = datetime.datetime.fromtimestamp(DUE_MS / 1000, h.SEOUL).strftime(
            "%Y-%m-%dT%H:%M:%S")
        doc = list_world.kakao_campaign(cid, LIST, [{"id": "go", "at": at,
                                                     "channels": ["kakao"]}])
        s, b = h.submit_campaign(d, doc)
        if not check("%s: the campaign is accepted" % tag, s == 201, "%s %r" % (s, b)):
            return
        # Every request is taken and its answer held 4 s: a kill finds them all
        # delivered to the dealer and unanswered.
        world.fake.fault("slow", share=1.0, ms=4000, route=world.case["post_route"][1])
        world.clock(DUE_MS)

        def sending():
            recs = h.fires(world.redis, d, cid)
            busy = [k for k, v in recs.items() if k.count("|") == 3 and
                    v.get("state") == "sending"]
            return busy if len(busy) >= 2 and world.fake.state().get("requests", 0) >= 2 else None
        busy = h.wait_until(sending, timeout=h.DEADLINE)
        if not check("%s: batches are in flight at the dealer" % tag, busy,
                     h.fires(world.redis, d, cid)):
            return
        d.process.signal(signal.SIGKILL)
        d.process = None
        # In flight at the kill: what the dealer took whose answer the engine
        # never recorded (the requests whose answers the stand-in still held).
        taken = world.fake.state()
        recs = h.fires(world.redis, d, cid)
        in_flight = [k for k, v in recs.items() if k.count("|") == 3 and
                     v.get("state") == "sending"]
        done = [v for k, v in recs.items() if k.count("|") == 3 and v.get("state") == "sent"]
        in_flight_recipients = taken.get("accepted", 0) - sum(v.get("accepted", 0) for v in done)
        in_flight_requests = taken.get("requests", 0) - len(done)
        world.fake.clear_faults()
        check("%s: the daemon is SIGKILLed with %d batches in flight" % (tag, len(in_flight)),
              len(in_flight) >= 2, in_flight)
        check("%s: the restarted daemon comes up" % tag, d.start(env=world.env), "see stderr")
        rec = world.wait(cid, "go", due=DUE_MS, states=("sent", "partial", "dead"),
                         timeout=60)
        check("%s: the release ends sent after the restart" % tag,
              rec and rec["state"] == "sent", rec)
        g = world.group(cid, "go", DUE_MS)
        dups = g.get("duplicates", -1)
        print("# %s: at the kill %d batches were taken by the worker, %d requests "
              "(%d recipients) were at the dealer unanswered; duplicates after the "
              "restart: %d" % (tag, len(in_flight), in_flight_requests, in_flight_recipients,
                               dups))
        check("%s: every one of the %d members received it" % (tag, N),
              g.get("recipients") == N, g)
        check("%s: duplicates (%d) <= the recipients of the requests in flight at the kill "
              "(%d)" % (tag, dups, in_flight_recipients),
              0 <= dups <= max(in_flight_recipients, 0), g)
        if idempotency == "on":
            check("%s: with the dealer's idempotency key nobody received it twice" % tag,
                  dups == 0, g)
    finally:
        world.stop()


def main():
    run("on")
    run("off")


if __name__ == "__main__":
    h.run(main)
