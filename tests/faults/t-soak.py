"""A bounded soak: normal traffic checked by hash, mixed with idle floods,
slow readers, resets mid-echo, connection floods, worker kills and
reloads.  Afterwards: every well-behaved byte came back, fds and memory
are back to their baseline, and no zombie was ever seen.

ECHOD_SOAK_SECONDS sets the length (default 60); e.g.
  ECHOD_SOAK_SECONDS=3600 make check TESTS=tests/faults/t-soak.py
"""

import os
import random
import signal
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import SANITIZED, Echod, Streamer, ZombieWatch, connect, \
    fd_count, recv_all, rss_kib, run_test, tap, wait_for

SECONDS = float(os.environ.get("ECHOD_SOAK_SECONDS", "60"))
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def good_client(port, rng):
    """A well-behaved client: random sizes, half-close, check by hash.
    Returns (start, end, "ok" | "cut" | "corrupt", detail)."""
    start = time.monotonic()
    data = os.urandom(rng.choice((1, 100, 5000, 200000, 2000000)))
    st = Streamer(port, "::1" if rng.random() < 0.5 else "127.0.0.1",
                  data=data, timeout=30)
    st.finish(30)
    if st.whole and st.nsent == len(data):
        verdict = "ok"
    elif st.error or st.cut or st.timed_out or st.ngot < len(data):
        verdict = "cut"
    else:
        verdict = "corrupt"
    detail = "%s: %d of %d bytes back after %.2f s%s" % (
        verdict, st.ngot, len(data), time.monotonic() - start,
        " (%r)" % st.error if st.error else "")
    return start, time.monotonic(), verdict, detail


def hostile_connect(port):
    """A hostile client's connection, from 127.0.0.2: the daemon may
    rightly refuse it (max_connections_per_ip), and the well-behaved
    clients, from 127.0.0.1 and ::1, must not pay for that."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        # The port is chosen at connect(), unique per 4-tuple: a plain
        # bind() to port 0 would take ports from every other client on
        # the machine (TIME_WAIT keeps them) and run them out.
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
    except BaseException:
        s.close()
        raise
    return s


def body():
    e = Echod({"server": {"workers": "3", "max_connections": "3000"},
               "connection": {"idle_timeout": "5s",
                              "max_connections_per_ip": "2500"}}).start()
    workers = e.wait_workers(3)
    time.sleep(0.2)     # let start-up allocations settle before baseline
    base_fds = sorted(fd_count(p) for p in workers)
    base_rss = rss_kib([e.pid] + workers)
    stop = threading.Event()
    results, kills, errors = [], [], []
    rng = random.Random(7)
    zw = ZombieWatch(e)

    def good_loop():
        r = random.Random(rng.random())
        while not stop.is_set():
            try:
                results.append(good_client(e.port, r))
            except Exception as ex:      # a good client must never fail
                errors.append(repr(ex))

    def hostile_loop():
        r = random.Random(rng.random())
        linger = struct.pack("ii", 1, 0)
        while not stop.is_set():
            kind = r.randrange(4)
            try:
                if kind == 0:       # idle flood: closed by idle_timeout
                    socks = [hostile_connect(e.port) for _ in range(200)]
                    stop.wait(0.5)
                    for s in socks:
                        s.close()
                elif kind == 1:     # slow readers, then vanish
                    s = hostile_connect(e.port)
                    s.setblocking(False)
                    try:
                        for _ in range(40):
                            s.send(b"r" * 65536)
                    except BlockingIOError:
                        pass
                    stop.wait(0.3)
                    s.close()
                elif kind == 2:     # reset mid-echo
                    s = hostile_connect(e.port)
                    s.sendall(os.urandom(300000))
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    s.close()
                else:               # flood past max_connections
                    socks = []
                    for _ in range(500):
                        socks.append(hostile_connect(e.port))
                    for s in socks:
                        s.close()
            except OSError:
                pass            # hostile clients may be refused

    def chaos_loop():
        r = random.Random(rng.random())
        while not stop.wait(r.uniform(3, 6)):
            if r.random() < 0.5:
                live = e.workers()
                if live:
                    kills.append(time.monotonic())
                    os.kill(r.choice(live), signal.SIGKILL)
            else:
                e.signal(signal.SIGHUP)

    threads = [threading.Thread(target=f) for f in
               (good_loop, good_loop, hostile_loop, hostile_loop,
                chaos_loop)]
    for t in threads:
        t.start()
    stop.wait(SECONDS)
    stop.set()
    for t in threads:
        t.join(60)

    # A good client may be cut only by a worker killed during its life.
    whole = sum(v == "ok" for _, _, v, _ in results)
    excused = [d for a, b, v, d in results if v == "cut" and
               any(a <= k <= b + 0.1 for k in kills)]
    unexplained = [d for a, b, v, d in results if v != "ok" and
                   d not in excused]
    tap.ok(not errors and whole > 0 and not unexplained,
           "%d well-behaved exchanges in a %.0f s soak: %d echoed whole "
           "(sha256), %d cut by one of %d worker kills, none corrupted"
           % (len(results), SECONDS, whole, len(excused), len(kills)),
           "\n".join(errors[:5] + unexplained[:5] + ([
               "echod said, about refusals and errors:"] + [
               l for l in e.log().splitlines() if any(
                   w in l for w in ("cannot", "refus", "closing new",
                                    "error", "reached"))][-10:]
               if unexplained or errors else [])))
    tap.eq(zw.finish(), [], "no zombie outlived 0.5 s: every dead worker "
           "was reaped")
    # Every connection ends (idle_timeout 5 s): counts go back to base.
    wait_for(lambda: sorted(fd_count(p) for p in e.wait_workers(3, 20))
             == base_fds, 20, "worker fd counts back to baseline")
    tap.ok(True, "fd count of each worker back to the baseline %s"
           % base_fds)
    rss = rss_kib([e.pid] + e.workers())
    if SANITIZED:
        tap.skip("RSS back to baseline", "AddressSanitizer's quarantine "
                 "keeps freed memory; LeakSanitizer checks leaks instead")
    else:
        tap.ok(rss < base_rss + 8 * 1024, "RSS back to baseline: %d KiB "
               "after, %d KiB before" % (rss, base_rss))
    s = connect(e.port)
    s.sendall(b"end")
    s.shutdown(socket.SHUT_WR)
    tap.eq(recv_all(s), b"end", "still serving")
    s.close()
    tap.eq(e.stop(), 0, "clean stop")


run_test(body)
