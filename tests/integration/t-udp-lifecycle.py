"""UDP echo through echod's lifecycle, with real datagrams flowing:
socket activation with a datagram socket (systemd-socket-activate
--datagram; the datagram that starts echod is answered; a dual-stack
socket answers IPv4 clients as IPv4), a reload (sockets kept, nothing
lost, old workers stop reading at once, a new rate table only when its
settings change), a stop (reading stops at once while TCP drains), a
worker crash (only what it held is lost; no zombie), and no descriptor
leak."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
_here = os.path.dirname(os.path.abspath(__file__))
for _d in ("../lib", "../integration"):
    sys.path.insert(0, os.path.normpath(os.path.join(_here, _d)))

from echodtest import ECHOD, Echod, ZombieWatch, connect, fd_count, \
    pid_alive, run_test, tap, wait_for  # noqa: E402
import udptest  # noqa: E402
from udptest import Pinger, client, drain, exchange  # noqa: E402

ACTIVATE = shutil.which("systemd-socket-activate")


def udp_echod(udp, workers=2, more=None):
    port = udptest.free_port()
    cfg = {"server": {"listen": "127.0.0.1:%d" % port,
                      "workers": str(workers)},
           "udp": dict(udp, listen="127.0.0.1:%d, [::1]:%d" % (port, port))}
    for sec, kv in (more or {}).items():
        cfg.setdefault(sec, {}).update(kv)
    return Echod(cfg, port=port)


def test_activation():
    if ACTIVATE is None:
        tap.skip("socket activation with a datagram socket",
                 "systemd-socket-activate is not installed")
        return
    # One IPv4 socket; the first datagram starts echod, and is answered.
    e = Echod({"udp": {"rate_limit": "0"}})
    port = udptest.free_port()
    e.start(argv_prefix=[ACTIVATE, "--datagram", "-l",
                         "127.0.0.1:%d" % port], wait_ready=False)
    c = client()
    dst = ("127.0.0.1", port)

    def first():
        try:
            return exchange(c, b"wake up", dst, timeout=0.2)
        except ConnectionRefusedError:
            return None     # not bound yet
    # Generous bounds: under AddressSanitizer on a busy machine echod
    # can take seconds to start.
    r = wait_for(first, 30, "an answer from the activated echod")
    tap.eq(r[0], b"wake up", "the datagram that started echod is answered")
    e.wait_log(r"started: \d+ workers serving on udp 127\.0\.0\.1:%d "
               r"\(from systemd\)" % port, timeout=30)
    tap.ok(True, "echod serves the passed datagram socket as UDP echo")
    r = exchange(c, udptest.payload(9000), dst)
    tap.ok(r is not None and r[0] == udptest.payload(9000),
           "9000 bytes echoed through it")
    c.close()
    tap.eq(e.stop(), 0, "exit 0 on SIGTERM")

    # A bare port: one dual-stack [::] socket, as ListenDatagram=7 gives.
    e = Echod({"udp": {"rate_limit": "1", "rate_burst": "5",
                       "min_source_port": "40000"}})
    port = udptest.free_port()
    e.start(argv_prefix=[ACTIVATE, "--datagram", "-l", str(port)],
            wait_ready=False)
    hi = bound_in("127.0.0.1", range(45000, 46000))

    def first6():
        try:
            return exchange(hi, b"wake up", ("127.0.0.1", port), timeout=0.2)
        except ConnectionRefusedError:
            return None
    r = wait_for(first6, 10, "an answer from the dual-stack socket")
    tap.ok(r[1] == ("127.0.0.1", port), "dual-stack socket: an IPv4 client "
           "is answered over IPv4, from 127.0.0.1")
    e.wait_log(r"started: .* udp \[::\]:%d \(from systemd\)" % port)
    v6 = bound_in("::1", range(45000, 46000))
    r = exchange(v6, b"six", ("::1", port))
    tap.ok(r is not None and r[0] == b"six", "... and an IPv6 client too")
    lo = bound_in("127.0.0.1", range(30000, 31000))
    tap.ok(exchange(lo, b"low", ("127.0.0.1", port), timeout=0.5) is None,
           "an IPv4 client below min_source_port: no answer (the guard "
           "sees IPv4, not a mapped address it would refuse anyway)")
    e.wait_log(r"UDP source_port: no answer to 127\.0\.0\.1:%d "
               % lo.getsockname()[1])
    tap.ok(True, "... logged with its IPv4 address")
    drain(hi, 0.1)      # answers to the wake-ups sent before echod ran
    hi.setblocking(False)
    for i in range(20):
        hi.sendto(b"%d" % i, ("127.0.0.1", port))
    n = len(drain(hi, 0.3))
    tap.ok(n <= 5, "a flood from 127.0.0.1: %d answered (burst 5, "
           "the burst already begun)" % n)
    e.wait_log(r"UDP rate_limit: 127\.0\.0\.0/24 sends more")
    tap.ok(True, "rate-limited and logged as the IPv4 network "
           "127.0.0.0/24, not as a mapped address")
    r = exchange(v6, b"six", ("::1", port))
    tap.ok(r is not None, "::1 is another network: still answered")
    for s in (hi, v6, lo):
        s.close()
    tap.eq(e.stop(), 0, "exit 0 on SIGTERM")


def bound_in(host, ports):
    """A client on host bound to the first free port of 'ports'."""
    for p in ports:
        try:
            return client(host, bind=(host, p))
        except OSError:
            continue
    raise RuntimeError("no free port in %r" % ports)


def retiring(e, gen1):
    return [p for p in gen1 if pid_alive(p)]


def test_reload():
    e = udp_echod({"rate_limit": "0"}).start()
    gen1 = e.wait_workers(2)
    inodes = udptest.udp_inodes(e.port)
    tap.eq(len(inodes), 2, "two UDP sockets (127.0.0.1 and ::1)")
    # A TCP connection keeps the old workers alive while they retire.
    held = connect(e.port)
    held.sendall(b"hold")
    pinger = Pinger(("127.0.0.1", e.port), interval=0.005).start()
    wait_for(lambda: len(pinger.answered) >= 20, 5, "pings flowing")
    e.write_config(text=udptest_config(e, {"rate_limit": "1000",
                                      "rate_burst": "1000"}))
    e.signal(signal.SIGHUP)
    e.wait_log("configuration reloaded")
    gen2 = wait_for(lambda: (lambda w: w if len(w) == 2 else None)(
        [p for p in e.workers() if p not in gen1 and pid_alive(p)]), 10,
        "two new workers")
    sent = pinger.sent
    wait_for(lambda: pinger.sent > sent + 50, 5, "more pings after it")
    pinger.stop()
    tap.ok(not pinger.lost() and pinger.wrong == 0 and not pinger.errors,
           "%d datagrams across the reload, every one answered (lost: %s)"
           % (pinger.sent, pinger.lost()[:10]))
    tap.eq(udptest.udp_inodes(e.port), inodes,
           "the UDP sockets are the same (kept, not bound again)")
    old = retiring(e, gen1)
    tap.eq(len(old), 1, "the old worker that holds the TCP connection is "
           "still there")
    tap.ok(all(not (udptest.socket_inodes(p) & inodes) for p in old),
           "... and holds no UDP socket: it stopped reading at once")
    tap.ok(all(udptest.socket_inodes(p) >= inodes for p in gen2),
           "the new workers hold both")
    tap.eq(e.count_log(r"UDP rate limit: 1000 datagrams/s per network, "
                       r"burst 1000, in a table"), 1,
           "a new rate table for the new rate")
    maps = [udptest.mappings(p, "echod-udp-rate") for p in old + gen2]
    tap.ok(maps[0] == [] and maps[1] and maps[2],
           "the old worker had no table (rate_limit 0), the new ones map "
           "it", maps)
    held.close()
    wait_for(lambda: not retiring(e, gen1), 10, "the old workers to exit")

    # The same settings again: the table, and what networks used, stay.
    c = client()
    c.setblocking(False)
    e.write_config(text=udptest_config(e, {"rate_limit": "1",
                                      "rate_burst": "3"}))
    e.signal(signal.SIGHUP)
    e.wait_log("configuration reloaded", count=2)
    gen3 = wait_for(lambda: (lambda w: w if len(w) == 2 else None)(
        [p for p in e.workers() if p not in gen1 + gen2 and pid_alive(p)]),
        10, "two new workers")
    for i in range(6):
        c.sendto(b"%d" % i, ("127.0.0.1", e.port))
    n = len(drain(c, 0.3))
    tap.ok(3 <= n <= 4, "rate 1/s, burst 3: %d of 6 answered" % n)
    e.write_config(text=udptest_config(e, {"rate_limit": "1", "rate_burst": "3",
                                      "min_source_port": "2000"}))
    e.signal(signal.SIGHUP)
    e.wait_log("configuration reloaded", count=3)
    wait_for(lambda: (lambda w: w if len(w) == 2 else None)(
        [p for p in e.workers() if p not in gen1 + gen2 + gen3 and
         pid_alive(p)]), 10, "two new workers")
    for i in range(6):
        c.sendto(b"%d" % i, ("127.0.0.1", e.port))
    n = len(drain(c, 0.3))
    tap.ok(n < 3, "a reload that keeps the rate settings keeps the table: "
           "the network's burst is still spent (%d answered, 3 with a new "
           "table)" % n)
    tap.eq(e.count_log(r"UDP rate limit: 1 datagrams/s"), 1,
           "... no new table was made")
    c.close()
    tap.eq(e.stop(), 0, "exit 0")


def udptest_config(e, udp):
    from echodtest import make_config
    text = make_config(e.port, {"server": {"listen": "127.0.0.1:%d"
                                           % e.port, "workers": "2"}})
    text += "[udp]\nlisten = 127.0.0.1:%d, [::1]:%d\n" % (e.port, e.port)
    text += "".join("%s = %s\n" % kv for kv in udp.items())
    return text


def test_stop():
    e = udp_echod({"rate_limit": "0"}, more={
        "server": {"shutdown_timeout": "10s", "drain_idle": "0"}}).start()
    c = client()
    c.connect(("127.0.0.1", e.port))
    c.send(b"before")
    tap.eq(drain(c, 0.5), [b"before"], "answered before the stop")
    held = connect(e.port)
    held.sendall(b"x")
    tap.eq(held.recv(1), b"x", "a TCP connection is open")
    workers = e.wait_workers(2)
    e.signal(signal.SIGTERM)
    e.wait_log("stopping: draining 1 connections")
    # Bound by echod: closed at once; the port answers ICMP unreachable.

    def refused():
        try:
            c.send(b"during")
            c.settimeout(0.1)
            c.recv(100)
        except ConnectionRefusedError:
            return True
        except socket.timeout:
            pass
        return None
    wait_for(refused, 5, "the UDP port to be closed")
    tap.ok(e.proc.poll() is None and any(pid_alive(p) for p in workers),
           "while TCP drains, UDP is no longer read: its socket is closed")
    tap.eq(udptest.udp_inodes(e.port) & set().union(*[
        udptest.socket_inodes(p) for p in [e.pid] + workers]), set(),
        "... by the master and by every worker")
    held.close()
    tap.eq(e.wait_exit(), 0, "exit 0 once the TCP connection is gone")
    c.close()


def fd_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def test_stop_passed():
    """Sockets from systemd stay open through a stop (they belong to the
    socket unit), but no worker reads them any more."""
    port = udptest.free_port()
    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsn.bind(("127.0.0.1", port))
    lsn.listen(16)
    dg = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dg.bind(("127.0.0.1", port))
    # Two unused fds out of the way of 3 and 4 (bash, unlike dash, takes
    # more than one digit in a redirection).
    spare = [fd for fd in range(5, 200) if not fd_open(fd)][:2]
    t, u = os.dup2(lsn.fileno(), spare[0]), os.dup2(dg.fileno(), spare[1])
    e = Echod({"server": {"shutdown_timeout": "10s", "drain_idle": "0"},
               "udp": {"rate_limit": "0"}})
    e.start(argv_prefix=[
        "bash", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=2; exec 3<&%d 4<&%d '
        '%d<&- %d<&-; exec "$@"' % (t, u, t, u), "bash"],
        pass_fds=[t, u], wait_ready=False)
    for fd in (t, u):
        os.close(fd)
    lsn.close()
    dg.close()
    e.wait_log(r"started: \d+ workers serving on 127\.0\.0\.1:%d, udp "
               r"127\.0\.0\.1:%d \(from systemd\)" % (port, port))
    c = client()
    c.connect(("127.0.0.1", port))
    c.send(b"before")
    tap.eq(drain(c, 0.5), [b"before"], "passed UDP socket: answered")
    held = connect(port)
    held.sendall(b"x")
    tap.eq(held.recv(1), b"x", "a TCP connection is open")
    e.signal(signal.SIGTERM)
    e.wait_log("stopping: draining 1 connections")
    workers = e.workers()
    wait_for(lambda: all(not (udptest.socket_inodes(p) &
                              udptest.udp_inodes(port)) for p in workers),
             5, "the workers to close their UDP sockets")
    c.send(b"during")
    tap.eq(drain(c, 0.5), [], "while TCP drains, a datagram is not "
           "answered (and no ICMP error: the socket is still open)")
    tap.ok(udptest.socket_inodes(e.pid) >= udptest.udp_inodes(port),
           "... the master keeps systemd's socket")
    held.close()
    tap.eq(e.wait_exit(), 0, "exit 0 once the TCP connection is gone")
    c.close()


def test_crash():
    e = udp_echod({"rate_limit": "0"}).start()
    watch = ZombieWatch(e)
    workers = e.wait_workers(2)
    pinger = Pinger(("127.0.0.1", e.port), interval=0.005).start()
    wait_for(lambda: len(pinger.answered) >= 20, 5, "pings flowing")
    os.kill(workers[0], signal.SIGKILL)
    e.wait_log(r"worker \d+ \(pid %d\) was killed by signal 9" % workers[0])
    now = wait_for(lambda: (lambda w: w if len(w) == 2 and workers[0]
                            not in w else None)(e.wait_workers(2)), 10,
                   "a respawned worker")
    sent = pinger.sent
    wait_for(lambda: pinger.sent > sent + 50, 5, "more pings after it")
    pinger.stop()
    lost = pinger.lost()
    tap.ok(len(lost) <= 2 and pinger.wrong == 0,
           "a worker SIGKILLed during %d pings: %d lost (at most what it "
           "held)" % (pinger.sent, len(lost)))
    new = [p for p in now if p not in workers]
    tap.ok(len(new) == 1 and udptest.socket_inodes(new[0]) >=
           udptest.udp_inodes(e.port), "the new worker reads UDP")
    tap.eq(e.stop(), 0, "exit 0")
    tap.eq(watch.finish(), [], "no zombie, ever")


def test_no_leak():
    e = udp_echod({"rate_limit": "10", "rate_burst": "10"}).start()
    workers = e.wait_workers(2)
    before = [fd_count(p) for p in workers]
    c = client()
    c.setblocking(False)
    for rnd in range(20):
        for i in range(100):
            c.sendto(udptest.payload(1000, i), ("127.0.0.1", e.port))
        drain(c, 0.02)
    r = exchange(client("::1"), b"last", ("::1", e.port))
    tap.ok(r is not None, "2000 datagrams later echod answers")
    tap.eq([fd_count(p) for p in workers], before,
           "the workers hold as many descriptors as before")
    c.close()
    tap.eq(e.stop(), 0, "exit 0")
    m = re.search(r"UDP echo: (\d+) datagrams received, (\d+) answered "
                  r"\(\d+ bytes\); not answered: (\d+) rate", e.log())
    # The kernel may drop some when the socket's buffer overflows.
    tap.ok(m is not None and 0 < int(m.group(1)) <= 2001 and
           int(m.group(1)) == int(m.group(2)) + int(m.group(3)),
           "the report at the stop: each datagram read is answered or "
           "counted as dropped for rate", m and m.group(0))


def test_bad_socket():
    """A passed datagram socket that is not IP is refused."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    e = Echod()
    p = subprocess.run(
        ["bash", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=1; exec 3<&%d; '
         'exec "$0" -c "$1"' % a.fileno(), ECHOD, e.config],
        capture_output=True, timeout=10, pass_fds=[a.fileno()],
        stdin=subprocess.DEVNULL)
    tap.ok(p.returncode == 1 and b"is not a listening stream socket or a "
           b"UDP socket" in p.stderr, "a passed AF_UNIX datagram socket: "
           "refused with a clear message", p.stderr)
    a.close()
    b.close()


def body():
    test_activation()
    test_reload()
    test_stop()
    test_stop_passed()
    test_crash()
    test_no_leak()
    test_bad_socket()


run_test(body)
