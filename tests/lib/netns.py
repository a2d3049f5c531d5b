"""A private two-host network for fault tests: two network namespaces
created by the test ("server" and "client", names carrying the test's
pid) joined by a veth pair with 10.213.7.1/24 and 10.213.7.2/24.  Nothing
is added to the caller's own namespace: no address, no route, no rule.

Faults are real: iptables DROP rules inside a namespace, a link set down,
a namespace deleted and created again ("reboot"), sockets destroyed with
ss -K.  Everything is removed at exit, pass or fail (atexit, SIGTERM,
SIGINT, SIGHUP); rules and veths live inside the namespaces and go with
them.

Sockets are opened inside a namespace from this very process with
setns(2) through ctypes (os.setns is Python 3.12+): a socket belongs to
the namespace its creating thread was in, whatever the thread does next.
"""

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV",
              4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE",
              8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}


def unavailable():
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, iptables)"
    if shutil.which("ip") is None:
        return "no ip(8) (iproute2)"
    r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                       timeout=10)
    if r.returncode != 0:
        return "ip netns unavailable: %s" % r.stderr.decode().strip()
    return None


def run(*argv, check=True, timeout=10):
    """Run a command; raise with its stderr if it fails."""
    r = subprocess.run(list(argv), capture_output=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (
            " ".join(argv), r.returncode,
            (r.stderr or r.stdout).decode("utf-8", "replace").strip()))
    return r


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: %s" % os.strerror(e))


@contextlib.contextmanager
def inside(ns):
    """Run the body with this thread in network namespace 'ns'."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open("/run/netns/" + ns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def _hex_addr(h):
    """'0100007F:1B5F' (IPv4 as in /proc/net/tcp) -> ('127.0.0.1', 7007)"""
    a, p = h.split(":")
    return socket.inet_ntoa(struct.pack("<I", int(a, 16))), int(p, 16)


def tcp_table(ns):
    """The IPv4 TCP sockets of namespace 'ns', as dicts: local, remote
    ((addr, port) pairs), state (name), txq, rxq, inode (0: orphan, no
    longer held by any process)."""
    with inside(ns):
        with open("/proc/thread-self/net/tcp") as f:
            lines = f.read().splitlines()[1:]
    out = []
    for line in lines:
        f = line.split()
        txq, rxq = (int(x, 16) for x in f[4].split(":"))
        out.append({"local": _hex_addr(f[1]), "remote": _hex_addr(f[2]),
                    "state": TCP_STATES.get(int(f[3], 16), f[3]),
                    "txq": txq, "rxq": rxq, "inode": int(f[9])})
    return out


def socket_inodes(pids):
    """Inodes of the sockets open in any of these processes."""
    out = set()
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(int(link[8:-1]))
    return out


def abort(sock):
    """Close with SO_LINGER {1, 0}: the kernel forgets the connection at
    once and sends a RST (which a DROP rule can swallow)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


class Lab:
    """Two namespaces, server (S) and client (C), on one veth pair."""

    NET = "10.213.7"

    def __init__(self):
        pid = os.getpid()
        self.S = "echodt-s-%d" % pid
        self.C = "echodt-c-%d" % pid
        self.s_addr = self.NET + ".1"
        self.c_addr = self.NET + ".2"
        self.gen = 0
        self.silenced = {}      # ns -> list of rule specs
        self._made = []         # namespaces to delete
        self._had_run_netns = os.path.ismount("/run/netns")
        atexit.register(self.destroy)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda s, f: sys.exit(128 + s))
        self._add_ns(self.S)
        self._add_ns(self.C)
        self._link()

    # --- topology --------------------------------------------------------

    def _add_ns(self, ns):
        run("ip", "netns", "add", ns)
        self._made.append(ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")

    @property
    def s_dev(self):
        return "evs%d%s" % (os.getpid(), self.gen)

    @property
    def c_dev(self):
        return "evc%d%s" % (os.getpid(), self.gen)

    def _link(self):
        run("ip", "-n", self.S, "link", "add", self.s_dev, "type", "veth",
            "peer", "name", self.c_dev, "netns", self.C)
        run("ip", "-n", self.S, "addr", "add", self.s_addr + "/24",
            "dev", self.s_dev)
        run("ip", "-n", self.C, "addr", "add", self.c_addr + "/24",
            "dev", self.c_dev)
        run("ip", "-n", self.S, "link", "set", self.s_dev, "up")
        run("ip", "-n", self.C, "link", "set", self.c_dev, "up")

    def reboot_client(self, timeout=10.0):
        """The client host comes back with no memory of its connections:
        its namespace is deleted (with its veth pair) and created again,
        with the same address on a new veth pair.  The caller must have
        closed every socket it held in it."""
        old = self.s_dev
        run("ip", "netns", "del", self.C)
        self.silenced.pop(self.C, None)
        # The kernel takes the old namespace (and the veth pair) down
        # asynchronously; wait until the server side has lost its end.
        deadline = time.monotonic() + timeout
        while run("ip", "-n", self.S, "link", "show", old,
                  check=False).returncode == 0:
            if time.monotonic() > deadline:
                raise TimeoutError("old veth %s still there after %.0fs"
                                   % (old, timeout))
            time.sleep(0.01)
        run("ip", "netns", "add", self.C)
        run("ip", "-n", self.C, "link", "set", "lo", "up")
        self.gen += 1
        self._link()

    def link(self, ns, up):
        dev = self.s_dev if ns == self.S else self.c_dev
        run("ip", "-n", ns, "link", "set", dev, "up" if up else "down")

    # --- silence: DROP rules inside a namespace -------------------------

    def _iptables(self, ns, *args):
        run("ip", "netns", "exec", ns, "iptables", "-w", "5", *args)

    def silence(self, ns, directions=("INPUT", "OUTPUT")):
        """DROP every packet the namespace receives / sends on its veth
        (loopback inside it keeps working)."""
        dev = self.s_dev if ns == self.S else self.c_dev
        for chain in directions:
            spec = [chain, "-i" if chain == "INPUT" else "-o", dev,
                    "-j", "DROP"]
            self._iptables(ns, "-A", *spec)
            self.silenced.setdefault(ns, []).append(spec)

    def unsilence(self, ns):
        for spec in self.silenced.pop(ns, []):
            self._iptables(ns, "-D", *spec)

    def rules(self, ns):
        return run("ip", "netns", "exec", ns, "iptables", "-w", "5",
                   "-S").stdout.decode()

    # --- sockets ---------------------------------------------------------

    def connect(self, ns, host, port, timeout=5.0):
        with inside(ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((host, port))
        return s

    def destroy_sockets(self, ns, *filter_args):
        """ss -K: the kernel forgets matching TCP sockets (the RSTs it
        sends obey the namespace's DROP rules)."""
        return run("ip", "netns", "exec", ns, "ss", "-K", "-t", "-n",
                   *filter_args)

    # --- teardown ---------------------------------------------------------

    def destroy(self):
        """Delete the namespaces (their veths and rules go with them).
        Idempotent; never raises."""
        try:
            import echodtest
            echodtest.cleanup()     # processes inside them first
        except Exception:
            pass
        for ns in self._made:
            try:
                if os.path.exists("/run/netns/" + ns):
                    run("ip", "netns", "del", ns, check=False)
            except Exception:
                pass
        self._made = []
        # ip netns add may have made /run/netns a mount point: undo that
        # only if it was not one before and nobody else has one in it.
        try:
            if not self._had_run_netns and os.path.ismount("/run/netns") \
                    and not os.listdir("/run/netns"):
                subprocess.run(["umount", "/run/netns"], capture_output=True,
                               timeout=10)
        except Exception:
            pass

    def leftovers(self):
        """Names of this lab's namespaces still present."""
        return [ns for ns in (self.S, self.C)
                if os.path.exists("/run/netns/" + ns)]


__all__ = ["Lab", "inside", "tcp_table", "socket_inodes", "abort", "run",
           "unavailable"]
