"""echod under valgrind (memcheck), master and workers: start, echo,
half-close, a reset, UDP datagrams, scrapes and bad requests on the
metrics endpoint, PROXY headers good, bad and cut short, a reload, a
live upgrade (SIGUSR2: the program execs itself, the check and the new
master under valgrind too), a worker crash, a stop with a metrics client
still connected.  No invalid access, no uninitialised use, no definite
leak, in any process."""

import glob
import os
import shutil
import signal
import socket
import struct
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import SANITIZED, Echod, connect, echo_stream, free_port, \
    recv_exact, run_test, sha256, tap
from metricstest import http, metrics_echod_config

VALGRIND = shutil.which("valgrind")


def body():
    if VALGRIND is None:
        tap.skip_all("valgrind is not installed")
    if SANITIZED:
        tap.skip_all("this echod is built with AddressSanitizer, which "
                     "cannot run under valgrind")
    mport = free_port()
    e = Echod(dict(metrics_echod_config(mport), server={"workers": "2"},
                   log={"connections": "yes"}))
    # UDP on the TCP port too; a low rate limit, so that drops happen.
    pport = free_port()
    e.write_config(dict(metrics_echod_config(mport),
                        server={"workers": "2"}, log={"connections": "yes"},
                        udp={"listen": "127.0.0.1:%d, [::1]:%d"
                             % (e.port, e.port), "rate_limit": "20",
                             "rate_burst": "5"},
                        proxy={"listen": "127.0.0.1:%d" % pport,
                               "trusted": "127.0.0.1"}))
    vg = os.path.join(e.dir, "vg.%p")
    e.start(argv_prefix=[VALGRIND, "-q", "--trace-children=yes",
                         "--leak-check=full",
                         "--errors-for-leak-kinds=definite",
                         "--log-file=" + vg])
    data = os.urandom(1 << 20)
    digest, n = echo_stream(e.port, data)
    tap.ok(digest == sha256(data), "1 MB echoed under valgrind")
    # UDP: answered, then over the rate limit.
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.settimeout(30)
    u.sendto(b"udp under valgrind", ("::1", e.port))
    tap.eq(u.recv(100), b"udp under valgrind", "a datagram echoed under "
           "valgrind")
    for i in range(20):
        u.sendto(b"%d" % i, ("::1", e.port))
    u.close()
    s = connect(e.port)
    s.sendall(os.urandom(100000))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    st = [http(mport, timeout=30)[0], http(mport, "/health", "HEAD",
                                           timeout=30)[0],
          http(mport, raw=b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\n\r\n",
               timeout=30)[0], http(mport, "/x", timeout=30)[0]]
    tap.eq(st, [200, 200, 414, 404], "metrics answers under valgrind")
    # PROXY: a v1 header and a v2 LOCAL one with payload behind them, a
    # malformed header, one cut short by a FIN, an untrusted peer.
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    got = []
    for header in (b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 7\r\n",
                   sig + b"\x20\x00\x00\x00"):
        s = connect(pport, timeout=30)
        s.sendall(header + b"proxied")
        got.append(recv_exact(s, 7))
        s.close()
    for data, source in ((b"PROXY TCP4 192.0.2.01 x\r\n", None),
                         (b"PROXY TCP4 192", None), (b"", "127.0.0.2")):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(30)
        if source:
            s.bind((source, 0))
        s.connect(("127.0.0.1", pport))
        if data:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        try:
            got.append(s.recv(10))
        except ConnectionResetError:
            got.append(b"")
        s.close()
    tap.eq(got, [b"proxied"] * 2 + [b""] * 3, "PROXY headers under "
           "valgrind: two served, a bad one, a cut one and an untrusted "
           "peer closed")
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded")
    kept = connect(e.port, timeout=30)
    kept.sendall(b"across")
    tap.eq(recv_exact(kept, 6), b"across", "a connection before the upgrade")
    e.signal(signal.SIGUSR2)
    e.wait_log(r"upgraded from echod", timeout=60)
    kept.sendall(b"the upgrade")
    tap.eq(recv_exact(kept, 11), b"the upgrade", "still echoes after a live "
           "upgrade under valgrind")
    kept.close()
    w = e.wait_workers(2, timeout=30)
    os.kill(w[0], signal.SIGKILL)
    e.wait_log(r"was killed by signal 9")
    e.wait_workers(2, timeout=30)
    s = connect(e.port, timeout=30)
    s.sendall(b"bye")
    tap.eq(recv_exact(s, 3), b"bye", "served after reload and a crash")
    s.close()
    half = connect(mport, timeout=30)
    half.sendall(b"GET /metr")
    tap.eq(e.stop(60), 0, "clean stop under valgrind (a metrics request "
           "half sent)")
    half.close()
    reports = {}
    for path in glob.glob(os.path.join(e.dir, "vg.*")):
        with open(path) as f:
            text = f.read()
        if text.strip():
            reports[os.path.basename(path)] = text
    # The SIGKILLed worker writes no summary; every other one ran clean.
    tap.ok(not reports, "valgrind found no errors or definite leaks in "
           "any echod process (%d logs)" % len(glob.glob(
               os.path.join(e.dir, "vg.*"))),
           "\n".join("%s:\n%s" % kv for kv in list(reports.items())[:3]))


run_test(body)
