"""Accept under fire: connections reset before echod accepts them, errors
injected into accept4 with strace (ECONNABORTED, EINTR, EMFILE, ENFILE,
ENOBUFS), and real descriptor exhaustion under a low RLIMIT_NOFILE."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import ECHOD, Echod, connect, cpu_seconds, recv_exact, \
    run_test, spawn, tap, wait_for

STRACE = shutil.which("strace")


def served(port, data=b"hi", timeout=5):
    s = connect(port, timeout=timeout)
    s.sendall(data)
    try:
        return recv_exact(s, len(data)) == data
    except socket.timeout:
        return False
    finally:
        s.close()


def warnings(e):
    return [l for l in e.log().splitlines()
            if " warning " in l or " err " in l or " crit " in l]


def body():
    e = Echod({"server": {"workers": "1", "backlog": "1024"}}).start()
    worker = e.wait_workers(1)[0]

    # A burst of clients that complete the handshake and reset before
    # echod accepts: the worker is stopped while they come and go.
    os.kill(worker, signal.SIGSTOP)
    linger = struct.pack("ii", 1, 0)
    for _ in range(300):
        s = connect(e.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.close()
    os.kill(worker, signal.SIGCONT)
    tap.ok(served(e.port), "after 300 connections reset before accept, "
           "a new client is served")
    tap.eq(warnings(e), [], "and nothing was logged above info: no error "
           "storm")
    tap.eq(e.workers(), [worker], "the same worker, still alive")

    if STRACE is None:
        tap.ok(False, "strace is needed for accept error injection")
        return
    for err, pauses in (("ECONNABORTED", False), ("EPROTO", False),
                        ("EINTR", False), ("EMFILE", True),
                        ("ENFILE", True), ("ENOBUFS", True)):
        before = len(warnings(e))
        tr = spawn([STRACE, "-qq", "-o", "/dev/null", "-p", str(worker),
                    "-e", "trace=accept4",
                    "-e", "inject=accept4:error=%s:when=1..3" % err])
        wait_for(lambda: _traced(worker), 5, "strace to attach")
        t0 = time.monotonic()
        ok = served(e.port, timeout=6)
        took = time.monotonic() - t0
        tr.send_signal(signal.SIGINT)
        tr.wait(5)
        wait_for(lambda: not _traced(worker), 5, "strace to detach")
        if pauses:     # let the burst end, so the next one is logged
            e.wait_log(r"accept paused: \d+ times in the last burst",
                       count=e.count_log("in the last burst") + 1)
        new = [l for l in warnings(e)[before:] if "last burst" not in l]
        if pauses:
            tap.ok(ok and 0.9 < took < 4, "accept4 %s x3: accepting pauses "
                   "and resumes, the client is served after %.1f s"
                   % (err, took))
            tap.ok(len(new) == 1 and "accept paused" in new[0],
                   "... logged once for the burst", "\n".join(new))
        else:
            tap.ok(ok and took < 1, "accept4 %s x3: carries on, the client "
                   "is served at once (%.0f ms)" % (err, took * 1000))
            tap.eq(new, [], "... with nothing logged")
    tap.eq(e.workers(), [worker], "the worker survived every injected "
           "error")
    e.stop()

    # Real exhaustion: RLIMIT_NOFILE 40 for echod, 70 clients.
    e = Echod({"server": {"workers": "1"}})
    e.start(argv_prefix=["sh", "-c", 'ulimit -n 40 && exec "$@"', "sh"])
    worker = e.wait_workers(1)[0]
    clients = []
    for _ in range(70):
        clients.append(connect(e.port))
    for c in clients:
        c.sendall(b"x")
        c.settimeout(0.3)
    got = []
    for c in clients:
        try:
            got.append(c.recv(1) == b"x")
        except socket.timeout:
            got.append(False)
    n_served = sum(got)
    tap.ok(20 < n_served < 40, "with 40 fds, %d of 70 clients are served; "
           "the rest wait" % n_served)
    e.wait_log(r"accept paused: Too many open files")
    cpu0 = cpu_seconds(worker)
    t0 = time.monotonic()
    time.sleep(2)   # measuring CPU use over an interval, not waiting
    busy = (cpu_seconds(worker) - cpu0) / (time.monotonic() - t0)
    tap.ok(busy < 0.2, "while out of fds the worker does not spin "
           "(%.0f%% CPU)" % (busy * 100))
    tap.ok(e.count_log(r"accept paused") == 1, "out of fds: logged once "
           "for the whole burst", e.log()[-1500:])
    held = [c for c, g in zip(clients, got) if g]
    waiting = [c for c, g in zip(clients, got) if not g]
    for c in held[:5]:
        c.settimeout(3)
        c.sendall(b"y")
    tap.ok(all(recv_exact(c, 1) == b"y" for c in held[:5]),
           "connections it has keep echoing")
    for c in held:
        c.close()
    ok = 0
    for c in waiting:
        c.settimeout(5)
        try:
            ok += recv_exact(c, 1) == b"x"
        except socket.timeout:
            pass
        c.close()
    tap.eq(ok, len(waiting), "once fds free up, every waiting client is "
           "accepted and served")
    tap.eq(e.workers(), [worker], "no worker restart")
    e.stop()


def _traced(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1]) != 0
    return False


run_test(body)
