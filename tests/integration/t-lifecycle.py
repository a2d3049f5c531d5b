"""Lifecycle on a real echod: sd_notify messages on a real notify socket,
SIGTERM draining clients mid-stream without losing a byte, a fast stop
when nothing is in flight, a bounded stop with a client that never
stops, and workers that leave when the master is killed."""

import os
import signal
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, Streamer, connect, pid_alive, recv_all, \
    recv_exact, run_test, tap, wait_for


def body():
    # sd_notify: READY, STATUS, RELOADING + MONOTONIC_USEC, WATCHDOG,
    # STOPPING, on the real notify socket the harness gives echod.
    e = Echod({"server": {"workers": "2"}})
    e.start(env={"WATCHDOG_USEC": "200000"})
    n = e.notify
    ready = e.wait_ready()
    tap.ok("STATUS=2 workers, 0 connections" in ready,
           "READY=1 once workers serve, with a STATUS line", ready)
    wait_for(lambda: sum("WATCHDOG=1" in m for m in n.msgs) >= 3, 3,
             "watchdog pings")
    tap.ok(True, "WATCHDOG=1 pings at half of WATCHDOG_USEC")
    held = [connect(e.port) for _ in range(3)]
    for c in held:
        c.sendall(b"x")
        recv_exact(c, 1)
    n.wait(lambda m: "STATUS=2 workers, 3 connections" in m,
           what="STATUS with the connection count")
    tap.ok(True, "STATUS follows the number of open connections")
    e.signal(signal.SIGHUP)
    rel = n.wait(lambda m: "RELOADING=1" in m, what="RELOADING=1")
    tap.ok("MONOTONIC_USEC=" in rel, "RELOADING=1 with MONOTONIC_USEC", rel)
    e.wait_ready(5, since=n.msgs.index(rel))
    tap.ok(True, "READY=1 again after the reload")
    for c in held:
        c.close()
    e.signal(signal.SIGTERM)
    n.wait(lambda m: "STOPPING=1" in m, what="STOPPING=1")
    tap.ok(True, "STOPPING=1 on SIGTERM")
    tap.eq(e.wait_exit(), 0, "exit 0")

    # SIGTERM while clients are mid-stream: every byte comes back.
    e = Echod({"server": {"workers": "2", "shutdown_timeout": "10s"}})
    e.start()
    streams = [Streamer(e.port, chunk=8192) for _ in range(6)]
    wait_for(lambda: all(s.ngot > 512 * 1024 for s in streams), 20,
             "streams flowing")
    idle = [connect(e.port) for _ in range(20)]
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    e.wait_log(r"stopping: draining")
    results = [s.finish(20) for s in streams]
    tap.ok(all(results), "SIGTERM mid-stream: all 6 clients get every "
           "byte back (%s)" % ", ".join("%d MB" % (s.nsent >> 20)
                                        for s in streams),
           "\n".join(s.describe() for s in streams))
    closed = 0
    for c in idle:
        c.settimeout(5)
        closed += recv_all(c) == b""
        c.close()
    tap.eq(closed, len(idle), "idle connections are closed on SIGTERM")
    tap.eq(e.wait_exit(), 0, "echod exits 0 after the drain")
    tap.ok(time.monotonic() - t0 < 9, "the drain ended when the clients "
           "did, not at shutdown_timeout")
    tap.ok("killing them" not in e.log(), "no worker needed SIGKILL")

    # Nothing in flight: the stop takes milliseconds, not the timeout.
    e = Echod({"server": {"workers": "2", "shutdown_timeout": "10s"}})
    e.start()
    idle = [connect(e.port) for _ in range(50)]
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    rc = e.wait_exit()
    took = time.monotonic() - t0
    tap.ok(rc == 0 and took < 2.0, "with 50 idle connections, SIGTERM "
           "to exit took %.0f ms (shutdown_timeout is 10 s)" % (took * 1000))
    for c in idle:
        c.close()

    # A client that never stops: echod is gone by shutdown_timeout + 1 s.
    e = Echod({"server": {"workers": "2", "shutdown_timeout": "1s"}})
    e.start()
    s = Streamer(e.port, chunk=8192)
    wait_for(lambda: s.ngot > 256 * 1024, 10, "stream flowing")
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    rc = e.wait_exit(10)
    took = time.monotonic() - t0
    tap.ok(rc == 0 and took < 2.0, "a never-ending client does not hold "
           "echod past shutdown_timeout + 1 s (took %.2f s, exit %d)"
           % (took, rc))
    s.finish(5)

    # The master dies: every worker notices and leaves, the port is free.
    e = Echod({"server": {"workers": "3"}}).start()
    workers = e.wait_workers(3)
    c = connect(e.port)
    os.kill(e.pid, signal.SIGKILL)
    e.wait_exit(5)
    t0 = time.monotonic()
    wait_for(lambda: not any(pid_alive(w) for w in workers), 3,
             "workers to exit after the master died")
    took = time.monotonic() - t0
    tap.ok(took < 1.0, "master SIGKILLed: all workers exit within a "
           "second (%.0f ms)" % (took * 1000))
    try:
        connect(e.port).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    tap.ok(refused, "no orphan keeps the port")
    c.close()


run_test(body)
