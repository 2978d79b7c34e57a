"""Shared helpers for the integration tests (python3 standard library only).

Every test script prints one line per case on stdout, "ok NAME" or
"not ok NAME: why"; everything else (logs, server output) goes to stderr.

What this module gives:

- check(name, cond, detail) / finish(): the report lines and the exit status.
- Redis: a private redis-server on a unix socket in a fresh directory under
  $HAECHI_TEST_TMP (never the system service, never TCP port 6379).
- Daemon: `haechi serve` with a config holding one token per role and a
  key prefix of its own; stop() sends SIGTERM and returns the exit status
  (the test build exits 86 when LeakSanitizer finds a leak).
- http(): one HTTP request on urllib, answering (status, headers, body),
  the body parsed as JSON when it is JSON.
- cli(): runs the haechi binary as a client and captures its output.
- campaign helpers: the example campaign and ones whose window lies ahead.

Every process started here is recorded as a file in $HAECHI_TEST_TMP/pids/
(tests/run.sh kills whatever is left there) and the file is removed once
the process is stopped. Synchronisation is by polling with deadlines, never
by fixed sleeps.
"""

import copy
import datetime
import http.client as httpclient
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("HAECHI_ROOT") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("HAECHI_BIN") or os.path.join(ROOT, "build", "test", "haechi")
REDIS_SERVER = "/usr/bin/redis-server"
EXAMPLE_CAMPAIGN = os.path.join(ROOT, "campaigns", "jamsi-meomchum.json")

# How long any one thing may take before a test calls it a failure.
DEADLINE = 10.0
POLL = 0.02

# The same sanitizer settings as tests/run.sh, for runs outside it.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

_TMP = os.environ.get("HAECHI_TEST_TMP")
if not _TMP:
    _TMP = tempfile.mkdtemp(prefix="haechi-test.")
    os.environ["HAECHI_TEST_TMP"] = _TMP
TMP = _TMP
PIDS = os.path.join(TMP, "pids")
os.makedirs(PIDS, exist_ok=True)

ROLES = ("viewer", "editor", "approver", "admin")

# ---- reporting ---------------------------------------------------------------

_failures = []
_passed = 0


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def check(name, cond, detail=""):
    """Prints "ok NAME" or "not ok NAME: DETAIL"; returns bool(cond)."""
    global _passed
    name = " ".join(str(name).split())
    if cond:
        _passed += 1
        print("ok %s" % name, flush=True)
        return True
    why = " ".join(str(detail).split()) or "failed"
    if len(why) > 600:
        why = why[:600] + "..."
    _failures.append(name)
    print("not ok %s: %s" % (name, why), flush=True)
    return False


def failed():
    return len(_failures)


def finish():
    """Exits 1 when any check failed, else 0."""
    log("%d passed, %d failed" % (_passed, len(_failures)))
    sys.exit(1 if _failures else 0)


def run(main, name=None):
    """Runs MAIN(), turning an uncaught exception into a failed case, then finish()."""
    name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    try:
        main()
    except BaseException as e:  # noqa: BLE001 - report everything, then exit
        traceback.print_exc(file=sys.stderr)
        check("%s ran to the end" % name, False, "%s: %s" % (type(e).__name__, e))
    finish()


def wait_until(pred, timeout=DEADLINE, interval=POLL):
    """Polls PRED until it returns something true or TIMEOUT passes; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)


def new_dir(name):
    return tempfile.mkdtemp(prefix=name + "-", dir=TMP)


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(data.splitlines()[-lines:])


# ---- processes ---------------------------------------------------------------


class Process:
    """A child process whose pid is recorded under $HAECHI_TEST_TMP/pids."""

    def __init__(self, kind, argv, log_path, env=None, cwd=None):
        self.kind = kind
        self.argv = argv
        self.log_path = log_path
        self.logf = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.pid = self.proc.pid
        self.pidfile = os.path.join(PIDS, "%s-%d" % (kind, self.pid))
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % self.pid)
        self.status = None

    def alive(self):
        return self.proc.poll() is None

    def _forget(self):
        try:
            os.unlink(self.pidfile)
        except FileNotFoundError:
            pass
        if not self.logf.closed:
            self.logf.close()

    def wait(self, timeout=DEADLINE):
        """The exit status, or None if still running after TIMEOUT."""
        try:
            self.status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._forget()
        return self.status

    def signal(self, sig, timeout=DEADLINE):
        """Sends SIG and waits; kills with SIGKILL after TIMEOUT. Returns the exit status
        (negative for a signal, as subprocess reports it)."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        status = self.wait(timeout)
        if status is None:
            log("%s (pid %d) did not exit within %.0f s of signal %d; killing it"
                % (self.kind, self.pid, timeout, sig))
            self.proc.kill()
            self.status = self.proc.wait()
            self._forget()
            return None
        return status


# ---- redis ---------------------------------------------------------------------


def resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _RespReader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("unexpected RESP reply %r" % line)


class RedisError(Exception):
    pass


class Redis:
    """A private redis-server on a unix socket in its own directory."""

    def __init__(self, name="redis"):
        self.dir = new_dir(name)
        self.socket = os.path.join(self.dir, "redis.sock")
        self.log_path = os.path.join(self.dir, "redis.log")
        self.process = None

    @property
    def address(self):
        return "unix:" + self.socket

    def command(self, *args, timeout=2.0):
        """Sends one command; returns the reply (RedisError for an error reply)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.socket)
            s.sendall(resp_encode(args))
            return _RespReader(s).read()
        finally:
            s.close()

    def ping(self):
        try:
            return self.command("PING", timeout=1.0) == "PONG"
        except (OSError, ValueError, ConnectionError):
            return False

    def start(self, timeout=DEADLINE):
        """Starts redis-server and polls PING until it answers; True when it does."""
        argv = [REDIS_SERVER, "--port", "0", "--unixsocket", self.socket,
                "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                "--dir", self.dir]
        self.process = Process("redis", argv, self.log_path)
        ok = wait_until(lambda: self.ping() or not self.process.alive(), timeout)
        if not ok or not self.process.alive():
            log("redis-server did not come up; its log:\n" + tail(self.log_path))
            return False
        return True

    def kill(self):
        """SIGKILL: the crash a daemon must survive. Returns the status."""
        if not self.process:
            return None
        status = self.process.signal(signal.SIGKILL)
        self.process = None
        return status

    def stop(self):
        if not self.process:
            return None
        status = self.process.signal(signal.SIGTERM)
        self.process = None
        return status

    def freeze(self):
        """SIGSTOP: Redis hangs without closing its connections."""
        if self.process:
            self.process.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        if self.process:
            self.process.proc.send_signal(signal.SIGCONT)

    def alive(self):
        return bool(self.process and self.process.alive())


# ---- the daemon --------------------------------------------------------------


def write_json(path, doc, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        if isinstance(doc, (bytes, str)):
            f.write(doc if isinstance(doc, str) else doc.decode())
        else:
            json.dump(doc, f, ensure_ascii=False, indent=2)
    os.chmod(path, mode)
    return path


def unique_prefix(name):
    return "t%d-%s-%s" % (os.getpid(), name, secrets.token_hex(4))


def free_port():
    """A loopback port that nothing listens on (as of now)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_listening(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Daemon:
    """`haechi serve` with one token per role and a key prefix of its own."""

    def __init__(self, name, redis_address, extra=None, listen="127.0.0.1:0"):
        self.name = name
        self.dir = new_dir("daemon-" + name)
        self.config_path = os.path.join(self.dir, "haechi.json")
        self.ready_path = os.path.join(self.dir, "ready")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.prefix = unique_prefix(name)
        self.tokens = {role: "%s-%s" % (role, secrets.token_hex(16)) for role in ROLES}
        self.names = {role: "%s-%s" % (name, role) for role in ROLES}
        self.config = {
            "listen": listen,
            "redis": {"address": redis_address, "prefix": self.prefix,
                      "command_timeout_ms": 2000},
            "tokens": [{"name": self.names[r], "role": r, "token": self.tokens[r]}
                       for r in ROLES],
        }
        if extra:
            self.config.update(extra)
        self.process = None
        self.url = None
        self.roles = None  # all roles

    def write_config(self):
        write_json(self.config_path, self.config)

    def start(self, timeout=DEADLINE, env=None, redis_up=True):
        """Starts the daemon (with --roles when roles were given) and polls for
        its ready file, then (REDIS_UP, with the api role) for /healthz 200;
        True once it is up. A daemon without the api role writes port 0 in its
        ready file; url is then None."""
        self.write_config()
        if os.path.exists(self.ready_path):
            os.unlink(self.ready_path)
        argv = [BIN, "serve", "--config", self.config_path, "--ready-file", self.ready_path]
        if self.roles:
            argv += ["--roles", self.roles]
        self.process = Process("haechi", argv, self.log_path, env=env)

        def ready():
            if not self.process.alive():
                return "exited"
            try:
                with open(self.ready_path) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            return text if text.endswith("\n") else None

        got = wait_until(ready, timeout)
        if not got or got == "exited":
            log("haechi serve%s did not become ready (%s); its log:\n%s"
                % (" --roles " + self.roles if self.roles else "",
                   "exited with %s" % self.process.proc.poll() if got else "timeout",
                   tail(self.log_path)))
            return False
        url = got.strip()
        self.url = None if url.endswith(":0") else url
        # It listens before its Redis link is up: against a running Redis,
        # "up" means /healthz answers 200.
        if self.url and redis_up and not wait_until(lambda: healthz(self.url) == 200, timeout,
                                                     0.02):
            log("haechi serve answers, but /healthz never said 200; its log:\n%s"
                % tail(self.log_path))
            return False
        return True

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def alive(self):
        return bool(self.process and self.process.alive())

    def stop(self):
        """SIGTERM; returns the exit status (0 expected; 86 is a leak). Prints the
        daemon's log tail to stderr when it is not 0."""
        if not self.process:
            return None
        status = self.process.signal(signal.SIGTERM)
        if status != 0:
            log("haechi serve (%s) exited with %s; its log:\n%s"
                % (self.name, status, tail(self.log_path, 60)))
        self.process = None
        return status

    def log_text(self):
        return tail(self.log_path, 100000)

    def http(self, method, path, role=None, **kw):
        """http() against this daemon with the token of ROLE (a role name, or None)."""
        token = self.tokens[role] if role in self.tokens else role
        return http(self.url, method, path, token=token, **kw)


# ---- HTTP ----------------------------------------------------------------------

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _parse(raw, headers):
    ctype = (headers.get("Content-Type") or "") if headers else ""
    if raw and ("json" in ctype or raw[:1] in (b"{", b"[")):
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            pass
    return raw


def http(base, method, path, token=None, body=None, content_type=None, headers=None,
         timeout=DEADLINE, no_content_type=False, authorization=None):
    """One request. Returns (status, headers, body): the body parsed as JSON when it
    is JSON, else the raw bytes. A failed connection gives (None, {}, reason).

    token: sent as "Authorization: Bearer TOKEN"; authorization: the header as is.
    body: bytes or str (or a dict/list, sent as JSON). content_type: the header.
    no_content_type: send the body without any Content-Type (urllib would add one).
    """
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode("utf-8")
    hdrs = dict(headers or {})
    if authorization is not None:
        hdrs["Authorization"] = authorization
    elif token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    try:
        if no_content_type:
            return _http_client(base, method, path, body, hdrs, timeout)
        req = urllib.request.Request(base + path, data=body, method=method, headers=hdrs)
        try:
            with _opener.open(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, resp.headers, _parse(raw, resp.headers)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, e.headers, _parse(raw, e.headers)
    except (urllib.error.URLError, OSError, httpclient.HTTPException) as e:
        return None, {}, "%s: %s" % (type(e).__name__, e)


def _http_client(base, method, path, body, hdrs, timeout):
    hostport = base.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    conn = httpclient.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, resp.headers, _parse(raw, resp.headers)
    finally:
        conn.close()


def is_error_body(body):
    """An error answer: a JSON object with string "error" and "message"."""
    return (isinstance(body, dict) and isinstance(body.get("error"), str) and
            bool(body.get("error")) and isinstance(body.get("message"), str) and
            bool(body.get("message")))


def healthz(url):
    status, _, _ = http(url, "GET", "/healthz", timeout=3.0)
    return status


# ---- the CLI --------------------------------------------------------------------

CLIENT_ENV = ("HAECHI_URL", "HAECHI_TOKEN", "HAECHI_CONFIG")


def cli(args, env=None, timeout=30, stdin=None):
    """Runs `haechi ARGS` as a client. The caller's HAECHI_URL, HAECHI_TOKEN and
    HAECHI_CONFIG are dropped; ENV adds variables. Returns CompletedProcess with
    text stdout/stderr (returncode None on a timeout)."""
    e = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
    e.update(env or {})
    try:
        return subprocess.run([BIN] + list(args), env=e, capture_output=True, text=True,
                              timeout=timeout, input=stdin)
    except subprocess.TimeoutExpired as ex:
        return subprocess.CompletedProcess(ex.cmd, None,
                                           ex.stdout.decode() if ex.stdout else "",
                                           "timed out after %s s" % timeout)


def nonempty_lines(text):
    return [line for line in (text or "").splitlines() if line.strip()]


# ---- campaigns --------------------------------------------------------------------


def example_campaign():
    with open(EXAMPLE_CAMPAIGN, encoding="utf-8") as f:
        return json.load(f)


def seoul_today():
    try:
        from zoneinfo import ZoneInfo
        zone = ZoneInfo("Asia/Seoul")
    except Exception:  # noqa: BLE001 - no zoneinfo: Seoul has no DST today
        zone = datetime.timezone(datetime.timedelta(hours=9))
    return datetime.datetime.now(zone).date()


def future_campaign(cid, days=7, title=None):
    """The example campaign under id CID with a window of DAYS days starting
    tomorrow in Asia/Seoul, so that it has releases ahead."""
    doc = copy.deepcopy(example_campaign())
    start = seoul_today() + datetime.timedelta(days=1)
    end = start + datetime.timedelta(days=days - 1)
    doc["id"] = cid
    if title:
        doc["title"] = title
    sched = doc["schedule"]
    sched["start"] = start.isoformat()
    sched["end"] = end.isoformat()
    for r in sched["releases"]:
        if "at" in r:
            r["at"] = start.isoformat() + "T" + r["at"].split("T", 1)[1]
    doc["banner"]["until"] = end.isoformat()
    return doc


def campaign_json(doc):
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")


def write_campaign(directory, name, doc):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(campaign_json(doc) if not isinstance(doc, bytes) else doc)
    return path


def cleanup_dir(path):
    shutil.rmtree(path, ignore_errors=True)


# ---- the release engine (tests/integration/test_engine_*.py) ----------------------
#
# Helpers for tests that run releases end to end: daemons with chosen roles
# sharing one config, a Redis that keeps its data across a restart, the
# virtual clock, and reading the engine's keys (PREFIX:{e}:...).

ENGINE_CHANNELS = ("sns", "kakao", "banner", "newsletter", "alert")
SEOUL = datetime.timezone(datetime.timedelta(hours=9))  # no DST in Korea since 1988


def seoul_ms(year, month, day, hour=0, minute=0):
    """Epoch milliseconds of a wall-clock time in Asia/Seoul (UTC+9)."""
    return int(datetime.datetime(year, month, day, hour, minute, tzinfo=SEOUL)
               .timestamp() * 1000)


def seoul_text(ms):
    """"YYYY-MM-DD HH:MM" in Asia/Seoul for epoch milliseconds."""
    return datetime.datetime.fromtimestamp(ms / 1000, SEOUL).strftime("%Y-%m-%d %H:%M")


class PersistentRedis(Redis):
    """A private redis-server writing an append-only file (fsync every second),
    so that stop() and start() again in the same directory keeps the data."""

    def start(self, timeout=DEADLINE):
        argv = [REDIS_SERVER, "--port", "0", "--unixsocket", self.socket,
                "--unixsocketperm", "700", "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec", "--dir", self.dir]
        self.process = Process("redis", argv, self.log_path)
        ok = wait_until(lambda: self.ping() or not self.process.alive(), timeout)
        if not ok or not self.process.alive():
            log("redis-server did not come up; its log:\n" + tail(self.log_path))
            return False
        # A restarted server answers PING while it still loads the file (-LOADING).
        def loaded():
            try:
                return isinstance(self.command("DBSIZE", timeout=1.0), int)
            except (OSError, ValueError, ConnectionError):
                return False
        return bool(wait_until(loaded, timeout))


class RoleDaemon(Daemon):
    """`haechi serve --roles ROLES`. With LIKE (another Daemon), it shares that
    daemon's key prefix and tokens (one cluster), and takes its config with
    EXTRA laid over it."""

    def __init__(self, name, redis_address, roles=None, extra=None, like=None):
        Daemon.__init__(self, name, redis_address, extra=None)
        if like is not None:
            self.prefix = like.prefix
            self.tokens = dict(like.tokens)
            self.names = dict(like.names)
            self.config = copy.deepcopy(like.config)
        if extra:
            self.config.update(copy.deepcopy(extra))
        self.config.setdefault("redis", {})["prefix"] = self.prefix
        self.roles = roles

    def kill(self):
        """SIGKILL on purpose (a crash); returns the status (-9)."""
        if not self.process:
            return None
        status = self.process.signal(signal.SIGKILL)
        self.process = None
        return status


def real_clock_channels():
    """Every channel on the log adapter, with no quiet hours, so that a test
    on the real clock runs at any time of day."""
    channels = {ch: {"adapter": "log"} for ch in ENGINE_CHANNELS}
    for ch in ("kakao", "newsletter"):
        channels[ch]["quiet_hours"] = False
    return channels


def start_front(redis, name, channels):
    """Starts REDIS, then `haechi serve --roles api,scheduler` NAME on it with
    CHANNELS (the workers run apart). Returns (daemon or None, True when both
    came up); each step is reported."""
    if not check("private redis-server answers PING", redis.start(), "see stderr"):
        return None, False
    front = RoleDaemon(name, redis.address, roles="api,scheduler", extra={"channels": channels})
    return front, check("haechi serve --roles api,scheduler starts", front.start(),
                        "see stderr")


def stop_all(nodes, redis):
    """Stops each daemon of NODES that still runs, checking that it exits 0,
    then REDIS."""
    for n in nodes:
        if n and n.process:
            status = n.stop()
            check("%s exits 0 on SIGTERM" % n.name, status == 0, "exit status %s" % status)
    redis.stop()


def engine_key(d, name):
    """The engine key NAME of daemon D: PREFIX:{e}:NAME."""
    return "%s:{e}:%s" % (d.prefix, name)


def set_clock(d, now_ms=None, advance_ms=None):
    """POST /api/v1/test/clock as admin; returns (status, body)."""
    body = {"now_ms": now_ms} if now_ms is not None else {"advance_ms": advance_ms}
    s, _, b = d.http("POST", "/api/v1/test/clock", "admin", body=body,
                     content_type="application/json")
    return s, b


def submit_campaign(d, doc, role="editor"):
    """POST /api/v1/campaigns; returns (status, body)."""
    s, _, b = d.http("POST", "/api/v1/campaigns", role, body=campaign_json(doc),
                     content_type="application/json")
    return s, b


def stream_entries(redis, key, count=1000):
    """Every entry of stream KEY as (id, {field: value}), oldest first."""
    out, start = [], "-"
    while True:
        got = redis.command("XRANGE", key, start, "+", "COUNT", str(count), timeout=10.0)
        if isinstance(got, RedisError):
            raise got
        if not got:
            return out
        for eid, flat in got:
            out.append((eid, dict(zip(flat[0::2], flat[1::2]))))
        if len(got) < count:
            return out
        start = "(" + got[-1][0]


def hash_all(redis, key):
    flat = redis.command("HGETALL", key, timeout=10.0)
    if isinstance(flat, RedisError):
        raise flat
    return dict(zip(flat[0::2], flat[1::2])) if flat else {}


def fires(redis, d, cid):
    """The delivery records of campaign CID: {"RID|due|CH": dict}."""
    return {k: json.loads(v) for k, v in hash_all(redis, engine_key(d, "fires:" + cid)).items()}


def metric_totals(redis, d, cid):
    """Campaign CID's metrics summed over the hours: {(channel, outcome): n}."""
    out = {}
    for k, v in hash_all(redis, engine_key(d, "metrics:" + cid)).items():
        parts = k.split("|")
        if len(parts) == 3:
            out[(parts[0], parts[2])] = out.get((parts[0], parts[2]), 0) + int(v)
    return out


def _info_map(flat):
    return dict(zip(flat[0::2], flat[1::2])) if isinstance(flat, list) else {}


def stream_backlog(redis, d, channel):
    """(undelivered, pending) of the channel's work stream for group "workers":
    entries no worker has read yet, and entries read but not acknowledged."""
    key = engine_key(d, "q:" + channel)
    info = redis.command("XINFO", "STREAM", key)
    if isinstance(info, RedisError):
        return (0, 0)  # no stream: nothing was ever queued
    info = _info_map(info)
    groups = redis.command("XINFO", "GROUPS", key)
    group = None
    for g in groups if isinstance(groups, list) else []:
        g = _info_map(g)
        if g.get("name") == "workers":
            group = g
    if group is None:
        return (int(info.get("length", 0)), 0)
    undelivered = 0 if group.get("last-delivered-id") == info.get("last-generated-id") else 1
    lag = group.get("lag")
    if isinstance(lag, int):
        undelivered = max(undelivered, lag)
    return (undelivered, int(group.get("pending", 0)))


def engine_idle(redis, d, now_ms):
    """True when nothing is due at NOW_MS that no scheduler has claimed, and
    every queued work item has been read and acknowledged (its outcome stored)."""
    due = redis.command("ZRANGEBYSCORE", engine_key(d, "due"), "-inf", str(now_ms),
                        "LIMIT", "0", "1")
    if isinstance(due, RedisError) or due:
        return False
    for ch in ENGINE_CHANNELS:
        if stream_backlog(redis, d, ch) != (0, 0):
            return False
    return True


def wait_engine_idle(redis, d, now_ms, timeout=DEADLINE):
    """Polls engine_idle() until true or TIMEOUT; returns the last answer."""
    def idle():
        try:
            return engine_idle(redis, d, now_ms)
        except (OSError, ValueError, ConnectionError):
            return False
    return wait_until(idle, timeout, interval=0.01)


def minimal_campaign(cid, channels, start, end, releases, tz="Asia/Seoul"):
    """The example campaign reduced to CHANNELS, with window START..END (strings
    as in the campaign format) and RELEASES (a list of release objects)."""
    doc = copy.deepcopy(example_campaign())
    doc.pop("$schema", None)
    doc["id"] = cid
    for ch in ENGINE_CHANNELS:
        if ch not in channels:
            doc.pop(ch, None)
    if "banner" in doc:
        doc["banner"]["until"] = end
    doc["schedule"] = {"timezone": tz, "start": start, "end": end, "releases": releases}
    return doc
