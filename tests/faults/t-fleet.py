"""A fleet behind a real load balancer (issue 12), root only.

Network namespaces made and removed by the test stand for hosts:

    client 10.77.1.2 (.3, .4, .5) --- 10.77.1.1  balancer  10.77.2.1 --- bridge
                                                                      |-- h1 10.77.2.11
                                                                      |-- h2 10.77.2.12
                                                                      `-- h3 10.77.2.13

The balancer runs HAProxy from Debian with a configuration written here:
a TCP frontend on 10.77.1.1:7, a round-robin backend that connects to
each host's PROXY socket (port 7008) with send-proxy-v2, and a health
check of GET /health on each host's metrics port (9007) every 200 ms,
fall 2, rise 2.  Each host runs echod with [proxy] listen, trusted = the
balancer's address, [metrics] listen and drain_delay = 1s, longer than
the balancer takes to notice a failing /health (fall x inter = 400 ms).

It proves:
1. connections spread over the three hosts, and each host logs the
   clients' own addresses, the balancer's apart; a client over
   max_connections_per_ip is refused on every host while another client
   behind the same balancer is served;
2. rolling drain: SIGTERM one host; HAProxy marks it DOWN before echod
   closes its listeners, new connections go to the others (no retry, no
   connection error in HAProxy's counters, none refused or reset at the
   client), its open streams finish with every byte back (hash-checked);
   restarted, it rejoins;
3. host crash: one host's echod and all its workers SIGKILLed; HAProxy
   marks it DOWN within fall x inter (+ slack), its clients reconnect
   and are served by the others, and the streams on the others are not
   disturbed;
4. a direct connection to a PROXY socket from outside [proxy] trusted
   (the client network) is closed at once and counted.
IPVS (weight 0 = quiesced) is tried when the kernel has it.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, Streamer, cleanup, recv_exact, spawn, tap, \
    tmpdir, wait_for
from metricstest import parse_metrics, scrape, value
import netns  # noqa: E402
from netns import inside, run

HAPROXY = shutil.which("haproxy")
T0 = time.monotonic()
INTER_MS, FALL, RISE = 200, 2, 2
DRAIN_DELAY = 1.0           # > FALL * INTER_MS: the balancer looks away first
PER_IP = 5
VIP, VPORT = "10.77.1.1", 7
LB_BACK = "10.77.2.1"
CLIENT, CLIENT_X, CLIENT_Y, CLIENT_P = ("10.77.1.2", "10.77.1.3",
                                        "10.77.1.4", "10.77.1.5")
HOSTS = {"h1": "10.77.2.11", "h2": "10.77.2.12", "h3": "10.77.2.13"}
PPORT, MPORT = 7008, 9007


class Net:
    """The namespaces and links; removed at exit, pass or fail."""

    def __init__(self):
        pid = os.getpid()
        self.ns = {n: "fleet-%s-%d" % (n, pid)
                   for n in ("c", "lb", "h1", "h2", "h3")}
        self._made = []
        self._had_run_netns = os.path.ismount("/run/netns")
        atexit.register(self.destroy)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda s, f: sys.exit(128 + s))
        for ns in self.ns.values():
            run("ip", "netns", "add", ns)
            self._made.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        c, lb = self.ns["c"], self.ns["lb"]
        self._veth(c, "eth0", lb, "cl0")
        for a in (CLIENT, CLIENT_X, CLIENT_Y, CLIENT_P):
            run("ip", "-n", c, "addr", "add", a + "/24", "dev", "eth0")
        run("ip", "-n", lb, "addr", "add", VIP + "/24", "dev", "cl0")
        run("ip", "-n", c, "route", "add", "default", "via", VIP)
        run("ip", "-n", lb, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", lb, "addr", "add", LB_BACK + "/24", "dev", "br0")
        run("ip", "-n", lb, "link", "set", "br0", "up")
        for i, (h, addr) in enumerate(sorted(HOSTS.items())):
            self._veth(self.ns[h], "eth0", lb, "hp%d" % i)
            run("ip", "-n", lb, "link", "set", "hp%d" % i, "master", "br0")
            run("ip", "-n", self.ns[h], "addr", "add", addr + "/24", "dev",
                "eth0")
            run("ip", "-n", self.ns[h], "route", "add", "default", "via",
                LB_BACK)
        # Routed, so a client may also reach a host directly (part 4).
        run("ip", "netns", "exec", lb, "sh", "-c",
            "echo 1 >/proc/sys/net/ipv4/ip_forward")

    def _veth(self, ns1, dev1, ns2, dev2):
        run("ip", "-n", ns1, "link", "add", dev1, "type", "veth", "peer",
            "name", dev2, "netns", ns2)
        run("ip", "-n", ns1, "link", "set", dev1, "up")
        run("ip", "-n", ns2, "link", "set", dev2, "up")

    def connect(self, host, port, source=None, timeout=5.0):
        """A TCP connection from the client namespace."""
        with inside(self.ns["c"]):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            if source:
                s.bind((source, 0))
            s.connect((host, port))
        except BaseException:
            s.close()
            raise
        return s

    def destroy(self):
        cleanup()               # processes inside the namespaces first
        for ns in self._made:
            if os.path.exists("/run/netns/" + ns):
                run("ip", "netns", "del", ns, check=False)
        self._made = []
        try:
            if not self._had_run_netns and os.path.ismount("/run/netns") \
                    and not os.listdir("/run/netns"):
                subprocess.run(["umount", "/run/netns"], capture_output=True,
                               timeout=10)
        except Exception:
            pass

    def leftovers(self):
        return [ns for ns in self.ns.values()
                if os.path.exists("/run/netns/" + ns)]


HAPROXY_CFG = """\
global
    maxconn 2000
    stats socket {sock} mode 600 level admin
    # Server state changes go to stderr (-db): the test keeps them.

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 1s
    # A connection that fails is retried, on another server if need be:
    # the test checks that a drain causes none.
    retries 2
    option redispatch 1

frontend echo
    bind {vip}:{vport}
    default_backend echod

backend echod
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    # Sessions open on a server marked down are kept (the default;
    # "on-marked-down shutdown-sessions" would cut a draining host's
    # streams): a draining echod finishes them itself.
    default-server check port {mport} inter {inter}ms fall {fall} rise {rise} send-proxy-v2
{servers}
"""


class HAProxy:
    def __init__(self, net):
        d = tmpdir()
        self.sock = os.path.join(d, "stats.sock")
        self.cfg = os.path.join(d, "haproxy.cfg")
        self.logpath = os.path.join(d, "haproxy.log")
        with open(self.cfg, "w") as f:
            f.write(HAPROXY_CFG.format(
                sock=self.sock, vip=VIP, vport=VPORT, mport=MPORT,
                inter=INTER_MS, fall=FALL, rise=RISE,
                servers="\n".join("    server %s %s:%d" % (h, a, PPORT)
                                  for h, a in sorted(HOSTS.items()))))
        r = run("haproxy", "-c", "-f", self.cfg, check=False)
        if r.returncode != 0:
            raise RuntimeError("haproxy -c: %s" % (r.stdout + r.stderr)
                               .decode())
        self.log = open(self.logpath, "wb")
        self.proc = spawn(["ip", "netns", "exec", net.ns["lb"], HAPROXY,
                           "-db", "-f", self.cfg], stdout=self.log,
                          stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or
                 os.path.exists(self.sock), 10, "HAProxy's stats socket")
        if self.proc.poll() is not None:
            raise RuntimeError("haproxy exited: %s" % self.logtext())

    def logtext(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def command(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.sock)
        s.sendall(cmd.encode() + b"\n")
        out = bytearray()
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
        s.close()
        return out.decode()

    def stat(self):
        """{server: {column: value}} of the backend, from 'show stat'."""
        lines = self.command("show stat").splitlines()
        cols = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(cols, line.split(",")))
            if row.get("pxname") == "echod" and row.get("svname") in HOSTS:
                out[row["svname"]] = row
        return out

    def status(self, h):
        return self.stat()[h]["status"]

    def wait_status(self, h, want, timeout):
        """Poll until h's status is 'want' (UP, DOWN); returns when."""
        wait_for(lambda: self.status(h) == want, timeout,
                 "HAProxy to mark %s %s" % (h, want), interval=0.01)
        return time.monotonic()


def start_host(net, h):
    addr = HOSTS[h]
    e = Echod({"server": {"listen": "127.0.0.1:7007", "workers": "2",
                          "drain_delay": "%dms" % (DRAIN_DELAY * 1000),
                          "drain_idle": "1s", "shutdown_timeout": "10s"},
               "connection": {"max_connections_per_ip": str(PER_IP)},
               "proxy": {"listen": "%s:%d" % (addr, PPORT),
                         "trusted": LB_BACK, "timeout": "3s"},
               "metrics": {"listen": "%s:%d" % (addr, MPORT)},
               "log": {"connections": "yes", "level": "info"}},
              port=7007)
    return e.start(argv_prefix=["ip", "netns", "exec", net.ns[h]])


def restart_host(net, e, h):
    return e.start(argv_prefix=["ip", "netns", "exec", net.ns[h]])


def metrics(net, h):
    with inside(net.ns["lb"]):
        return parse_metrics(scrape(MPORT, host=HOSTS[h]))


def host_of(hosts, port, source=CLIENT):
    """Which host logged the connection from source:port, or None."""
    rx = re.compile(r"connection from %s:%d \(via %s:\d+\)"
                    % (re.escape(source), port, re.escape(LB_BACK)))
    for h, e in hosts.items():
        if rx.search(e.log()):
            return h
    return None


def wait_host_of(hosts, port, source=CLIENT, timeout=5.0):
    return wait_for(lambda: host_of(hosts, port, source), timeout,
                    "a host to log the connection from %s:%d"
                    % (source, port))


def exchange(s, msg):
    s.sendall(msg)
    return recv_exact(s, len(msg)) == msg


class Prober:
    """New short connections through the balancer, from CLIENT_P, every
    20 ms in a thread: each must connect and echo.  Records the client
    port and time of each, and every failure."""

    def __init__(self, net):
        self.net = net
        self.done = []          # (time, client port)
        self.failed = []        # (time, what)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            t = time.monotonic()
            try:
                s = self.net.connect(VIP, VPORT, source=CLIENT_P)
                port = s.getsockname()[1]
                ok = exchange(s, b"probe %d\n" % i)
                s.close()
                if ok:
                    self.done.append((t, port))
                else:
                    self.failed.append((t, "probe %d: closed without its "
                                        "echo" % i))
            except OSError as ex:
                self.failed.append((t, "probe %d: %r" % (i, ex)))
            self.stop.wait(0.02)

    def finish(self):
        self.stop.set()
        self.t.join(10)


def streams(net, n):
    with inside(net.ns["c"]):
        return [Streamer(VPORT, VIP, chunk=16384, pace=0.005, window=1 << 20,
                         timeout=20) for _ in range(n)]


def placed(hosts, ss):
    """{host: [streams]} from the hosts' logs."""
    out = {}
    for s in ss:
        h = wait_host_of(hosts, s.sock.getsockname()[1])
        out.setdefault(h, []).append(s)
    return out


# --- 1 ---------------------------------------------------------------------

def test_spread(net, lb, hosts):
    ports = []
    for i in range(30):
        s = net.connect(VIP, VPORT)
        ok = exchange(s, b"spread %d\n" % i)
        ports.append(s.getsockname()[1])
        s.close()
        if not ok:
            tap.ok(False, "connection %d through the balancer echoed" % i)
            return
    where = {p: wait_host_of(hosts, p) for p in ports}
    count = {h: sum(1 for v in where.values() if v == h) for h in hosts}
    tap.ok(all(c == 10 for c in count.values()),
           "30 connections through HAProxy: round robin spread them 10 / 10 "
           "/ 10 over the hosts (%s)" % ", ".join(
               "%s %d" % kv for kv in sorted(count.items())))
    tap.ok(all(where.values()),
           "each host logs every client as 10.77.1.2:PORT (via %s:...), the "
           "client's own address and port, the balancer apart" % LB_BACK)
    acc = {h: value(metrics(net, h), "echod_connections_accepted_total")
           for h in hosts}
    tap.ok(all(acc[h] >= count[h] for h in hosts),
           "and each host's metrics count them (accepted: %s)"
           % ", ".join("%s %d" % (h, acc[h]) for h in sorted(acc)))


def test_per_ip(net, lb, hosts):
    """CLIENT_X fills max_connections_per_ip on every host; its next
    connections are refused while CLIENT_Y, same balancer, is served."""
    held, refused, served_y = [], 0, 0
    before = {h: value(metrics(net, h), "echod_connections_refused_total",
                       'reason="max_connections_per_ip"') for h in hosts}
    for i in range(PER_IP * 3):
        s = net.connect(VIP, VPORT, source=CLIENT_X)
        held.append(s)
        if not exchange(s, b"x %d\n" % i):
            tap.ok(False, "client X's connection %d is served" % i)
    tap.ok(True, "client %s: %d connections held through the balancer, "
           "%d on each host" % (CLIENT_X, PER_IP * 3, PER_IP))
    for i in range(3):
        s = net.connect(VIP, VPORT, source=CLIENT_X)
        try:
            s.sendall(b"over\n")
            refused += s.recv(5) == b""
        except ConnectionResetError:
            refused += 1
        s.close()
    ys = []
    for i in range(3):
        s = net.connect(VIP, VPORT, source=CLIENT_Y)
        served_y += exchange(s, b"y %d\n" % i)
        ys.append(s)
    tap.ok(refused == 3, "client %s's next 3 connections are closed "
           "unechoed (max_connections_per_ip = %d, on each host)"
           % (CLIENT_X, PER_IP))
    tap.ok(served_y == 3, "client %s, behind the same balancer address, is "
           "served meanwhile (3 of 3)" % CLIENT_Y)
    # A worker counts a refusal right after it closes the socket.
    def refused_now():
        return {h: value(metrics(net, h), "echod_connections_refused_total",
                         'reason="max_connections_per_ip"') for h in hosts}
    try:
        wait_for(lambda: all(refused_now()[h] > before[h] for h in hosts),
                 5, "the refusals to be counted")
    except TimeoutError:
        pass
    after = refused_now()
    logged = [h for h, e in hosts.items() if re.search(
        r"%d connections from one address \(%s:\d+\)"
        % (PER_IP, re.escape(CLIENT_X)), e.log())]
    tap.ok(all(after[h] - before[h] == 1 for h in hosts) and
           len(logged) == 3,
           "each host counted one max_connections_per_ip refusal and logged "
           "it naming %s, not the balancer" % CLIENT_X,
           (before, after, logged))
    for s in held + ys:
        s.close()
    wait_for(lambda: all(value(metrics(net, h), "echod_connections_open")
                         == 0 for h in hosts), 10, "the hosts to be idle")


# --- 2 ---------------------------------------------------------------------

def test_drain(net, lb, hosts, h="h1"):
    e = hosts[h]
    ss = streams(net, 6)
    where = placed(hosts, ss)
    mine = where.get(h, [])
    others = [s for k, v in where.items() if k != h for s in v]
    tap.ok(len(mine) == 2, "6 streams through the balancer, 2 of them on "
           "%s (%s)" % (h, ", ".join("%s %d" % (k, len(v))
                                    for k, v in sorted(where.items()))))
    st0 = lb.stat()[h]
    prober = Prober(net)
    wait_for(lambda: len(prober.done) > 5, 5, "the prober")
    t_term = time.monotonic()
    e.signal(signal.SIGTERM)
    t_down = lb.wait_status(h, "DOWN", DRAIN_DELAY + 3)
    closed = re.search(r"stopping: draining \d+ connections", e.log())
    down = t_down - t_term
    tap.ok(down < DRAIN_DELAY and not closed,
           "SIGTERM %s: HAProxy marks it DOWN after %.0f ms, before "
           "drain_delay (%.0f ms) ends and echod closes its listeners"
           % (h, down * 1000, DRAIN_DELAY * 1000))
    # Its streams go on past drain_delay, after its listeners closed.
    e.wait_log(r"stopping: draining \d+ connections", DRAIN_DELAY + 3)
    moved = [s.ngot for s in mine]
    wait_for(lambda: all(s.ngot > n + (256 << 10) or s.ended.is_set()
                         for s, n in zip(mine, moved)), 10,
             "the streams to go on after the listeners closed")
    went = [(t, p) for t, p in prober.done if t > t_down + 0.05]
    late = [p for t, p in went if host_of({h: e}, p, CLIENT_P)]
    tap.ok(went and not late, "new connections after the DOWN go to the "
           "others (%d probes, none on %s)" % (len(went), h), late)
    whole = [s.finish(20) for s in mine]
    tap.ok(all(whole), "%s's 2 open streams finish with every byte back "
           "(%s)" % (h, "; ".join(s.describe() for s in mine)))
    rc = e.wait_exit(15)
    tap.eq(rc, 0, "%s's echod exits 0 once its streams are done" % h)
    prober.finish()
    st1 = lb.stat()[h]
    tap.ok(not prober.failed and len(prober.done) > 20,
           "no client saw a refused or reset connection: %d probes every "
           "20 ms through the drain, all echoed" % len(prober.done),
           prober.failed[:5])
    tap.ok(all(int(st1[k] or 0) == int(st0[k] or 0)
               for k in ("econ", "wretr", "wredis", "eresp")),
           "HAProxy counted no connection error, retry or redispatch for "
           "%s" % h, {k: (st0[k], st1[k]) for k in ("econ", "wretr",
                                                    "wredis", "eresp")})
    m = re.search(r"Server echod/%s is DOWN[^\n]*" % h, lb.logtext())
    tap.diag("HAProxy: %s" % (m.group(0) if m else "(no DOWN line)"))
    # Back in: restarted, it passes rise checks and takes connections.
    t_start = time.monotonic()
    restart_host(net, e, h)
    t_up = lb.wait_status(h, "UP", 5)
    tap.ok(True, "restarted, %s is UP again in HAProxy after %.0f ms"
           % (h, (t_up - t_start) * 1000))
    ports = []
    for i in range(6):
        s = net.connect(VIP, VPORT, source=CLIENT_P)
        exchange(s, b"back %d\n" % i)
        ports.append(s.getsockname()[1])
        s.close()
    tap.ok(any(host_of({h: e}, p, CLIENT_P) for p in ports),
           "and new connections reach it again")
    whole = [s.finish(20) for s in others]
    tap.ok(all(whole), "the 4 streams on the other hosts were not disturbed: "
           "every byte back")


# --- 3 ---------------------------------------------------------------------

def test_crash(net, lb, hosts, h="h2"):
    e = hosts[h]
    ss = streams(net, 6)
    where = placed(hosts, ss)
    mine = where.get(h, [])
    others = [s for k, v in where.items() if k != h for s in v]
    tap.ok(len(mine) >= 1, "6 streams, %d of them on %s" % (len(mine), h))
    pids = [e.pid] + e.workers()
    t_kill = time.monotonic()
    for p in pids:
        os.kill(p, signal.SIGKILL)
    t_down = lb.wait_status(h, "DOWN", 5)
    bound = FALL * INTER_MS / 1000 + 0.3
    tap.ok(t_down - t_kill <= bound,
           "echod and its %d workers SIGKILLed on %s: HAProxy marks it DOWN "
           "in %.0f ms (fall x inter = %d ms, + 300 ms slack)"
           % (len(pids) - 1, h, (t_down - t_kill) * 1000, FALL * INTER_MS))
    for s in mine:
        s.ended.wait(10)
    tap.ok(all(s.cut for s in mine), "%s's streams were cut (%s)"
           % (h, "; ".join(s.describe() for s in mine)))
    back = []
    for s in mine:
        s.sock.close()
        c = net.connect(VIP, VPORT)
        ok = exchange(c, b"reconnected\n")
        back.append((ok, wait_host_of(hosts, c.getsockname()[1])))
        c.close()
    tap.ok(all(ok and where_ != h for ok, where_ in back),
           "its clients reconnect and are served by the others (%s)"
           % ", ".join(w for _, w in back))
    whole = [s.finish(20) for s in others]
    tap.ok(all(whole), "the %d streams on the surviving hosts are not "
           "disturbed: every byte back" % len(others),
           "; ".join(s.describe() for s in others))
    e.wait_exit(5)


# --- 4 ---------------------------------------------------------------------

def test_untrusted(net, hosts, h="h3"):
    before = value(metrics(net, h), "echod_proxy_refused_total",
                   'reason="untrusted"')
    s = net.connect(HOSTS[h], PPORT)
    t = time.monotonic()
    try:
        closed = s.recv(1) == b""
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    took = time.monotonic() - t
    s.close()
    after = value(metrics(net, h), "echod_proxy_refused_total",
                  'reason="untrusted"')
    tap.ok(closed and took < 0.5 and after == before + 1,
           "a client connecting straight to %s's PROXY socket (from %s, not "
           "in [proxy] trusted) is closed at once (%.0f ms), counted as "
           "untrusted" % (h, CLIENT, took * 1000))


def ipvs_unavailable():
    """Why the IPVS variant does not run here."""
    if not os.path.exists("/proc/net/ip_vs"):
        err = "modprobe is not installed"
        if shutil.which("modprobe"):
            r = run("modprobe", "ip_vs", check=False)
            err = (r.stderr.decode().strip().splitlines() or
                   ["no error"])[-1]
        if not os.path.exists("/proc/net/ip_vs"):
            return "the kernel has no IPVS (no /proc/net/ip_vs; modprobe " \
                "ip_vs: %s); README \"Running a fleet\" has the " \
                "keepalived/IPVS variant on paper" % err
    # Never run on a kernel with IPVS so far: written on paper only.
    return "IPVS is there, but its variant is not written yet (the " \
        "kernel it was developed on had none); see README"


def body():
    why = netns.unavailable()
    if why:
        tap.skip_all(why)
    if HAPROXY is None:
        tap.skip_all("haproxy is not installed (Debian package haproxy; "
                     "tests/run-suite installs it)")
    net = Net()
    hosts = {h: start_host(net, h) for h in sorted(HOSTS)}
    lb = HAProxy(net)
    for h in hosts:
        lb.wait_status(h, "UP", 5)
    tap.ok(True, "HAProxy (%s) marks the 3 echod hosts UP through GET "
           "/health" % run(HAPROXY, "-v").stdout.decode().split()[2])
    test_spread(net, lb, hosts)
    test_per_ip(net, lb, hosts)
    test_drain(net, lb, hosts)
    test_crash(net, lb, hosts)
    test_untrusted(net, hosts)
    why = ipvs_unavailable()
    if why:
        tap.skip("the same drain with IPVS weights", why)
    for h, e in hosts.items():
        if e.proc.poll() is None:
            tap.eq(e.stop(), 0, "%s's echod stops cleanly" % h)
    net.destroy()
    tap.ok(not net.leftovers(), "every namespace removed")
    tap.diag("%.1f s" % (time.monotonic() - T0))


try:
    body()
except SystemExit:
    raise
except Exception as ex:
    import traceback
    tap.ok(False, "test body raised %s: %s" % (type(ex).__name__, ex),
           traceback.format_exc())
finally:
    cleanup()
