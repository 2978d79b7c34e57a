"""`haechi serve` refuses to start on a bad config: exit 1, no ready file,
nothing listening, and an error on stderr naming the field by JSON Pointer.
Secrets: a token_file others may read is refused, one with mode 600 works,
as does token_env.
"""

import copy
import json
import os
import signal
import socket

import harness as h
from harness import check

UNSET_VAR = "HAECHI_TEST_SURELY_UNSET_%d" % os.getpid()
SHORT_VAR = "HAECHI_TEST_SHORT_TOKEN"
ENV_VAR = "HAECHI_TEST_VIEWER_TOKEN"


def base_config(port):
    return {
        "listen": "127.0.0.1:%d" % port,
        "redis": {"address": "unix:/nonexistent/redis.sock", "prefix": h.unique_prefix("cfg")},
        "tokens": [
            {"name": "a-viewer", "role": "viewer", "token": "viewer-token-0123456789"},
            {"name": "a-editor", "role": "editor", "token": "editor-token-0123456789"},
            {"name": "a-admin", "role": "admin", "token": "admin-token-0123456789ab"},
        ],
    }


def clean_env():
    """The environment without any haechi setting the caller may have."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("HAECHI_TOKEN") and
            k not in ("HAECHI_CONFIG", "HAECHI_URL", "HAECHI_REDIS_PASSWORD")}


def serve(config_path, env=None, timeout=h.DEADLINE):
    """Runs `haechi serve`; returns (exit status or None if it kept running,
    whether a ready file appeared, its output)."""
    work = os.path.dirname(config_path)
    ready = os.path.join(work, "ready")
    log = os.path.join(work, "serve.log")
    for leftover in (ready, log):
        if os.path.exists(leftover):
            os.unlink(leftover)
    e = clean_env()
    e.update(env or {})
    proc = h.Process("haechi", [h.BIN, "serve", "--config", config_path, "--ready-file", ready],
                     log, env=e)
    status = proc.wait(timeout)
    if status is None:
        proc.signal(signal.SIGKILL)
    with open(log, encoding="utf-8", errors="replace") as f:
        out = f.read()
    return status, os.path.exists(ready), out


def refused(name, mutate=None, text=None, pointer=None, says=(), env=None):
    """One bad config: one line for the refusal, one for the message."""
    port = h.free_port()
    work = h.new_dir("config")
    path = os.path.join(work, "haechi.json")
    if text is not None:
        with open(path, "w") as f:
            f.write(text)
    else:
        cfg = base_config(port)
        mutate(cfg, work)
        h.write_json(path, cfg)
    status, ready, out = serve(path, env)
    listening = h.port_listening(port)
    check("%s: serve exits 1, no ready file, nothing listening" % name,
          status == 1 and not ready and not listening,
          "exit %s, ready file %s, listening %s; output %r" % (status, ready, listening,
                                                               out[:700]))
    wanted = ([pointer + ": "] if pointer else []) + list(says) + ["not starting"]
    missing = [w for w in wanted if w not in out]
    check("%s: the error names %s" % (name, pointer or "the problem"), not missing,
          "missing %s; output %r" % (missing, out[:500]))


def set_in(path, value):
    def mutate(cfg, work):
        node = cfg
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return mutate


def rename_key(path, new):
    def mutate(cfg, work):
        node = cfg
        for k in path[:-1]:
            node = node[k]
        node[new] = node.pop(path[-1])
    return mutate


def secret_file(work, name, content, mode):
    path = os.path.join(work, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.chmod(path, mode)
    return path


def token_from_file(mode, content="file-token-0123456789abcdef\n", index=0):
    def mutate(cfg, work):
        t = cfg["tokens"][index]
        t.pop("token")
        t["token_file"] = secret_file(work, "token-%d" % index, content, mode)
    return mutate


def run_refusals():
    refused("unknown field redis.adress", rename_key(["redis", "address"], "adress"),
            pointer="/redis/adress", says=('did you mean "address"',))
    refused("unknown top-level field tokenz", rename_key(["tokens"], "tokenz"),
            pointer="/tokenz", says=('did you mean "tokens"',))
    refused("unknown role", set_in(["tokens", 0, "role"], "superuser"), pointer="/tokens/0/role")
    refused("token without a name", lambda c, w: c["tokens"][1].pop("name"),
            pointer="/tokens/1/name")
    refused("inline token under 16 characters", set_in(["tokens", 0, "token"], "short"),
            pointer="/tokens/0/token")

    def short_env(cfg, work):
        cfg["tokens"][1].pop("token")
        cfg["tokens"][1]["token_env"] = SHORT_VAR
    refused("token_env holding under 16 characters", short_env, pointer="/tokens/1",
            says=("16",), env={SHORT_VAR: "tooshort"})

    def unset_env(cfg, work):
        cfg["tokens"][2].pop("token")
        cfg["tokens"][2]["token_env"] = UNSET_VAR
    refused("token_env naming an unset variable", unset_env, pointer="/tokens/2",
            says=(UNSET_VAR, "not set"))
    refused("token_file readable by others (mode 644)", token_from_file(0o644),
            pointer="/tokens/0", says=("chmod 600",))
    refused("token_file readable by the group (mode 640)", token_from_file(0o640),
            pointer="/tokens/0", says=("chmod 600",))
    refused("token_file that does not exist",
            set_in(["tokens", 0], {"name": "x", "role": "viewer",
                                   "token_file": "/nonexistent/haechi.token"}),
            pointer="/tokens/0", says=("/nonexistent/haechi.token",))
    refused("token_file (mode 600) holding under 16 characters",
            token_from_file(0o600, "short\n"), pointer="/tokens/0", says=("16",))
    refused("token given two ways",
            set_in(["tokens", 0, "token_env"], "SOME_VAR"), pointer="/tokens/0",
            says=("more than one way",))
    refused("token given no way", lambda c, w: c["tokens"][0].pop("token"),
            pointer="/tokens/0")
    refused("two tokens with the same secret",
            set_in(["tokens", 1, "token"], "viewer-token-0123456789"), pointer="/tokens/1",
            says=("same secret",))
    # Adapter options are closed too (the review's probe 2 started the daemon).
    refused("log adapter option typo fail_atempts",
            set_in(["channels"], {"sns": {"adapter": "log", "fail_atempts": 3}}),
            pointer="/channels/sns/fail_atempts", says=('did you mean "fail_attempts"',))
    refused("log adapter delay_ms given as a string",
            set_in(["channels"], {"sns": {"adapter": "log", "delay_ms": "soon"}}),
            pointer="/channels/sns/delay_ms", says=("must be an integer",))
    refused("channel rate_per_s of 0",
            set_in(["channels"], {"kakao": {"rate_per_s": 0}}),
            pointer="/channels/kakao/rate_per_s", says=("out of range",))
    refused("tokens is not an array", set_in(["tokens"], {"name": "x"}), pointer="/tokens")
    refused("listen without a port", set_in(["listen"], "localhost"), pointer="/listen")
    refused("listen on a port over 65535", set_in(["listen"], "127.0.0.1:70000"),
            pointer="/listen")
    refused("listen on a unix socket", set_in(["listen"], "unix:/tmp/haechi.sock"),
            pointer="/listen")
    refused("listen is a number", set_in(["listen"], 8080), pointer="/listen")
    refused("redis address without a port", set_in(["redis", "address"], "127.0.0.1"),
            pointer="/redis/address")
    refused("redis prefix with a brace", set_in(["redis", "prefix"], "a{b}"),
            pointer="/redis/prefix")
    refused("redis command timeout under 100 ms", set_in(["redis", "command_timeout_ms"], 5),
            pointer="/redis/command_timeout_ms")
    refused("redis password_env naming an unset variable",
            set_in(["redis", "password_env"], UNSET_VAR), pointer="/redis/password_env",
            says=(UNSET_VAR,))
    refused("unknown channel section", set_in(["channels"], {"fax": {}}),
            pointer="/channels/fax")
    demo = {"start": "2020-03-21T23:50:00+09:00", "speed": 1440}
    refused("demo clock settings in a production config", set_in(["demo"], demo),
            pointer="/demo", says=('needs "environment": "demo"',
                                   "a production config must not have it"))

    def demo_in_test(cfg, work):
        cfg["environment"] = "test"
        cfg["demo"] = dict(demo)
    refused("demo clock settings in a test environment", demo_in_test, pointer="/demo",
            says=('needs "environment": "demo"',))
    refused('"environment": "demo" without its demo section', set_in(["environment"], "demo"),
            pointer="/demo", says=('needs a "demo" section',))
    refused("a demo start without an offset",
            lambda c, w: c.update({"environment": "demo",
                                   "demo": {"start": "2020-03-21T23:50", "speed": 60}}),
            pointer="/demo/start", says=("has no offset",))
    refused("limits.max_campaign_bytes under 1024",
            set_in(["limits"], {"max_campaign_bytes": 10}), pointer="/limits/max_campaign_bytes")

    def two_errors(cfg, work):
        cfg["tokens"][0]["role"] = "root"
        cfg["redis"]["adress"] = cfg["redis"].pop("address")
    port = h.free_port()
    work = h.new_dir("config")
    path = os.path.join(work, "haechi.json")
    cfg = base_config(port)
    two_errors(cfg, work)
    h.write_json(path, cfg)
    status, ready, out = serve(path)
    check("a config with two errors: serve exits 1 and reports both",
          status == 1 and not ready and "/tokens/0/role: " in out and "/redis/adress: " in out,
          "exit %s; output %r" % (status, out[-500:]))

    refused("invalid JSON", text='{"listen": "127.0.0.1:0",, }', says=("invalid JSON", "line 1"))
    refused("a JSON array instead of an object", text='[]', says=("object",))
    refused("an empty file", text='', says=("invalid JSON",))


def run_missing_file():
    work = h.new_dir("config")
    path = os.path.join(work, "absent.json")
    status, ready, out = serve(path)
    check("a missing config file: serve exits 1 with one reason",
          status == 1 and not ready and "absent.json" in out,
          "exit %s; output %r" % (status, out[-500:]))


def run_port_taken():
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        work = h.new_dir("config")
        path = os.path.join(work, "haechi.json")
        h.write_json(path, base_config(port))
        status, ready, out = serve(path)
        check("listen port already taken: serve exits 1, no ready file, says why",
              status == 1 and not ready and "cannot listen" in out,
              "exit %s, ready %s; output %r" % (status, ready, out[-500:]))
    finally:
        blocker.close()


def run_usage():
    p = h.cli(["serve", "--config", "/dev/null", "extra-argument"])
    check("serve with an extra argument exits 2", p.returncode == 2,
          "exit %s; stderr %r" % (p.returncode, p.stderr))


def run_good_secrets():
    redis = h.Redis("config-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("secrets", redis.address)
        admin_secret = "admin-from-file-" + os.urandom(8).hex()
        viewer_secret = "viewer-from-env-" + os.urandom(8).hex()
        path = secret_file(d.dir, "admin.token", admin_secret + "\n", 0o600)
        for t in d.config["tokens"]:
            if t["role"] == "admin":
                t.pop("token")
                t["token_file"] = path
            if t["role"] == "viewer":
                t.pop("token")
                t["token_env"] = ENV_VAR
        env = clean_env()
        env[ENV_VAR] = viewer_secret
        if not check("token_file with mode 600 and token_env: serve starts",
                     d.start(env=env), "see stderr"):
            return
        s, _, b = h.http(d.url, "GET", "/api/v1/audit", token=admin_secret)
        check("the token read from the 600 file authenticates as admin (trailing newline "
              "dropped)", s == 200, "%s %r" % (s, b))
        s, _, b = h.http(d.url, "GET", "/api/v1/audit", token=admin_secret[:-1])
        check("a token one character short of the file's is refused", s == 401,
              "%s %r" % (s, b))
        s, _, b = h.http(d.url, "GET", "/api/v1/campaigns", token=viewer_secret)
        check("the token from token_env authenticates as viewer", s == 200, "%s %r" % (s, b))
        s, _, b = h.http(d.url, "GET", "/api/v1/audit", token=viewer_secret)
        check("the token_env token has the viewer's rights only", s == 403, "%s %r" % (s, b))
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve with file and env tokens exits 0 on SIGTERM", status == 0,
                  "exit status %s" % status)
        redis.stop()


def run_example_config():
    """The shipped example config is valid as a shape: with its environment
    variables set and its token file replaced, serve starts."""
    with open(os.path.join(h.ROOT, "deploy", "haechi.example.json")) as f:
        cfg = json.load(f)
    work = h.new_dir("config-example")
    cfg = copy.deepcopy(cfg)
    cfg["listen"] = "127.0.0.1:0"
    cfg["redis"]["address"] = "unix:" + os.path.join(work, "no-redis.sock")
    for t in cfg["tokens"]:
        if "token_file" in t:
            t["token_file"] = secret_file(work, "editor.token", "editor-example-0123456789\n",
                                          0o600)
    env = {"HAECHI_REDIS_PASSWORD": "pw", "HAECHI_TOKEN_ADMIN": "admin-example-0123456789",
           "HAECHI_TOKEN_APPROVER": "approver-example-012345",
           "HAECHI_TOKEN_VIEWER": "viewer-example-01234567",
           "HAECHI_TOKEN": "client-example-0123456789"}
    path = h.write_json(os.path.join(work, "haechi.json"), cfg)
    example_starts(path, work, env, "deploy/haechi.example.json (every variable set, token "
                   "file 600) starts serve and exits 0")
    # The client section is for the CLI: the daemon has no use for its token.
    env.pop("HAECHI_TOKEN")
    example_starts(path, work, env, "deploy/haechi.example.json starts serve without the "
                   "client's HAECHI_TOKEN")
    status, ready, out = serve(path, timeout=h.DEADLINE)
    check("deploy/haechi.example.json without its environment is refused, naming "
          "/redis/password_env and the token entries",
          status == 1 and "/redis/password_env: " in out and "/tokens/0: " in out,
          "exit %s; output %r" % (status, out[:700]))


def example_starts(path, work, env, name):
    ready_path = os.path.join(work, "ready")
    if os.path.exists(ready_path):
        os.unlink(ready_path)
    log = os.path.join(work, "example.log")
    if os.path.exists(log):
        os.unlink(log)
    e = clean_env()
    e.update(env)
    proc = h.Process("haechi", [h.BIN, "serve", "--config", path, "--ready-file", ready_path],
                     os.path.join(work, "example.log"), env=e)
    try:
        ready = h.wait_until(lambda: os.path.exists(ready_path) or not proc.alive())
        ready = ready and os.path.exists(ready_path)
    finally:
        status = proc.signal(signal.SIGTERM)
    check(name, ready and status == 0, "ready %s, exit %s; output %r" %
          (ready, status, h.tail(os.path.join(work, "example.log"))[:700]))


def main():
    run_refusals()
    run_missing_file()
    run_port_taken()
    run_usage()
    run_good_secrets()
    run_example_config()


if __name__ == "__main__":
    h.run(main)
