"""Reaping and respawning: clients closing at the same instant never leave
a zombie; a worker killed with SIGKILL is reaped, logged with its signal
and replaced while the other workers' clients carry on."""

import os
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, ZombieWatch, connect, pid_alive, recv_exact, run_test, \
    socket_owners, tap, wait_for


def body():
    e = Echod({"server": {"workers": "3"}}).start()
    workers = sorted(e.wait_workers(3))

    # Five clients that close at the same instant, many times over.
    zw = ZombieWatch(e, grace=0.2)
    barrier = threading.Barrier(5)
    bad = []

    def client():
        for _ in range(100):
            s = connect(e.port)
            s.sendall(b"ping")
            if recv_exact(s, 4) != b"ping":
                bad.append(1)
            barrier.wait(5)
            s.close()
    threads = [threading.Thread(target=client) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    tap.ok(not bad, "500 exchanges by 5 clients closing together all echo")
    tap.ok(not zw.finish() and not zw.first and not e.zombies(),
           "no zombie child of echod seen at any point")
    tap.eq(sorted(e.workers()), workers,
           "no worker lost or replaced: the same 3 workers")

    # Kill one worker with SIGKILL while clients are connected to all.
    # /proc tells which worker holds which connection.
    clients = []
    owners = {}
    for _ in range(60):
        s = connect(e.port)
        s.sendall(b"a")
        recv_exact(s, 1)
        clients.append(s)
        owners[s] = wait_for(lambda: socket_owners(workers, e.port,
                                                   [s])[s],
                             5, "the worker holding a connection")
        if len(set(owners.values())) == 3 and len(clients) >= 12:
            break
    tap.eq(len(set(owners.values())), 3, "connections are spread over "
           "all 3 workers (EPOLLEXCLUSIVE with rotation)")
    victim = owners[clients[0]]
    os.kill(victim, signal.SIGKILL)
    e.wait_log(r"worker \d \(pid %d\) was killed by signal 9" % victim,
               what="the death logged with its signal")
    tap.ok(True, "the killed worker is logged with its pid and signal 9")
    new = e.wait_workers(3)
    tap.ok(victim not in new and len(set(new) - set(workers)) == 1,
           "a new worker replaces it: 3 workers again")
    tap.ok(not pid_alive(victim) and victim not in e.workers(),
           "the dead worker was reaped (not a zombie)")

    survivors = hung = lost = 0
    wrong = []
    for s in clients:
        s.settimeout(3)
        try:
            s.sendall(b"b")
            r = s.recv(1)
        except (ConnectionResetError, BrokenPipeError):
            r = b""
        except socket.timeout:
            hung += 1
            continue
        if r == b"b":
            survivors += 1
        else:
            lost += 1
        if (r == b"b") != (owners[s] != victim):
            wrong.append(owners[s])
        s.close()
    tap.ok(hung == 0, "the killed worker's clients get EOF or RST, never "
           "a hang")
    tap.ok(survivors > 0 and not wrong,
           "exactly the clients of the other workers carry on (%d of %d; "
           "%d were on the killed worker)" % (survivors, len(clients), lost))
    s = connect(e.port)
    s.sendall(b"new")
    tap.eq(recv_exact(s, 3), b"new", "new connections are served")
    s.close()

    # Several workers die at the same instant: their SIGCHLDs merge into
    # one, and the master must still reap every one of them.
    for _ in range(3):
        zw = ZombieWatch(e, grace=0.5)
        victims = e.wait_workers(3)
        for p in victims:
            os.kill(p, signal.SIGKILL)
        new = wait_for(lambda: (lambda w: w if len(w) == 3 and
                                not set(w) & set(victims) else None)(
                                    e.workers()), 10, "3 new workers")
        wait_for(lambda: not e.zombies(), 2, "no zombies")
        tap.ok(not zw.finish() and len(new) == 3, "3 workers killed at "
               "once: all reaped within 0.5 s and replaced")
    tap.eq(e.stop(), 0, "echod exits 0 on SIGTERM")


run_test(body)
