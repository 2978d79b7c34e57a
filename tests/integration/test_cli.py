"""The CLI verbs against a running daemon: submit, list, status, pause, resume,
cancel; where the URL and token come from (flags, environment, config file);
failures (unreachable server, bad token, refusals) as exit 1 with one line
on stderr; help and usage; and `haechi validate` on the example campaign.
"""

import json
import os
import re

import harness as h
from harness import check

VERBS = ("serve", "validate", "preview", "rehearse", "submit", "list", "status", "pause", "resume",
         "cancel", "audience")


def show(p):
    return "exit %s; stdout %r; stderr %r" % (p.returncode, p.stdout[-400:], p.stderr[-400:])


def one_line(text):
    return len(h.nonempty_lines(text)) == 1


def expect(name, p, code, stdout_has=(), stderr_has=(), stderr_one_line=None,
           stdout_empty=False):
    """One report line for one CLI run."""
    problems = []
    if p.returncode != code:
        problems.append("exit %s, expected %d" % (p.returncode, code))
    for s in stdout_has:
        if not (re.search(s, p.stdout) if isinstance(s, re.Pattern) else s in p.stdout):
            problems.append("stdout lacks %r" % (s.pattern if isinstance(s, re.Pattern) else s))
    for s in stderr_has:
        if s not in p.stderr:
            problems.append("stderr lacks %r" % s)
    if stderr_one_line and not one_line(p.stderr):
        problems.append("stderr is not one line")
    if stdout_empty and p.stdout.strip():
        problems.append("stdout is not empty")
    if "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        problems.append("sanitizer report")
    return check(name, not problems, "; ".join(problems) + " -- " + show(p))


def main():
    redis = h.Redis("cli-redis")
    d = None
    work = h.new_dir("cli-files")
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("cli", redis.address)
        if not check("haechi serve writes its ready file", d.start(), "see stderr"):
            return
        run_offline(work)
        run_online(d, work)
        check("the daemon is still running after the CLI cases", d.alive(), "it exited")
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM (no leak, no sanitizer report)",
                  status == 0, "exit status %s" % status)
        redis.stop()


def run_offline(work):
    p = h.cli(["--help"])
    missing = [v for v in VERBS if v not in p.stdout]
    check("haechi --help exits 0 and lists every verb", p.returncode == 0 and not missing,
          "missing %s -- %s" % (missing, show(p)))
    p = h.cli(["help"])
    expect("haechi help exits 0", p, 0, stdout_has=("usage: haechi VERB",))
    for verb in VERBS:
        for flag in ("--help", "-h"):
            p = h.cli([verb, flag])
            expect("haechi %s %s exits 0 and explains the verb" % (verb, flag), p, 0,
                   stdout_has=("usage: haechi %s" % verb,))
    p = h.cli(["frobnicate"])
    expect("unknown verb exits 2 with one line naming it", p, 2, stderr_has=("frobnicate",),
           stderr_one_line=True, stdout_empty=True)
    p = h.cli([])
    check("no verb at all exits 2 with the usage on stderr",
          p.returncode == 2 and "usage" in p.stderr, show(p))

    # validate: offline, on the example.
    p = h.cli(["validate", h.EXAMPLE_CAMPAIGN])
    expect("validate the example exits 0 with its summary", p, 0, stdout_has=(
        "valid",
        re.compile(r"channels\s+sns, kakao, banner, newsletter, alert"),
        re.compile(r"releases\s+34 in the window"),
        re.compile(r"first\s+2020-03-22 00:00 KST"),
        re.compile(r"last\s+2020-04-05 15:00 KST")))
    p = h.cli(["validate", "--json", h.EXAMPLE_CAMPAIGN])
    try:
        summary = json.loads(p.stdout).get("summary", {})
    except ValueError:
        summary = {}
    check("validate --json on the example: 34 releases, first and last times",
          p.returncode == 0 and summary.get("releases") == 34 and
          summary.get("first") == "2020-03-22T00:00:00+09:00" and
          summary.get("last") == "2020-04-05T15:00:00+09:00" and
          summary.get("channels") == ["sns", "kakao", "banner", "newsletter", "alert"],
          show(p))
    with open(h.EXAMPLE_CAMPAIGN, "rb") as f:
        p = h.cli(["validate", "-"], stdin=f.read().decode("utf-8"))
    expect("validate - reads the campaign from standard input", p, 0,
           stdout_has=(re.compile(r"releases\s+34 in the window"),))
    bad = h.example_campaign()
    bad["schedule"]["releases"][2]["cron"] = "0 9 * * 8"
    bad_path = h.write_campaign(work, "bad-cron.json", bad)
    p = h.cli(["validate", bad_path])
    expect("validate an invalid file exits 1 and names the JSON path", p, 1,
           stdout_has=("/schedule/releases/2/cron: ",), stderr_has=("invalid",),
           stderr_one_line=True)
    p = h.cli(["validate", os.path.join(work, "missing.json")])
    expect("validate a missing file exits 2 with one line", p, 2, stderr_one_line=True)
    p = h.cli(["validate"])
    expect("validate without FILE is a usage error (exit 2)", p, 2, stderr_one_line=True)
    expect("validate prints each channel's adapter notes (log: lengths per language)",
           h.cli(["validate", h.EXAMPLE_CAMPAIGN]), 0,
           stdout_has=(re.compile(r"\n  kakao\s+ko 286, en \d+ characters \(log adapter"),))
    # The X post in Korean is sns.text.ko, a blank line, message.link, a
    # blank line and message.hashtags as "#tag" words (sns_text.h), weighed
    # by twitter-text v3:
    #   sns.text.ko: 99 code points, 57 of them Hangul syllables (2 each)
    #     and 42 others (ASCII, '·' U+00B7: 1 each)       114 + 42 = 156
    #   "\n\n" + https://www.seoul.go.kr/ (any URL: 23)     2 + 23 =  25
    #   "\n\n" + "#잠시멈춤 #사회적거리두기 #코로나19 #서울시":
    #     17 syllables (34), 4 '#', "19", 3 spaces (9)     2 + 43 =  45
    #                                                          226
    # and in English, sns.text.en's 177 ASCII characters + 25 + 45 = 247.
    expect("validate prints each network's count (x: 226/280 in Korean, 247/280 in English)",
           h.cli(["validate", h.EXAMPLE_CAMPAIGN]), 0, stdout_has=(
               re.compile(r"\n  sns\s+x: 226/280 weighted characters \(ko\)\n"),
               re.compile(r"\n  sns\s+x: 247/280 weighted characters \(en\)\n"),
               re.compile(r"\n  sns\s+instagram: 127/2,200 characters, 4/30 hashtags, "
                          r"0/20 @-mentions \(ko\)\n"),
               re.compile(r"\n  sns\s+facebook: 127/63,206 characters \(ko\)\n"),
               re.compile(r"\n  sns\s+kakaostory: 153/2,048 characters \(ko\)\n")))
    over = h.example_campaign()
    over["sns"]["x"] = {"text": {"ko": "가" * 141}}
    p = h.cli(["validate", h.write_campaign(work, "x-141.json", over)])
    expect("validate refuses 141 Hangul syllables (282) + link (25) + hashtags (45) on X", p, 1,
           stdout_has=("/sns/x/text/ko: 352 weighted characters, the limit is 280 "
                       "(the post adds the link and 4 hashtags to the text)",))
    run_preview(work)


def run_preview(work):
    """preview renders through the configured adapter, sends nothing."""
    p = h.cli(["preview", "--json", h.EXAMPLE_CAMPAIGN])
    try:
        got = json.loads(p.stdout)
    except ValueError:
        got = []
    pairs = sorted((g.get("release"), g.get("channel")) for g in got)
    want = sorted([("alert-first-morning", "alert"), ("banner-window", "banner"),
                   ("morning-post", "sns"), ("morning-post", "kakao"),
                   ("afternoon-post", "sns"), ("afternoon-post", "kakao"),
                   ("monday-newsletter", "newsletter")])
    check("preview --json: one payload per release and channel, first firing each",
          p.returncode == 0 and pairs == want, "got %s -- %s" % (pairs, show(p)))
    sns = {(g["release"], g["channel"]): g for g in got}.get(("morning-post", "sns"))
    steps = sns["payload"] if sns else []
    check("preview: without a config, sns goes through the sns adapter: one request per network",
          sns is not None and sns.get("adapter") == "sns" and
          [s[-1]["network"] if isinstance(s, list) else s.get("network") for s in steps] ==
          ["facebook", "instagram", "x", "kakaostory"], "got %r" % (sns,))
    first = {(g["release"], g["channel"]): g for g in got}.get(("monday-newsletter", "newsletter"))
    check("preview: the newsletter's first firing is Monday 2020-03-23 10:00 KST, rendered by log",
          first is not None and first.get("due") == "2020-03-23T10:00:00+09:00" and
          first.get("adapter") == "log" and first["payload"].get("release") == "monday-newsletter"
          and "ko" in first["payload"].get("text", {}), "got %r" % (first,))
    p = h.cli(["preview", "--channel", "sns", "--release", "morning-post", h.EXAMPLE_CAMPAIGN])
    expect("preview --channel --release shows that one payload", p, 0,
           stdout_has=("== morning-post, first due 2020-03-22 09:00 KST",
                       "-- x: POST /2/tweets", "-- facebook: POST "))
    check("preview --channel sns --release morning-post shows exactly one block",
          p.stdout.count("\n== ") + p.stdout.startswith("== ") == 1, show(p))
    expect("preview --channel fax is a usage error naming the channel",
           h.cli(["preview", "--channel", "fax", h.EXAMPLE_CAMPAIGN]), 2,
           stderr_has=('no channel "fax"',), stderr_one_line=True)
    expect("preview of a release that does not exist exits 1 saying nothing matches",
           h.cli(["preview", "--release", "nope", h.EXAMPLE_CAMPAIGN]), 1,
           stderr_has=("nothing matches",), stderr_one_line=True)
    cfg = os.path.join(work, "preview-config.json")
    out = os.path.join(work, "preview-must-not-exist.jsonl")
    with open(cfg, "w") as f:
        json.dump({"channels": {"sns": {"adapter": "log", "file": out}}}, f)
    p = h.cli(["preview", "--config", cfg, "--channel", "sns", h.EXAMPLE_CAMPAIGN])
    expect("preview --config with a log file renders", p, 0, stdout_has=('"channel": "sns"',))
    check("preview opens nothing: the log adapter's file was not created",
          not os.path.exists(out), "%s exists" % out)
    with open(cfg, "w") as f:
        json.dump({"channels": {"sns": {"adapter": "log", "dealy_ms": 5}}}, f)
    expect("preview with a config typo exits 2 naming the field",
           h.cli(["preview", "--config", cfg, h.EXAMPLE_CAMPAIGN]), 2,
           stderr_has=("/channels/sns/dealy_ms", 'did you mean "delay_ms"'))
    p = h.cli(["rehearse", "--json", h.EXAMPLE_CAMPAIGN])
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    check("rehearse --json records each delivery with its adapter's payload",
          p.returncode == 0 and len(lines) == 64 and
          all(l.get("adapter") == "log" and l["payload"].get("channel") == l["channel"]
              for l in lines if l["channel"] not in ("sns", "kakao")) and
          all(l.get("adapter") == "kakao" and l["payload"].get("counts", {}).get("list") ==
              "seoul-friends" for l in lines if l["channel"] == "kakao") and
          all(l.get("adapter") == "sns" and isinstance(l["payload"], list)
              for l in lines if l["channel"] == "sns"), "%d lines -- %s" % (len(lines), show(p)))


def run_online(d, work):
    url, editor = d.url, d.tokens["editor"]
    auth = ["--url", url, "--token", editor]
    future = h.write_campaign(work, "cli-one.json", h.future_campaign("cli-one"))
    future_v2 = h.write_campaign(work, "cli-one-v2.json",
                                 h.future_campaign("cli-one", title="cli-one second version"))

    # submit
    p = h.cli(["submit"] + auth + [future])
    expect("submit (flags) exits 0 and prints id and version 1", p, 0,
           stdout_has=("cli-one: version 1, scheduled", "next releases:", "banner-window"))
    s, _, b = d.http("GET", "/api/v1/campaigns/cli-one", "viewer")
    check("submit stored the campaign (GET -> 200, version 1)",
          s == 200 and b.get("version") == 1, "%s %r" % (s, b))

    p = h.cli(["submit"] + auth + [future])
    expect("submit of an existing id exits 1 with a one-line 409 reason", p, 1,
           stderr_has=("409", "already exists"), stderr_one_line=True, stdout_empty=True)

    p = h.cli(["submit", "--replace"] + auth + [future_v2])
    expect("submit --replace exits 0 and makes version 2", p, 0,
           stdout_has=("cli-one: version 2, scheduled",))
    s, _, b = d.http("GET", "/api/v1/campaigns/cli-one", "viewer")
    check("after --replace the server holds version 2 with the new title",
          s == 200 and b.get("version") == 2 and
          b.get("campaign", {}).get("title") == "cli-one second version", "%s %r" % (s, b))

    invalid = h.future_campaign("cli-bad")
    invalid["schedule"]["releases"][3]["cron"] = "61 15 * * *"
    del invalid["owner"]
    invalid_path = h.write_campaign(work, "cli-bad.json", invalid)
    p = h.cli(["submit"] + auth + [invalid_path])
    expect("submit of an invalid file exits 1 and prints each error line", p, 1,
           stdout_has=("/schedule/releases/3/cron: ", "/owner: "),
           stderr_has=("400",), stderr_one_line=True)
    s, _, _ = d.http("GET", "/api/v1/campaigns/cli-bad", "viewer")
    check("an invalid submit stored nothing (GET -> 404)", s == 404, "GET answered %s" % s)

    p = h.cli(["submit"] + auth + [os.path.join(work, "nowhere.json")])
    expect("submit of a missing file exits 1 with one line", p, 1, stderr_one_line=True,
           stdout_empty=True)
    p = h.cli(["submit"] + auth)
    expect("submit without FILE is a usage error (exit 2)", p, 2, stderr_one_line=True)

    p = h.cli(["submit"] + auth + [h.EXAMPLE_CAMPAIGN])
    expect("submit of the example (window past) exits 0, finished at once, no releases ahead",
           p, 0, stdout_has=("jamsi-meomchum: version 1, finished", "no releases ahead",
                             "warning: /schedule/end: the window ended"))

    # list and status
    p = h.cli(["list"] + auth)
    expect("list exits 0 and shows both campaigns with status and version", p, 0,
           stdout_has=(re.compile(r"cli-one\s+scheduled\s+2\s"),
                       re.compile(r"jamsi-meomchum\s+finished\s+1\s")))
    p = h.cli(["list"] + auth + ["extra"])
    expect("list with an operand is a usage error (exit 2)", p, 2, stderr_one_line=True)
    p = h.cli(["status"] + auth + ["cli-one"])
    expect("status ID exits 0 with id, status, version and next releases", p, 0,
           stdout_has=(re.compile(r"id\s+cli-one"), re.compile(r"status\s+scheduled"),
                       re.compile(r"version\s+2 \(by cli-editor\)"), "next releases:",
                       "cli-one second version"))
    p = h.cli(["status"] + auth + ["cli-none"])
    expect("status of an unknown id exits 1 with a one-line 404", p, 1,
           stderr_has=("404",), stderr_one_line=True)
    p = h.cli(["status"] + auth + ["Not_An_Id"])
    expect("status of a malformed id is a usage error (exit 2)", p, 2, stderr_one_line=True)
    p = h.cli(["status"] + auth)
    expect("status without ID is a usage error (exit 2)", p, 2, stderr_one_line=True)
    p = h.cli(["status", "--json"] + auth + ["cli-one"])
    try:
        answer = json.loads(p.stdout)
    except ValueError:
        answer = None
    check("status --json prints the server's JSON answer",
          p.returncode == 0 and isinstance(answer, dict) and answer.get("id") == "cli-one",
          show(p))

    # pause / resume / cancel
    for args, code, out, name in (
            (["pause", "cli-one"], 0, "cli-one: paused\n", "pause exits 0: paused"),
            (["pause", "cli-one"], 0, "cli-one: paused (already)", "pause again: (already)"),
            (["resume", "cli-one"], 0, "cli-one: scheduled\n", "resume exits 0: scheduled"),
            (["resume", "cli-one"], 0, "cli-one: scheduled (already)",
             "resume again: (already)"),
            (["cancel", "cli-one"], 0, "cli-one: cancelled\n", "cancel exits 0: cancelled"),
            (["cancel", "cli-one"], 0, "cli-one: cancelled (already)",
             "cancel again: (already)")):
        p = h.cli([args[0]] + auth + args[1:])
        expect(name, p, code, stdout_has=(out,))
    s, _, b = d.http("GET", "/api/v1/campaigns/cli-one", "viewer")
    check("the server holds cli-one as cancelled", s == 200 and b.get("status") == "cancelled",
          "%s %r" % (s, b))
    p = h.cli(["resume"] + auth + ["cli-one"])
    expect("resume of a cancelled campaign exits 1 with a one-line 409", p, 1,
           stderr_has=("409",), stderr_one_line=True)
    p = h.cli(["submit", "--replace"] + auth + [future_v2])
    expect("submit --replace of a cancelled campaign exits 1 with a one-line 409", p, 1,
           stderr_has=("409",), stderr_one_line=True)
    for verb in ("pause", "resume", "cancel"):
        p = h.cli([verb] + auth + ["cli-none"])
        expect("%s of an unknown id exits 1 with a one-line 404" % verb, p, 1,
               stderr_has=("404",), stderr_one_line=True)

    # where URL and token come from
    run_sources(d, work)

    # failures
    port = h.free_port()
    p = h.cli(["list", "--url", "http://127.0.0.1:%d" % port, "--token", editor])
    expect("unreachable server: exit 1 and one line on stderr", p, 1,
           stderr_has=("cannot reach",), stderr_one_line=True, stdout_empty=True)
    p = h.cli(["list", "--url", url, "--token", "not-a-token-of-this-server-123"])
    expect("unknown token: exit 1 with a one-line 401", p, 1, stderr_has=("401",),
           stderr_one_line=True, stdout_empty=True)
    p = h.cli(["list", "--url", url])
    expect("no token at all: exit 1 with a one-line 401", p, 1, stderr_has=("401",),
           stderr_one_line=True)
    viewer_submit = h.write_campaign(work, "cli-viewer.json", h.future_campaign("cli-viewer"))
    p = h.cli(["submit", "--url", url, "--token", d.tokens["viewer"], viewer_submit])
    expect("submit with a viewer token: exit 1 with a one-line 403", p, 1,
           stderr_has=("403",), stderr_one_line=True)
    p = h.cli(["pause", "--url", url, "--token", d.tokens["approver"], "jamsi-meomchum"])
    expect("pause with an approver token: exit 1 with a one-line 403", p, 1,
           stderr_has=("403",), stderr_one_line=True)
    p = h.cli(["list", "--bogus-flag"] + auth)
    expect("an unknown option is a usage error (exit 2)", p, 2, stderr_one_line=True)
    p = h.cli(["list", "--replace"] + auth)
    expect("--replace on list is a usage error (exit 2)", p, 2, stderr_one_line=True)


def run_sources(d, work):
    url, editor, viewer = d.url, d.tokens["editor"], d.tokens["viewer"]
    bad_url = "http://127.0.0.1:%d" % h.free_port()

    p = h.cli(["list"], env={"HAECHI_URL": url, "HAECHI_TOKEN": viewer})
    expect("URL and token from HAECHI_URL and HAECHI_TOKEN", p, 0, stdout_has=("cli-one",))
    p = h.cli(["list", "--url", url], env={"HAECHI_URL": bad_url, "HAECHI_TOKEN": viewer})
    expect("--url wins over HAECHI_URL", p, 0, stdout_has=("cli-one",))
    p = h.cli(["list", "--token", viewer], env={"HAECHI_URL": url, "HAECHI_TOKEN": "wrong-token"
                                                "-0123456789abcdef"})
    expect("--token wins over HAECHI_TOKEN", p, 0, stdout_has=("cli-one",))

    inline = h.write_json(os.path.join(work, "client-inline.json"),
                          {"client": {"url": url, "token": viewer}})
    p = h.cli(["list", "--config", inline])
    expect("URL and token from --config's client section", p, 0, stdout_has=("cli-one",))
    p = h.cli(["list"], env={"HAECHI_CONFIG": inline})
    expect("URL and token from the config named by HAECHI_CONFIG", p, 0,
           stdout_has=("cli-one",))
    p = h.cli(["list", "--config", inline], env={"HAECHI_URL": bad_url})
    expect("HAECHI_URL wins over the config's client.url", p, 1, stderr_has=("cannot reach",),
           stderr_one_line=True)

    token_file = os.path.join(work, "client.token")
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(viewer + "\n")
    os.chmod(token_file, 0o600)
    by_file = h.write_json(os.path.join(work, "client-file.json"),
                           {"client": {"url": url, "token_file": token_file}})
    p = h.cli(["list", "--config", by_file])
    expect("token from the config's client.token_file (mode 600)", p, 0,
           stdout_has=("cli-one",))
    by_env = h.write_json(os.path.join(work, "client-env.json"),
                          {"client": {"url": url, "token_env": "CLI_TEST_TOKEN"}})
    p = h.cli(["list", "--config", by_env], env={"CLI_TEST_TOKEN": viewer})
    expect("token from the config's client.token_env", p, 0, stdout_has=("cli-one",))

    # The listen address stands in for a missing client.url.
    port = int(url.rsplit(":", 1)[1])
    by_listen = h.write_json(os.path.join(work, "client-listen.json"),
                             {"listen": "127.0.0.1:%d" % port, "client": {"token": viewer}})
    p = h.cli(["list", "--config", by_listen])
    expect("without client.url the config's listen address is used", p, 0,
           stdout_has=("cli-one",))

    # One config shared with the daemon (as deploy/haechi.example.json is): the
    # server's secrets are in variables and a 600 file the CLI user cannot read.
    # The CLI needs only the client section and must not insist on the rest.
    shared = h.write_json(os.path.join(work, "client-shared.json"), {
        "listen": "127.0.0.1:%d" % port,
        "tokens": [{"name": "srv-admin", "role": "admin",
                    "token_env": "HAECHI_TEST_UNSET_SERVER_TOKEN"},
                   {"name": "srv-editor", "role": "editor",
                    "token_file": "/nonexistent/haechi/editor.token"}],
        "client": {"url": url, "token": viewer}})
    p = h.cli(["list", "--config", shared])
    expect("a config shared with the daemon: the CLI uses its client section without "
           "needing the server's token secrets", p, 0, stdout_has=("cli-one",))

    broken = h.write_json(os.path.join(work, "client-broken.json"),
                          {"client": {"url": url, "tokn": viewer}})
    p = h.cli(["list", "--config", broken])
    expect("an invalid client config: exit 2 with one line naming the field", p, 2,
           stderr_has=("/client/tokn",), stderr_one_line=True)


if __name__ == "__main__":
    h.run(main)
