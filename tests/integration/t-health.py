"""/health of a real echod through its life: 200 "ok" while it serves;
on SIGTERM with drain_delay, 503 "draining" at once while new connections
are still echoed, then "stopping" once the listeners are closed, then the
exit, with the SIGKILL deadline counted from the end of the delay; a
second SIGTERM cuts the delay short; with drain_delay = 0 the stop is as
before; 503 "no-workers" while a crashing worker's respawn is backed
off."""

import os
import sys
import signal
import socket
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, connect, free_port, recv_exact, run_test, \
    tap, wait_for
from metricstest import health, metrics_echod_config, \
    parse_metrics, scrape, value


class Pinger:
    """A client echoing a byte every 20 ms until echod ends it."""

    def __init__(self, port):
        self.s = connect(port, timeout=10)
        self.n = 0
        self.end = None         # "eof" or the exception
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            while True:
                self.s.sendall(b"p")
                d = self.s.recv(1)
                if not d:
                    self.end = "eof"
                    return
                self.n += 1
                time.sleep(0.02)
        except OSError as e:
            self.end = e


def echoes(port):
    try:
        s = connect(port, timeout=2)
        s.sendall(b"ping")
        ok = recv_exact(s, 4) == b"ping"
        s.close()
        return ok
    except OSError:
        return False


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_drain_delay():
    mport = free_port()
    e = Echod(dict(metrics_echod_config(mport),
                   server={"workers": "2", "drain_delay": "2s",
                           "shutdown_timeout": "1500ms",
                           "drain_idle": "0"})).start()
    n = e.notify
    tap.eq(health(mport), (200, "ok"), "serving: /health 200 ok")
    p = Pinger(e.port)
    wait_for(lambda: p.n > 3, 5, "the pinger")
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    st = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(
        health(mport)), 2, "a 503")
    t_503 = time.monotonic() - t0
    tap.ok(st == (503, "draining") and t_503 < 0.5,
           "SIGTERM with drain_delay = 2s: /health is 503 draining at once "
           "(%.0f ms)" % (t_503 * 1000), st)
    n.wait(lambda m: "STOPPING=1" in m, what="STOPPING=1")
    tap.ok(True, "STOPPING=1 at once")
    served = 0
    while time.monotonic() - t0 < 1.5:
        served += echoes(e.port)
    tap.ok(served >= 5 and health(mport) == (503, "draining"),
           "while draining, new connections are still echoed (%d in 1.5 s) "
           "and /health stays 503 draining" % served)
    wait_for(lambda: refused(e.port), 3, "the listeners to close")
    t_closed = time.monotonic() - t0
    tap.ok(1.9 < t_closed < 3.0, "the listeners close when drain_delay is "
           "over (%.2f s after SIGTERM)" % t_closed)
    tap.eq(health(mport), (503, "stopping"),
           "then /health is 503 stopping while connections drain")
    tap.ok(p.end is None, "the open connection is still served")
    rc = e.wait_exit(10)
    t_exit = time.monotonic() - t0
    p.t.join(5)
    tap.eq(rc, 0, "echod exits 0 (%.2f s after SIGTERM)" % t_exit)
    tap.ok(p.end == "eof" and "killing them" not in e.log(),
           "the busy connection was ended gracefully at shutdown_timeout "
           "after the delay, not SIGKILLed: the master's deadline counts "
           "drain_delay", (p.end, e.log()[-2000:]))


def test_second_signal():
    mport = free_port()
    e = Echod(dict(metrics_echod_config(mport),
                   server={"workers": "1", "drain_delay": "60s"})).start()
    e.signal(signal.SIGTERM)
    wait_for(lambda: health(mport) == (503, "draining"), 2, "draining")
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    rc = e.wait_exit(5)
    tap.ok(rc == 0 and time.monotonic() - t0 < 2,
           "a second SIGTERM cuts drain_delay short: exit 0 in %.0f ms"
           % ((time.monotonic() - t0) * 1000))


def test_no_delay():
    mport = free_port()
    e = Echod(dict(metrics_echod_config(mport),
                   server={"workers": "1", "shutdown_timeout": "2s",
                           "drain_idle": "0"})).start()
    p = Pinger(e.port)
    wait_for(lambda: p.n > 3, 5, "the pinger")
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    wait_for(lambda: refused(e.port), 2, "the listeners to close")
    t = time.monotonic() - t0
    tap.ok(t < 0.5, "drain_delay = 0: the listeners close at once as "
           "before (%.0f ms)" % (t * 1000))
    tap.eq(health(mport), (503, "stopping"), "/health is 503 stopping")
    tap.eq(e.wait_exit(10), 0, "exit 0")


def test_no_workers():
    mport = free_port()
    e = Echod(dict(metrics_echod_config(mport),
                   server={"workers": "1"})).start()
    # The fifth death in a row of a young worker backs its respawn off
    # by 1 s: nobody accepts meanwhile.
    pid = e.wait_workers(1)[0]
    for i in range(4):
        os.kill(pid, signal.SIGKILL)
        pid = wait_for(lambda: (lambda w: w[0] if w and w[0] != pid
                                else None)(e.wait_workers(1)), 5,
                       "respawn %d" % (i + 1))
    tap.eq(health(mport), (200, "ok"), "workers respawned at once: 200 ok")
    os.kill(pid, signal.SIGKILL)
    st = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(
        health(mport)), 2, "a 503")
    m = parse_metrics(scrape(mport))
    tap.ok(st == (503, "no-workers") and
           value(m, "echod_workers", 'state="respawn_pending"') == 1,
           "a respawn backed off: /health 503 no-workers, "
           "echod_workers{state=\"respawn_pending\"} 1", st)
    wait_for(lambda: health(mport) == (200, "ok"), 5, "the respawn")
    tap.ok(True, "the worker is back: 200 ok")
    tap.eq(e.stop(), 0, "exit 0")


def body():
    test_drain_delay()
    test_second_signal()
    test_no_delay()
    test_no_workers()


run_test(body)
