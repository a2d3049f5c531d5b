"""UDP echo on loopback, with real datagrams: payloads echoed byte for
byte over IPv4 and IPv6, answers from the address each was sent to, each
address guard provoked (a client on port 19 when root, below
min_source_port, on one of echod's own ports, to a broadcast address), a
flood from one network limited across workers while another network
keeps its full rate, and the rate table bounded whatever the number of
networks."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
_here = os.path.dirname(os.path.abspath(__file__))
for _d in ("../lib", "../integration"):
    sys.path.insert(0, os.path.normpath(os.path.join(_here, _d)))

from echodtest import Echod, run_test, tap  # noqa: E402
import udptest  # noqa: E402
from udptest import MAX4, MAX6, client, drain, exchange, payload  # noqa


def udp_echod(udp, more=None, workers=2):
    """echod with TCP on 127.0.0.1 and [udp] settings 'udp' (listen may
    use {port})."""
    port = udptest.free_port()
    cfg = {"server": {"listen": "127.0.0.1:%d" % port,
                      "workers": str(workers)},
           "udp": {k: v.format(port=port) for k, v in udp.items()}}
    for sec, kv in (more or {}).items():
        cfg.setdefault(sec, {}).update(kv)
    return Echod(cfg, port=port).start()


def report(e):
    """Stop echod and return its UDP totals: received, answered and the
    drops by label, from the line it logs at the end."""
    tap.eq(e.stop(), 0, "echod stops with status 0")
    m = re.search(r"UDP echo: (\d+) datagrams received, (\d+) answered "
                  r"\(\d+ bytes\)(?:; not answered: (.*))?", e.log())
    if m is None:
        return None
    drops = {}
    for item in (m.group(3) or "").split(", "):
        if item:
            n, label = item.split(" ", 1)
            drops[label] = int(n)
    return int(m.group(1)), int(m.group(2)), drops


def test_payloads():
    e = udp_echod({"listen": "127.0.0.1:{port}, [::1]:{port}",
                   "rate_limit": "0"})
    for host, sizes in (("127.0.0.1", (0, 1, 1400, 9000, MAX4)),
                        ("::1", (0, 1, 1400, 9000, MAX6))):
        c = client(host)
        for n in sizes:
            data = payload(n, n)
            r = exchange(c, data, (host, e.port))
            tap.ok(r is not None and r[0] == data and r[1][1] == e.port,
                   "%s: %d bytes echoed byte for byte, from port %d"
                   % (host, n, e.port),
                   "got %r" % ((None if r is None else
                                (len(r[0]), r[1])),))
        c.close()
    # One more than the largest datagram cannot even be sent.
    c = client("127.0.0.1")
    try:
        c.sendto(b"x" * (MAX4 + 1), ("127.0.0.1", e.port))
        tap.ok(False, "65508 bytes over IPv4 cannot be sent")
    except OSError:
        tap.ok(True, "65508 bytes over IPv4 cannot be sent (the limit "
               "is the protocol's, not echod's)")
    c.close()
    r = report(e)
    tap.ok(r is not None and r[0] == 10 and r[1] == 10 and not r[2],
           "the report at the stop: 10 received, 10 answered, no drop",
           r)


def test_wildcard_source():
    e = udp_echod({"listen": "*:{port}", "rate_limit": "0"})
    c = client("127.0.0.1", bind=("127.0.0.1", 0))
    for dst in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
        r = exchange(c, b"where from?", (dst, e.port))
        tap.ok(r is not None and r[1] == (dst, e.port),
               "*:%d: a datagram to %s is answered from %s:%d"
               % (e.port, dst, dst, e.port), r and r[1])
    c.close()
    c = client("::1")
    r = exchange(c, b"v6", ("::1", e.port))
    tap.ok(r is not None and r[1][0] == "::1", "[::]: answered from ::1")
    c.close()
    e.stop()


def bound_in(ports):
    """A client on 127.0.0.1 bound to the first free port of 'ports'."""
    for p in ports:
        try:
            return client(bind=("127.0.0.1", p))
        except OSError:
            continue
    raise RuntimeError("no free port in %r" % ports)


def test_guards():
    # The other socket's port from the config, not from the log: the
    # line naming it may not be written yet when echod is ready.
    own = udptest.free_port()
    e = udp_echod({"listen": "127.0.0.1:{port}, 127.0.0.1:%d" % own,
                   "min_source_port": "40000", "rate_limit": "0"},
                  workers=1)
    dst = ("127.0.0.1", e.port)

    c = bound_in(range(30000, 40000))
    sport = c.getsockname()[1]
    tap.ok(exchange(c, b"low port", dst, timeout=0.5) is None,
           "source port %d below min_source_port 40000: no answer" % sport)
    e.wait_log(r"UDP source_port: no answer to 127\.0\.0\.1:%d \(sent to "
               r"127\.0\.0\.1\): source port below min_source_port"
               % sport)
    tap.ok(True, "... logged with source, destination and reason")
    c.close()
    hi = bound_in(range(40000, 41000))
    r = exchange(hi, b"high port", dst)
    tap.ok(r is not None and r[0] == b"high port",
           "source port %d (not below 40000): answered"
           % hi.getsockname()[1])
    hi.close()

    # A client that took the port of echod's other UDP socket.
    c = client(bind=("127.0.0.7", own))
    tap.ok(exchange(c, b"loop?", dst, timeout=0.5) is None,
           "source port %d, that of echod's other UDP socket: no answer"
           % own)
    c.close()

    if os.geteuid() == 0:
        e.write_config({"server": {"listen": "127.0.0.1:%d" % e.port,
                                   "workers": "1"},
                        "udp": {"listen": "127.0.0.1:%d" % e.port,
                                "rate_limit": "0"}})
        e.signal(__import__("signal").SIGHUP)
        e.wait_log("configuration reloaded")
        c = client(bind=("127.0.0.1", 19))
        tap.ok(exchange(c, b"chargen", dst, timeout=0.5) is None,
               "a client bound to port 19 (chargen), default "
               "min_source_port: no answer")
        c.close()
    else:
        tap.skip("a client on port 19", "needs root")

    r = report(e)
    want = 3 if os.geteuid() == 0 else 2
    tap.ok(r is not None and r[2].get("source_port") == want,
           "the report counts %d source_port drops" % want, r)


def test_broadcast_destination():
    e = udp_echod({"listen": "*:{port}", "rate_limit": "0"}, workers=1)
    c = client(broadcast=True)
    tap.ok(exchange(c, b"to all", ("127.255.255.255", e.port),
                    timeout=0.5) is None,
           "a datagram to 127.255.255.255 (lo's broadcast): no answer")
    e.wait_log(r"UDP destination: no answer to 127\.0\.0\.1:\d+ \(sent to "
               r"127\.255\.255\.255\): directed broadcast destination")
    tap.ok(True, "... logged as a broadcast destination (lo's prefix, "
           "127.0.0.0/8, ends there)")
    r = exchange(c, b"to one", ("127.0.0.1", e.port))
    tap.ok(r is not None, "the same client to 127.0.0.1: answered")
    c.close()
    e.stop()


def test_rate():
    """A flood from 127.0.0.0/24 is held to burst + rate x time across
    both workers (the table is shared), while 127.0.1.0/24 keeps its full
    rate, and the network is logged once."""
    rate, burst = 20, 10
    e = udp_echod({"listen": "127.0.0.1:{port}", "rate_limit": str(rate),
                   "rate_burst": str(burst)}, workers=2)
    dst = ("127.0.0.1", e.port)
    flood = client(bind=("127.0.0.1", 0))
    flood.setblocking(False)
    calm = client(bind=("127.0.1.1", 0))
    t0 = time.monotonic()
    sent = calm_ok = calm_sent = 0
    nxt = t0
    # Ten calm exchanges, at most 10 a second, however slow the machine.
    while calm_sent < 10 and time.monotonic() - t0 < 15.0:
        for _ in range(20):
            try:
                flood.sendto(b"flood %d" % sent, dst)
                sent += 1
            except BlockingIOError:
                pass
        if time.monotonic() >= nxt:
            # 10 a second: half the limit.
            r = exchange(calm, b"calm %d" % calm_sent, dst, timeout=1.0)
            calm_sent += 1
            calm_ok += r is not None and r[0] == b"calm %d" % (calm_sent - 1)
            nxt += 0.1
        time.sleep(0.001)
    elapsed = time.monotonic() - t0
    answered = len(drain(flood, 0.3))
    tap.ok(calm_ok == calm_sent and calm_sent == 10,
           "127.0.1.0/24 at half the limit during the flood: %d of %d "
           "answered" % (calm_ok, calm_sent))
    bound = burst + rate * (elapsed + 0.3) + 2
    tap.ok(burst <= answered <= bound,
           "a flood of %d from 127.0.0.0/24 over %.2f s, read by 2 workers: "
           "%d answered (at most burst + rate x time = %.0f)"
           % (sent, elapsed, answered, bound))
    e.wait_log(r"UDP rate_limit: 127\.0\.0\.0/24 sends more than 20 "
               r"datagrams/s \(burst 10\); its excess goes unanswered")
    tap.eq(e.count_log(r"127\.0\.0\.0/24 sends more"), 1,
           "the network is logged once for the whole flood")
    tap.eq(e.count_log(r"127\.0\.1\.0/24"), 0, "the calm one never")
    flood.close()
    calm.close()
    r = report(e)
    tap.ok(r is not None and r[1] == answered + calm_ok and
           r[2].get("rate") == r[0] - r[1],
           "the report: every datagram read, the unanswered ones counted "
           "as rate", r)


def test_table_bound():
    """rate_table_size = 8 holds eight networks: a ninth takes the bucket
    of the one idle longest, which then starts again with a full burst.
    Thousands of networks later the table is the size it was."""
    e = udp_echod({"listen": "127.0.0.1:{port}", "rate_limit": "1",
                   "rate_burst": "5", "rate_table_size": "8"}, workers=1)
    dst = ("127.0.0.1", e.port)
    worker = e.wait_workers(1)[0]
    maps = udptest.mappings(worker, "echod-udp-rate")
    tap.ok(len(maps) == 1 and maps[0]["size"] == 4096,
           "the worker maps one rate table of one page (8 networks)",
           maps)

    def burst_of(src):
        c = client(bind=(src, 0))
        c.setblocking(False)
        for i in range(10):
            c.sendto(b"%d" % i, dst)
        n = len(drain(c, 0.2))
        c.close()
        return n

    tap.eq(burst_of("127.0.0.1"), 5, "127.0.0.0/24: 5 of 10 (its burst)")
    tap.eq(burst_of("127.0.0.2"), 0, "... and then none")
    others = [burst_of("127.0.%d.1" % i) for i in range(1, 9)]
    tap.eq(others, [5] * 8, "eight other networks get their burst each")
    tap.eq(burst_of("127.0.0.1"), 5, "127.0.0.0/24, idle longest, was "
           "forgotten for the eighth: a full burst again")
    # Thousands of networks, one datagram each.
    socks = 0
    for a in range(2, 20):
        for b in range(0, 256, 2):
            c = client(bind=("127.%d.%d.1" % (a, b), 0))
            c.sendto(b"x", dst)
            c.close()
            socks += 1
    # Once this is answered, every datagram before it was read.
    tap.ok(exchange(client(bind=("127.200.0.1", 0)), b"last", dst)
           is not None, "%d more networks sent one datagram each" % socks)
    maps2 = udptest.mappings(worker, "echod-udp-rate")
    tap.ok(maps2 and maps2[0]["size"] == maps[0]["size"] and
           maps2[0]["rss_kib"] <= 4,
           "after %d more networks: the same one-page table" % socks,
           maps2)
    e.stop()


def test_tcp_only():
    """No [udp] listen: no UDP socket, no rate table, nothing allocated."""
    e = udp_echod({}, workers=1)
    worker = e.wait_workers(1)[0]
    tap.eq(udptest.mappings(worker, "echod-udp-rate"), [],
           "TCP only: no rate table in the worker")
    tap.eq(udptest.udp_inodes(e.port) & udptest.socket_inodes(e.pid), set(),
           "... and no UDP socket in the master")
    c = client()
    c.connect(("127.0.0.1", e.port))
    c.send(b"x")
    try:
        r = drain(c, 0.3)
    except ConnectionRefusedError:
        r = []
    tap.eq(r, [], "a datagram to the TCP port: no answer")
    c.close()
    tap.eq(e.stop(), 0, "echod stops with status 0")
    tap.ok("UDP" not in e.log(), "nothing about UDP in the log")


def body():
    test_payloads()
    test_wildcard_source()
    test_guards()
    test_broadcast_destination()
    test_rate()
    test_table_bound()
    test_tcp_only()


run_test(body)
