"""A daemon whose kakao channel sends to an audience list through the dealer
stand-in (tests/fakes/fake_kakao.c), for the tests of list channels.

ListWorld starts a private Redis, the stand-in and `haechi serve` (all roles,
virtual clock) with channels.kakao on the "kakao" adapter, and imports lists
with `haechi audience import` against the daemon's own config (same Redis,
same prefix). Its clock() moves the daemon's clock and the stand-in's
together, so that the stand-in's night block and idempotency window mean
the same instant to both sides.
"""

import json
import os

import audience_gen
import contract_kakao
import fakes
import harness as h


class ListWorld:
    def __init__(self, name, engine=None, fake_args=None, section=None, daemon_extra=None,
                 redis_timeout_ms=None):
        self.name = name
        self.case = contract_kakao.CASE
        self.dir = h.new_dir("list-" + name)
        self.redis = h.Redis(name + "-redis")
        self.fake = None
        self.daemon = None
        self.engine = engine or {"backoff_ms": 1000, "backoff_max_ms": 60000, "max_attempts": 5}
        self.fake_args = list(fake_args or [])
        self.section = dict(section or {})
        self.daemon_extra = dict(daemon_extra or {})
        self.env = dict(os.environ)
        self.env.update(self.case.get("env", {}))
        self.now_ms = None
        self.redis_timeout_ms = redis_timeout_ms

    def start(self):
        """True once Redis, the stand-in and the daemon are up (each step reported)."""
        if not h.check("%s: private redis-server answers PING" % self.name, self.redis.start(),
                       "see stderr"):
            return False
        self.recipients_log = os.path.join(self.dir, "recipients.jsonl")
        try:
            self.fake = fakes.start_fake(self.case["fake"], self.dir, *self.case["fake_args"],
                                         "--recipients-log", self.recipients_log,
                                         "--log-body-max", "4096",
                                         *self.fake_args)
        except fakes.FakeError as e:
            h.check("%s: the dealer stand-in starts" % self.name, False, str(e))
            return False
        kakao = {"adapter": self.case["adapter"], "quiet_hours": False}
        kakao.update(self.case["section"](self.fake, self.dir))
        kakao.update(self.section)
        channels = h.real_clock_channels()
        channels["kakao"] = kakao
        extra = {"environment": "test", "testing": {"virtual_clock": True},
                 "channels": channels, "engine": self.engine}
        extra.update(self.daemon_extra)
        self.daemon = h.Daemon(self.name, self.redis.address, extra=extra)
        if self.redis_timeout_ms:
            self.daemon.config["redis"]["command_timeout_ms"] = self.redis_timeout_ms
        return h.check("%s: haechi serve starts with the kakao adapter on the dealer stand-in" %
                       self.name, self.daemon.start(env=self.env),
                       "see stderr: %s" % h.tail(self.daemon.log_path, 20))

    def audience(self, *args, timeout=120):
        """`haechi audience ARGS --config` the daemon's config: its Redis and prefix."""
        return h.cli(["audience"] + list(args) + ["--config", self.daemon.config_path],
                     env=self.env, timeout=timeout)

    def import_list(self, list_id, n, replace=False, **gen):
        """Writes a CSV of N generated members and imports it; returns (process, what
        the generator wrote)."""
        path = os.path.join(self.dir, "%s-%d.csv" % (list_id, n))
        wrote = audience_gen.write(path, n, **gen)
        args = ["import", list_id, path] + (["--replace"] if replace else [])
        return self.audience(*args), wrote

    def set_status(self, list_id, member, status):
        return self.audience("status", list_id, member, status, "--reason", "test")

    def clock(self, now_ms):
        """Sets the daemon's and the stand-in's clock to NOW_MS."""
        self.fake.clock(now_ms=now_ms)
        s, b = h.set_clock(self.daemon, now_ms=now_ms)
        if s != 200:
            raise RuntimeError("clock step to %d answered %s %r" % (now_ms, s, b))
        self.now_ms = now_ms

    def group(self, cid, rid, due):
        """The stand-in's counts for one release (its senderGroupingKey), or {}."""
        want = "%s:%s:%d" % (cid, rid, due)
        for key, g in (self.fake.state().get("groups") or {}).items():
            if key == want or want.startswith(key):
                return g
        return {}

    def recipients(self, group):
        """Every number the stand-in accepted for GROUP (a release), from its log."""
        got = set()
        want = group[:100]
        with open(self.recipients_log, encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("group") in (group, want):
                    got.add(r.get("no"))
        return got

    def record(self, cid, rid, due):
        return h.fires(self.redis, self.daemon, cid).get("%s|%d|kakao" % (rid, due))

    def wait(self, cid, rid, due, states, timeout=h.DEADLINE):
        def got():
            if not self.daemon.alive():
                return "daemon died"
            r = self.record(cid, rid, due)
            return r if r and r.get("state") in states else None
        r = h.wait_until(got, timeout)
        return r if isinstance(r, dict) else None

    def stop(self):
        nodes = [self.daemon] if self.daemon else []
        h.stop_all(nodes, self.redis)
        if self.fake:
            status = self.fake.stop()
            h.check("%s: the dealer stand-in exits 0 on SIGTERM" % self.name, status == 0,
                    "exit status %s" % status)


def kakao_campaign(cid, list_id, releases, start="2020-03-01", end="2020-03-31", **section):
    """A campaign on kakao alone, to LIST_ID, with RELEASES; SECTION overrides the
    kakao section's fields."""
    doc = h.minimal_campaign(cid, ["kakao"], start, end, releases)
    doc["kakao"]["list"] = list_id
    doc["kakao"].update(section)
    return doc
