"""echo-client -u (UDP) against a real echod and against misbehaving UDP
peers on loopback: one-shot datagrams from standard input (0 to 65507
bytes, more refused), ping mode with sequence numbers, and each way a
datagram can fail (lost, late, duplicated, corrupted, port unreachable,
no answer at all) reported like ping(8), with the documented exit
codes."""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
_here = os.path.dirname(os.path.abspath(__file__))
for _d in ("../lib", "../integration"):
    sys.path.insert(0, os.path.normpath(os.path.join(_here, _d)))

from echodtest import ECHOD, Echod, run_test, spawn, tap, tmpdir, \
    wait_for  # noqa: E402
import udptest  # noqa: E402

CLIENT = os.environ.get("ECHO_CLIENT") or os.path.join(
    os.path.dirname(os.path.abspath(ECHOD)), "..", "client", "echo-client")

EXIT = {"ok": 0, "failure": 1, "usage": 2, "resolve": 3, "refused": 4,
        "unreachable": 5, "timeout": 6}

signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def run(args, data=b"", timeout=30.0):
    """echo-client to completion on 'data': (exit code, out, err)."""
    p = subprocess.run([CLIENT] + [str(a) for a in args], input=data,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


class Peer:
    """A UDP server on 127.0.0.1 whose answers 'behave(n, data)' decides:
    a list of (delay in s, payload) per datagram n (from 1)."""

    def __init__(self, behave):
        self.behave = behave
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.n = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        timers = []
        while not self.stop.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                continue
            data, addr = self.sock.recvfrom(1 << 17)
            self.n += 1
            for delay, out in self.behave(self.n, data):
                if delay == 0:
                    self.sock.sendto(out, addr)
                else:
                    t = threading.Timer(delay, self.sock.sendto, (out, addr))
                    t.start()
                    timers.append(t)
        for t in timers:
            t.cancel()

    def close(self):
        self.stop.set()
        self.t.join()
        self.sock.close()


def test_once(e):
    for n in (0, 1, 1400, 9000, udptest.MAX4):
        data = udptest.payload(n, 3)
        rc, out, err = run(["-u", "127.0.0.1", e.port], data)
        tap.ok(rc == 0 and out == data and re.search(
            r"%d bytes echoed by 127\.0\.0\.1:%d \(UDP\) in [0-9.]+ ms"
            % (n, e.port), err), "one-shot: %d bytes from stdin come back "
            "whole, exit 0" % n, "rc %d, %d bytes out; %s" % (rc, len(out),
                                                              err))
    data = udptest.payload(udptest.MAX6, 4)
    rc, out, err = run(["-u", "-6", "localhost", e.port], data)
    if "cannot resolve" in err:
        rc, out, err = run(["-u", "::1", e.port], data)
    tap.ok(rc == 0 and out == data, "one-shot over IPv6: 65527 bytes",
           err)
    rc, out, err = run(["-u", "127.0.0.1", e.port],
                       b"x" * (udptest.MAX4 + 1))
    tap.ok(rc == EXIT["failure"] and out == b"" and "standard input holds "
           "more than 65507 bytes" in err, "one-shot: 65508 bytes over "
           "IPv4 are refused before sending, exit 1", err)
    rc, out, err = run(["-u", "-q", "127.0.0.1", e.port], b"quiet\n")
    tap.ok(rc == 0 and out == b"quiet\n" and err == "",
           "-q: only the echo", err)


def test_once_failures():
    free = udptest.free_port()
    rc, out, err = run(["-u", "127.0.0.1", free], b"anyone?")
    tap.ok(rc == EXIT["refused"] and "127.0.0.1:%d: port unreachable "
           "(nothing listens there)" % free in err,
           "one-shot to a port nobody listens on: exit 4", err)
    silent = Peer(lambda n, d: [])
    rc, out, err = run(["-u", "-t", "300ms", "127.0.0.1", silent.port],
                       b"hello")
    tap.ok(rc == EXIT["timeout"] and "no reply from 127.0.0.1:%d within "
           "300ms" % silent.port in err, "one-shot to a silent peer: "
           "exit 6 after -t", err)
    silent.close()
    liar = Peer(lambda n, d: [(0, d[::-1])])
    rc, out, err = run(["-u", "127.0.0.1", liar.port], b"hello")
    tap.ok(rc == EXIT["failure"] and out == b"olleh" and "differs from "
           "what was sent" in err, "one-shot, a different answer: written "
           "out, reported, exit 1", err)
    liar.close()
    rc, out, err = run(["-u", "-k", "127.0.0.1", "7"])
    tap.ok(rc == EXIT["usage"] and "-k (TCP keepalive) and -u" in err,
           "-u with -k: usage error", err)
    rc, out, err = run(["-u", "-s", "65528", "127.0.0.1", "7"])
    tap.ok(rc == EXIT["usage"] and "at most 65527" in err,
           "-u -s 65528: usage error", err)
    rc, out, err = run(["-u", "-s", "65508", "127.0.0.1", "7"])
    tap.ok(rc == EXIT["usage"] and "carries at most 65507 bytes" in err,
           "-u -s 65508 to an IPv4 address: usage error", err)


def test_ping(e):
    rc, out, err = run(["-u", "-c", "3", "-i", "50ms", "127.0.0.1", e.port])
    out = out.decode()
    tap.ok(rc == 0 and out.startswith("ECHO 127.0.0.1 (127.0.0.1:%d): 64 "
                                      "bytes per datagram, UDP\n" % e.port)
           and len(re.findall(r"^64 bytes from 127\.0\.0\.1:%d: seq=[123] "
                              r"time=[0-9.]+ ms$" % e.port, out, re.M)) == 3
           and "3 datagrams sent, 3 received, 0% loss" in out and
           re.search(r"^rtt min/avg/max/stddev = [0-9.]+/", out, re.M),
           "ping mode: 3 numbered datagrams, each line and the summary as "
           "ping(8) prints them, exit 0", out + err)
    rc, out, err = run(["-u", "-c", "2", "-i", "10ms", "-s", "65527",
                        "::1", e.port])
    tap.ok(rc == 0 and b"2 datagrams sent, 2 received" in out,
           "ping over IPv6 with 65527-byte datagrams", out + err.encode())
    rc, out, err = run(["-u", "-c", "20", "-i", "0", "-s", "8", "127.0.0.1",
                        e.port])
    tap.ok(rc == 0 and b"20 datagrams sent, 20 received" in out,
           "-i 0 with datagrams too small to carry their number: matched "
           "by content, one at a time", out + err.encode())
    # Endless, then Ctrl-C: the summary, as ping(8).
    d = tmpdir()
    with open(os.path.join(d, "out"), "wb") as f:
        p = spawn([CLIENT, "-u", "-i", "20ms", "127.0.0.1", str(e.port)],
                  stdout=f, stderr=subprocess.DEVNULL)
    wait_for(lambda: open(os.path.join(d, "out"), "rb").read().count(
        b"seq=") >= 5, 10, "five answers")
    p.send_signal(signal.SIGINT)
    rc = p.wait(10)
    out = open(os.path.join(d, "out"), "rb").read().decode()
    m = re.search(r"(\d+) datagrams sent, (\d+) received, 0% loss", out)
    tap.ok(rc == 0 and m and m.group(1) == m.group(2),
           "SIGINT: the summary, what was still on its way not counted "
           "lost, exit 0", out[-300:])


def test_ping_failures():
    free = udptest.free_port()
    rc, out, err = run(["-u", "-c", "2", "-i", "50ms", "-t", "300ms",
                        "127.0.0.1", free])
    out = out.decode()
    tap.ok(rc == EXIT["refused"] and "port unreachable (nothing listens "
           "there)" in out and "2 datagrams sent, 0 received, 100% loss"
           in out, "ping to a closed port: port unreachable, exit 4", out)

    silent = Peer(lambda n, d: [])
    rc, out, err = run(["-u", "-c", "2", "-i", "50ms", "-t", "300ms",
                        "127.0.0.1", silent.port])
    out = out.decode()
    tap.ok(rc == EXIT["timeout"] and "seq=1: no reply within 300ms" in out
           and "seq=2: no reply within 300ms" in out and
           "0 received, 100% loss" in out, "ping to a silent peer: each "
           "datagram lost after -t, exit 6", out)
    silent.close()

    # Every other one dropped, the third answered twice, the fifth
    # corrupted, the sixth answered late.
    def odd(n, d):
        if n == 2:
            return []
        if n == 3:
            return [(0, d), (0, d)]
        if n == 5:
            return [(0, d[:-1] + b"?")]
        if n == 6:
            return [(0.4, d)]
        return [(0, d)]
    peer = Peer(odd)
    # The late answer comes while later datagrams are still going out.
    rc, out, err = run(["-u", "-c", "20", "-i", "30ms", "-t", "300ms",
                        "127.0.0.1", peer.port])
    out = out.decode()
    checks = [
        ("seq=2: no reply within 300ms", "a lost one"),
        ("seq=3 time=", "the third"),
        ("(DUP!)", "its duplicate, marked (DUP!)"),
        ("seq=5: reply differs from what was sent (64 bytes back, from "
         "byte 63 on)", "a corrupted one"),
        ("seq=6: no reply within 300ms", "a late one, lost first"),
        ("seq=6: late reply after", "... then reported late"),
        ("20 datagrams sent, 17 received, +1 duplicates, 1 corrupted, 15% "
         "loss", "the summary"),
    ]
    for text, what in checks:
        tap.ok(text in out, "lossy peer: %s" % what, out)
    tap.eq(rc, EXIT["failure"], "lossy peer: exit 1")
    peer.close()


def body():
    port = udptest.free_port()
    e = Echod({"server": {"listen": "127.0.0.1:%d" % port},
               "udp": {"listen": "127.0.0.1:%d, [::1]:%d" % (port, port),
                       "rate_limit": "0"}}, port=port).start()
    test_once(e)
    test_ping(e)
    e.stop()
    test_once_failures()
    test_ping_failures()


run_test(body)
