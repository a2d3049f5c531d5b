"""Hostile clients: idle floods and slowloris, slow readers (memory must
stay bounded), connection floods over max_connections, and one source
address trying to take the whole service (max_connections_per_ip)."""

import os
import re
import resource
import selectors
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import SANITIZED, Echod, connect, recv_all, recv_exact, \
    rss_kib, \
    run_test, socket_owners, tap, wait_for


def rtt(port):
    t0 = time.monotonic()
    s = connect(port, timeout=5)
    s.sendall(b"ping")
    ok = recv_exact(s, 4) == b"ping"
    s.close()
    return ok, time.monotonic() - t0


def connect_from(src, port):
    s = socket.socket()
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def served(s):
    try:
        s.sendall(b"?")
        return s.recv(1) == b"?"
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return False


def body():
    # Slowloris: 1500 silent connections and 100 that send a byte every
    # 2 s, against idle_timeout = 1 s; a normal client is served throughout.
    e = Echod({"server": {"workers": "2"},
               "connection": {"idle_timeout": "1s"}}).start()
    silent = [connect(e.port) for _ in range(1500)]
    trickle = [connect(e.port) for _ in range(100)]
    t0 = time.monotonic()
    worst = 0
    all_ok = True
    while time.monotonic() - t0 < 2.5:
        ok, took = rtt(e.port)
        all_ok &= ok
        worst = max(worst, took)
        if time.monotonic() - t0 > 2.0:
            for s in trickle:
                try:
                    s.send(b".")
                except OSError:
                    pass
        time.sleep(0.05)    # pacing the well-behaved client
    tap.ok(all_ok and worst < 1.0, "a normal client is served throughout "
           "(slowest round trip %.0f ms)" % (worst * 1000))
    closed = 0
    for s in silent + trickle:
        s.settimeout(3)
        try:
            closed += s.recv(1) == b""
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
    tap.eq(closed, 1600, "all 1500 silent and 100 one-byte-per-2s "
           "connections were closed by idle_timeout")
    e.stop()

    # Slow readers: they send and never read.  Memory stays bounded by
    # max_connections x buffer_size plus a fixed overhead.
    e = Echod({"server": {"workers": "2", "max_connections": "101"},
               "connection": {"buffer_size": "64k"}}).start()
    pids = [e.pid] + e.wait_workers(2)
    base = rss_kib(pids)
    readers = []
    for _ in range(100):
        s = connect(e.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        readers.append(s)
    chunk = os.urandom(65536)
    blocked = set()
    deadline = time.monotonic() + 30
    while len(blocked) < len(readers) and time.monotonic() < deadline:
        for s in readers:
            if s in blocked:
                continue
            try:
                s.send(chunk)
            except BlockingIOError:
                blocked.add(s)
    grown = rss_kib(pids) - base
    bound = 100 * 64 + 4 * 1024
    tap.ok(len(blocked) == 100, "100 slow readers are all held back by "
           "back-pressure")
    if SANITIZED:
        tap.skip("memory bounded for slow readers", "AddressSanitizer "
                 "adds redzones and a quarantine to every allocation")
    else:
        tap.ok(grown < bound, "echod grew by %d KiB for them; bound: 100 x "
               "64 KiB buffers + 4 MiB = %d KiB" % (grown, bound))
    ok, took = rtt(e.port)
    tap.ok(ok and took < 1.0, "others are unaffected (%.0f ms round trip)"
           % (took * 1000))
    for s in readers:
        s.close()
    e.stop()

    # A flood over max_connections: the excess is refused at once,
    # logged once per burst, and the held connections are unaffected.
    e = Echod({"server": {"workers": "2", "max_connections": "200"}})
    e.start()
    held = [connect(e.port) for _ in range(200)]
    for s in held:
        s.sendall(b"h")
        recv_exact(s, 1)
    t0 = time.monotonic()
    flood = [connect(e.port) for _ in range(400)]
    refused = 0
    for s in flood:
        s.settimeout(3)
        try:
            refused += s.recv(1) == b""
        except ConnectionResetError:
            refused += 1
        except socket.timeout:
            pass
        s.close()
    took = time.monotonic() - t0
    tap.eq(refused, 400, "400 connections over max_connections = 200 are "
           "all closed at once (%.2f s for all)" % took)
    n = e.count_log(r"max_connections: connection limit reached")
    tap.ok(1 <= n <= 2, "logged once per burst (per worker): %d lines" % n)
    tap.ok(all(served(s) for s in held), "the 200 held connections still "
           "echo")
    for s in held:
        s.close()
    e.stop()

    # One source may hold at most max_connections_per_ip, across workers.
    e = Echod({"server": {"workers": "3"},
               "connection": {"max_connections_per_ip": "5"}}).start()
    workers = e.wait_workers(3)
    # One at a time, so the count is exact (see below).
    mine, ok2 = [], []
    for _ in range(20):
        s = connect_from("127.0.0.2", e.port)
        mine.append(s)
        if served(s):
            ok2.append(s)
    tap.eq(len(ok2), 5, "127.0.0.2 gets 5 of its 20 connections")
    n = e.count_log(r"max_connections_per_ip: 5 connections from one "
                    r"address \(127\.0\.0\.2:\d+\)")
    tap.ok(1 <= n <= 3, "the refusals are logged once per burst (per "
           "worker: %d lines), naming the address" % n)
    other = [connect_from("127.0.0.3", e.port) for _ in range(5)]
    tap.ok(all(served(s) for s in other), "another address is served "
           "meanwhile")
    tap.ok(rtt(e.port)[0], "and so is ::1 / 127.0.0.1")
    # Across workers: stop one worker that holds some of the 5; the
    # others must refuse 127.0.0.2 from the counts that worker published.
    holders = socket_owners(workers, e.port, ok2)
    frozen = holders[ok2[0]]
    os.kill(frozen, signal.SIGSTOP)
    probe = [connect_from("127.0.0.2", e.port) for _ in range(4)]
    tap.ok(not any(served(s) for s in probe), "with a holder stopped, the "
           "other workers refuse 127.0.0.2 too: the limit holds across "
           "workers")
    os.kill(frozen, signal.SIGCONT)
    for s in mine + probe:
        s.close()

    def admitted():
        s = connect_from("127.0.0.2", e.port)
        if served(s):
            return s
        s.close()
    again = [wait_for(admitted, 5, "127.0.0.2 admitted again")]
    for _ in range(4):
        again.append(wait_for(admitted, 5, "127.0.0.2 admitted again"))
    tap.ok(True, "closed connections free their places")
    # A worker holding some of them dies: its counts must go with it.
    owners = socket_owners(workers, e.port, again)
    victim = next(p for p in owners.values() if p)
    lost = sum(1 for p in owners.values() if p == victim)
    os.kill(victim, signal.SIGKILL)
    e.wait_log(r"\(pid %d\) was killed by signal 9" % victim)
    e.wait_workers(3)
    # One at a time: workers racing for the last place may both refuse
    # it (never both admit), which would make a count of a burst fuzzy.
    fresh, admitted = [], 0
    for _ in range(lost + 3):
        s = connect_from("127.0.0.2", e.port)
        admitted += served(s)
        fresh.append(s)
    tap.eq(admitted, lost, "after a worker crash its %d places are free "
           "again, and no more" % lost)
    for s in again + fresh + other:
        s.close()
    e.stop()

    many_sources()
    tables_cannot_grow()


def many_sources():
    """More distinct sources than a worker's table used to hold (16,384),
    all on one worker: each is admitted, and the limit still holds."""
    n = 17000
    e = Echod({"server": {"workers": "1", "max_connections": "20000",
                          "backlog": "4096"},
               "connection": {"max_connections_per_ip": "1"}}).start()
    srcs = ["127.1.%d.%d" % (i // 250, 1 + i % 250) for i in range(n)]
    socks = []
    try:
        for src in srcs:
            socks.append(connect_from(src, e.port))
        for s in socks:
            s.sendall(b"x")
        sel = selectors.DefaultSelector()
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        echoed = refused = 0
        deadline = time.monotonic() + 60
        while echoed + refused < n and time.monotonic() < deadline:
            for key, _ in sel.select(1):
                try:
                    d = key.fileobj.recv(1)
                except ConnectionResetError:
                    d = b""
                echoed += d == b"x"
                refused += d == b""
                sel.unregister(key.fileobj)
        sel.close()
        tap.ok(echoed == n, "%d connections from %d distinct sources to "
               "one worker, max_connections_per_ip = 1: all served "
               "(%d refused)" % (n, n, refused))
        tap.eq(e.count_log(r"max_connections_per_ip|accept failed"), 0,
               "nothing refused or failed is logged")
        again = connect_from(srcs[-1], e.port)
        socks.append(again)
        tap.ok(not served(again), "a second connection from %s is still "
               "refused" % srcs[-1])
        n_log = e.count_log(r"max_connections_per_ip: 1 connections from "
                            r"one address \(%s:\d+\)"
                            % re.escape(srcs[-1]))
        tap.eq(n_log, 1, "and logged as over the limit, naming it")
    finally:
        for s in socks:
            s.close()
    e.stop()


def tables_cannot_grow():
    """Per-source tables that cannot grow (a file size limit here): echod
    refuses to start, and a reload that needs bigger ones is refused while
    the running workers go on serving."""
    def small_files():
        lim = 4 << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))

    big = {"server": {"workers": "2", "max_connections": "1000000"},
           "connection": {"max_connections_per_ip": "1"}}
    e = Echod(big).start(wait_ready=False, preexec_fn=small_files)
    tap.eq(e.wait_exit(), 1, "tables for max_connections = 1000000 over "
           "a 4 MiB file size limit: echod exits 1")
    tap.ok(re.search(r"cannot start the workers: per-source tables would "
                     r"take \d+ bytes, over the file size limit "
                     r"\(RLIMIT_FSIZE\)", e.log()), "saying why",
           e.log()[-2000:])

    e = Echod({"server": {"workers": "2", "max_connections": "1000"},
               "connection": {"max_connections_per_ip": "1"}})
    e.start(preexec_fn=small_files)
    workers = e.wait_workers(2)
    held = connect_from("127.0.0.5", e.port)
    e.write_config(big)
    e.signal(signal.SIGHUP)
    e.wait_log(r"reload failed: per-source tables would take .* "
               r"\(RLIMIT_FSIZE\)")
    e.wait_log(r"keeping the running configuration")
    tap.ok(sorted(e.workers()) == sorted(workers) and served(held),
           "a reload needing tables too big is refused; the workers and "
           "their connections go on")
    fresh = connect_from("127.0.0.6", e.port)
    tap.ok(served(fresh), "and new clients are served")
    held.close()
    fresh.close()
    e.stop()


run_test(body)
