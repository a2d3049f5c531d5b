"""PROXY protocol sockets of a real echod, over real sockets on loopback.

A [proxy] listen socket trusts 127.0.0.1 and ::1 only.  The test is the
balancer: it sends v1 (TCP4, TCP6, UNKNOWN) and v2 (PROXY, LOCAL, over
IPv4 and IPv6, with TLVs and a CRC32c TLV) headers, with payload in the
same segment and split over many small writes, and checks that the
header is consumed and never echoed, that every byte after it is, and
that the client the header names is the one echod logs and counts for
max_connections_per_ip.  Every malformation class is refused (the
connection closed, the reason counted in /metrics, one log line per
burst), as are a late header and a peer outside [proxy] trusted.  As
root, the journal fields REMOTE_ADDR and PROXY_ADDR are read from a
stand-in for journald's socket.  Config errors, and a socket passed by
systemd-socket-activate with --fdname=proxy, end it."""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import ECHOD, Echod, Notify, connect, free_port, recv_all, \
    recv_exact, run_test, sha256, tap, tmpdir, wait_for
from metricstest import metrics_echod_config, parse_metrics, scrape, value

ACTIVATE = shutil.which("systemd-socket-activate")
CLIENT = os.environ.get("ECHO_CLIENT") or os.path.join(
    os.path.dirname(os.path.abspath(ECHOD)), "..", "client", "echo-client")
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
REASONS = ("signature", "v1_too_long", "v1_syntax", "v1_address", "v1_port",
           "v2_version", "v2_command", "v2_family", "v2_length",
           "v2_too_long", "v2_tlv", "v2_crc32c", "untrusted", "timeout",
           "closed")


# --- headers, built here from the spec (haproxy doc/proxy-protocol.txt) --

def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def v1(proto, src=None, dst=None, sport=None, dport=None):
    if proto == "UNKNOWN" and src is None:
        return b"PROXY UNKNOWN\r\n"
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport,
                                          dport)).encode()


def tlv(t, value):
    return struct.pack("!BH", t, len(value)) + value


def v2(cmd=1, fam=0x11, src=None, dst=None, sport=0, dport=0, tlvs=b"",
       crc=None, length=None, ver=2):
    """A v2 header.  crc: None (no CRC32c TLV), "good" or "bad".
    length overrides the length field."""
    if fam in (0x11, 0x12):
        addrs = socket.inet_pton(socket.AF_INET, src) + \
            socket.inet_pton(socket.AF_INET, dst) + \
            struct.pack("!HH", sport, dport)
    elif fam in (0x21, 0x22):
        addrs = socket.inet_pton(socket.AF_INET6, src) + \
            socket.inet_pton(socket.AF_INET6, dst) + \
            struct.pack("!HH", sport, dport)
    else:
        addrs = b""
    rest = addrs + tlvs
    if crc is not None:
        rest += tlv(0x03, b"\0\0\0\0")
    n = len(rest) if length is None else length
    h = bytearray(SIG + bytes([ver << 4 | cmd, fam]) + struct.pack("!H", n)
                  + rest)
    if crc is not None:
        c = crc32c(bytes(h)) ^ (0 if crc == "good" else 0x1)
        h[-4:] = struct.pack("!I", c)
    return bytes(h)


def some_tlvs():
    """What HAProxy may add: ALPN, authority, a unique ID, a NOOP."""
    return (tlv(0x01, b"h2") + tlv(0x02, b"echo.example.org") +
            tlv(0x05, b"4f3c9a2e-unique") + tlv(0x04, b"\0" * 7))


# --- an echod with a PROXY socket ---------------------------------------

class Proxied:
    """echod with [proxy] listen on 127.0.0.1 and [::1], trusting only
    127.0.0.1 and ::1, and a metrics endpoint."""

    def __init__(self, workers=1, extra=None, timeout="500ms", prefix=(),
                 log=None):
        self.pport, self.mport = free_port(), free_port()
        ov = metrics_echod_config(self.mport)
        ov["server"] = {"workers": str(workers)}
        ov["proxy"] = {"listen": "127.0.0.1:%d, [::1]:%d"
                       % (self.pport, self.pport),
                       "trusted": "127.0.0.1, ::1/128", "timeout": timeout}
        ov["log"] = dict({"connections": "yes"}, **(log or {}))
        for sec, kv in (extra or {}).items():
            ov.setdefault(sec, {}).update(kv)
        self.e = Echod(ov).start(argv_prefix=list(prefix))

    def connect(self, host="127.0.0.1", source=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(5)
        if source:
            s.bind((source, 0))
        s.connect((host, self.pport))
        return s

    def metrics(self):
        return parse_metrics(scrape(self.mport))

    def refusals(self):
        m = self.metrics()
        return {r: value(m, "echod_proxy_refused_total", 'reason="%s"' % r)
                for r in REASONS}


class At:
    """A port on loopback, for echo_through()."""

    def __init__(self, port):
        self.port = port

    def connect(self, host="127.0.0.1"):
        return connect(self.port, host)


def via(s):
    """How echod names the balancer end of client socket s."""
    a = s.getsockname()
    return ("[%s]:%d" if s.family == socket.AF_INET6 else "%s:%d") % a[:2]


def closed_by_server(s, timeout=3.0):
    """True if the server closes s (EOF or reset) within timeout without
    sending anything; False if it sends data or stays open."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def logged(e, pattern, timeout=5.0):
    """True once pattern (a regex) is in e's log, False after timeout."""
    try:
        e.wait_log(pattern, timeout)
        return True
    except TimeoutError:
        return False


def echo_through(p, header, payload, host="127.0.0.1"):
    """Header and payload in one send, then a half-close; returns the
    echo and how echod names the balancer end (via())."""
    s = p.connect(host)
    s.sendall(header + payload)
    s.shutdown(socket.SHUT_WR)
    got = recv_all(s)
    name = via(s)
    s.close()
    return got, name


# --- the tests ------------------------------------------------------------

def test_forms(p):
    e = p.e
    cases = [
        ("v1 TCP4", v1("TCP4", "192.0.2.1", "192.0.2.2", 1234, 7),
         "127.0.0.1", "192.0.2.1:1234"),
        ("v1 TCP6", v1("TCP6", "2001:db8::1", "2001:db8::2", 40000, 7),
         "::1", "[2001:db8::1]:40000"),
        ("v1 TCP4 over an IPv6 connection",
         v1("TCP4", "198.51.100.9", "198.51.100.1", 65535, 0), "::1",
         "198.51.100.9:65535"),
        ("v2 PROXY TCP over IPv4", v2(1, 0x11, "203.0.113.5", "203.0.113.1",
                                      5555, 7), "127.0.0.1",
         "203.0.113.5:5555"),
        ("v2 PROXY TCP over IPv6", v2(1, 0x21, "2001:db8:1::5",
                                      "2001:db8:1::1", 6666, 7),
         "::1", "[2001:db8:1::5]:6666"),
        ("v2 PROXY TCP over IPv4 with TLVs and a right CRC32c TLV",
         v2(1, 0x11, "203.0.113.6", "203.0.113.1", 5556, 7,
            tlvs=some_tlvs(), crc="good"), "127.0.0.1", "203.0.113.6:5556"),
        ("v2 PROXY TCP over IPv6 with TLVs and a right CRC32c TLV",
         v2(1, 0x21, "2001:db8:1::6", "2001:db8:1::1", 6667, 7,
            tlvs=some_tlvs(), crc="good"), "::1", "[2001:db8:1::6]:6667"),
        ("v2 PROXY UDP over IPv4 (still names the client)",
         v2(1, 0x12, "203.0.113.7", "203.0.113.1", 5557, 7), "127.0.0.1",
         "203.0.113.7:5557"),
    ]
    for what, header, host, client in cases:
        payload = b"payload after the %s header\n" % what.encode()
        got, name = echo_through(p, header, payload, host)
        ok = got == payload
        log = logged(e, r"connection from %s \(via %s\)" % (
            re.escape(client), re.escape(name))) and logged(
            e, r"connection from %s closed: closed by client \(%d bytes "
            r"echoed\)" % (re.escape(client), len(payload)))
        tap.ok(ok and log, "%s: the payload in the header's segment is "
               "echoed, the header is not; logged as from %s via the "
               "balancer %s" % (what, client, name), got)
    # The connection's own addresses: health checks, and what cannot be
    # named.
    local = [
        ("v1 UNKNOWN", v1("UNKNOWN"), "127.0.0.1"),
        ("v1 UNKNOWN with addresses",
         b"PROXY UNKNOWN 192.0.2.1 192.0.2.2 1 2\r\n", "127.0.0.1"),
        ("v2 LOCAL (HAProxy's health check)", v2(0, 0x00), "127.0.0.1"),
        ("v2 LOCAL with a CRC32c TLV", v2(0, 0x00, crc="good"), "::1"),
        ("v2 LOCAL carrying IPv4 addresses",
         v2(0, 0x11, "192.0.2.1", "192.0.2.2", 1, 2), "127.0.0.1"),
        ("v2 PROXY over UNSPEC", v2(1, 0x00), "::1"),
        ("v2 PROXY over AF_UNIX", v2(1, 0x31, length=216) + b"\0" * 216,
         "127.0.0.1"),
    ]
    for what, header, host in local:
        payload = b"%s\n" % what.encode()
        got, name = echo_through(p, header, payload, host)
        b = re.escape(name)
        tap.ok(got == payload and logged(
            e, r"connection from %s \(via %s\)" % (b, b)),
            "%s: echoed, and the connection's own address is the "
            "client's" % what, got)


def test_payload(p):
    """Payload that follows the header in its segment, and a large
    stream after it: every byte back, none of the header."""
    before = value(p.metrics(), "echod_echoed_bytes_total")
    blob = os.urandom(1 << 20)
    header = v2(1, 0x11, "192.0.2.50", "192.0.2.1", 50000, 7,
                tlvs=some_tlvs(), crc="good")
    s = p.connect()
    got = bytearray()

    def reader():
        while True:
            d = s.recv(1 << 16)
            if not d:
                return
            got.extend(d)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    # One send: the header and the first 64 KiB share segments.
    s.sendall(header + blob[:65536])
    s.sendall(blob[65536:])
    s.shutdown(socket.SHUT_WR)
    t.join(30)
    s.close()
    tap.ok(len(got) == len(blob) and sha256(bytes(got)) == sha256(blob),
           "a 1 MiB stream sent together with the v2 header: all of it "
           "echoed (%d bytes), by hash, and no byte of the header" % len(got))
    after = value(p.metrics(), "echod_echoed_bytes_total")
    tap.eq(after - before, len(blob), "echod_echoed_bytes_total rose by "
           "exactly the payload")


def test_split(p):
    """The header in many small writes, each its own segment: echod
    peeks until the header is whole and consumes exactly it."""
    e = p.e
    cases = [
        ("v1 TCP4", v1("TCP4", "192.0.2.60", "192.0.2.1", 6060, 7), 1,
         "192.0.2.60:6060"),
        ("v2 with TLVs and CRC32c",
         v2(1, 0x11, "192.0.2.61", "192.0.2.1", 6061, 7, tlvs=some_tlvs(),
            crc="good"), 1, "192.0.2.61:6061"),
        ("v2 over IPv6, 5 bytes a write",
         v2(1, 0x21, "2001:db8::61", "2001:db8::1", 6062, 7), 5,
         "[2001:db8::61]:6062"),
    ]
    for what, header, step, client in cases:
        s = p.connect()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(header) - 1, step):
            s.sendall(header[i:min(i + step, len(header) - 1)])
            time.sleep(0.002)
        # The last byte of the header and the first of the payload in
        # one segment, then more.
        s.sendall(header[-1:] + b"first")
        s.sendall(b" and more")
        got = recv_exact(s, 14)
        s.close()
        tap.ok(got == b"first and more" and
               logged(e, r"connection from %s \(via" % re.escape(client)),
               "%s header in %d writes of %d byte(s): then the payload "
               "is echoed exactly, from %s" % (
                   what, (len(header) + step - 2) // step + 1, step,
                   client), got)
    # The v1 line's CRLF split between two segments.
    h = v1("TCP4", "192.0.2.62", "192.0.2.1", 6063, 7)
    s = p.connect()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(h[:-1])
    time.sleep(0.05)
    s.sendall(h[-1:] + b"crlf")
    tap.eq(recv_exact(s, 4), b"crlf", "v1 with CR and LF in two segments")
    s.close()


# Each malformation: what the balancer sends, and the reason echod
# counts.  Every class of the issue: v1 too long, a bare CR or LF,
# leading zeros, a bad port; v2 with a wrong signature, version,
# command, family or length; and the TLV rules.
MALFORMED = [
    ("not a PROXY header (HTTP)", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
     "signature"),
    ("a v2 signature with one byte wrong", SIG[:-1] + b"\x0b" + b"\x21\x11"
     + b"\0\x0c" + b"\0" * 12, "signature"),
    ("v1 longer than 107 bytes", b"PROXY UNKNOWN " + b"x" * 100, "v1_too_long"),
    ("v1 ending in a bare LF",
     b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 7\n", "v1_syntax"),
    ("v1 with a bare CR", b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 7\rX\n",
     "v1_syntax"),
    ("v1 with two spaces", b"PROXY TCP4  192.0.2.1 192.0.2.2 1234 7\r\n",
     "v1_syntax"),
    ("v1 protocol TCP5", b"PROXY TCP5 192.0.2.1 192.0.2.2 1234 7\r\n",
     "v1_syntax"),
    ("v1 address with a leading zero",
     b"PROXY TCP4 192.0.2.01 192.0.2.2 1234 7\r\n", "v1_address"),
    ("v1 TCP6 with an IPv4 address",
     b"PROXY TCP6 192.0.2.1 2001:db8::1 1234 7\r\n", "v1_address"),
    ("v1 port with a leading zero",
     b"PROXY TCP4 192.0.2.1 192.0.2.2 01234 7\r\n", "v1_port"),
    ("v1 port 65536", b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 7\r\n",
     "v1_port"),
    ("v2 version 1", v2(1, 0x11, "192.0.2.1", "192.0.2.2", 1, 2, ver=1),
     "v2_version"),
    ("v2 version 3", v2(1, 0x11, "192.0.2.1", "192.0.2.2", 1, 2, ver=3),
     "v2_version"),
    ("v2 command 2", v2(2, 0x11, "192.0.2.1", "192.0.2.2", 1, 2),
     "v2_command"),
    ("v2 family 0x41", v2(1, 0x41, length=12) + b"\0" * 12, "v2_family"),
    ("v2 protocol 3 over IPv4", v2(1, 0x13, length=12) + b"\0" * 12,
     "v2_family"),
    ("v2 length shorter than the IPv4 addresses",
     v2(1, 0x11, "192.0.2.1", "192.0.2.2", 1, 2, length=8)[:24],
     "v2_length"),
    ("v2 length 8192", v2(1, 0x11, "192.0.2.1", "192.0.2.2", 1, 2,
                          length=8192), "v2_too_long"),
    ("v2 TLV running past the length",
     v2(1, 0x11, "192.0.2.1", "192.0.2.2", 1, 2, tlvs=b"\x04\x00\x09abc"),
     "v2_tlv"),
    ("v2 two CRC32c TLVs",
     v2(1, 0x11, "192.0.2.1", "192.0.2.2", 1, 2,
        tlvs=tlv(0x03, b"\0\0\0\0"), crc="good"), "v2_tlv"),
    ("v2 wrong CRC32c", v2(1, 0x11, "192.0.2.1", "192.0.2.2", 1, 2,
                           tlvs=some_tlvs(), crc="bad"), "v2_crc32c"),
    ("v2 LOCAL with a wrong CRC32c", v2(0, 0x00, crc="bad"), "v2_crc32c"),
]


def test_malformed(p):
    """Each class refused: closed, nothing echoed, counted by reason, and
    one log line for the whole burst.  Returns how many were refused."""
    e = p.e
    e.wait_log("serving")
    lines0 = e.count_log(r"PROXY header refused: from ")
    n = 0
    for what, data, reason in MALFORMED:
        before = p.refusals()
        s = p.connect()
        s.sendall(data + b"payload")
        closed = closed_by_server(s)
        s.close()
        after = p.refusals()
        delta = {r: after[r] - before[r] for r in REASONS
                 if after[r] != before[r]}
        n += 1
        tap.ok(closed and delta == {reason: 1},
               "%s: closed without an echo, counted as %s" % (what, reason),
               (closed, delta))
    # Closed by the balancer before the header was whole.
    before = p.refusals()["closed"]
    s = p.connect()
    s.sendall(b"PROXY TCP4 192.0.2.1")
    s.shutdown(socket.SHUT_WR)
    closed = closed_by_server(s)
    s.close()
    n += 1
    tap.ok(closed and p.refusals()["closed"] == before + 1,
           "a header cut by the peer's FIN: closed, counted as closed")
    # The header timeout (500 ms here): a partial header and silence.
    for what, data in (("half a v1 header", b"PROXY TCP4 192.0.2.1 "),
                       ("half a v2 header", SIG + b"\x21"),
                       ("nothing at all", b"")):
        before = p.refusals()["timeout"]
        s = p.connect()
        t0 = time.monotonic()
        if data:
            s.sendall(data)
        closed = closed_by_server(s, 5)
        t = time.monotonic() - t0
        s.close()
        n += 1
        tap.ok(closed and 0.45 <= t < 1.5 and
               p.refusals()["timeout"] == before + 1,
               "%s: closed when [proxy] timeout (500ms) passed (%.2f s), "
               "counted as timeout" % (what, t), (closed, t))
    # A peer outside [proxy] trusted, closed before it says anything.
    before = p.refusals()["untrusted"]
    s = p.connect(source="127.0.0.2")
    t0 = time.monotonic()
    closed = closed_by_server(s, 3)
    t = time.monotonic() - t0
    s.close()
    n += 1
    tap.ok(closed and t < 0.3 and p.refusals()["untrusted"] == before + 1,
           "a peer outside [proxy] trusted (127.0.0.2): closed at once "
           "(%.0f ms), before any byte, counted as untrusted" % (t * 1000))
    m = p.metrics()
    tap.eq(value(m, "echod_connections_refused_total", 'reason="proxy"'),
           n, "echod_connections_refused_total{reason=\"proxy\"} counts "
           "all %d" % n)
    # One burst: the first refusal logged, the rest counted, the count
    # logged once the burst is over (2 s of quiet).
    summary = logged(e, r"PROXY header refused: %d times in the last burst"
                     % n, 10)
    first = e.count_log(r"PROXY header refused: from ") - lines0
    tap.ok(first == 1 and summary, "logged once for the burst: one line with the first "
           "peer and reason, then \"%d times in the last burst\"" % n,
           e.log()[-3000:])
    return n


def test_per_ip():
    """max_connections_per_ip counts the header's client: one client over
    the limit is refused while another behind the same balancer is not,
    across workers; LOCAL connections count as the balancer."""
    p = Proxied(workers=2, extra={"connection":
                                  {"max_connections_per_ip": "2"}})
    e = p.e

    def open_as(client, port):
        s = p.connect()
        s.sendall(v1("TCP4", client, "192.0.2.1", port, 7) + b"hi")
        return s

    def served(s):
        try:
            return recv_exact(s, 2) == b"hi"
        except OSError:
            return False
    a = [open_as("198.51.100.1", 1000 + i) for i in range(2)]
    tap.ok(all(served(s) for s in a), "client A: two connections through "
           "the balancer are served")
    refused0 = value(p.metrics(), "echod_connections_refused_total",
                     'reason="max_connections_per_ip"')
    a3 = open_as("198.51.100.1", 1002)
    tap.ok(closed_by_server(a3), "client A's third connection is closed "
           "(max_connections_per_ip = 2)")
    a3.close()
    b = [open_as("198.51.100.2", 2000 + i) for i in range(2)]
    tap.ok(all(served(s) for s in b), "client B, from the same balancer "
           "address, is served meanwhile")
    # A worker counts a refusal right after it closes the socket: the
    # count may lag the client's EOF by a moment.
    try:
        wait_for(lambda: value(p.metrics(), "echod_connections_refused_"
                               "total", 'reason="max_connections_per_ip"')
                 - refused0 >= 1, 5, "the refusal to be counted")
    except TimeoutError:
        pass
    tap.eq(value(p.metrics(), "echod_connections_refused_total",
                 'reason="max_connections_per_ip"') - refused0, 1,
           "one refusal counted as max_connections_per_ip")
    tap.ok(logged(e, r"2 connections from one address "
                  r"\(198\.51\.100\.1:1002\); closing new ones"),
           "the log names the header's client, not the balancer")
    a[0].close()
    wait_for(lambda: value(p.metrics(), "echod_connections_open") == 3, 5,
             "A's first connection to close")
    a4 = open_as("198.51.100.1", 1003)
    tap.ok(served(a4), "once one of A's connections closes, A may open "
           "another")
    # LOCAL counts the balancer itself.  One after the other: two
    # workers racing for the last place may both refuse (documented).
    loc, ok = [], []
    for i in range(3):
        s = p.connect()
        s.sendall(v2(0, 0x00) + b"hi")
        loc.append(s)
        ok.append(served(s) if i < 2 else closed_by_server(s))
    tap.ok(all(ok), "v2 LOCAL connections count as the balancer's own: "
           "the third is refused", ok)
    for s in a[1:] + b + [a4] + loc:
        s.close()
    tap.eq(e.stop(), 0, "exit 0")


def test_journal():
    """REMOTE_ADDR and PROXY_ADDR as journal fields, read from a socket
    that stands in for journald's (root: a private mount namespace puts
    the test's directory on /run for echod alone)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        tap.skip("REMOTE_ADDR and PROXY_ADDR journal fields",
                 "needs root and unshare(1) for a private /run")
        return
    root = tmpdir()
    os.makedirs(os.path.join(root, "systemd", "journal"))
    j = Notify(os.path.join(root, "systemd", "journal", "socket"))
    p = Proxied(prefix=["unshare", "-m", "--propagation", "private", "sh",
                        "-c", 'mount --bind "$0" /run && exec "$@"', root],
                log={"target": "journal", "level": "info"})

    def entry(pred):
        m = j.wait(lambda t: pred(dict(line.split("=", 1)
                                       for line in t.splitlines()
                                       if "=" in line)), 5, "a journal entry")
        return dict(line.split("=", 1) for line in m.splitlines()
                    if "=" in line)
    got, b = echo_through(p, v2(1, 0x11, "198.51.100.7", "198.51.100.1",
                                4321, 7), b"journal")
    opened = entry(lambda f: f.get("MESSAGE", "").startswith(
        "connection from 198.51.100.7:4321 (via"))
    closed = entry(lambda f: f.get("MESSAGE", "").startswith(
        "connection from 198.51.100.7:4321") and "closed" in f["MESSAGE"])
    tap.ok(got == b"journal" and opened.get("REMOTE_ADDR") ==
           "198.51.100.7:4321" and opened.get("PROXY_ADDR") == b,
           "journal: the connection's entry has REMOTE_ADDR = the header's "
           "client and PROXY_ADDR = the balancer (%s)" % b, opened)
    tap.ok(closed.get("REMOTE_ADDR") == "198.51.100.7:4321" and
           closed.get("PROXY_ADDR") == b and
           closed.get("MESSAGE", "").endswith("closed: closed by client (7 "
                                              "bytes echoed)"),
           "and so has its close entry", closed)
    s = connect(p.e.port)
    s.sendall(b"plain")
    recv_exact(s, 5)
    plain = via(s)
    s.close()
    e = entry(lambda f: f.get("MESSAGE") == "connection from %s" % plain)
    tap.ok(e.get("REMOTE_ADDR") == plain and "PROXY_ADDR" not in e,
           "a plain echo connection has REMOTE_ADDR and no PROXY_ADDR", e)
    tap.eq(p.e.stop(), 0, "exit 0")
    j.close()


def check_config(text, want, what):
    d = tmpdir()
    path = os.path.join(d, "echod.ini")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([ECHOD, "-t", "-c", path], capture_output=True,
                       timeout=10)
    err = r.stderr.decode()
    tap.ok(r.returncode == 1 and want in err, "echod -t: %s" % what, err)
    r = subprocess.run([ECHOD, "-c", path], capture_output=True, timeout=10)
    return r.returncode, r.stderr.decode()


def test_config():
    port = free_port()
    base = "[log]\ntarget = stderr\n[server]\nlisten = 127.0.0.1:%d\n" % port
    rc, err = check_config(
        base + "[proxy]\nlisten = 127.0.0.1:%d\n" % (port + 1),
        ":6: [proxy] listen is set but [proxy] trusted is not",
        "[proxy] listen without trusted is an error, at its line")
    tap.ok(rc == 6 and "[proxy] trusted is not" in err,
           "and echod refuses to start (exit 6)", (rc, err))
    check_config(base + "[proxy]\nlisten = 127.0.0.1:%d\ntrusted = 10.0.0.1"
                 "\n" % port, "[server] listen '127.0.0.1:%d' and [proxy] "
                 "listen '127.0.0.1:%d' overlap" % (port, port),
                 "[proxy] listen on the [server] socket: overlap, both named")
    check_config(base + "[proxy]\nlisten = *:%d\ntrusted = 10.0.0.1\n" % port,
                 "overlap", "[proxy] listen *:PORT over [server] "
                 "127.0.0.1:PORT: overlap")
    check_config("[server]\nlisten = 127.0.0.1:%d\n[metrics]\nlisten = "
                 "127.0.0.1:%d\n[proxy]\ntrusted = ::1\nlisten = "
                 "127.0.0.1:%d\n" % (port, port + 1, port + 1),
                 "[metrics] listen '127.0.0.1:%d' and [proxy] listen"
                 % (port + 1), "[proxy] listen on the [metrics] socket")
    check_config(base + "[proxy]\nlisten = 127.0.0.1:%d\ntrusted = "
                 "10.0.0.0/33\n" % (port + 1), "[proxy] trusted",
                 "a prefix length of 33: refused")
    check_config(base + "[proxy]\nlisten = 127.0.0.1:%d\ntrusted = lb1\n"
                 % (port + 1), "[proxy] trusted", "a host name in trusted: "
                 "refused")
    check_config(base + "[proxy]\ntimeout = 50ms\n", "100ms to 60s",
                 "[proxy] timeout below 100ms: refused")
    # A reload that drops trusted keeps the running configuration.
    p = Proxied()
    e = p.e
    with open(e.config) as f:
        good = f.read()
    e.write_config(text=good.replace("trusted = 127.0.0.1, ::1/128\n", ""))
    e.signal(1)
    e.wait_log(r"reload failed: .*\[proxy\] trusted is not", 5)
    got, _ = echo_through(p, v1("UNKNOWN"), b"still")
    tap.ok(got == b"still", "a reload without [proxy] trusted fails; the "
           "PROXY socket keeps serving on the old configuration")
    tap.eq(e.stop(), 0, "exit 0")


def free_dual_port():
    """A port free on every IPv4 and IPv6 address right now (free_port()
    checks loopback only; a wildcard also meets the connections other
    programs have open from any address)."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_activation():
    """A socket passed with FileDescriptorName=proxy, beside an echo one."""
    if ACTIVATE is None:
        tap.skip("passed proxy socket", "systemd-socket-activate is not "
                 "installed")
        return
    eport, pport = free_port(), free_port()
    e = Echod({"proxy": {"trusted": "127.0.0.1"},
               "log": {"connections": "yes"}})
    dport = free_dual_port()
    # The third, [::]:PORT, is dual-stack, as echod-proxy.socket's is.
    e.start(argv_prefix=[ACTIVATE, "-l", "127.0.0.1:%d" % eport, "-l",
                         "127.0.0.1:%d" % pport, "-l", "[::]:%d" % dport,
                         "--fdname=echo:proxy:proxy",
                         "-E", "NOTIFY_SOCKET=" + e.notify_path],
            wait_ready=False)

    def try_connect():
        try:
            return connect(pport)
        except ConnectionRefusedError:
            return None
    try:
        s = wait_for(try_connect, 5, "the activation socket")
    except TimeoutError:
        tap.diag(e.log()[-2000:])
        raise
    s.sendall(v1("TCP4", "192.0.2.77", "192.0.2.1", 7777, 7) + b"activated")
    tap.eq(recv_exact(s, 9), b"activated", "a passed \"proxy\" socket "
           "starts echod and its header is consumed, the rest echoed")
    s.close()
    e.wait_ready()
    e.wait_log(r"serving on 127\.0\.0\.1:%d, proxy 127\.0\.0\.1:%d, proxy "
               r"\[::\]:%d \(from systemd\)" % (eport, pport, dport))
    e.wait_log(r"connection from 192\.0\.2\.77:7777 \(via 127\.0\.0\.1:")
    tap.ok(True, "it is named as a proxy socket, and logs the header's "
           "client")
    h = v1("TCP4", "192.0.2.77", "192.0.2.1", 7777, 7)
    s = connect(eport)
    s.sendall(h)
    tap.ok(recv_exact(s, len(h)) == h,
           "the passed echo socket echoes a PROXY header like any bytes")
    s.close()
    # An IPv4 balancer on a dual-stack socket: the kernel names it
    # ::ffff:127.0.0.1; logs and the per-IP count say 127.0.0.1.
    got, name = echo_through(At(dport), v2(0, 0x00), b"mapped")
    ok = got == b"mapped" and logged(
        e, r"connection from %s \(via %s\)" % ((re.escape(name),) * 2))
    got, name = echo_through(At(dport), v1("TCP6", "::ffff:192.0.2.78",
                                           "::1", 7778, 7), b"mapped")
    tap.ok(ok and got == b"mapped" and logged(
        e, r"connection from 192\.0\.2\.78:7778 \(via %s\)"
        % re.escape(name)), "a dual-stack PROXY socket: an IPv4 balancer is "
        "logged as %s, not as [::ffff:127.0.0.1], and so is a v4-mapped "
        "client in a TCP6 header" % name, e.log()[-1500:])
    # A reload that drops trusted is refused: the socket stays trusted.
    with open(e.config) as f:
        good = f.read()
    e.write_config(text=good.replace("trusted = 127.0.0.1\n", ""))
    e.signal(1)
    e.wait_log(r"reload failed: systemd passed a \"proxy\" socket but "
               r"\[proxy\] trusted is not set")
    s = connect(pport)
    s.sendall(v1("UNKNOWN") + b"kept")
    tap.eq(recv_exact(s, 4), b"kept", "a reload without trusted is refused for a passed "
           "proxy socket; it keeps serving")
    s.close()
    tap.eq(e.stop(), 0, "exit 0")
    # Without trusted, a passed proxy socket is not served at all.
    e2 = Echod()
    pport = free_port()
    e2.start(argv_prefix=[ACTIVATE, "-l", "127.0.0.1:%d" % pport,
                          "--fdname=proxy"], wait_ready=False)
    s = wait_for(try_connect, 5, "the activation socket")
    rc = e2.wait_exit(10)
    s.close()
    tap.ok(rc == 6 and "not starting: systemd passed a \"proxy\" socket "
           "but [proxy] trusted" in e2.log(),
           "a passed \"proxy\" socket and no [proxy] trusted: echod refuses "
           "to start (exit 6), saying why", (rc, e2.log()[-1000:]))


def client(args, data=b""):
    """Run echo-client; returns (exit status, stdout, stderr)."""
    r = subprocess.run([CLIENT] + [str(a) for a in args], input=data,
                       capture_output=True, timeout=20)
    return r.returncode, r.stdout, r.stderr.decode()


class Catcher:
    """A peer that records what echo-client sends before the data: it
    reads to EOF, then echoes what followed the expected header, so the
    client ends well if the header was exactly right."""

    def __init__(self, host):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ls = socket.socket(fam, socket.SOCK_STREAM)
        self.ls.bind((host, 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.got, self.peer, self.want = None, None, None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        c, self.peer = self.ls.accept()
        c.settimeout(10)
        self.got = recv_all(c) if self.want is None else b""
        c.sendall(self.got[self.header_len():])
        c.close()
        self.ls.close()

    def header_len(self):
        if self.got.startswith(b"PROXY"):
            return self.got.find(b"\r\n") + 2
        return 16 + struct.unpack("!H", self.got[14:16])[0] \
            if self.got.startswith(SIG) else 0


def test_client(p):
    """echo-client --proxy: the exact header on the wire, and a real
    PROXY socket that logs the client it names."""
    e = p.e
    for ver, host in (("v1", "127.0.0.1"), ("v2", "127.0.0.1"),
                      ("v1", "::1"), ("v2", "::1")):
        c = Catcher(host)
        rc, out, err = client(["--proxy=" + ver, host, c.port], b"data\n")
        c.t.join(10)
        fam = 0x21 if ":" in host else 0x11
        src, sport = c.peer[:2]
        want = (v1("TCP6" if ":" in host else "TCP4", src, host, sport,
                   c.port) if ver == "v1" else
                v2(1, fam, src, host, sport, c.port))
        tap.ok(rc == 0 and out == b"data\n" and c.got == want + b"data\n",
               "--proxy=%s over %s: the exact header first (the client's "
               "own addresses), then the data" % (ver, host),
               (rc, c.got, want, err))
    rc, out, err = client(["--proxy", "127.0.0.1", p.pport], b"stream\n")
    m = re.search(r"naming (127\.0\.0\.1:\d+) as the client", err)
    tap.ok(rc == 0 and out == b"stream\n" and m and logged(
        e, r"connection from %s \(via %s\)" % ((re.escape(m.group(1)),) * 2)),
        "--proxy (v2) to echod's PROXY socket: echoed, logged as from the "
        "client's own address", (rc, out, err))
    rc, out, err = client(["--proxy=v1", "--proxy-source",
                           "198.51.100.3:4444", "127.0.0.1", p.pport],
                          b"claimed\n")
    tap.ok(rc == 0 and out == b"claimed\n" and logged(
        e, r"connection from 198\.51\.100\.3:4444 \(via 127\.0\.0\.1:"),
        "--proxy=v1 --proxy-source 198.51.100.3:4444: echod logs that "
        "client", (rc, out, err))
    rc, out, err = client(["--proxy-source", "[2001:db8::9]:4444", "::1",
                           p.pport], b"six\n")
    tap.ok(rc == 0 and out == b"six\n" and logged(
        e, r"connection from \[2001:db8::9\]:4444 \(via \[::1\]:"),
        "--proxy-source [2001:db8::9]:4444 alone: a v2 header over IPv6 "
        "naming it", (rc, out, err))
    rc, out, err = client(["--proxy-source", "[2001:db8::9]:4444",
                           "127.0.0.1", p.pport], b"x")
    tap.ok(rc == 3, "an IPv6 --proxy-source restricts HOST to IPv6 "
           "addresses (127.0.0.1 does not resolve as one: exit 3)",
           (rc, err))
    rc, out, err = client(["--proxy", "-c", "3", "-i", "0.05", "-q",
                           "127.0.0.1", p.pport])
    tap.ok(rc == 0 and b"3 messages sent, 3 received, 0% loss" in out,
           "--proxy in ping mode: 3 of 3 back", (rc, out, err))
    rc, out, err = client(["--proxy", "127.0.0.1", e.port], b"plain\n")
    tap.ok(rc == 1 and "not a PROXY socket (it echoed the --proxy header)"
           in err, "--proxy to a plain echo socket: exit 1, the echoed "
           "header named as the likely cause", (rc, out, err))
    for args, what in ((["--proxy=v3"], "--proxy=v3"),
                       (["-u", "--proxy"], "-u with --proxy"),
                       (["-4", "--proxy-source", "[::1]:5"],
                        "-4 with an IPv6 --proxy-source"),
                       (["--proxy-source", "*:5"], "a wildcard source"),
                       (["--proxy-source", "192.0.2.1"], "a source without "
                        "port"),
                       (["--proxy-source", "192.0.2.1:5,192.0.2.2:5"],
                        "two sources")):
        rc, out, err = client(args + ["127.0.0.1", p.pport])
        tap.ok(rc == 2 and "echo-client --help" in err,
               "echo-client %s: usage error (exit 2)" % what, (rc, err))


def body():
    p = Proxied()
    test_forms(p)
    test_payload(p)
    test_split(p)
    test_malformed(p)
    test_client(p)
    tap.eq(p.e.stop(), 0, "exit 0")
    test_per_ip()
    test_journal()
    test_config()
    test_activation()


run_test(body)
