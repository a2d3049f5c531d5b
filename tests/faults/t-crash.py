"""Crashes: clients that reset while echod has data for them (EPIPE /
ECONNRESET on write), workers SIGKILLed at random under 500 streaming
connections, and a worker that dies at once every time (crash loop)."""

import hashlib
import os
import random
import selectors
import shutil
import signal
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, ZombieWatch, connect, \
    env_under_ptrace, recv_exact, run_test, spawn, \
    socket_owners, tap, wait_for

STRACE = shutil.which("strace")


class Streams:
    """n connections streaming data both ways on one selector thread;
    each checks that what comes back is what it sent."""

    def __init__(self, port, n):
        self.sel = selectors.DefaultSelector()
        self.conns = []
        for i in range(n):
            s = connect(port, "127.0.0.1" if i % 2 else "::1")
            s.setblocking(False)
            st = {"sock": s, "sent": hashlib.sha256(), "got":
                  hashlib.sha256(), "nsent": 0, "ngot": 0, "cut": False,
                  "closing": False, "done": False,
                  "chunk": os.urandom(4096)}
            self.conns.append(st)
            self.sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE,
                              st)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run)
        self.t.start()

    def _run(self):
        deadline = None
        while True:
            if self.stop.is_set() and deadline is None:
                deadline = time.monotonic() + 20
                for st in self.conns:
                    if not st["done"] and not st["cut"]:
                        try:
                            st["sock"].shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        st["closing"] = True
                        self.sel.modify(st["sock"], selectors.EVENT_READ, st)
            if deadline and (time.monotonic() > deadline or
                             all(s["done"] or s["cut"] for s in self.conns)):
                return
            for key, ev in self.sel.select(0.2):
                st = key.data
                s = st["sock"]
                try:
                    if ev & selectors.EVENT_READ:
                        d = s.recv(65536)
                        if not d:
                            if st["closing"]:
                                st["done"] = True
                            else:
                                st["cut"] = True
                            self.sel.unregister(s)
                            continue
                        st["got"].update(d)
                        st["ngot"] += len(d)
                    if ev & selectors.EVENT_WRITE and not st["closing"] and \
                            st["nsent"] - st["ngot"] < 256 * 1024:
                        k = s.send(st["chunk"])
                        st["sent"].update(st["chunk"][:k])
                        st["nsent"] += k
                except (ConnectionResetError, BrokenPipeError):
                    st["cut"] = True
                    self.sel.unregister(s)
                except BlockingIOError:
                    pass

    def finish(self):
        self.stop.set()
        self.t.join(40)
        for st in self.conns:
            st["sock"].close()


def body():
    # A client resets while echod still has data to send it.
    e = Echod({"server": {"workers": "2"},
               "connection": {"buffer_size": "64k"}}).start()
    workers = sorted(e.wait_workers(2))
    linger = struct.pack("ii", 1, 0)
    for i in range(40):
        s = connect(e.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        try:
            for _ in range(64):
                s.send(b"z" * 65536)
        except BlockingIOError:
            pass
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.close()
    e.wait_log(r"closed: (Connection reset by peer|Broken pipe)")
    tap.ok(True, "a reset mid-echo closes that connection (EPIPE / "
           "ECONNRESET on write)")
    c = connect(e.port)
    c.sendall(b"alive")
    tap.eq(recv_exact(c, 5), b"alive", "echod keeps serving")
    c.close()
    tap.eq(sorted(e.workers()), workers, "40 resets later: the same "
           "workers, none died of SIGPIPE")
    tap.ok("worker 0 (pid" not in e.log() and "killed by signal" not in
           e.log(), "no worker restart in the log")
    e.stop()

    # 500 streaming connections; SIGKILL random workers repeatedly.
    e = Echod({"server": {"workers": "4", "max_connections": "2000"}})
    e.start()
    workers = e.wait_workers(4)
    streams = Streams(e.port, 500)
    wait_for(lambda: all(st["ngot"] > 0 for st in streams.conns), 30,
             "all 500 streams flowing")
    owner = socket_owners(workers, e.port,
                          [st["sock"] for st in streams.conns])
    zw = ZombieWatch(e)
    # One worker is spared, so that some connections must survive whole.
    spared = max(workers, key=lambda p: list(owner.values()).count(p))
    killed = []
    rng = random.Random(862)
    for _ in range(6):
        live = e.workers()
        victim = rng.choice([p for p in live
                             if p not in killed and p != spared])
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)
        e.wait_log(r"\(pid %d\) was killed by signal 9" % victim)
        time.sleep(0.3)     # pacing the kills, not waiting on state
    e.wait_workers(4, timeout=20)
    tap.ok(True, "6 workers killed; the master reaped and replaced each "
           "(4 workers again)")
    tap.eq(e.count_log(r"was killed by signal 9 \(Killed\); respawning"),
           6, "each death logged with its signal")
    streams.finish()
    tap.eq(zw.finish(), [], "no zombie outlived 0.5 s: every killed "
           "worker was reaped at once")
    bad, cut_ok, whole = [], 0, 0
    for st in streams.conns:
        on_killed = owner.get(st["sock"]) in killed
        if st["cut"]:
            if on_killed:
                cut_ok += 1
            else:
                bad.append("cut but its worker was not killed")
        elif st["done"] and st["nsent"] == st["ngot"] and \
                st["sent"].digest() == st["got"].digest():
            whole += 1
        else:
            bad.append("sent %d got %d" % (st["nsent"], st["ngot"]))
    tap.ok(not bad and whole > 0, "connections on surviving workers lost "
           "no byte (%d whole, %d cut with their worker)" % (whole, cut_ok),
           "\n".join(bad[:10]))
    e.stop()

    # Crash loop: every worker dies at start (strace, attached to the
    # master, makes epoll_create1 fail in each new worker; the master
    # makes no more such calls once it runs).  The master must back off,
    # not fork-loop.
    if STRACE is None:
        tap.ok(False, "strace is needed for the crash-loop test")
        return
    e = Echod({"server": {"workers": "1"}})
    e.start(env=env_under_ptrace())
    worker = e.wait_workers(1)[0]
    tr = spawn([STRACE, "-f", "-qq", "-o", "/dev/null", "-p", str(e.pid),
                "-e", "trace=epoll_create1",
                "-e", "inject=epoll_create1:error=EMFILE"])
    wait_for(lambda: _traced(e.pid), 5, "strace to attach")
    os.kill(worker, signal.SIGKILL)
    e.wait_log(r"it keeps dying \(5 times in a row within 10 s of "
               r"starting\): respawning in 1000 ms")
    tap.ok(True, "a crash loop triggers the respawn back-off, logged")
    t0 = time.monotonic()
    n0 = e.count_log(r"exited with status 1")
    e.wait_log(r"respawning in 4000 ms", timeout=15)
    took = time.monotonic() - t0
    n1 = e.count_log(r"exited with status 1")
    tap.ok(2.5 < took < 6 and n1 - n0 == 2, "the back-off doubles "
           "(1 s, 2 s, 4 s): %d deaths in %.1f s, not a fork storm"
           % (n1 - n0, took))
    tr.send_signal(signal.SIGINT)
    tr.wait(5)
    wait_for(lambda: not _traced(e.pid), 5, "strace to detach")
    e.signal(signal.SIGTERM)
    tap.eq(e.wait_exit(10), 0, "SIGTERM still stops it cleanly")


def _traced(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1]) != 0
    except FileNotFoundError:
        pass
    return False


run_test(body)
