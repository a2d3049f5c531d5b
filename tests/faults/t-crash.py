"""Crashes: clients that reset while echod has data for them (EPIPE /
ECONNRESET on write), workers SIGKILLed at random under 500 streaming
connections, and a worker that dies at once every time (crash loop)."""

import os
import random
import shutil
import signal
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, Streamer, ZombieWatch, connect, \
    env_under_ptrace, finish_all, recv_exact, run_test, socket_owners, \
    spawn, tap, wait_for

STRACE = shutil.which("strace")


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
    # Each checks that what comes back is what it sent.
    streams = [Streamer(e.port, "127.0.0.1" if i % 2 else "::1",
                        chunk=4096, window=256 * 1024) for i in range(500)]
    wait_for(lambda: all(st.ngot > 0 for st in streams), 30,
             "all 500 streams flowing")
    owner = socket_owners(workers, e.port, [st.sock for st in streams])
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
    finish_all(streams, 20)
    tap.eq(zw.finish(), [], "no zombie outlived 0.5 s: every killed "
           "worker was reaped at once")
    bad, cut_ok, whole = [], 0, 0
    for st in streams:
        on_killed = owner.get(st.sock) in killed
        if st.cut:
            if on_killed:
                cut_ok += 1
            else:
                bad.append("cut but its worker was not killed")
        elif st.whole:
            whole += 1
        else:
            bad.append(st.describe())
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
