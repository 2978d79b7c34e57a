"""`haechi audience` against a private Redis: imports (rejected rows with line
and reason, duplicates, append, --replace, --strict), statuses honoured by
show and export, remove and status, an interrupted import that leaves the
list in force, and 350,000 rows with the CLI's peak memory and Redis's
memory per member.
"""

import os
import pwd
import re
import signal
import subprocess
import time

import harness as h
from harness import check

BIG = 350000
RSS_BOUND_KB = 64 * 1024


def phone(i):
    """The i-th member's number in the spelling a file would have."""
    return "010-0%03d-%04d" % (i // 10000 % 1000, i % 10000)


def e164(i):
    return "+82100%03d%04d" % (i // 10000 % 1000, i % 10000)


def write_csv(path, rows, header="phone,name,city"):
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(r + "\n")
    return path


class World:
    def __init__(self, redis):
        self.redis = redis
        self.dir = h.new_dir("audience")
        self.prefix = h.unique_prefix("aud")
        self.config = os.path.join(self.dir, "haechi.json")
        h.write_json(self.config, {
            "redis": {"address": redis.address, "prefix": self.prefix},
            "tokens": [{"name": "ops", "role": "admin", "token": "admin-" + "a" * 32}],
        })

    def cli(self, *args, stdin=None, env=None, timeout=120):
        return h.cli(["audience"] + list(args) + ["--config", self.config], stdin=stdin,
                     env=env, timeout=timeout)

    def meta(self, lst):
        flat = self.redis.command("HGETALL", "%s:{a:%s}:meta" % (self.prefix, lst)) or []
        return dict(zip(flat[0::2], flat[1::2]))

    def audit(self):
        entries = self.redis.command("XRANGE", "%s:audit" % self.prefix, "-", "+") or []
        return [dict(zip(e[1][0::2], e[1][1::2])) for e in entries]


def clean(p):
    return p.returncode is not None and "Sanitizer" not in p.stderr and \
        "runtime error" not in p.stderr


def show_counts(p):
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^\s+(\w+)\s+(\d+)$", p.stdout, re.M)}


def run_basic(w):
    rows = ["%s,Name %d,Seoul" % (phone(i), i) for i in range(3000)]
    rows[10] = "010-12-34,Bad,Seoul"            # line 12: too short
    rows[20] = "%s,Dup,Busan" % phone(5)        # line 22: duplicate of line 7
    rows[30] = "%s,Only two" % phone(31)        # line 32: a column short
    path = write_csv(os.path.join(w.dir, "basic.csv"), rows)
    p = w.cli("import", "fans", path)
    out = p.stdout
    check("an import of 3,000 rows commits version 1 with 2,997 members",
          p.returncode == 0 and "imported 2997 members (version 1)" in out and clean(p),
          out + p.stderr)
    check("rejected rows are reported with their line and reason",
          "2 rejected" in out and re.search(r"line 12: phone", out) and
          re.search(r"line 32: ", out), out)
    check("a duplicate names the line it repeats",
          "1 duplicates" in out and "line 22: duplicate of line 7" in out, out)
    check("the report never shows a whole bad number", "010-12-34" not in out, out)

    p = w.cli("show", "fans")
    counts = show_counts(p)
    check("show counts the members by status",
          p.returncode == 0 and counts.get("active") == 2997 and counts.get("removed") == 0 and
          "version 1" in p.stdout and "fields: city" in p.stdout, p.stdout + p.stderr)

    p = w.cli("export", "fans")
    lines = p.stdout.splitlines()
    check("export writes the header and every member with its status",
          p.returncode == 0 and lines[0] == "phone,name,lang,city,status" and
          len(lines) == 2998 and lines[1] == "%s,Name 0,,Seoul,active" % e164(0),
          lines[:3])

    # An append: the members in force stay, the file's are added.
    more = ["%s,New %d,Jeju" % (phone(i), i) for i in range(2990, 3100)]
    path = write_csv(os.path.join(w.dir, "more.csv"), more)
    p = w.cli("import", "fans", path)
    check("an append adds the new members and reports those already there",
          p.returncode == 0 and "imported 3097 members (version 2)" in p.stdout and
          "10 duplicates" in p.stdout and "line 2: already in the list" in p.stdout,
          p.stdout + p.stderr)

    # A replace: only the file's members.
    path = write_csv(os.path.join(w.dir, "replace.csv"),
                     ["%s,R %d,Seoul" % (phone(i), i) for i in range(500)])
    p = w.cli("import", "fans", path, "--replace")
    check("--replace puts in force a version of the file's members only",
          p.returncode == 0 and "imported 500 members (version 3)" in p.stdout,
          p.stdout + p.stderr)
    p = w.cli("show", "fans")
    check("show has version 3 with 500 members", "version 3, 500 members" in p.stdout, p.stdout)

    # --strict: one bad row and nothing changes.
    path = write_csv(os.path.join(w.dir, "strict.csv"),
                     ["%s,S,Seoul" % phone(i) for i in range(100)] + ["nope,S,Seoul"])
    p = w.cli("import", "fans", path, "--replace", "--strict")
    check("--strict refuses a file with a rejected row (exit 1, line and reason)",
          p.returncode == 1 and "line 102:" in p.stdout and "unchanged" in p.stderr,
          p.stdout + p.stderr)
    p = w.cli("show", "fans")
    check("after the refused --strict import version 3 is still in force",
          "version 3, 500 members" in p.stdout, p.stdout)

    # A file of another kind is refused.
    path = write_csv(os.path.join(w.dir, "emails.csv"), ["a@example.com,A,Seoul"],
                     header="email,name,city")
    p = w.cli("import", "fans", path)
    check("an e-mail file into a phone list is refused",
          p.returncode == 1 and "phone numbers" in p.stderr, p.stdout + p.stderr)


def run_statuses(w):
    rows = ["%s,N %d,Seoul,%s" % (phone(i), i, "unsubscribed" if i % 10 == 0 else "")
            for i in range(200)]
    path = write_csv(os.path.join(w.dir, "st.csv"), rows, header="phone,name,city,status")
    p = w.cli("import", "st", path)
    check("an import with a status column commits", p.returncode == 0, p.stdout + p.stderr)
    counts = show_counts(w.cli("show", "st"))
    check("show counts the statuses the file gave",
          counts.get("unsubscribed") == 20 and counts.get("active") == 180, counts)

    p = w.cli("status", "st", phone(1), "bounced", "--reason", "mailbox full")
    check("status changes a member's status", p.returncode == 0 and "-> bounced" in p.stdout and
          e164(1) not in p.stdout, p.stdout + p.stderr)
    p = w.cli("remove", "st", phone(2))
    check("remove marks a member removed", p.returncode == 0 and "removed" in p.stdout,
          p.stdout + p.stderr)
    p = w.cli("status", "st", "010-0999-9999", "blocked")
    check("a status change for someone not in the list is refused, the number masked",
          p.returncode == 1 and "not a member" in p.stderr and "010-0999-9999" not in p.stderr,
          p.stderr)
    p = w.cli("status", "st", phone(3), "gone")
    check("an unknown status is a usage error naming the statuses",
          p.returncode == 2 and "unsubscribed" in p.stderr, p.stderr)
    counts = show_counts(w.cli("show", "st"))
    check("show follows the changes",
          counts.get("bounced") == 1 and counts.get("removed") == 1 and
          counts.get("active") == 178, counts)

    # What a release reads: the members to send to, without those not active
    # and those its bitmaps mark.
    meta = "%s:{a:st}:meta" % w.prefix
    r = w.redis.command("FCALL", "haechi_aud_read_batch", "1", meta, "1", "0", "200", "c:r:1")
    sent_to = [r[5][i] for i in range(0, len(r[5]), 2)] if r and r[0] == 0 else []
    skipped = dict(zip(r[3][0::2], r[3][1::2])) if r and r[0] == 0 else {}
    check("a release's batch leaves out unsubscribed, bounced and removed members",
          len(sent_to) == 178 and 0 not in sent_to and 1 not in sent_to and 2 not in sent_to and
          skipped == {"unsubscribed": 20, "bounced": 1, "removed": 1}, (len(sent_to), skipped))
    w.redis.command("FCALL", "haechi_aud_mark", "1", meta, "c:r:1", "3600", "2", "3", "4",
                    "1", "5")
    r = w.redis.command("FCALL", "haechi_aud_read_batch", "1", meta, "1", "0", "200", "c:r:1")
    sent_to = [r[5][i] for i in range(0, len(r[5]), 2)] if r and r[0] == 0 else []
    check("positions marked sent or failed are not read again",
          r[1] == 2 and r[2] == 1 and len(sent_to) == 175 and 3 not in sent_to and
          5 not in sent_to, r[:3])
    ttl = w.redis.command("TTL", "%s:{a:st}:sent:c:r:1" % w.prefix)
    check("the release's bitmaps expire", 0 < ttl <= 3600, ttl)
    r = w.redis.command("FCALL", "haechi_aud_read_batch", "1", meta, "99", "0", "200", "c:r:1")
    check("a version that is gone says so", r == [1], r)

    p = w.cli("export", "st", "--status", "active")
    exported = [ln.split(",")[0] for ln in p.stdout.splitlines()[1:]]
    check("export --status active leaves out every member who is not active",
          len(exported) == 178 and e164(0) not in exported and e164(1) not in exported and
          e164(2) not in exported and e164(3) in exported, len(exported))
    p = w.cli("export", "st", "--status", "unsubscribed")
    check("export --status unsubscribed gives the 20", len(p.stdout.splitlines()) == 21,
          p.stdout[:200])

    # A new import brings a removed member back, never an unsubscribed one.
    path = write_csv(os.path.join(w.dir, "st2.csv"),
                     ["%s,N,Seoul" % phone(i) for i in range(5)])
    p = w.cli("import", "st", path, "--replace")
    counts = show_counts(w.cli("show", "st"))
    check("a replace keeps statuses (unsubscribed, bounced) and brings a removed member back",
          p.returncode == 0 and counts.get("unsubscribed") == 1 and counts.get("bounced") == 1 and
          counts.get("removed") == 0 and counts.get("active") == 3, counts)

    actions = [(e.get("action"), e.get("who"), e.get("target")) for e in w.audit()]
    user = os.environ.get("USER") or pwd.getpwuid(os.getuid()).pw_name
    check("every change wrote an audit entry as cli:$USER",
          ("audience-import", "cli:" + user, "st") in actions and
          ("audience-status", "cli:" + user, "st") in actions and
          ("audience-remove", "cli:" + user, "st") in actions, actions[-6:])


def run_interrupted(w):
    path = write_csv(os.path.join(w.dir, "old.csv"),
                     ["%s,Old,Seoul" % phone(i) for i in range(100)])
    p = w.cli("import", "kill", path)
    check("the list to be replaced is imported", p.returncode == 0, p.stdout + p.stderr)

    env = dict(os.environ)
    proc = subprocess.Popen([h.BIN, "audience", "import", "kill", "-", "--replace",
                             "--config", w.config], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdin.write(b"phone,name,city\n")
    staged = False
    i = 0
    end = time.monotonic() + h.DEADLINE
    # Rows trickle in until Redis holds part of the new version.
    while time.monotonic() < end and not staged:
        chunk = "".join("%s,New,Seoul\n" % phone(1000 + i + k) for k in range(500))
        i += 500
        proc.stdin.write(chunk.encode())
        proc.stdin.flush()
        v = w.meta("kill").get("staging")
        if v:
            members = w.redis.command("HGET", "%s:{a:kill}:v:%s:info" % (w.prefix, v), "members")
            staged = int(members or 0) > 0
    check("the import being fed through a pipe has staged rows", staged, w.meta("kill"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    proc.stderr.close()

    p = w.cli("show", "kill")
    check("after kill -9 mid-import the old version is still in force",
          "version 1, 100 members" in p.stdout, p.stdout + p.stderr)
    p = w.cli("export", "kill")
    check("and readable", p.returncode == 0 and len(p.stdout.splitlines()) == 101,
          p.stdout[-200:] + p.stderr)
    v = w.meta("kill").get("staging")
    ttl = w.redis.command("TTL", "%s:{a:kill}:v:%s:info" % (w.prefix, v)) if v else -2
    check("the abandoned version's keys expire by themselves", ttl and 0 < ttl <= 86400, ttl)

    # A new import after the dead one commits normally.
    p = w.cli("import", "kill", path, "--replace")
    check("the next import commits", p.returncode == 0 and "(version 3)" in p.stdout,
          p.stdout + p.stderr)


def poll_peak_rss(proc):
    peak = 0
    while proc.poll() is None:
        try:
            with open("/proc/%d/status" % proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    return peak


def run_big(w):
    path = os.path.join(w.dir, "big.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("phone,name,city,tier\n")
        for i in range(BIG):
            f.write("%s,Member %d,Seoul,gold\n" % (phone(i), i))
    before = int(re.search(r"used_memory:(\d+)", w.redis.command("INFO", "memory")).group(1))
    # The sanitizers' quarantine keeps freed memory for a while (256 MB by
    # default): with it at 1 MB, RSS is the program's.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1"
    t0 = time.monotonic()
    proc = subprocess.Popen([h.BIN, "audience", "import", "big", path, "--config", w.config],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    peak = poll_peak_rss(proc)
    out, err = proc.communicate()
    secs = time.monotonic() - t0
    after = int(re.search(r"used_memory:(\d+)", w.redis.command("INFO", "memory")).group(1))
    # What the version's keys hold (MEMORY USAGE), and used_memory's growth.
    held, cursor = 0, "0"
    while True:
        cursor, keys = w.redis.command("SCAN", cursor, "MATCH", "%s:{a:big}:*" % w.prefix,
                                       "COUNT", "1000")
        for k in keys:
            held += w.redis.command("MEMORY", "USAGE", k, "SAMPLES", "0") or 0
        if cursor == "0":
            break
    per_member = held / BIG
    h.log("350k import: %.1f s, %.0f rows/s, CLI peak RSS %d kB (sanitizer build), Redis "
          "%.0f bytes per member in its keys, used_memory +%.0f bytes per member"
          % (secs, BIG / secs, peak, per_member, (after - before) / BIG))
    check("350,000 rows import in one version",
          proc.returncode == 0 and "imported %d members (version 1)" % BIG in out,
          out[-300:] + err[-300:])
    check("the importer's memory stays under 64 MB (peak RSS %d kB)" % peak,
          0 < peak < RSS_BOUND_KB, peak)
    check("Redis holds a member in under 200 bytes (%.0f)" % per_member, 0 < per_member < 200,
          per_member)
    p = w.cli("show", "big")
    check("show counts the 350,000", show_counts(p).get("active") == BIG, p.stdout)


def main():
    redis = h.Redis("audience-redis")
    if not check("private redis-server answers PING", redis.start(), "see stderr"):
        return
    try:
        w = World(redis)
        run_basic(w)
        run_statuses(w)
        run_interrupted(w)
        run_big(w)
    finally:
        redis.stop()


if __name__ == "__main__":
    h.run(main)
