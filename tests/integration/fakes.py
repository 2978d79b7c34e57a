"""The Python side of the stand-ins of outside services (tests/fakes/).

start_fake("x", tmpdir, "--token", "T") starts build/fakes/fake-x on
127.0.0.1 with a port chosen by the kernel, waits (with a deadline) for the
port file it writes once it listens, and returns a Fake: its URL, the
control API under /_fake/ (faults, clock, tokens, state, reset) and its
request log (JSON lines). Its pid is recorded under $HAECHI_TEST_TMP/pids
as harness.Process does for every server, so that tests/run.sh stops it
whatever happens. urllib only (through harness.http).
"""

import json
import os
import signal

import harness as h

FAKES_DIR = os.environ.get("HAECHI_FAKES_DIR") or os.path.join(h.ROOT, "build", "fakes")


class FakeError(Exception):
    pass


def binary(name):
    return os.path.join(FAKES_DIR, "fake-" + name)


class Fake:
    """A running stand-in. Every control call raises FakeError unless it says 200."""

    def __init__(self, name, tmpdir, args):
        self.name = name
        self.dir = tmpdir
        self.port_file = os.path.join(tmpdir, "fake-%s.port" % name)
        self.log_path = os.path.join(tmpdir, "fake-%s.log" % name)
        self.out_path = os.path.join(tmpdir, "fake-%s.out" % name)
        self.argv = [binary(name), "--listen", "127.0.0.1:0", "--port-file", self.port_file,
                     "--log", self.log_path] + list(args)
        self.process = None
        self.port = None
        self.url = None

    def start(self, timeout=h.DEADLINE):
        if not os.access(self.argv[0], os.X_OK):
            raise FakeError("%s is not built (make fakes)" % self.argv[0])
        for path in (self.port_file, self.log_path):
            if os.path.exists(path):
                os.unlink(path)
        self.process = h.Process("fake-" + self.name, self.argv, self.out_path)

        def port():
            if not self.process.alive():
                return "exited"
            try:
                with open(self.port_file) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            return text if text.endswith("\n") else None

        got = h.wait_until(port, timeout)
        if not got or got == "exited":
            status = self.process.proc.poll()
            self.process.signal(signal.SIGKILL)
            raise FakeError("fake-%s did not start (%s); its output:\n%s" % (
                self.name, "exit status %s" % status if got else "timeout",
                h.tail(self.out_path)))
        self.port = int(got)
        self.url = "http://127.0.0.1:%d" % self.port
        return self

    # ---- the control API ------------------------------------------------------

    def control(self, method, what, body=None):
        status, _, answer = h.http(self.url, method, "/_fake/" + what, body=body,
                                   content_type="application/json" if body is not None else None)
        if status != 200:
            raise FakeError("%s /_fake/%s: %s %r" % (method, what, status, answer))
        return answer

    def fault(self, kind, count=None, share=None, route=None, ms=None, status=None, seed=None):
        """Injects KIND for the next COUNT matching requests (default 1; with
        SHARE, that share of them, without a limit unless COUNT is given)."""
        spec = {"fault": kind}
        for key, value in (("count", count), ("share", share), ("route", route), ("ms", ms),
                           ("status", status), ("seed", seed)):
            if value is not None:
                spec[key] = value
        return self.control("POST", "faults", spec)

    def clear_faults(self):
        return self.control("DELETE", "faults")

    def clock(self, now_ms=None, advance_ms=None):
        """Sets or advances the stand-in's clock; returns its reading (epoch ms)."""
        if now_ms is not None:
            body = {"now_ms": now_ms}
        elif advance_ms is not None:
            body = {"advance_ms": advance_ms}
        else:
            return self.control("GET", "clock")["now_ms"]
        return self.control("POST", "clock", body)["now_ms"]

    def expire(self, token):
        return self.control("POST", "tokens", {"expire": token})

    def add_token(self, token):
        return self.control("POST", "tokens", {"add": token})

    def state(self):
        return self.control("GET", "state")

    def reset(self):
        return self.control("POST", "reset", {})

    def requests(self, path=None, method=None):
        """The requests it accepted so far (its log), oldest first; PATH and
        METHOD filter them."""
        out = []
        try:
            with open(self.log_path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            if path is not None and entry.get("path") != path:
                continue
            if method is not None and entry.get("method") != method:
                continue
            out.append(entry)
        return out

    def stop(self):
        """SIGTERM; returns the exit status (0 expected)."""
        if not self.process:
            return None
        status = self.process.signal(signal.SIGTERM)
        self.process = None
        return status

    def alive(self):
        return bool(self.process and self.process.alive())


def start_fake(name, tmpdir, *args, timeout=h.DEADLINE):
    """Starts build/fakes/fake-NAME with ARGS; returns the running Fake or
    raises FakeError (with its output) when it does not come up."""
    return Fake(name, tmpdir, args).start(timeout)
