"""The HTTP API on the wire, as a hostile client sees it: raw sockets.

HEAD answers carry no body; ambiguous headers (a NUL or control byte, two
Authorization or Content-Length headers) are refused with 400; what libevent
would refuse with its own HTML page (a malformed chunk size, an unknown
method, an oversize body or head) is answered as JSON; a client that drips
its head is cut at limits.header_timeout_ms. Every refusal is audited.
"""

import json
import socket
import time

import harness as h
from harness import check

HEADER_TIMEOUT_MS = 1500


class Wire:
    """One raw connection to the daemon."""

    def __init__(self, url, timeout=h.DEADLINE):
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def response(self, head_only=False):
        """(status, headers, body bytes) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = 0 if head_only else int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body

    def closed(self, timeout):
        """True when the server closes within TIMEOUT (leftover bytes ignored)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except (socket.timeout, OSError):
            return False

    def close(self):
        self.sock.close()


def exchange(url, data):
    """Sends DATA on a fresh connection; the first response, or the exception."""
    w = Wire(url)
    try:
        w.send(data)
        return w.response()
    except (EOFError, OSError, ValueError, IndexError) as e:
        return None, {}, repr(e).encode()
    finally:
        w.close()


def json_error(status, hdrs, body, code, error):
    problems = []
    if status != code:
        problems.append("status %s, expected %d" % (status, code))
    if not (hdrs.get("content-type") or "").startswith("application/json"):
        problems.append("Content-Type %r" % hdrs.get("content-type"))
    try:
        doc = json.loads(body)
        if doc.get("error") != error or not doc.get("message"):
            problems.append("error %r, expected %r with a message" % (doc.get("error"), error))
    except ValueError:
        problems.append("body is not JSON: %r" % body[:200])
    return problems


def run_head(d):
    w = Wire(d.url)
    try:
        w.send(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s1, hd1, _ = w.response(head_only=True)
        s2, _, body2 = w.response()
        doc = json.loads(body2)
        check("HEAD then GET on one connection: two clean answers",
              s1 == 200 and s2 == 200 and doc.get("status") == "ok",
              "statuses %s %s, body %r" % (s1, s2, body2[:200]))
        check("HEAD carries the GET entity's Content-Length and no body",
              int(hd1.get("content-length", "-1")) == len(body2),
              "HEAD Content-Length %r, GET body %d bytes" % (hd1.get("content-length"), len(body2)))
    finally:
        w.close()


def run_header_ambiguity(d):
    token = d.tokens["admin"].encode()
    cases = [
        ("Authorization with a NUL after the token",
         b"GET /api/v1/dead HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
         + b"\x00junk\r\n\r\n"),
        ("Authorization with a control byte",
         b"GET /api/v1/dead HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
         + b"\x01\r\n\r\n"),
        ("two Authorization headers",
         b"GET /api/v1/dead HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
         + b"\r\nAuthorization: Bearer nobody\r\n\r\n"),
        ("two identical Content-Length headers",
         b"POST /api/v1/dead/retry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}"),
        ("two different Content-Length headers",
         b"POST /api/v1/dead/retry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 2\r\nContent-Length: 12\r\n\r\n{}"),
        ("Content-Length beside Transfer-Encoding",
         b"POST /api/v1/dead/retry HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("a folded header line",
         b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n"),
        ("a header line without a colon",
         b"GET /healthz HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n"),
        ("a malformed request line", b"GET /healthz\r\nHost: x\r\n\r\n"),
    ]
    for name, data in cases:
        s, hd, body = exchange(d.url, data)
        problems = json_error(s, hd, body, 400, "bad-request")
        check("%s -> 400 JSON" % name, not problems, "; ".join(problems))
    # The same token, unambiguous, is good: the refusals above are not the token's fault.
    s, _, _ = exchange(d.url, b"GET /api/v1/dead HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                       + token + b"\r\n\r\n")
    check("the same token in one clean header -> 200", s == 200, "status %s" % s)


def chunked_post(path, token, chunks, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
            + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" + extra
            + b"\r\n" + chunks)


def run_json_everywhere(d, limit):
    token = d.tokens["editor"].encode()
    s, hd, body = exchange(d.url, chunked_post(b"/api/v1/dead/retry", token,
                                               b"2\r\n{}\r\n0\r\n\r\n"))
    ok = s == 400 and b"invalid-body" in body
    check("a well-formed chunked body reaches the handler (400 for {} from the route itself)",
          ok, "status %s body %r" % (s, body[:200]))
    doc = b'{"all": true, "channel": "sns"}'
    chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, doc[:10], len(doc) - 10, doc[10:])
    s, hd, body = exchange(d.url, chunked_post(b"/api/v1/dead/retry", token, chunks))
    check("a chunked body split as declared works -> 200", s == 200,
          "status %s body %r" % (s, body[:200]))
    bad = [
        ("a chunk size that is not hex", b"zz\r\n{}\r\n0\r\n\r\n", 400, "bad-request"),
        ("a negative chunk size", b"-2\r\n{}\r\n0\r\n\r\n", 400, "bad-request"),
        ("chunk data longer than its size", b"1\r\n{}\r\n0\r\n\r\n", 400, "bad-request"),
        ("a chunk size over the body limit", b"%x\r\n" % (limit + 1), 413, "payload-too-large"),
    ]
    for name, chunks, code, error in bad:
        s, hd, body = exchange(d.url, chunked_post(b"/api/v1/dead/retry", token, chunks))
        problems = json_error(s, hd, body, code, error)
        check("%s -> %d JSON" % (name, code), not problems, "; ".join(problems))
    others = [
        ("an unknown method", b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501,
         "not-implemented"),
        ("a Content-Length over the body limit",
         b"POST /api/v1/campaigns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: %d\r\n\r\n" % (limit + 1), 413, "payload-too-large"),
        ("a head over 16 KiB",
         b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431,
         "headers-too-large"),
        ("an Expect other than 100-continue",
         b"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n", 417, "expectation-failed"),
        ("a transfer coding other than chunked",
         b"POST /api/v1/dead/retry HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
         "not-implemented"),
    ]
    for name, data, code, error in others:
        s, hd, body = exchange(d.url, data)
        problems = json_error(s, hd, body, code, error)
        check("%s -> %d JSON" % (name, code), not problems, "; ".join(problems))
    s, hd, body = exchange(d.url, b"GET /-/refused HTTP/1.1\r\nHost: x\r\n\r\n")
    check("the path refusals use internally is an ordinary 404 for a client",
          not json_error(s, hd, body, 404, "not-found"), "status %s body %r" % (s, body[:200]))


def run_slow_client(d):
    w = Wire(d.url)
    start = time.monotonic()
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    sent = 0
    cut = None
    try:
        # One byte every 0.2 s keeps a 30 s inactivity timer happy forever.
        for byte in request:
            try:
                w.send(bytes([byte]))
            except OSError:
                cut = time.monotonic() - start
                break
            sent += 1
            w.sock.settimeout(0.2)
            try:
                got = w.sock.recv(65536)
            except socket.timeout:
                continue
            w.buf += got
            cut = time.monotonic() - start
            break
    finally:
        w.close()
    limit = HEADER_TIMEOUT_MS / 1000.0
    check("a client dripping its head is cut at the header deadline",
          cut is not None and limit * 0.8 <= cut <= limit + 10,
          "cut after %s s (%d bytes sent), deadline %.1f s" % (cut, sent, limit))
    check("the cut says why, as JSON (408)", b" 408 " in w.buf[:20] and b"request-timeout" in w.buf,
          "got %r" % w.buf[:300])
    w = Wire(d.url)
    start = time.monotonic()
    try:
        closed = w.closed(limit + 10)
    finally:
        w.close()
    check("a client that connects and sends nothing is cut at the deadline too",
          closed and time.monotonic() - start <= limit + 10,
          "closed %s after %.1f s" % (closed, time.monotonic() - start))


def run_audited(d):
    status, _, body = d.http("GET", "/api/v1/audit?count=1000", "admin")
    entries = body.get("entries", []) if isinstance(body, dict) else []
    refused = [e for e in entries if e.get("action") == "refused"]
    codes = {int(e.get("status", 0)) for e in refused}
    check("refusals made before routing are in the audit trail (400, 408, 413, 501)",
          status == 200 and {400, 408, 413, 501} <= codes,
          "status %s, refused statuses %s" % (status, sorted(codes)))


def open_at_exit(d):
    """Connections the daemon must free at exit: idle, mid-head, kept alive."""
    idle, partial, alive = Wire(d.url), Wire(d.url), Wire(d.url)
    partial.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ")
    alive.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s, _, _ = alive.response()
    check("a kept-alive connection is answered before the exit", s == 200, "status %s" % s)
    return [idle, partial, alive]


def main():
    redis = h.Redis("wire-redis")
    d = None
    held = []
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("wire", redis.address,
                     extra={"limits": {"header_timeout_ms": HEADER_TIMEOUT_MS,
                                       "max_campaign_bytes": 65536}})
        if not check("haechi serve writes its ready file", d.start(), "see stderr"):
            return
        run_head(d)
        run_header_ambiguity(d)
        run_json_everywhere(d, 65536 * 2 + 65536)
        run_slow_client(d)
        run_audited(d)
        check("/healthz still answers after all that", h.healthz(d.url) == 200)
        held = open_at_exit(d)
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM with connections open: idle, mid-head, "
                  "kept alive (no leak, no sanitizer report)", status == 0,
                  "exit status %s" % status)
        for w in held:
            w.close()
        redis.stop()


if __name__ == "__main__":
    h.run(main)
