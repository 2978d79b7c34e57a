"""Every SNS network's stand-in and a daemon whose sns channel reaches them.

The networks come from the contract entries tests/integration/contract_*.py:
each CASE names its adapter, its stand-in and how to configure one against
the other. SnsWorld starts a private Redis, every stand-in, and `haechi
serve` (all roles, virtual clock) with channels.sns = the "sns" adapter with
one section per network. Its clock() moves the daemon's clock and every
stand-in's together, so that a stand-in's reset times and token lifetimes
mean the same instant to both sides.
"""

import glob
import importlib
import os

import fakes
import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))


def contract_cases(kind="network"):
    """Every contract entry of KIND ("network": the sns networks; "list": the
    channels that send to an audience list), by adapter name, in a stable order."""
    out = {}
    for path in sorted(glob.glob(os.path.join(HERE, "contract_*.py"))):
        mod = importlib.import_module(os.path.basename(path)[:-3])
        if mod.CASE.get("kind", "network") == kind:
            out[mod.CASE["adapter"]] = mod.CASE
    return out


class SnsWorld:
    def __init__(self, name, cases=None, engine=None, daemon_extra=None, fake_extra=None):
        self.name = name
        self.cases = cases or contract_cases()
        self.dir = h.new_dir("sns-" + name)
        self.redis = h.Redis(name + "-redis")
        self.fakes = {}
        self.daemon = None
        self.engine = engine or {"backoff_ms": 1000, "backoff_max_ms": 60000, "max_attempts": 5}
        self.daemon_extra = daemon_extra or {}
        self.fake_extra = fake_extra or {}  # network -> more stand-in options
        self.env = dict(os.environ)
        self.now_ms = None

    def networks(self):
        return list(self.cases)

    def start(self):
        """True once Redis, every stand-in and the daemon are up (each step reported)."""
        if not h.check("%s: private redis-server answers PING" % self.name, self.redis.start(),
                       "see stderr"):
            return False
        sns = {"adapter": "sns", "quiet_hours": False}
        for net, case in self.cases.items():
            try:
                fake = fakes.start_fake(case["fake"], self.dir, *case.get("fake_args", []),
                                        *self.fake_extra.get(net, []))
            except fakes.FakeError as e:
                h.check("%s: the %s stand-in starts" % (self.name, net), False, str(e))
                return False
            self.fakes[net] = fake
            sns[net] = case["section"](fake, self.dir)
            self.env.update(case.get("env", {}))
        channels = h.real_clock_channels()
        channels["sns"] = sns
        extra = {"environment": "test", "testing": {"virtual_clock": True},
                 "channels": channels, "engine": self.engine}
        extra.update(self.daemon_extra)
        self.daemon = h.Daemon(self.name, self.redis.address, extra=extra)
        return h.check("%s: haechi serve starts with the sns adapter on %s" % (
            self.name, ", ".join(self.cases)), self.daemon.start(env=self.env),
            "see stderr: %s" % h.tail(self.daemon.log_path, 20))

    def clock(self, now_ms):
        """Sets the daemon's and every stand-in's clock to NOW_MS."""
        for fake in self.fakes.values():
            fake.clock(now_ms=now_ms)
        s, b = h.set_clock(self.daemon, now_ms=now_ms)
        if s != 200:
            raise RuntimeError("clock step to %d answered %s %r" % (now_ms, s, b))
        self.now_ms = now_ms

    def posts(self, net):
        """The requests NET's stand-in accepted on the route that creates a post."""
        method, path = self.cases[net]["post_route"]
        return [r for r in self.fakes[net].requests()
                if r.get("method") == method and route_matches(path, r.get("path", ""))]

    def stop(self):
        nodes = [self.daemon] if self.daemon else []
        h.stop_all(nodes, self.redis)
        for net, fake in self.fakes.items():
            status = fake.stop()
            h.check("%s: the %s stand-in exits 0 on SIGTERM" % (self.name, net), status == 0,
                    "exit status %s" % status)


def route_matches(pattern, path):
    """Whether PATH fits PATTERN, whose ":x" segments match any one segment."""
    a, b = pattern.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x.startswith(":") or x == y for x, y in zip(a, b))
