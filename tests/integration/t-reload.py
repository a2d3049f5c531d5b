"""SIGHUP: a valid changed config is applied by a new generation of
workers without cutting open connections; a broken one is refused with
file:line while echod keeps serving on the old one."""

import os
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, connect, free_port, make_config, recv_exact, \
    run_test, socket_owners, tap, wait_for


def exchange(s, data):
    s.sendall(data)
    return recv_exact(s, len(data)) == data


def body():
    e = Echod({"server": {"workers": "2"},
               "connection": {"idle_timeout": "0"}}).start()
    old = sorted(e.wait_workers(2))
    open_conns = [connect(e.port) for _ in range(8)]
    tap.ok(all(exchange(c, b"before") for c in open_conns),
           "8 connections echo before the reload")
    holders = set(socket_owners(old, e.port, open_conns).values())

    # Valid change: 3 workers, and a second port to listen on.
    port2 = free_port()
    text = make_config(e.port, {"server": {"workers": "3"},
                                "connection": {"idle_timeout": "0"}})
    text = text.replace("listen = 127.0.0.1:%d" % e.port,
                        "listen = 127.0.0.1:%d, 127.0.0.1:%d"
                        % (e.port, port2))
    e.write_config(text=text)
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded from .*: 3 new workers serving")
    tap.ok(True, "the reload is logged")
    new = wait_for(lambda: (lambda w: w if len(w) >= 3 and
                            len(set(w) - set(old)) == 3 else None)(
                                e.workers()), 5, "3 new workers")
    tap.eq(len(set(new) - set(old)), 3, "a new generation of 3 workers")
    tap.ok(all(exchange(c, b"during") for c in open_conns),
           "connections opened before the reload still echo")
    c2 = connect(port2)
    tap.ok(exchange(c2, b"port2"), "the newly configured port serves")
    c2.close()
    # While old workers drain, new connections must not wait for them:
    # a retiring worker must not keep taking the listener's wake-ups.
    slow = 0
    for _ in range(40):
        t0 = time.monotonic()
        c = connect(e.port, timeout=3)
        try:
            ok = exchange(c, b"n")
        except socket.timeout:
            ok = False
        c.close()
        slow += not ok or time.monotonic() - t0 > 1.0
    tap.eq(slow, 0, "while old workers drain, 40 new connections are each "
           "served at once")
    tap.ok(holders <= set(old) and all(p in e.workers() for p in holders),
           "old workers holding connections stay while they are open")
    for c in open_conns:
        c.close()
    wait_for(lambda: not any(p in e.workers() for p in old), 5,
             "old workers to finish")
    tap.ok(True, "old workers exit once their connections end")
    tap.eq(e.zombies(), [], "and are reaped")

    # Broken change: refused with file:line; nothing disturbed.
    current = sorted(e.workers())
    c = connect(e.port)
    tap.ok(exchange(c, b"x"), "a connection before the broken reload")
    e.write_config(text=text + "[connection]\nbuffer_size = lots\n")
    e.signal(signal.SIGHUP)
    e.wait_log(r"reload failed: .*echod\.ini:\d+: \[connection\] "
               r"buffer_size = \"lots\": not a number")
    tap.ok(True, "a broken config is refused, naming file:line and key")
    e.wait_log(r"keeping the running configuration")
    tap.ok(exchange(c, b"still"), "open connections are untouched")
    tap.eq(sorted(e.workers()), current, "the same workers keep serving")
    c3 = connect(e.port)
    tap.ok(exchange(c3, b"new"), "new connections are served")
    c3.close()
    c.close()

    # A change that cannot be applied (port taken) also keeps the old.
    busy = connect(e.port)
    holder = socket.socket()
    holder.bind(("127.0.0.1", free_port()))
    holder.listen()
    hp = holder.getsockname()[1]
    e.write_config(text=make_config(e.port).replace(
        "listen = ", "listen = 127.0.0.1:%d, " % hp))
    e.signal(signal.SIGHUP)
    e.wait_log(r"reload failed: cannot listen on 127\.0\.0\.1:%d" % hp)
    tap.ok(True, "a port that cannot be bound fails the reload, named")
    tap.eq(sorted(e.workers()), current, "and the workers are unchanged")
    tap.ok(exchange(busy, b"ok"), "serving goes on")
    holder.close()
    busy.close()

    # A retiring worker whose last connection ends by idle_timeout exits
    # (a timer, not an event, ends it: nothing else wakes the worker).
    e.write_config(text=make_config(e.port,
                                    {"connection": {"idle_timeout": "1s"}}))
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded from", count=2)
    gen = wait_for(lambda: (lambda w: w if len(w) == 2 else None)(
        sorted(e.workers())), 10, "2 workers")
    quiet = connect(e.port)
    tap.ok(exchange(quiet, b"q"), "a connection, then quiet")
    holder = socket_owners(gen, e.port, [quiet])[quiet]
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded from", count=3)
    quiet.settimeout(10)
    tap.eq(quiet.recv(10), b"", "idle_timeout ends it on the retired worker")
    wait_for(lambda: holder not in e.workers(), 5, "the retired worker to "
             "exit")
    tap.ok(True, "and the retired worker exits at once")
    quiet.close()
    tap.eq(e.stop(), 0, "exit 0")


run_test(body)
