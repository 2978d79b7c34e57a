"""A newcomer's first steps: `haechi validate` with no config at all, and
`make run` (deploy/run.sh) replaying the 잠시멈춤 campaign.

validate:
- with HAECHI_CONFIG naming a file that does not exist, it validates (it
  needs no config; only --config is read);
- --config still counts: a missing one is refused (exit 2), one with small
  limits applies them.

deploy/run.sh, run as `make run` runs it but with its var/ in a temporary
directory (HAECHI_VAR), the test build, a free port and a fast demo clock:
- a stale var/haechi.env (from a run killed outright) is gone before the
  daemon is ready, and the new one appears only once the daemon answers and
  the campaign is in: `haechi list` with it works at once;
- it prints where things are and how to follow them, then each release as
  it goes out, in campaign time;
- a second `make run` while one runs says so and leaves it alone;
- Ctrl-C (SIGINT to its process group, as a terminal sends it) stops it:
  exit 0, haechi.env and run.pid gone, no process of it left;
- a second run replays from the start (it clears the last replay), and
  `make stop` (run.sh --stop) stops it; --stop with nothing running says so
  and removes a stale env file.
"""

import os
import re
import signal
import subprocess
import time

import harness as h
from harness import check

RUN_SH = os.path.join(h.ROOT, "deploy", "run.sh")
SPEED = 43200  # half a day a second: the first releases within seconds
RUN_DEADLINE = 30.0


def run_validate():
    p = h.cli(["validate", h.EXAMPLE_CAMPAIGN], env={"HAECHI_CONFIG": "/nonexistent"})
    check("validate with HAECHI_CONFIG=/nonexistent validates: exit 0, a summary",
          p.returncode == 0 and "valid" in p.stdout and not p.stderr,
          "exit %s; stdout %r; stderr %r" % (p.returncode, p.stdout[:200], p.stderr[:300]))

    work = h.new_dir("validate")
    small = h.write_json(os.path.join(work, "small.json"),
                         {"limits": {"max_campaign_bytes": 1024}})
    p = h.cli(["validate", h.EXAMPLE_CAMPAIGN], env={"HAECHI_CONFIG": small})
    check("validate does not read HAECHI_CONFIG: its limits do not apply",
          p.returncode == 0, "exit %s; %r %r" % (p.returncode, p.stdout[:200], p.stderr[:200]))

    p = h.cli(["validate", "--config", small, h.EXAMPLE_CAMPAIGN])
    check("validate --config applies that config's limits",
          p.returncode == 1 and "over the limit of 1024 bytes" in p.stdout,
          "exit %s; %r %r" % (p.returncode, p.stdout[:300], p.stderr[:200]))

    p = h.cli(["validate", "--config", "/nonexistent/haechi.json", h.EXAMPLE_CAMPAIGN])
    check("validate --config with a missing file is refused (exit 2, naming it)",
          p.returncode == 2 and "/nonexistent/haechi.json" in p.stderr,
          "exit %s; stderr %r" % (p.returncode, p.stderr[:300]))


class Run:
    """deploy/run.sh in a session of its own, as a terminal would run it."""

    def __init__(self, var, name):
        self.var = var
        self.out_path = os.path.join(var, "..", name + ".out")
        self.env = {k: v for k, v in os.environ.items() if k not in h.CLIENT_ENV}
        self.env.update(HAECHI_VAR=var, HAECHI_BIN=h.BIN, HAECHI_PORT="0",
                        HAECHI_DEMO_SPEED=str(SPEED))
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen([RUN_SH], stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        self.pgid = self.proc.pid
        self.pidfile = os.path.join(h.PIDS, "run-sh-%d" % self.proc.pid)
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % self.proc.pid)

    def output(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_line(self, pattern, timeout=RUN_DEADLINE):
        rx = re.compile(pattern, re.M)
        return h.wait_until(lambda: rx.search(self.output()) or self.proc.poll() is not None,
                            timeout) and rx.search(self.output())

    def group_gone(self):
        try:
            os.killpg(self.pgid, 0)
            return False
        except ProcessLookupError:
            return True

    def wait_exit(self, timeout=h.DEADLINE):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        """Whatever is left of it, whatever happened."""
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)


def read_env(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return dict(re.findall(r"^export (\w+)=(\S*)$", text, re.M))


RELEASE = r"^\s+2020-03-22 %s \w{3}\s+%s\s+%s\s+sent$"
STALE = "export HAECHI_URL=http://127.0.0.1:1\nexport HAECHI_TOKEN=stale-token\n"


def first_run(var):
    envfile = os.path.join(var, "haechi.env")
    os.makedirs(var, mode=0o700)
    with open(envfile, "w") as f:
        f.write(STALE)
    r = Run(var, "first")
    try:
        # The env file at the moment the daemon is ready: gone, or already new.
        ready = os.path.join(var, "ready")
        at_ready = h.wait_until(lambda: (os.path.exists(ready) and
                                         ("env", read_env(envfile))) or
                                (r.proc.poll() is not None and ("exited", None)),
                                RUN_DEADLINE)
        check("make run: a stale haechi.env is gone before the daemon is ready",
              at_ready and at_ready[0] == "env" and
              (at_ready[1] is None or at_ready[1].get("HAECHI_TOKEN") != "stale-token"),
              "%r; output %r" % (at_ready, r.output()[-800:]))

        fresh = h.wait_until(lambda: (read_env(envfile) or {}).get("HAECHI_TOKEN") not in
                             (None, "stale-token") and read_env(envfile), RUN_DEADLINE)
        listed = h.cli(["list"], env=fresh) if fresh else None
        check("make run: haechi.env appears once the daemon answers and the campaign is "
              "in (bin/haechi list with it works at once)",
              listed and listed.returncode == 0 and "jamsi-meomchum" in listed.stdout,
              "env %r; list %r" % (fresh, listed and (listed.returncode, listed.stdout,
                                                       listed.stderr)))

        banner = r.wait_line(RELEASE % ("00:00", "banner-window", "banner"))
        morning = r.wait_line(RELEASE % ("09:00", "morning-post", "sns"))
        out = r.output()
        check("make run prints each release as it goes out, in campaign time",
              banner and morning, out[-1500:])
        wanted = ["haechi is running, replaying the 잠시멈춤 campaign on a demo clock.",
                  "%d times real time" % SPEED, ". %s/haechi.env" % var,
                  "bin/haechi status jamsi-meomchum", "dev token  " + (fresh or {}).get(
                      "HAECHI_TOKEN", "?"), "Ctrl-C stops haechi"]
        check("make run says where things are and how to follow them in another terminal",
              all(w in out for w in wanted), "missing %r in %r" % (
                  [w for w in wanted if w not in out], out[:1500]))
        before_banner = out[:out.find("banner-window")]
        check("make run's first lines come before the replay (nothing printed twice)",
              out.count("haechi is running") == 1 and "Releases as they go out" in before_banner,
              out[:1500])

        again = subprocess.run([RUN_SH], env=r.env, capture_output=True, text=True,
                               timeout=RUN_DEADLINE, stdin=subprocess.DEVNULL)
        check("a second make run while one runs says so, starts nothing, keeps haechi.env",
              again.returncode == 0 and "already running" in again.stdout and
              read_env(envfile) == fresh and r.proc.poll() is None,
              "exit %s; %r %r; env %r" % (again.returncode, again.stdout, again.stderr,
                                          read_env(envfile)))

        os.killpg(r.pgid, signal.SIGINT)
        status = r.wait_exit()
        gone = h.wait_until(r.group_gone)
        check("Ctrl-C stops make run: exit 0, every process of it gone",
              status == 0 and gone, "exit %s; group gone %s; %r" % (status, gone,
                                                                     r.output()[-600:]))
        check("after Ctrl-C: haechi.env and run.pid are removed, and it says it stopped",
              not os.path.exists(envfile) and not os.path.exists(os.path.join(var, "run.pid"))
              and "make run: stopped haechi and its redis-server" in r.output(),
              "%s %s; %r" % (os.listdir(var), envfile, r.output()[-300:]))
        log = h.tail(os.path.join(var, "haechi.log"), 100000)
        check("the daemon under make run stopped cleanly (no sanitizer report in its log)",
              "Sanitizer" not in log and "runtime error" not in log and "shutting down" in log,
              log[-800:])
    finally:
        r.kill()


def second_run(var):
    envfile = os.path.join(var, "haechi.env")
    r = Run(var, "second")
    try:
        cleared = r.wait_line(r"cleared\s+the last replay \((\d+) keys under \"demo:\"")
        banner = r.wait_line(RELEASE % ("00:00", "banner-window", "banner"))
        check("a second make run replays from the start: the last replay is cleared and "
              "the first release goes out again",
              cleared and int(cleared.group(1)) > 0 and banner, r.output()[-1500:])

        h.wait_until(lambda: read_env(envfile))
        stop = subprocess.run([RUN_SH, "--stop"], env=r.env, capture_output=True, text=True,
                              timeout=RUN_DEADLINE, stdin=subprocess.DEVNULL)
        status = r.wait_exit()
        gone = h.wait_until(r.group_gone)
        check("make stop stops it from elsewhere: exit 0, every process gone, haechi.env "
              "removed", stop.returncode == 0 and "stopping haechi" in stop.stdout and
              status == 0 and gone and not os.path.exists(envfile),
              "stop %s %r; run exit %s; gone %s; env %s" % (
                  stop.returncode, stop.stdout, status, gone, os.path.exists(envfile)))
    finally:
        r.kill()

    with open(envfile, "w") as f:
        f.write(STALE)
    stop = subprocess.run([RUN_SH, "--stop"], env=r.env, capture_output=True, text=True,
                          timeout=RUN_DEADLINE, stdin=subprocess.DEVNULL)
    check("make stop with nothing running says so and removes a stale haechi.env",
          stop.returncode == 0 and "not running" in stop.stdout and
          not os.path.exists(envfile), "%s %r" % (stop.returncode, stop.stdout))


def main():
    run_validate()
    var = os.path.join(h.new_dir("make-run"), "var")
    first_run(var)
    second_run(var)


if __name__ == "__main__":
    h.run(main)
