"""echo-client against a real echod and against misbehaving peers.

Every failure class is provoked for real and checked by exit code and
message: a refused port, a name that does not resolve, a server that
closes early (a peer, and echod's idle timeout), one that resets, a broken
pipe, a silent peer, a large binary file through a pipe, and ping mode's
output.  As root with ip(8), a pair of network namespaces joined by a veth
pair adds unreachable hosts and networks, a blackholed address (connect
timeout, a signal during connect), a peer that falls silent after
answering, a dead server found by --keepalive, and host names with several
addresses.  The namespaces exist only while the test runs; no packet
leaves loopback or the veth pair.
"""

import atexit
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import ECHOD, Echod, free_port, run_test, spawn, tap, \
    tmpdir, wait_for

CLIENT = os.environ.get("ECHO_CLIENT") or os.path.join(
    os.path.dirname(os.path.abspath(ECHOD)), "..", "client", "echo-client")

EXIT = {"ok": 0, "failure": 1, "usage": 2, "resolve": 3, "refused": 4,
        "unreachable": 5, "timeout": 6, "closed": 7, "reset": 8, "pipe": 9}

# The automake harness stops a test with SIGTERM: still run the clean-ups.
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


# --- clients and peers -------------------------------------------------

class Client:
    """echo-client with stdin a pipe we hold open as long as we like and
    stdout/stderr in files (a pipe would need a reader to not block)."""
    _n = 0

    def __init__(self, args, prefix=(), stdout=None):
        Client._n += 1
        d = _dir()
        self.outpath = os.path.join(d, "out%d" % Client._n)
        self.errpath = os.path.join(d, "err%d" % Client._n)
        out = stdout if stdout is not None else open(self.outpath, "wb")
        with open(self.errpath, "wb") as err:
            self.p = spawn(list(prefix) + [CLIENT] + [str(a) for a in args],
                           stdin=subprocess.PIPE, stdout=out, stderr=err)
        if stdout is None:
            out.close()
        self.t0 = time.monotonic()
        self.elapsed = None

    @property
    def pid(self):
        return self.p.pid

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def close_input(self):
        self.p.stdin.close()

    def wait(self, timeout=20.0):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError("echo-client still running after %.0fs; "
                               "stderr: %s" % (timeout, self.err()))
        self.elapsed = time.monotonic() - self.t0
        if self.p.stdin and not self.p.stdin.closed:
            try:
                self.p.stdin.close()
            except BrokenPipeError:
                pass
        return rc

    def out(self):
        with open(self.outpath, "rb") as f:
            return f.read()

    def err(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_out(self, want, timeout=10.0):
        wait_for(lambda: self.out() == want or self.p.poll() is not None,
                 timeout, "echo-client to print %r" % want)
        return self.out() == want


_tmp = []


def _dir():
    if not _tmp:
        _tmp.append(tmpdir())
    return _tmp[0]


def run(args, data=b"", timeout=20.0, prefix=()):
    """Run echo-client to completion on 'data'; (exit code, out, err)."""
    c = Client(args, prefix)
    try:
        c.send(data)
        c.close_input()
    except BrokenPipeError:
        pass
    rc = c.wait(timeout)
    return rc, c.out(), c.err()


class Peer:
    """A deliberately misbehaving server on 127.0.0.1: behave(conn) runs
    in a thread for the first connection."""

    def __init__(self, behave):
        self.behave = behave
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conn = None
        self.error = None
        self.done = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            self.sock.settimeout(20)
            conn, _ = self.sock.accept()
            conn.settimeout(20)
            self.conn = conn
            self.behave(conn)
        except Exception as e:
            self.error = e
        finally:
            self.done.set()

    def close(self):
        self.done.wait(20)
        self.sock.close()


def recv_until(conn, marker):
    buf = b""
    while marker not in buf:
        d = conn.recv(65536)
        if not d:
            break
        buf += d
    return buf


def recv_to_eof(conn):
    buf = b""
    while True:
        d = conn.recv(65536)
        if not d:
            return buf
        buf += d


def hold(conn, seconds=20):
    """Keep the connection open, reading nothing, until the client goes."""
    select.select([conn], [], [], seconds)


def reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    conn.close()


def tcp_states_to(port):
    """TCP states (hex, as in /proc/net/tcp) of IPv4 sockets connected
    to remote 'port'.  A socket closed by a reset is no longer listed."""
    out = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == port:
                out.append(fields[3])
    return out


def proc_stopped(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


# --- ping output ---------------------------------------------------------

REPLY_RE = re.compile(r"^(\d+) bytes from (\S+): seq=(\d+) time=([\d.]+) ms$",
                      re.M)
SUMMARY_RE = re.compile(r"^(\d+) messages sent, (\d+) received"
                        r"(?:, (\d+) corrupted)?, (\d+)% loss, time (\d+)ms$",
                        re.M)
RTT_RE = re.compile(r"^rtt min/avg/max/stddev = ([\d.]+)/([\d.]+)/([\d.]+)"
                    r"/([\d.]+) ms$", re.M)


def summary(out):
    m = SUMMARY_RE.search(out)
    if not m:
        return None
    return {"sent": int(m.group(1)), "received": int(m.group(2)),
            "corrupted": int(m.group(3) or 0), "loss": int(m.group(4))}


# --- the tests -----------------------------------------------------------

def test_usage():
    for args, why in [
            ([], r"missing HOST"),
            (["a", "7", "extra"], r"unexpected argument 'extra'"),
            (["--bogus", "h"], r"unknown option '--bogus'"),
            (["-x", "h"], r"unknown option '-x'"),
            (["-c"], r"'-c' needs an argument"),
            (["-c", "0", "h"], r"--count '0': must be from 1"),
            (["-c", "-3", "h"], r"--count '-3': not a number"),
            (["-c", "1.5", "h"], r"--count '1.5'"),
            (["-s", "0", "h"], r"--size '0': must be from 1 byte to 1m"),
            (["-s", "2m", "h"], r"--size '2m': must be"),
            (["-t", "-1s", "h"], r"--timeout '-1s': not a number"),
            (["-t", "10x", "h"], r"--timeout '10x': unknown unit 'x'"),
            (["-i", "1d", "h"], r"--interval '1d': unknown unit"),
            (["-t", "200h", "h"], r"--timeout '200h': must be at most"),
            (["-i", "1.2.3", "h"],
             r"--interval '1\.2\.3': more than one decimal point"),
            (["-i", "1e3", "h"], r"--interval '1e3': unknown unit 'e3' "
             r"\(use ms, s, m or h\)"),
            (["-i", "1.", "h"], r"--interval '1\.': no digit after the "
             r"decimal point"),
            (["-i", "1.5ms", "h"], r"--interval '1\.5ms': not a whole "
             r"number of milliseconds"),
            (["-t", "0.0001", "h"], r"--timeout '0\.0001': not a whole "
             r"number of milliseconds"),
            (["-t", "167.9999999h", "h"], r"--timeout '167\.9999999h': not "
             r"a whole number"),
            (["-t", "168.5h", "h"], r"--timeout '168\.5h': must be at most"),
            (["h", "0"], r"PORT '0': must be a number from 1 to 65535"),
            (["h", "65536"], r"PORT '65536'"),
            (["h", "echo"], r"PORT 'echo': not a number"),
            (["-4", "-6", "h"], r"-4 and -6 exclude each other"),
            ([""], r"HOST is empty")]:
        rc, out, err = run(args)
        tap.ok(rc == EXIT["usage"] and re.search(why, err) and out == b"",
               "usage error %r: exit 2, says %r" % (args, why),
               "exit %s, stderr %r" % (rc, err))
    rc, out, err = run(["--help"])
    text = out.decode()
    tap.ok(rc == 0 and "HOST [PORT]" in text and "9 broken pipe" in text,
           "--help prints usage with the exit codes", text + err)
    rc, out, err = run(["-V"])
    tap.ok(rc == 0 and re.match(r"echo-client \d", out.decode()),
           "-V prints the version", out)


def test_echo(e):
    rc, out, err = run(["127.0.0.1", e.port], b"hello, echo\n")
    tap.ok(rc == 0 and out == b"hello, echo\n",
           "a line comes back over IPv4, exit 0", "%s %r %s" % (rc, out, err))
    tap.ok("connected to" in err, "it says where it connected", err)
    rc, out, err = run(["-q", "-6", "localhost" if _has_v6_localhost()
                        else "::1", e.port], b"six\n")
    tap.ok(rc == 0 and out == b"six\n" and err == "",
           "-6 over IPv6, quiet: only the echo", "%s %r %r" % (rc, out, err))
    rc, out, err = run(["-q", "localhost", e.port], b"by name\n")
    tap.ok(rc == 0 and out == b"by name\n", "a host name works",
           "%s %r %s" % (rc, out, err))
    rc, out, err = run(["-q", "127.0.0.1", e.port], b"")
    tap.ok(rc == 0 and out == b"", "empty input: half-close, EOF, exit 0",
           "%s %r %s" % (rc, out, err))
    rc, out, err = run(["-q", "127.0.0.1", e.port], b"no newline")
    tap.ok(rc == 0 and out == b"no newline", "input without a newline",
           "%s %r %s" % (rc, out, err))


def _has_v6_localhost():
    try:
        return any(a[0] == socket.AF_INET6 for a in socket.getaddrinfo(
            "localhost", 7, type=socket.SOCK_STREAM))
    except OSError:
        return False


def test_big_file(e):
    path = os.path.join(_dir(), "random.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(24 * 1024 * 1024 + 12345))
    # Exactly the pipeline of the issue, and one with stdin a pipe too.
    for shell, what in [
            ('"$C" "$H" "$P" < "$F" | cmp - "$F"', "file on stdin"),
            ('cat "$F" | "$C" -q "$H" "$P" | cmp - "$F"', "pipe on stdin")]:
        env = dict(os.environ, C=CLIENT, H="127.0.0.1", P=str(e.port), F=path)
        p = spawn(["bash", "-c", "set -o pipefail; " + shell],
                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=120)
        tap.ok(p.returncode == 0 and out == b"",
               "24 MiB random file, %s: cmp finds the echo identical" % what,
               "exit %s, %r %r" % (p.returncode, out, err))


def test_refused():
    port = free_port()
    rc, out, err = run(["127.0.0.1", port])
    tap.ok(rc == EXIT["refused"] and "connection refused" in err,
           "nothing listening: exit 4, 'connection refused'", (rc, err))
    rc, out, err = run(["-c", "2", "127.0.0.1", port])
    tap.ok(rc == EXIT["refused"], "ping mode, refused: exit 4", (rc, err))


def test_resolve():
    # A literal of the wrong family fails in getaddrinfo without a query.
    rc, out, err = run(["-4", "::1", 7])
    tap.ok(rc == EXIT["resolve"] and "cannot resolve '::1'" in err,
           "-4 with an IPv6 address: exit 3, 'cannot resolve'", (rc, err))


def test_closed_early(e_idle):
    # The peer reads one line and closes while our input is still open.
    p = Peer(lambda c: (recv_until(c, b"\n"), c.close()))
    c = Client(["127.0.0.1", p.port])
    c.send(b"first\n")
    rc = c.wait()
    tap.ok(rc == EXIT["closed"] and "server terminated prematurely" in c.err()
           and "before our input ended" in c.err(),
           "server closes while input is open: exit 7, 'server terminated "
           "prematurely'", (rc, c.err()))
    tap.ok(c.elapsed < 5, "noticed at once, not at the next input line",
           "%.1fs" % c.elapsed)
    p.close()

    # The peer takes everything, echoes half, closes.
    def half(conn):
        data = recv_to_eof(conn)
        conn.sendall(data[:len(data) // 2])
        conn.close()
    p = Peer(half)
    rc, out, err = run(["127.0.0.1", p.port], b"0123456789" * 1000)
    tap.ok(rc == EXIT["closed"] and
           "after echoing 5000 of 10000 bytes" in err and
           out == (b"0123456789" * 1000)[:5000],
           "server echoes half then closes: exit 7, counts the bytes",
           (rc, err, len(out)))
    p.close()

    # echod itself closing an idle connection (idle_timeout = 1s).
    c = Client(["127.0.0.1", e_idle.port])
    c.send(b"are you there?\n")
    tap.ok(c.wait_out(b"are you there?\n"), "echod echoes the line",
           c.out())
    rc = c.wait(15)
    tap.ok(rc == EXIT["closed"] and "server terminated prematurely" in
           c.err(), "echod's idle timeout closes it: exit 7 while the user "
           "is not typing", (rc, c.err()))
    tap.ok(c.elapsed < 8, "within seconds of echod's 1s idle timeout",
           "%.1fs" % c.elapsed)


def test_reset():
    def rst(conn):
        recv_until(conn, b"\n")
        reset(conn)
    p = Peer(rst)
    c = Client(["127.0.0.1", p.port])
    c.send(b"ping\n")
    rc = c.wait()
    tap.ok(rc == EXIT["reset"] and "connection reset by 127.0.0.1" in c.err(),
           "server resets (RST): exit 8, 'connection reset'", (rc, c.err()))
    p.close()

    # Closing with unread data also sends RST, not FIN.
    p = Peer(lambda conn: (select.select([conn], [], [], 10), conn.close()))
    c = Client(["127.0.0.1", p.port])
    c.send(b"x" * 1000)
    rc = c.wait()
    tap.ok(rc == EXIT["reset"], "server closes with our data unread: "
           "exit 8", (rc, c.err()))
    p.close()


def test_broken_pipe():
    """The classic: the server's FIN arrives, then its RST (it is gone);
    the next send gets EPIPE.  The client is stopped while both arrive,
    so it cannot read the FIN first."""
    ready = threading.Event()
    go = threading.Event()

    def behave(conn):
        select.select([conn], [], [], 10)   # our data is in, unread
        ready.set()
        go.wait(10)
        conn.shutdown(socket.SHUT_WR)       # FIN
        conn.close()                        # unread data: RST
    p = Peer(behave)
    c = Client(["127.0.0.1", p.port])
    c.send(b"data the server will never read\n")
    ready.wait(10)
    os.kill(c.pid, signal.SIGSTOP)
    wait_for(lambda: proc_stopped(c.pid), 5, "echo-client to stop")
    go.set()
    p.done.wait(10)
    # ESTABLISHED (01) or CLOSE_WAIT (08) until the RST is in.
    wait_for(lambda: not any(s in ("01", "08")
                             for s in tcp_states_to(p.port)),
             5, "the RST to reach the client's socket")
    os.kill(c.pid, signal.SIGCONT)
    try:
        c.send(b"more\n")
    except BrokenPipeError:
        pass
    rc = c.wait()
    tap.ok(rc == EXIT["pipe"] and "broken pipe" in c.err(),
           "server gone while we send: exit 9, 'broken pipe'", (rc, c.err()))
    tap.ok(rc != -signal.SIGPIPE, "not killed by SIGPIPE")
    p.close()

    # Our own stdout closed: reported, never a SIGPIPE death either.
    e_r, e_w = os.pipe()
    os.close(e_r)
    p = Peer(lambda conn: (conn.sendall(recv_to_eof(conn)), conn.close()))
    c = Client(["127.0.0.1", p.port], stdout=e_w)
    os.close(e_w)
    c.send(b"nobody reads this\n")
    c.close_input()
    rc = c.wait()
    tap.ok(rc == EXIT["failure"] and "writing standard output" in c.err(),
           "stdout closed by the reader: exit 1 with a message, no SIGPIPE",
           (rc, c.err()))
    p.close()


def test_silent_peer():
    p = Peer(hold)
    c = Client(["-t", "500ms", "127.0.0.1", p.port])
    c.send(b"hello?\n")
    rc = c.wait()
    tap.ok(rc == EXIT["timeout"] and "no reply from 127.0.0.1:%d for 500ms"
           % p.port in c.err(), "peer that never answers, -t 500ms: exit 6",
           (rc, c.err()))
    tap.ok(0.4 < c.elapsed < 5, "after about 500ms", "%.2fs" % c.elapsed)
    p.close()

    # Echoes everything but never closes after our half-close.
    def no_eof(conn):
        conn.sendall(recv_until(conn, b"\n"))
        hold(conn)
    p = Peer(no_eof)
    rc, out, err = run(["-t", "500ms", "127.0.0.1", p.port], b"line\n")
    tap.ok(rc == EXIT["timeout"] and out == b"line\n" and
           "did not close the connection within 500ms" in err,
           "peer that echoes but never closes: exit 6, says so", (rc, err))
    p.close()


def test_status_and_keepalive(e):
    c = Client(["-k", "127.0.0.1", e.port])
    c.send(b"status?\n")
    c.wait_out(b"status?\n")
    os.kill(c.pid, signal.SIGQUIT)
    wait_for(lambda: "bytes sent" in c.err(), 5, "the status line")
    tap.ok(re.search(r"8 bytes sent, 8 echoed", c.err()) and
           c.p.poll() is None, "SIGQUIT prints progress and goes on",
           c.err())
    ss = shutil.which("ss") or "/usr/bin/ss"
    if os.path.exists(ss):
        out = subprocess.run([ss, "-tnopH", "state", "established", "dport",
                              "=", ":%d" % e.port], capture_output=True,
                             timeout=10).stdout.decode()
        mine = [ln for ln in out.splitlines() if "pid=%d," % c.pid in ln]
        tap.ok(mine and "timer:(keepalive" in mine[0],
               "-k arms TCP keepalive on the client's socket", out)
    else:
        tap.ok(True, "keepalive timer # SKIP ss(8) not installed")
    c.close_input()
    tap.eq(c.wait(), 0, "then ends normally on end of input")


def test_ping(e):
    rc, out, err = run(["-c", "3", "-i", "100ms", "-s", "100", "127.0.0.1",
                        e.port])
    text = out.decode()
    replies = REPLY_RE.findall(text)
    tap.ok(rc == 0 and [r[2] for r in replies] == ["1", "2", "3"] and
           all(r[0] == "100" for r in replies),
           "ping mode: one line per reply, seq 1 to 3, 100 bytes each",
           text + err)
    tap.eq(summary(text), {"sent": 3, "received": 3, "corrupted": 0,
                           "loss": 0}, "summary: 3 sent, 3 received, 0% loss")
    m = RTT_RE.search(text)
    tap.ok(m and float(m.group(1)) <= float(m.group(2)) <=
           float(m.group(3)), "rtt min <= avg <= max", text)
    m = re.search(r"time (\d+)ms", text)
    tap.ok(m and 180 <= int(m.group(1)) < 5000,
           "the 100ms interval is kept", text)

    # Decimal intervals, as ping(8) takes them: the line of the issue.
    for interval, ms in [("0.1", 100), (".05", 50), ("0.05s", 50)]:
        rc, out, err = run(["-c", "5", "-i", interval, "127.0.0.1", e.port])
        text = out.decode()
        m = re.search(r"time (\d+)ms", text)
        tap.ok(rc == 0 and summary(text) == {"sent": 5, "received": 5,
                                             "corrupted": 0, "loss": 0}
               and m and 4 * ms <= int(m.group(1)) < 5000,
               "-c 5 -i %s: 5 replies, %dms apart" % (interval, ms),
               (rc, text, err))

    rc, out, err = run(["-q", "-c", "2", "-i", "0", "-s", "1m", "::1",
                        e.port], timeout=60)
    text = out.decode()
    tap.ok(rc == 0 and not REPLY_RE.search(text) and
           summary(text) == {"sent": 2, "received": 2, "corrupted": 0,
                             "loss": 0},
           "-q, 1 MiB messages over IPv6: only the summary", text + err)

    # SIGINT ends an endless ping with the summary, like ping(8).
    c = Client(["-i", "50ms", "127.0.0.1", e.port])
    wait_for(lambda: len(REPLY_RE.findall(c.out().decode())) >= 3, 10,
             "three replies")
    os.kill(c.pid, signal.SIGINT)
    rc = c.wait()
    s = summary(c.out().decode())
    tap.ok(rc == 0 and s and s["sent"] >= 3 and s["loss"] == 0,
           "SIGINT: summary, exit 0", (rc, c.out(), c.err()))


def test_ping_output(e):
    """Ping output that cannot be written (a full disk, a reader that has
    gone) is said once on stderr and ends it with exit 1, as in stream
    mode: never a silent 0, never a death by SIGPIPE."""
    def full():
        return os.open("/dev/full", os.O_WRONLY), "No space left on device"

    def closed_pipe():
        r, w = os.pipe()
        os.close(r)
        return w, "Broken pipe"

    for opts, when in [([], "its first line"), (["-q"], "the summary")]:
        for target, what in [(full, ">/dev/full"),
                             (closed_pipe, "into a closed pipe")]:
            fd, why = target()
            c = Client(opts + ["-c", "2", "-i", "0", "127.0.0.1", e.port],
                       stdout=fd)
            os.close(fd)
            c.close_input()
            rc = c.wait()
            err = c.err()
            tap.ok(rc == EXIT["failure"] and
                   err.count("writing standard output: %s" % why) == 1 and
                   err.count("\n") == 1,
                   "ping %s%s: exit 1, said once, at %s"
                   % ("-q " if opts else "", what, when), (rc, err))

    # The summary after SIGINT, like ping(8)'s Ctrl-C, cannot be written.
    fd, why = full()
    c = Client(["-q", "-i", "20ms", "127.0.0.1", e.port], stdout=fd)
    os.close(fd)
    wait_for(lambda: "01" in tcp_states_to(e.port), 10,
             "echo-client to connect")

    def replied():
        # The handlers are in place before connect(2): SIGQUIT is safe.
        os.kill(c.pid, signal.SIGQUIT)
        return re.search(r"echo-client: [1-9]\d*/\d+ replies", c.err())
    wait_for(replied, 10, "a reply, by SIGQUIT's progress line", 0.1)
    os.kill(c.pid, signal.SIGINT)
    rc = c.wait()
    err = c.err()
    tap.ok(rc == EXIT["failure"] and
           err.count("writing standard output: %s" % why) == 1,
           "ping -q >/dev/full, SIGINT: the summary fails, exit 1, said once",
           (rc, err))


def test_ping_bad_peers():
    def corrupt(conn):
        while True:
            d = conn.recv(65536)
            if not d:
                break
            conn.sendall(d.replace(b"seq=", b"SEQ="))
        conn.close()
    p = Peer(corrupt)
    rc, out, err = run(["-c", "2", "-i", "0", "127.0.0.1", p.port])
    text = out.decode()
    tap.ok(rc == EXIT["failure"] and "differs from what was sent" in text
           and summary(text) == {"sent": 2, "received": 0, "corrupted": 2,
                                 "loss": 100},
           "a peer that alters the data: 2 corrupted, exit 1", text + err)
    p.close()

    def first_only(conn):
        conn.sendall(conn.recv(64))
        hold(conn)
    p = Peer(first_only)
    rc, out, err = run(["-c", "3", "-i", "50ms", "-t", "300ms", "127.0.0.1",
                        p.port])
    text = out.decode()
    tap.ok(rc == EXIT["failure"] and
           text.count("no reply within 300ms") == 2 and
           summary(text) == {"sent": 3, "received": 1, "corrupted": 0,
                             "loss": 66},
           "a peer that stops answering: 2 of 3 lost, exit 1", text + err)
    p.close()

    p = Peer(hold)
    rc, out, err = run(["-c", "2", "-i", "0", "-t", "200ms", "127.0.0.1",
                        p.port])
    tap.ok(rc == EXIT["timeout"] and summary(out.decode())["loss"] == 100,
           "a peer that never answers: 100% loss, exit 6", (rc, out, err))
    p.close()

    def one_reply_then_fin(conn):
        # FIN after one reply, then drain: closing with the client's next
        # message unread would send a RST (a reset, not an early close).
        conn.sendall(conn.recv(64))
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
        conn.close()
    p = Peer(one_reply_then_fin)
    rc, out, err = run(["-c", "3", "-i", "0", "127.0.0.1", p.port])
    tap.ok(rc == EXIT["closed"] and "server terminated prematurely" in err
           and summary(out.decode())["received"] == 1,
           "ping: the server closes after one reply: exit 7, summary",
           (rc, out, err))
    p.close()


# --- network namespaces ------------------------------------------------

class Netns:
    """Two namespaces joined by a veth pair: the client side C
    (10.213.7.1/29) and the server side S (10.213.7.2/29).  In C,
    10.213.7.3 is blackholed (a neighbour entry no host answers to),
    10.213.7.9 has an 'unreachable' route and 10.213.8.0/24 no route;
    /etc/netns/C gives C its own hosts file and a resolver on its own
    loopback, so no query leaves it."""

    C_ADDR, S_ADDR = "10.213.7.1", "10.213.7.2"
    BLACKHOLE, UNREACH_HOST, UNREACH_NET = "10.213.7.3", "10.213.7.9", \
        "10.213.8.1"

    def __init__(self):
        tag = str(os.getpid())
        self.c, self.s = "echoc-c" + tag, "echoc-s" + tag
        self.vc, self.vs = "ecc" + tag, "ecs" + tag
        self.etc = "/etc/netns/" + self.c
        self.made_etc_netns = not os.path.isdir("/etc/netns")
        self.created = []
        atexit.register(self.remove)

    def ip(self, *args):
        subprocess.run(["ip"] + list(args), check=True, timeout=10,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def setup(self):
        for ns in (self.c, self.s):
            self.ip("netns", "add", ns)
            self.created.append(ns)
        self.ip("link", "add", self.vc, "netns", self.c, "type", "veth",
                "peer", "name", self.vs, "netns", self.s)
        for ns, dev, addr in ((self.c, self.vc, self.C_ADDR),
                              (self.s, self.vs, self.S_ADDR)):
            self.ip("-n", ns, "addr", "add", addr + "/29", "dev", dev)
            self.ip("-n", ns, "link", "set", "lo", "up")
            self.ip("-n", ns, "link", "set", dev, "up")
        self.ip("-n", self.c, "neigh", "replace", self.BLACKHOLE, "lladdr",
                "02:00:5e:00:00:03", "dev", self.vc, "nud", "permanent")
        self.ip("-n", self.c, "route", "add", "unreachable",
                self.UNREACH_HOST + "/32")
        os.makedirs(self.etc)
        with open(self.etc + "/hosts", "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n"
                    "::1 echo-multi\n127.0.0.1 echo-multi\n"
                    "%s echo-peer\n" % self.S_ADDR)
        with open(self.etc + "/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")

    def exec_in(self, ns):
        return ["ip", "netns", "exec", ns]

    def remove(self):
        for ns in self.created:
            subprocess.run(["ip", "netns", "del", ns], timeout=10,
                           stderr=subprocess.DEVNULL)
        self.created = []
        shutil.rmtree(self.etc, ignore_errors=True)
        if self.made_etc_netns:
            try:
                os.rmdir("/etc/netns")
            except OSError:
                pass


def netns_skip_reason():
    if os.geteuid() != 0:
        return "not root: no network namespace tests"
    if not shutil.which("ip"):
        return "ip(8) not installed"
    return None


NETNS_TESTS = 16


def test_netns():
    why = netns_skip_reason()
    n = Netns()
    if why is None:
        try:
            n.setup()
        except (subprocess.CalledProcessError, OSError) as e:
            why = "cannot set up network namespaces: %s" % (
                getattr(e, "stderr", b"") or str(e).encode()).decode().strip()
    if why is not None:
        n.remove()
        for _ in range(NETNS_TESTS):
            tap.ok(True, "network namespace case # SKIP %s" % why)
        return
    try:
        netns_cases(n)
    finally:
        n.remove()


def netns_cases(n):
    inc = n.exec_in(n.c)

    rc, out, err = run([n.UNREACH_HOST, 7], prefix=inc)
    tap.ok(rc == EXIT["unreachable"] and "No route to host" in err,
           "unreachable host: exit 5, 'No route to host'", (rc, err))
    rc, out, err = run([n.UNREACH_NET, 7], prefix=inc)
    tap.ok(rc == EXIT["unreachable"] and "Network is unreachable" in err,
           "unreachable network: exit 5, 'Network is unreachable'", (rc, err))

    c = Client(["-t", "1s", n.BLACKHOLE, 7], prefix=inc)
    rc = c.wait()
    tap.ok(rc == EXIT["timeout"] and "no answer within 1s" in c.err(),
           "blackholed address, -t 1s: connect times out, exit 6",
           (rc, c.err()))
    tap.ok(0.9 < c.elapsed < 5, "after about 1s", "%.2fs" % c.elapsed)

    # A signal while connecting: connect(2) is not restarted; the
    # handshake keeps its deadline.
    c = Client(["-c", "1", "-t", "3s", n.BLACKHOLE, 7], prefix=inc)
    time.sleep(0.5)
    os.kill(c.pid, signal.SIGQUIT)
    wait_for(lambda: "still connecting" in c.err(), 5,
             "the client to report progress")
    rc = c.wait()
    tap.ok(rc == EXIT["timeout"] and "no answer within 3s" in c.err() and
           "already in progress" not in c.err(),
           "signal during connect: handled, the wait goes on, exit 6",
           (rc, c.err()))
    tap.ok(2.8 < c.elapsed < 6, "the 3s deadline is kept, not restarted",
           "%.2fs" % c.elapsed)
    c = Client(["-c", "1", n.BLACKHOLE, 7], prefix=inc)
    time.sleep(0.5)
    os.kill(c.pid, signal.SIGINT)
    rc = c.wait()
    tap.ok(rc == -signal.SIGINT and c.elapsed < 4,
           "SIGINT while connecting ends it at once", (rc, c.err()))

    # Host names with several addresses: each is tried in turn.
    local = Echod({"server": {"listen": "127.0.0.1:7007"}},
                  port=7007).start(argv_prefix=inc)
    rc, out, err = run(["echo-multi", local.port], b"multi\n", prefix=inc)
    tap.ok(rc == 0 and out == b"multi\n" and
           re.search(r"\[::1\]:7007: connection refused", err) and
           "trying the next address of echo-multi" in err,
           "echo-multi (::1, 127.0.0.1): ::1 refused, then 127.0.0.1 works",
           (rc, out, err))
    rc, out, err = run(["-6", "echo-multi", local.port], prefix=inc)
    tap.ok(rc == EXIT["refused"], "-6 echo-multi: only ::1, refused",
           (rc, err))
    rc, out, err = run(["no-such-host.test", 7], prefix=inc)
    tap.ok(rc == EXIT["resolve"] and "cannot resolve 'no-such-host.test'"
           in err, "unknown host name: exit 3", (rc, err))

    # echod on the far side, then that side falls silent.
    far = Echod()
    far.write_config({"server": {"listen": "%s:%d" % (n.S_ADDR, far.port)}})
    far.start(argv_prefix=n.exec_in(n.s))
    rc, out, err = run(["-q", "echo-peer", far.port], b"far\n", prefix=inc)
    tap.ok(rc == 0 and out == b"far\n", "echod across the veth pair, by "
           "name", (rc, out, err))
    ka = Client(["-k", n.S_ADDR, far.port], prefix=inc)
    ka.send(b"keepalive\n")
    quiet = Client(["-t", "1s", n.S_ADDR, far.port], prefix=inc)
    quiet.send(b"one\n")
    tap.ok(quiet.wait_out(b"one\n") and ka.wait_out(b"keepalive\n"),
           "both clients get their echo")
    n.ip("-n", n.s, "link", "set", n.vs, "down")
    down_at = time.monotonic()
    quiet.send(b"two\n")
    rc = quiet.wait()
    tap.ok(rc == EXIT["timeout"] and "no reply from %s:%d for 1s"
           % (n.S_ADDR, far.port) in quiet.err(),
           "server falls silent, -t 1s: exit 6, 'no reply'", (rc, quiet.err()))
    tap.ok(quiet.elapsed - (down_at - quiet.t0) < 5,
           "within seconds", "%.2fs" % quiet.elapsed)
    # --keepalive: found dead while idle, no input needed.
    rc = ka.wait(60)
    tap.ok(rc == EXIT["timeout"] and "timed out" in ka.err(),
           "-k: the dead server is found while idle, exit 6",
           (rc, ka.err()))
    tap.ok(time.monotonic() - down_at < 45, "within the keepalive bound",
           "%.1fs" % (time.monotonic() - down_at))


def body():
    if not os.access(CLIENT, os.X_OK):
        tap.skip_all("echo-client not built at %s" % CLIENT)
    test_usage()
    e = Echod().start()
    e_idle = Echod({"connection": {"idle_timeout": "1s"}}).start()
    test_echo(e)
    test_big_file(e)
    test_refused()
    test_resolve()
    test_closed_early(e_idle)
    test_reset()
    test_broken_pipe()
    test_silent_peer()
    test_status_and_keepalive(e)
    test_ping(e)
    test_ping_output(e)
    test_ping_bad_peers()
    test_netns()


run_test(body)
