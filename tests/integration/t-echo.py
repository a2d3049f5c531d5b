"""The echo path on a real echod: text, every byte value, 10 MB by hash,
many concurrent clients, half-close, back-pressure, idle timeout,
max_connections and connection logging."""

import os
import selectors
import socket
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, connect, echo_stream, recv_all, recv_exact, \
    run_test, sha256, tap, wait_for


def concurrent_clients(port, n, rounds, size):
    """n clients on one selector, each doing 'rounds' exchanges of
    'size' bytes; returns how many clients got every byte back right."""
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(n):
        s = connect(port, "127.0.0.1" if i % 2 else "::1")
        s.setblocking(False)
        msg = bytes((i + j) % 256 for j in range(size))
        state[s] = {"msg": msg, "round": 0, "got": b"", "sent": False,
                    "ok": True}
        sel.register(s, selectors.EVENT_WRITE)
    done = 0
    deadline = time.monotonic() + 30
    while state and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1):
            s, st = key.fileobj, state[key.fileobj]
            if ev & selectors.EVENT_WRITE:
                s.sendall(st["msg"])
                sel.modify(s, selectors.EVENT_READ)
                continue
            d = s.recv(65536)
            if not d:
                st["ok"] = False
            st["got"] += d
            if len(st["got"]) >= size or not d:
                if st["got"] != st["msg"]:
                    st["ok"] = False
                st["round"] += 1
                st["got"] = b""
                if st["round"] == rounds or not st["ok"]:
                    done += st["ok"]
                    sel.unregister(s)
                    s.close()
                    del state[s]
                else:
                    sel.modify(s, selectors.EVENT_WRITE)
    return done


def body():
    e = Echod({"connection": {"buffer_size": "16k"}}).start()

    s = connect(e.port)
    s.sendall(b"hello, echo\n")
    tap.eq(recv_exact(s, 12), b"hello, echo\n", "a line comes back")
    s.sendall(b"no newline")
    tap.eq(recv_exact(s, 10), b"no newline", "no line buffering")
    s.shutdown(socket.SHUT_WR)
    tap.eq(recv_all(s), b"", "half-close: then EOF from echod")
    s.close()

    allbytes = bytes(range(256)) * 4
    s = connect(e.port, "::1")
    s.sendall(allbytes)
    tap.eq(recv_exact(s, len(allbytes)), allbytes,
           "all 256 byte values, over IPv6")
    s.close()

    data = os.urandom(10 * 1024 * 1024)
    digest, n = echo_stream(e.port, data)
    tap.ok(n == len(data) and digest == sha256(data),
           "10 MB of random bytes come back identical (sha256)",
           "got %d bytes" % n)

    # Half-close with data still in flight: all of it comes back.
    s = connect(e.port)
    blob = os.urandom(200000)
    s.sendall(blob)
    s.shutdown(socket.SHUT_WR)
    tap.eq(sha256(recv_all(s)), sha256(blob),
           "half-close right after sending: every pending byte echoed")
    s.close()

    tap.eq(concurrent_clients(e.port, 200, 5, 3000), 200,
           "200 concurrent clients, 5 exchanges each, all correct")

    # Back-pressure: a client that sends and never reads.  echod must stop
    # reading (bounded memory); then when the client reads, all of it
    # comes back, in order.
    s = connect(e.port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.setblocking(False)
    sent = bytearray()
    chunk = os.urandom(65536)
    stalled_at = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            k = s.send(chunk)
            sent += chunk[:k]
            stalled_at = None
        except BlockingIOError:
            if stalled_at is None:
                stalled_at = time.monotonic()
            elif time.monotonic() - stalled_at > 0.5:
                break
            time.sleep(0.01)
    tap.ok(0 < len(sent) < 64 * 1024 * 1024,
           "a client that never reads gets blocked (back-pressure) "
           "after %d KiB" % (len(sent) // 1024))
    s.setblocking(True)
    s.shutdown(socket.SHUT_WR)
    tap.eq(sha256(recv_all(s)), sha256(bytes(sent)),
           "once it reads, every byte comes back in order")
    s.close()
    e.stop()

    # Idle timeout, connection limit and connection logging.
    e = Echod({"server": {"workers": "2", "max_connections": "4"},
               "connection": {"idle_timeout": "700ms"},
               "log": {"connections": "yes"}}).start()
    idle = connect(e.port)
    busy = connect(e.port)
    t0 = time.monotonic()
    alive = True
    while time.monotonic() - t0 < 1.5:      # keep 'busy' active
        busy.sendall(b"x")
        alive = alive and recv_exact(busy, 1) == b"x"
        time.sleep(0.1)
    idle.settimeout(3)
    tap.eq(recv_all(idle), b"", "an idle connection is closed by "
           "idle_timeout")
    tap.ok(alive, "an active connection outlives idle_timeout")
    e.wait_log(r"closed: idle timeout", what="idle timeout log line")
    tap.ok(e.count_log(r"connection from 127\.0\.0\.1:\d+\n") >= 2,
           "connections = yes logs each connection with its address")
    idle.close()
    busy.close()
    wait_for(lambda: e.count_log("closed:") >= 2, 5, "close logs")

    # max_connections = 4 across 2 workers: 2 each.  Fill with a margin
    # (EPOLLEXCLUSIVE may wake either worker), then expect refusals.
    held = []
    refused = 0
    for i in range(12):
        c = connect(e.port)
        c.sendall(b"?")
        c.settimeout(2)
        try:
            r = c.recv(1)
        except (ConnectionResetError, socket.timeout):
            r = b""
        if r == b"?":
            held.append(c)
        else:
            refused += 1
            c.close()
    tap.eq(len(held), 4, "max_connections = 4: exactly 4 are served")
    tap.eq(refused, 8, "the other 8 are closed at once")
    e.wait_log(r"max_connections: connection limit reached")
    tap.ok(e.count_log(r"connection limit reached") <= 2,
           "logged once per burst (per worker), not once per connection",
           e.log()[-2000:])
    for c in held:
        c.sendall(b"still")
        tap.eq(recv_exact(c, 5), b"still",
               "a held connection still echoes after the flood")
        c.close()
    e.stop()


run_test(body)
