"""Helpers for echod's Python tests (tests/integration, tests/faults): TAP
output, a real echod process on a free loopback port, clients, and
bounded waits on conditions.

Each test puts this directory (tests/lib) on sys.path itself, so it runs
alone from anywhere: ECHOD=build/src/echod python3 tests/faults/t-crash.py
ECHOD and ECHOD_SRCDIR default to an in-tree build of this source tree.

Every wait polls a condition with a deadline; nothing sleeps blindly.
Every process a test starts runs in its own session and is killed (with its
whole process group) when the test ends, pass or fail.
"""

import atexit
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# The clients live in clients.py; tests import them from here too.
from clients import (Streamer, connect, echo_stream,  # noqa: F401
                     finish_all, recv_all, recv_exact, sha256)

_TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
    __file__)), "..", ".."))
ECHOD = os.environ.get("ECHOD") or os.path.join(_TOP, "src", "echod")
SRCDIR = os.environ.get("ECHOD_SRCDIR") or _TOP
# The same echod built as a newer version, and as one whose hand-over
# format older ones cannot read (make check builds both).
ECHOD_NEXT = os.environ.get("ECHOD_NEXT") or os.path.join(
    os.path.dirname(ECHOD), "..", "tests", "echod-next")
ECHOD_FUTURE = os.environ.get("ECHOD_FUTURE") or os.path.join(
    os.path.dirname(ECHOD), "..", "tests", "echod-future")


def _sanitized():
    try:
        out = subprocess.run(["ldd", ECHOD], capture_output=True).stdout
    except OSError:
        return False
    return b"libasan" in out


# Built with AddressSanitizer: its quarantine holds freed memory on
# purpose (RSS checks mean nothing) and valgrind cannot run it.
SANITIZED = _sanitized()


def env_under_ptrace():
    """Environment for echod run under strace: LeakSanitizer cannot work
    under ptrace and would abort every process at exit."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


# --- TAP ---------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        atexit.register(self._end)

    def ok(self, cond, desc, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, desc),
              flush=True)
        if not cond and diag is not None:
            self.diag(diag)
        return bool(cond)

    def eq(self, got, want, desc):
        return self.ok(got == want, desc,
                       "got %r, want %r" % (_short(got), _short(want)))

    def skip(self, desc, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, reason), flush=True)

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    def skip_all(self, reason):
        print("1..0 # SKIP %s" % reason, flush=True)
        self.n = -1
        sys.exit(0)

    def _end(self):
        if self.n >= 0:
            print("1..%d" % self.n, flush=True)


def _short(v):
    if isinstance(v, (bytes, str)) and len(v) > 200:
        return v[:200] + (b"..." if isinstance(v, bytes) else "...")
    return v


tap = Tap()


def run_test(fn):
    """Run a test body; an exception is a failed test, never a hang."""
    try:
        fn()
    except Exception as e:  # report, then let cleanup run
        import traceback
        tap.ok(False, "test body raised %s: %s" % (type(e).__name__, e),
               traceback.format_exc())
    finally:
        cleanup()


# --- waiting -----------------------------------------------------------

def wait_for(cond, timeout=5.0, what="condition", interval=0.01):
    """Poll cond() until it returns a true value; return that value.
    Raise TimeoutError naming 'what' after 'timeout' seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s"
                               % (timeout, what))
        time.sleep(interval)


def free_port():
    """A TCP port free on both 127.0.0.1 and ::1 right now."""
    for _ in range(50):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s4.bind(("127.0.0.1", 0))
        port = s4.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.bind(("::1", port))
            s6.close()
            return port
        except OSError:
            continue
        finally:
            s4.close()
    raise RuntimeError("no free port")


# --- processes ---------------------------------------------------------

_procs = []
_tmpdirs = []
_notifies = []


def cleanup():
    for n in _notifies:
        n.close()
    _notifies.clear()
    for p in _procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=5)
        except Exception:
            pass
    _procs.clear()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)
    _tmpdirs.clear()


atexit.register(cleanup)


def tmpdir():
    d = tempfile.mkdtemp(prefix="echod-test-")
    _tmpdirs.append(d)
    return d


def spawn(argv, **kw):
    """Start a process in its own session; killed at cleanup."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    _procs.append(p)
    return p


def proc_state(pid):
    """The state letter of a process (R, S, Z...), or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def children(pid):
    """Pids of the children of pid (any state), from /proc."""
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return out


def socket_owners(pids, server_port, socks):
    """Map each client socket to the pid (of 'pids') holding the server
    side of its connection, reading /proc once for all of them."""
    inode = {}      # (family, client port) -> inode: v4 and v6 ports overlap
    for fam, table in ((socket.AF_INET, "/proc/net/tcp"),
                       (socket.AF_INET6, "/proc/net/tcp6")):
        with open(table) as f:
            next(f)
            for line in f:
                fl = line.split()
                lport = int(fl[1].rsplit(":", 1)[1], 16)
                if lport == server_port:
                    inode[fam, int(fl[2].rsplit(":", 1)[1], 16)] = \
                        int(fl[9])
    holder = {}
    for pid in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if link.startswith("socket:["):
                    holder[int(link[8:-1])] = pid
        except OSError:
            pass
    return {s: holder.get(inode.get((s.family, s.getsockname()[1])))
            for s in socks}


def cpu_seconds(pid):
    """User + system CPU time of a process so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pids):
    """Total resident set size of 'pids', in KiB."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


class ZombieWatch:
    """Watch echod's children from a thread.  A child that died is a
    zombie for the instant before the master reaps it; one that stays a
    zombie longer than 'grace' seconds was not reaped: that is the bug."""

    def __init__(self, echod, grace=0.5):
        self.echod, self.grace = echod, grace
        self.first = {}
        self.leaked = set()
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop.is_set():
            now = time.monotonic()
            for z in self.echod.zombies():
                t0 = self.first.setdefault(z, now)
                if now - t0 > self.grace:
                    self.leaked.add(z)
            self.stop.wait(0.005)

    def finish(self):
        """Stop watching; return the zombies that outlived the grace."""
        self.stop.set()
        self.t.join()
        return sorted(self.leaked)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def pid_alive(pid):
    st = proc_state(pid)
    return st is not None and st != "Z"


class Notify:
    """An sd_notify(3) socket the test owns, for NOTIFY_SOCKET: an AF_UNIX
    datagram socket bound at 'path'.  A thread reads it all the time,
    because a sender blocks once the queue holds net.unix.max_dgram_qlen
    (10 by default) messages.  msgs lists every message, oldest first,
    as text ("READY=1\nSTATUS=...")."""

    def __init__(self, path):
        self.path = path
        self.msgs = []
        self._lock = threading.Lock()
        self._closed = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind(path)
        _notifies.append(self)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        p = select.poll()
        p.register(self.sock, select.POLLIN)
        while not self._closed:
            p.poll()
            self._drain()

    def _drain(self):
        with self._lock:
            while not self._closed:
                try:
                    m = self.sock.recv(4096)
                except OSError:         # EAGAIN: read it all
                    return
                self.msgs.append(m.decode("utf-8", "replace"))

    def find(self, pred, since=0):
        """The first message from index 'since' on for which pred(text)
        is true, or None.  It reads what is queued first, so a message
        sent before the call is always seen."""
        self._drain()
        return next((m for m in self.msgs[since:] if pred(m)), None)

    def wait(self, pred, timeout=10.0, what="a notify message", since=0):
        """Wait for find(pred, since) to return a message; return it."""
        return wait_for(lambda: self.find(pred, since), timeout, what)

    def close(self):
        """Stop reading and remove the socket; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.sock.shutdown(socket.SHUT_RDWR)    # wakes the thread's poll
        self._t.join(5)
        with self._lock:
            self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


DEFAULTS = {
    "server": {"listen": None, "workers": "2", "shutdown_timeout": "5s"},
    "connection": {},
    "log": {"target": "stderr", "level": "debug"},
}


def make_config(port, overrides=None):
    """Config text for a test: loopback on 'port', logs to stderr."""
    secs = {k: dict(v) for k, v in DEFAULTS.items()}
    secs["server"]["listen"] = "127.0.0.1:%d, [::1]:%d" % (port, port)
    for sec, kv in (overrides or {}).items():
        secs.setdefault(sec, {}).update(kv)
    out = []
    for sec, kv in secs.items():
        out.append("[%s]" % sec)
        out += ["%s = %s" % (k, v) for k, v in kv.items() if v is not None]
    return "\n".join(out) + "\n"


class Echod:
    """A real echod process on a free loopback port."""

    def __init__(self, overrides=None, port=None):
        self.dir = tmpdir()
        self.port = port or free_port()
        self.config = os.path.join(self.dir, "echod.ini")
        self.logpath = os.path.join(self.dir, "echod.log")
        self.notify_path = os.path.join(self.dir, "notify")
        self.notify = None
        self.write_config(overrides)
        self.proc = None

    def write_config(self, overrides=None, text=None):
        with open(self.config, "w") as f:
            f.write(text if text is not None
                    else make_config(self.port, overrides))

    def start(self, argv_prefix=(), env=None, wait_ready=True,
              program=None, **kw):
        """Start echod (or 'program', another echod binary) with this
        process's environment plus 'env', and NOTIFY_SOCKET at a socket
        of this test (self.notify, a new one for each start).  With
        wait_ready, return once echod sent READY=1: every worker
        serves."""
        if self.notify is not None:
            self.notify.close()
        self.notify = Notify(self.notify_path)
        full = dict(os.environ)
        full.update(env or {})
        full["NOTIFY_SOCKET"] = self.notify.path
        self.logfile = open(self.logpath, "ab")
        self.proc = spawn(list(argv_prefix) + [program or ECHOD, "-c",
                                               self.config],
                          stdout=subprocess.DEVNULL, stderr=self.logfile,
                          env=full, **kw)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_notify(self, pred, timeout=10.0, what="a notify message",
                    since=0):
        """Like Notify.wait, but fail at once if echod exits first."""
        def found():
            m = self.notify.find(pred, since)
            if m is None and self.proc.poll() is not None:
                m = self.notify.find(pred, since)    # sent just before
                if m is None:
                    raise RuntimeError("echod exited (%s) before sending "
                                       "%s; log:\n%s" % (
                                           self.proc.returncode, what,
                                           self.log()[-3000:]))
            return m
        return wait_for(found, timeout, what)

    def wait_ready(self, timeout=10.0, since=0):
        """Wait for READY=1 (from message 'since' on); return it."""
        return self.wait_notify(lambda m: "READY=1" in m.splitlines(),
                                timeout, "READY=1", since)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10.0, count=1, what=None):
        """Wait until 'pattern' (regex) matches 'count' times in the log;
        return the list of matches."""
        rx = re.compile(pattern)

        def found():
            if self.proc.poll() is not None and not rx.search(self.log()):
                raise RuntimeError("echod exited (%s) before logging %r; "
                                   "log:\n%s" % (self.proc.returncode,
                                                 pattern, self.log()[-3000:]))
            m = rx.findall(self.log())
            return m if len(m) >= count else None
        return wait_for(found, timeout, what or "log line %r" % pattern)

    def count_log(self, pattern):
        return len(re.findall(pattern, self.log()))

    def workers(self):
        return children(self.pid)

    def wait_workers(self, n, timeout=10.0):
        return wait_for(lambda: (lambda w: w if len(w) == n and
                                 all(pid_alive(p) for p in w) else None)(
                                     self.workers()),
                        timeout, "%d live workers" % n)

    def zombies(self):
        return [p for p in children(self.pid) if proc_state(p) == "Z"]

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=15.0):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError("echod still running after %.1fs" % timeout)

    def stop(self, timeout=15.0):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

