"""Helpers for the UDP echo tests: free ports, one-datagram exchanges,
a pinger that keeps numbered datagrams flowing while something happens to
echod, forged IPv4 datagrams (raw sockets, root), and what /proc says
about echod's UDP sockets and rate table.

Every wait is bounded; nothing sleeps blindly.  Sockets are closed by
the caller or when the test process exits.
"""

import os
import select
import socket
import struct
import threading
import time

IP_TRANSPARENT = 19
IP_PKTINFO = 8

MAX4 = 65507    # largest UDP payload over IPv4
MAX6 = 65527    # ... over IPv6 (no jumbogram)


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port():
    """A port free for TCP and UDP on 127.0.0.1 and ::1 right now."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        held = [s]
        try:
            for fam, host, typ in ((socket.AF_INET, "127.0.0.1",
                                    socket.SOCK_STREAM),
                                   (socket.AF_INET6, "::1",
                                    socket.SOCK_DGRAM),
                                   (socket.AF_INET6, "::1",
                                    socket.SOCK_STREAM)):
                t = socket.socket(fam, typ)
                held.append(t)
                t.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for t in held:
                t.close()
    raise RuntimeError("no free port")


def client(host="127.0.0.1", bind=None, broadcast=False):
    """A UDP socket for host's family, bound to bind=(addr, port) if
    given."""
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    if broadcast:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    if bind is not None:
        s.bind(bind)
    return s


def exchange(sock, data, dst, timeout=2.0):
    """Send one datagram, wait up to timeout for one back: returns
    (payload, source address) or None.  An ICMP error is raised."""
    sock.sendto(data, dst)
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return None
    return sock.recvfrom(1 << 17)


def drain(sock, quiet=0.2):
    """Read whatever comes until nothing has for 'quiet' s; returns the
    payloads."""
    got = []
    while True:
        r, _, _ = select.select([sock], [], [], quiet)
        if not r:
            return got
        try:
            got.append(sock.recv(1 << 17))
        except (ConnectionRefusedError, BlockingIOError):
            pass


def payload(n, seed=0):
    """n bytes of a pattern that a cut or a shift would break."""
    return bytes((i * 7 + i // 251 + seed) & 0xff for i in range(n))


class Pinger:
    """Numbered datagrams to dst every 'interval' s from one socket, in a
    thread, until stop(); then waits up to 'grace' s for late answers.
    sent, answered (set of sequence numbers), wrong (answers that are not
    an echo of what was sent), errors."""

    def __init__(self, dst, interval=0.01, source=None):
        self.dst = dst
        self.interval = interval
        self.sock = client(dst[0], bind=source)
        self.sock.setblocking(False)
        self.sent = 0
        self.answered = set()
        self.wrong = 0
        self.errors = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._t.start()
        return self

    def _msg(self, seq):
        return b"ping %08d " % seq + payload(40, seq)

    def _recv(self):
        while True:
            try:
                d = self.sock.recv(4096)
            except BlockingIOError:
                return
            except OSError as e:    # ICMP port unreachable, mostly
                self.errors.append(repr(e))
                continue
            try:
                seq = int(d[5:13])
            except ValueError:
                self.wrong += 1
                continue
            if d != self._msg(seq):
                self.wrong += 1
            else:
                self.answered.add(seq)

    def _run(self):
        nxt = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= nxt:
                try:
                    self.sock.sendto(self._msg(self.sent), self.dst)
                except OSError as e:
                    self.errors.append(repr(e))
                self.sent += 1
                nxt += self.interval
            select.select([self.sock], [], [], max(0.0, nxt - now))
            self._recv()

    def stop(self, grace=2.0):
        self._stop.set()
        self._t.join()
        deadline = time.monotonic() + grace
        while len(self.answered) < self.sent and \
                time.monotonic() < deadline:
            select.select([self.sock], [], [], 0.05)
            self._recv()
        self.sock.close()
        return self

    def lost(self):
        return sorted(set(range(self.sent)) - self.answered)


# --- forged datagrams (root) ------------------------------------------

def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def forge4(src, sport, dst, dport, data, broadcast=False, device=None):
    """Send one IPv4 UDP datagram with any source address and port, built
    by hand on a raw socket (IP_HDRINCL): the kernel takes the source as
    it is.  Opened in the calling thread's network namespace."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        if broadcast:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if device is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                         device.encode())
        sa, da = socket.inet_aton(src), socket.inet_aton(dst)
        ulen = 8 + len(data)
        pseudo = sa + da + struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen)
        udp = struct.pack("!HHHH", sport, dport, ulen, 0) + data
        c = _csum(pseudo + udp) or 0xffff
        udp = struct.pack("!HHHH", sport, dport, ulen, c) + data
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0, 64,
                         socket.IPPROTO_UDP, 0, sa, da)
        s.sendto(ip + udp, (dst, 0))
    finally:
        s.close()


# --- /proc --------------------------------------------------------------

def udp_inodes(port, ns_pid=None):
    """Inodes of the UDP sockets bound to 'port' (IPv4 and IPv6), as the
    network namespace of ns_pid (default: ours) sees them."""
    base = "/proc/%s/net" % (ns_pid or "thread-self")
    out = set()
    for table in ("udp", "udp6"):
        try:
            with open(os.path.join(base, table)) as f:
                next(f)
                for line in f:
                    fl = line.split()
                    if int(fl[1].rsplit(":", 1)[1], 16) == port:
                        out.add(int(fl[9]))
        except FileNotFoundError:
            pass
    return out


def socket_inodes(pid):
    """Inodes of the sockets open in process pid."""
    out = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[8:-1]))
    return out


def mappings(pid, name):
    """Sizes in bytes of the mappings of pid whose path contains name,
    with their resident size (KiB), from /proc/pid/smaps."""
    out = []
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fl = line.split()
            if "-" in fl[0] and len(fl) >= 5 and ":" not in fl[0]:
                cur = None
                if len(fl) >= 6 and name in " ".join(fl[5:]):
                    lo, hi = (int(x, 16) for x in fl[0].split("-"))
                    cur = {"size": hi - lo, "rss_kib": 0}
                    out.append(cur)
            elif cur is not None and fl[0] == "Rss:":
                cur["rss_kib"] = int(fl[1])
    return out
