"""UDP echo on real interfaces, in network namespaces the test creates
(tests/lib/netns.py: "server" runs echod, "client" sends over a veth
pair; both are removed at the end).  Root only.

- A wildcard socket on a host with two addresses on one interface (IPv4
  and IPv6) answers from the address each datagram was sent to.
- Each guard is provoked with real packets, forged where a real client
  could not send them (raw sockets): a loopback source from outside, a
  directed broadcast source, an IPv4-mapped IPv6 source, echod's own port
  as source, datagrams to the subnet's broadcast, to 255.255.255.255 and
  to all-hosts multicast.
- A flood from one /24 while a second /24 on the same link keeps its full
  rate.
- Forged sources on the link that never answer ARP fill the socket's send
  buffer: answers are dropped and counted, the worker never blocks (TCP
  goes on being echoed), and UDP answers resume once the neighbours fail.
"""

import os
import re
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
_here = os.path.dirname(os.path.abspath(__file__))
for _d in ("../lib", "../integration", "../faults"):
    sys.path.insert(0, os.path.normpath(os.path.join(_here, _d)))

from echodtest import Echod, recv_exact, run_test, tap, wait_for  # noqa
import netns  # noqa: E402
from netns import Lab, inside, run  # noqa: E402
from udptest import client, drain, exchange, forge4  # noqa: E402

PORT = 7007     # inside the server namespace, which nothing else uses
S6, S6B, C6 = "fd00:213:7::1", "fd00:213:7::11", "fd00:213:7::2"
S4B = "10.213.7.11"         # the server's second IPv4 address
NET2_S, NET2_C = "10.213.8.1", "10.213.8.2"


def setup(lab):
    for args in (("addr", "add", S4B + "/24", "dev", lab.s_dev),
                 ("addr", "add", NET2_S + "/24", "dev", lab.s_dev),
                 ("addr", "add", S6 + "/64", "dev", lab.s_dev, "nodad"),
                 ("addr", "add", S6B + "/64", "dev", lab.s_dev, "nodad")):
        run("ip", "-n", lab.S, *args)
    for args in (("addr", "add", NET2_C + "/24", "dev", lab.c_dev),
                 ("addr", "add", C6 + "/64", "dev", lab.c_dev, "nodad")):
        run("ip", "-n", lab.C, *args)
    # Let a forged loopback source in, so that only echod can refuse it;
    # no reverse-path filter either.
    for key in ("net.ipv4.conf.%s.route_localnet=1" % lab.s_dev,
                "net.ipv4.conf.%s.accept_local=1" % lab.s_dev,
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.%s.rp_filter=0" % lab.s_dev,
                # Answers waiting for ARP stay charged to echod's socket.
                "net.ipv4.neigh.%s.unres_qlen_bytes=16777216" % lab.s_dev):
        run("ip", "netns", "exec", lab.S, "sysctl", "-qw", key)


def start_echod(lab, workers=2):
    e = Echod({"server": {"listen": "127.0.0.1:%d, %s:%d"
                          % (PORT, lab.s_addr, PORT),
                          "workers": str(workers)},
               "udp": {"listen": "*:%d" % PORT, "rate_limit": "0"}},
              port=PORT)
    return e.start(argv_prefix=["ip", "netns", "exec", lab.S])


def test_source_address(lab, e):
    with inside(lab.C):
        c4 = client(lab.s_addr)
        c6 = client(C6)
    for dst in (lab.s_addr, S4B):
        r = exchange(c4, b"which one?", (dst, PORT))
        tap.ok(r is not None and r[1] == (dst, PORT),
               "two IPv4 addresses on one interface, wildcard socket: a "
               "datagram to %s is answered from %s" % (dst, dst),
               r and r[1])
    for dst in (S6, S6B):
        r = exchange(c6, b"which one?", (dst, PORT))
        tap.ok(r is not None and r[1][:2] == (dst, PORT),
               "two IPv6 addresses on one interface: a datagram to %s is "
               "answered from %s" % (dst, dst), r and r[1])
    c4.close()
    c6.close()


def csum16(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def forge6(src, sport, dst, dport, data):
    """One IPv6 UDP datagram with any source, on a raw socket that takes
    the whole header (IPPROTO_RAW implies IPV6_HDRINCL on Linux)."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        sa = socket.inet_pton(socket.AF_INET6, src)
        da = socket.inet_pton(socket.AF_INET6, dst)
        ulen = 8 + len(data)
        pseudo = sa + da + struct.pack("!IxxxB", ulen, socket.IPPROTO_UDP)
        udp = struct.pack("!HHHH", sport, dport, ulen, 0) + data
        udp = struct.pack("!HHHH", sport, dport, ulen,
                          csum16(pseudo + udp) or 0xffff) + data
        ip = struct.pack("!IHBB", 6 << 28, ulen, socket.IPPROTO_UDP, 64) + \
            sa + da
        s.sendto(ip + udp, (dst, 0))
    finally:
        s.close()


def report(e):
    """Stop echod; its drops by label, from the line it logs at the end."""
    tap.eq(e.stop(), 0, "exit 0")
    m = re.search(r"UDP echo: \d+ datagrams received, \d+ answered "
                  r"\(\d+ bytes\)(?:; not answered: (.*))?", e.log())
    drops = {}
    for item in ((m and m.group(1)) or "").split(", "):
        if item:
            n, label = item.split(" ", 1)
            drops[label] = int(n)
    return drops


def probe(lab, e):
    """A real client's datagram, answered: everything sent to echod's
    one worker before it has been judged (one socket, read in order)."""
    with inside(lab.C):
        c = client(lab.s_addr)
    r = exchange(c, b"probe", (lab.s_addr, PORT))
    c.close()
    return r is not None


def guard(lab, label, why, what, send, count=1):
    """A fresh echod (one worker, so that every drop of the kind is the
    first of its burst and logged in full); 'send' sends the datagrams
    to judge."""
    e = start_echod(lab, workers=1)
    send(e)
    tap.ok(probe(lab, e), "%s: sent, and echod goes on answering" % what)
    m = re.search(r"UDP %s: no answer to (\S+) \(sent to (\S+)\): (.*)"
                  % label, e.log())
    tap.ok(m is not None and m.group(3) == why,
           "... no answer: logged as %s, \"%s\"" % (label, why),
           m and m.group(0))
    drops = report(e)
    tap.eq(drops, {label: count}, "... and counted so, alone")


def test_guards(lab):
    def forged(src, sport=40000, dst=None):
        def send(e):
            with inside(lab.C):
                forge4(src, sport, dst or lab.s_addr, PORT, b"forged")
        return send

    guard(lab, "source_address", "loopback source on a non-loopback "
          "interface", "a forged 127.0.0.1 source from the client host",
          forged("127.0.0.1"))
    guard(lab, "source_address", "directed broadcast source", "a forged "
          "source that is the subnet's broadcast 10.213.7.255",
          forged("10.213.7.255"))

    def stale(e):
        """An address added after echod listed the interfaces: its
        subnet's broadcast is new to the guard, not to the kernel."""
        probe(lab, e)
        run("ip", "-n", lab.S, "addr", "add", "10.213.9.1/24", "dev",
            lab.s_dev)
        try:
            with inside(lab.C):
                forge4("10.213.9.255", 40000, lab.s_addr, PORT, b"new")
            probe(lab, e)
        finally:
            run("ip", "-n", lab.S, "addr", "del", "10.213.9.1/24", "dev",
                lab.s_dev)
    guard(lab, "source_address", "broadcast source (the kernel refuses to "
          "send to it)", "a forged source that is the broadcast of a subnet "
          "added a moment ago", stale)

    def mapped(e):
        with inside(lab.C):
            forge6("::ffff:10.213.7.2", 40000, S6, PORT, b"mapped")
    guard(lab, "source_address", "IPv4-mapped source", "an IPv6 datagram "
          "from ::ffff:10.213.7.2 to a V6ONLY socket", mapped)
    guard(lab, "source_port", "source port of one of echod's UDP sockets "
          "(an echo loop)", "a datagram from port %d (echod's own) of "
          "another host" % PORT, forged(lab.c_addr, PORT))

    def broadcast(dst, what):
        def send(e):
            with inside(lab.C):
                b = client(lab.s_addr, broadcast=True)
            b.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                         lab.c_dev.encode())
            b.sendto(b"all", (dst, PORT))
            tap.eq(drain(b, 0.3), [], "%s: nothing came back" % what)
            b.close()
        return send
    guard(lab, "destination", "directed broadcast destination",
          "a datagram to the subnet's broadcast 10.213.7.255",
          broadcast("10.213.7.255", "subnet broadcast"))
    guard(lab, "destination", "limited broadcast destination",
          "a datagram to 255.255.255.255",
          broadcast("255.255.255.255", "limited broadcast"))

    # Multicast never reaches echod's sockets (IP_MULTICAST_ALL off).
    e = start_echod(lab, workers=1)
    with inside(lab.C):
        m = client(lab.s_addr)
        m.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                     socket.inet_aton(lab.c_addr))
        m6 = client(C6)
        cidx = socket.if_nametoindex(lab.c_dev)
        m6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, cidx)
    m.sendto(b"mc", ("224.0.0.1", PORT))
    tap.eq(drain(m, 0.5), [], "a datagram to all-hosts 224.0.0.1: no "
           "answer")
    m6.sendto(b"mc", ("ff02::1", PORT, 0, cidx))
    tap.eq(drain(m6, 0.5), [], "a datagram to all-nodes ff02::1: no answer")
    m.close()
    m6.close()
    tap.ok(probe(lab, e), "echod answers a real client after them")
    tap.eq(report(e), {}, "... and never read them: the kernel delivers "
           "no multicast to its sockets")


def test_rate(lab):
    """Two networks of one link: a flood from 10.213.7.0/24 is limited,
    10.213.8.0/24 keeps its full rate meanwhile."""
    e = Echod({"server": {"listen": "127.0.0.1:%d" % PORT, "workers": "2"},
               "udp": {"listen": "%s:%d, %s:%d" % (lab.s_addr, PORT,
                                                  NET2_S, PORT),
                       "rate_limit": "50", "rate_burst": "20"}}, port=PORT)
    e.start(argv_prefix=["ip", "netns", "exec", lab.S])
    with inside(lab.C):
        flood = client(lab.s_addr, bind=(lab.c_addr, 0))
        calm = client(NET2_S, bind=(NET2_C, 0))
    flood.setblocking(False)
    start = time.monotonic()
    sent = calm_sent = calm_ok = 0
    nxt = start
    while time.monotonic() - start < 1.0:
        for _ in range(50):
            try:
                flood.sendto(b"flood", (lab.s_addr, PORT))
                sent += 1
            except BlockingIOError:
                pass
        if time.monotonic() >= nxt:
            r = exchange(calm, b"calm %d" % calm_sent, (NET2_S, PORT), 1.0)
            calm_ok += r is not None
            calm_sent += 1
            nxt += 1 / 40       # 40 a second, below 50
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    got = len(drain(flood, 0.3))
    tap.ok(calm_ok == calm_sent and calm_sent >= 30,
           "10.213.8.0/24 at 40/s during the flood: %d of %d answered"
           % (calm_ok, calm_sent))
    tap.ok(got <= 20 + 50 * (elapsed + 0.3) + 2,
           "a flood of %d from 10.213.7.0/24: %d answered (burst 20 + 50/s)"
           % (sent, got))
    e.wait_log(r"UDP rate_limit: 10\.213\.7\.0/24 sends more than 50 "
               r"datagrams/s")
    tap.ok(True, "the flooding network is logged")
    flood.close()
    calm.close()
    tap.eq(e.stop(), 0, "exit 0")


def test_send_full(lab):
    """Answers to on-link addresses nobody holds wait for ARP, charged to
    echod's socket, until the send buffer is full: further answers are
    dropped and counted, never waited for."""
    e = Echod({"server": {"listen": "%s:%d" % (lab.s_addr, PORT),
                          "workers": "1"},
               "udp": {"listen": "%s:%d" % (lab.s_addr, PORT),
                       "rate_limit": "0"}}, port=PORT)
    e.start(argv_prefix=["ip", "netns", "exec", lab.S])
    tcp = lab.connect(lab.C, lab.s_addr, PORT)
    with inside(lab.C):
        for i in range(600):
            forge4("10.213.7.%d" % (100 + i % 100), 40000, lab.s_addr, PORT,
                   b"x" * 1400)
    e.wait_log(r"UDP send_buffer_full: no answer to 10\.213\.7\.\d+:40000 "
               r"\(sent to 10\.213\.7\.1\)(?: and \d+ more)?: send buffer "
               r"full")
    tap.ok(True, "600 datagrams from on-link addresses that never answer "
           "ARP: once the send buffer is full, answers are dropped and "
           "logged")
    tcp.sendall(b"still there?")
    tap.eq(recv_exact(tcp, 12), b"still there?", "the worker goes on: a "
           "TCP connection is echoed meanwhile")
    with inside(lab.C):
        c = client(lab.s_addr)

    def answered():
        r = exchange(c, b"later", (lab.s_addr, PORT), 0.5)
        return r is not None and r[0] == b"later"
    wait_for(answered, 15, "UDP answers once the neighbours failed")
    tap.ok(True, "UDP answers resume once ARP gave up on them")
    c.close()
    tcp.close()
    tap.eq(e.stop(), 0, "exit 0")
    m = re.search(r"not answered: .*?(\d+) send_buffer_full", e.log())
    tap.ok(m is not None and int(m.group(1)) > 0,
           "the report counts them as send_buffer_full", m and m.group(0))


def body():
    why = netns.unavailable()
    if why:
        tap.skip_all(why)
    lab = Lab()
    setup(lab)
    e = start_echod(lab)
    test_source_address(lab, e)
    tap.eq(e.stop(), 0, "exit 0")
    test_guards(lab)
    test_rate(lab)
    test_send_full(lab)
    lab.destroy()
    tap.eq(lab.leftovers(), [], "no namespace left behind")


run_test(body)
