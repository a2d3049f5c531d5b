"""A graceful stop never destroys echoed data and never cuts a client
that only paused: drain_idle, the half-close and lingering end, listeners
closed when the stop begins, and the bounded end at shutdown_timeout."""

import os
import shutil
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, Streamer, connect, free_port, recv_all, \
    recv_exact, run_test, tap, wait_for

ACTIVATE = shutil.which("systemd-socket-activate")

# /proc/net/tcp states
TCP_STATES = {1: "ESTABLISHED", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK",
              11: "CLOSING"}


def server_side_state(server_port, client):
    """The TCP state of echod's end of the connection of socket
    'client', or None once it is gone."""
    cport = client.getsockname()[1]
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fl = line.split()
            lport = int(fl[1].rsplit(":", 1)[1], 16)
            rport = int(fl[2].rsplit(":", 1)[1], 16)
            if lport == server_port and rport == cport:
                return TCP_STATES.get(int(fl[3], 16), fl[3])
    return None


def pausing_client(e, result):
    """4 MiB in 64 KiB chunks, with a 250 ms pause after every 256 KiB,
    reading as it goes; SIGTERM goes to echod once 1 MiB came back."""
    s = connect(e.port, timeout=30)
    data = os.urandom(4 << 20)
    got = bytearray()
    err = []

    def reader():
        try:
            while True:
                d = s.recv(1 << 16)
                if not d:
                    return
                got.extend(d)
        except OSError as x:
            err.append(x)
    t = threading.Thread(target=reader)
    t.start()
    signalled = False
    try:
        for i in range(0, len(data), 1 << 16):
            s.sendall(data[i:i + (1 << 16)])
            if (i >> 16) % 4 == 3:
                # Think time: the echo of what was sent comes back.
                wait_for(lambda: len(got) >= i + (1 << 16) or err, 10,
                         "the echo so far")
                if not signalled and len(got) >= 1 << 20:
                    e.signal(signal.SIGTERM)
                    signalled = True
                time.sleep(0.25)
        s.shutdown(socket.SHUT_WR)
    except OSError as x:
        err.append(x)
    t.join(30)
    s.close()
    result.update(ok=bytes(got) == data and not err, got=len(got), err=err)


def body():
    # 1. A client that pauses 250 ms now and then, mid-stream, through
    # a SIGTERM: it is not quiet for drain_idle (1 s), so it keeps being
    # served and gets its whole 4 MiB back.
    e = Echod({"server": {"workers": "2", "shutdown_timeout": "20s"}})
    e.start()
    r = {}
    pausing_client(e, r)
    tap.ok(r["ok"], "a client pausing 250 ms between bursts gets all of "
           "its 4 MiB back through a SIGTERM (got %d bytes%s)"
           % (r["got"], ", %s" % r["err"][0] if r["err"] else ""))
    tap.eq(e.wait_exit(10), 0, "echod exits 0 once that client is done")
    tap.ok("killing them" not in e.log(), "no worker needed SIGKILL")

    # 2. Echoed data queued in the socket is never reset away: a client
    # with a 4 KiB receive buffer sends 60,000 bytes without reading,
    # SIGTERM, one more byte once echod has ended the quiet connection,
    # and only then reads.
    e = Echod({"server": {"workers": "1", "shutdown_timeout": "10s",
                          "drain_idle": "300ms"}})
    e.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", e.port))
    payload = os.urandom(60000)
    s.sendall(payload)
    # Everything is read by echod: its queue to us holds the echo.
    wait_for(lambda: server_side_state(e.port, s) == "ESTABLISHED", 5,
             "the connection")
    e.signal(signal.SIGTERM)
    e.wait_log(r"stopping: draining")
    try:
        wait_for(lambda: server_side_state(e.port, s) != "ESTABLISHED", 5,
                 "echod to end the quiet connection")
        ended = True
    except TimeoutError:
        ended = False
    tap.ok(ended, "echod ends the quiet connection (%s)"
           % server_side_state(e.port, s))
    try:
        s.send(b"!")
        back = recv_all(s)
        reset = False
    except ConnectionResetError:
        back, reset = b"", True
    tap.ok(back == payload and not reset, "the client still reads every "
           "echoed byte and then a clean end: %d of 60000 bytes%s"
           % (len(back), ", reset" if reset else ""))
    s.close()
    tap.eq(e.wait_exit(10), 0, "echod exits 0")

    # 3. Idle holders are closed at once (nothing in flight), and new
    # clients are refused as soon as the stop begins, not queued into a
    # port that will never answer, while a busy client is still served.
    e = Echod({"server": {"workers": "2", "shutdown_timeout": "20s",
                          "drain_idle": "200ms"}})
    e.start()
    idle = [connect(e.port) for _ in range(50)]
    busy = connect(e.port, timeout=10)
    t_idle = time.monotonic()
    wait_for(lambda: time.monotonic() - t_idle > 0.3, 2,
             "the idle connections to be idle for drain_idle")
    # The busy client echoes 4 KiB exchanges without a pause, which
    # keeps the stop going while the checks below run.
    stop_busy = threading.Event()
    busy_state = {"n": 0, "ok": True}

    def keep_busy():
        try:
            while not stop_busy.is_set():
                d = os.urandom(4096)
                busy.sendall(d)
                if recv_exact(busy, len(d)) != d:
                    busy_state["ok"] = False
                    return
                busy_state["n"] += 1
        except OSError:
            busy_state["ok"] = False
    bt = threading.Thread(target=keep_busy)
    bt.start()
    wait_for(lambda: busy_state["n"] > 10 or not busy_state["ok"], 5,
             "the busy client")
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    ends = 0
    for c in idle:
        c.settimeout(5)
        try:
            ends += c.recv(1) == b""
        except OSError:
            pass
        c.close()
    took = time.monotonic() - t0
    tap.ok(ends == 50 and took < 2, "50 idle holders get a clean end at "
           "once (%d of 50 in %.0f ms)" % (ends, took * 1000))

    def refused():
        try:
            connect(e.port, timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True
        except socket.timeout:
            return False
    try:
        wait_for(refused, 2, "new connections to be refused")
        ok = True
    except TimeoutError:
        ok = False
    tap.ok(ok, "new clients are refused while the stop drains (the "
           "master closed the sockets it bound)")
    n = busy_state["n"]
    wait_for(lambda: busy_state["n"] > n + 10 or not busy_state["ok"], 5,
             "more exchanges")
    stop_busy.set()
    bt.join(10)
    tap.ok(busy_state["ok"], "the busy client was echoed throughout (%d "
           "exchanges)" % busy_state["n"])
    busy.shutdown(socket.SHUT_WR)
    tap.eq(recv_all(busy), b"", "and ends when it closes")
    busy.close()
    tap.eq(e.wait_exit(10), 0, "echod exits 0")

    # 4. drain_idle = 0: nothing ends early; a client quiet for a while
    # after SIGTERM is still echoed until shutdown_timeout, and at
    # shutdown_timeout it gets a clean end, not a reset.
    e = Echod({"server": {"workers": "1", "shutdown_timeout": "2s",
                          "drain_idle": "0"}})
    e.start()
    c = connect(e.port, timeout=10)
    c.sendall(b"a")
    recv_exact(c, 1)
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    e.wait_log(r"stopping: draining")
    wait_for(lambda: time.monotonic() - t0 > 1.2, 3,
             "a quiet moment longer than the old 100 ms and than 1 s")
    c.sendall(b"late")
    tap.eq(recv_exact(c, 4), b"late", "with drain_idle = 0 a client quiet "
           "for over a second after SIGTERM is still echoed")
    try:
        end = c.recv(1)
        reset = False
    except ConnectionResetError:
        end, reset = None, True
    took = time.monotonic() - t0
    tap.ok(end == b"" and not reset and 1.8 < took < 4,
           "at shutdown_timeout it gets a clean end (EOF after %.2f s%s)"
           % (took, ", reset" if reset else ""))
    c.close()
    tap.eq(e.wait_exit(10), 0, "echod exits 0")

    # 5. A client that never stops sending: at shutdown_timeout it gets
    # a clean end, every byte it received is what it sent, and echod is
    # gone about a second later; SIGKILL is not needed.
    e = Echod({"server": {"workers": "1", "shutdown_timeout": "1s"}})
    e.start()
    s = Streamer(e.port, chunk=8192, timeout=10)
    wait_for(lambda: s.ngot > 1 << 20 or s.ended.is_set(), 10,
             "1 MiB echoed")
    t0 = time.monotonic()
    e.signal(signal.SIGTERM)
    s.ended.wait(15)
    s.finish(5)
    reset = isinstance(s.error, ConnectionResetError)
    tap.ok(s.early_eof and s.error is None and s.intact,
           "a never-ending client gets a clean end at shutdown_timeout, "
           "its %d echoed bytes intact%s" % (s.ngot,
                                               ", reset" if reset else ""),
           s.describe())
    rc = e.wait_exit(10)
    took = time.monotonic() - t0
    tap.ok(rc == 0 and took < 3.5, "echod exits %d within about a second "
           "of shutdown_timeout (%.2f s after SIGTERM)" % (rc, took))
    tap.ok("killing them" not in e.log(), "no SIGKILL needed")

    # 6. Sockets passed by systemd are left open: a client that comes
    # during the drain is queued for the next start, not refused.
    if ACTIVATE is None:
        tap.skip("passed sockets stay open", "no systemd-socket-activate")
        return
    e = Echod({"server": {"shutdown_timeout": "10s"}})
    port = free_port()
    e.start(argv_prefix=[ACTIVATE, "-l", "127.0.0.1:%d" % port,
                         "-E", "NOTIFY_SOCKET=" + e.notify_path],
            wait_ready=False)
    busy = wait_for(lambda: _try_connect(port), 5, "the passed socket")
    busy.sendall(b"x")
    recv_exact(busy, 1)
    e.wait_ready()
    e.signal(signal.SIGTERM)
    e.wait_log(r"stopping: draining")
    try:
        late = connect(port, timeout=2)
        queued = True
        late.close()
    except OSError:
        queued = False
    tap.ok(queued, "a passed socket stays open during the drain: a new "
           "client is queued, not refused")
    busy.close()
    tap.eq(e.wait_exit(10), 0, "echod exits 0")


def _try_connect(port):
    try:
        return connect(port, timeout=5)
    except ConnectionRefusedError:
        return None


run_test(body)
