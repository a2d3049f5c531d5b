"""Reload is atomic and -t rejects what a reload would choke on:
overlapping listen entries, a failed reload that must leave every socket
as it was, RLIMIT_NOFILE raised for a larger max_connections, two SIGHUPs
in a row with many workers, and a worker whose listener cannot be
re-added to epoll."""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import ECHOD, Echod, connect, free_port, make_config, \
    recv_exact, run_test, spawn, tap, tmpdir, wait_for

STRACE = shutil.which("strace")
SYS_pidfd_getfd = 438
_libc = ctypes.CDLL(None, use_errno=True)


def steal_fd(pid, fd):
    """A copy of descriptor 'fd' of process 'pid' (pidfd_getfd)."""
    pidfd = os.pidfd_open(pid)
    try:
        n = _libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0)
        if n < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return n
    finally:
        os.close(pidfd)


def listener_fd(pid, port):
    """The descriptor number of pid's listening TCP socket on 'port'."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fl = line.split()
                if fl[3] == "0A" and int(fl[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(int(fl[9]))
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and int(link[8:-1]) in inodes:
            return int(fd)
    return None


def listener_options(pid, port):
    """(backlog, keepalive idle) of pid's listener on 127.0.0.1:port."""
    out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port],
                         capture_output=True, text=True).stdout
    backlog = None
    for line in out.splitlines():
        if "127.0.0.1:%d" % port in line:
            backlog = int(line.split()[2])
    fd = steal_fd(pid, listener_fd(pid, port))
    s = socket.socket(fileno=fd)
    try:
        idle = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
    finally:
        s.detach()
        os.close(fd)
    return backlog, idle


def nofile_soft(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


def body():
    d = tmpdir()

    # 1. Entries naming the same or an overlapping socket: -t, start and
    # reload refuse them, naming both entries.
    port = free_port()
    for listen, a, b in (("*:%d, [::]:%d" % (port, port), "*:%d" % port,
                          "[::]:%d" % port),
                         ("0.0.0.0:%d, 127.0.0.1:%d" % (port, port),
                          "0.0.0.0:%d" % port, "127.0.0.1:%d" % port),
                         ("[::1]:%d, [::1]:%d" % (port, port),
                          "[::1]:%d" % port, "[::1]:%d" % port)):
        path = os.path.join(d, "overlap.ini")
        with open(path, "w") as f:
            f.write("[server]\nlisten = %s\n" % listen)
        p = subprocess.run([ECHOD, "-t", "-c", path], capture_output=True,
                           text=True, timeout=10)
        tap.ok(p.returncode == 1 and "'%s' and '%s' overlap" % (a, b)
               in p.stderr and "overlap.ini:2:" in p.stderr,
               "-t refuses listen = %s, naming both entries" % listen,
               p.stderr)
    p = subprocess.run([ECHOD, "-c", path], capture_output=True, text=True,
                       timeout=10)
    tap.ok(p.returncode == 6 and "overlap" in p.stderr,
           "and echod refuses to start on it (exit 6)", p.stderr)
    path6 = os.path.join(d, "mapped.ini")
    with open(path6, "w") as f:
        f.write("[server]\nlisten = [::ffff:127.0.0.1]:%d\n" % port)
    p = subprocess.run([ECHOD, "-t", "-c", path6], capture_output=True,
                       text=True, timeout=10)
    tap.ok(p.returncode == 1 and "IPv4-mapped" in p.stderr,
           "an IPv4-mapped listen address is refused with a hint",
           p.stderr)

    e = Echod({"server": {"workers": "2"}}).start()
    workers = sorted(e.wait_workers(2))
    c = connect(e.port)
    e.write_config(text=make_config(e.port).replace(
        "listen = 127.0.0.1:%d, [::1]:%d" % (e.port, e.port),
        "listen = *:%d, [::]:%d" % (e.port, e.port)))
    e.signal(signal.SIGHUP)
    e.wait_log(r"reload failed: .*'\*:%d' and '\[::\]:%d' overlap"
               % (e.port, e.port))
    tap.ok(True, "a reload to overlapping entries fails, naming both")
    c.sendall(b"same")
    tap.eq(recv_exact(c, 4), b"same", "the open connection is untouched")
    tap.eq(sorted(e.workers()), workers, "the same workers, none dying "
           "in a loop")
    c.close()
    e.stop()

    # 2. A failed reload leaves running sockets exactly as they were:
    # the kept listener's backlog and keepalive options too.
    e = Echod({"server": {"workers": "2", "backlog": "100"},
               "connection": {"keepalive_idle": "60s"}}).start()
    before = listener_options(e.pid, e.port)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    text = make_config(e.port, {"server": {"workers": "2",
                                           "backlog": "200"},
                                "connection": {"keepalive_idle": "30s"}})
    e.write_config(text=text.replace(
        "listen = 127.0.0.1:%d, [::1]:%d" % (e.port, e.port),
        "listen = 127.0.0.1:%d, [::1]:%d, 127.0.0.1:%d"
        % (e.port, e.port, taken)))
    e.signal(signal.SIGHUP)
    e.wait_log(r"reload failed: cannot listen on 127\.0\.0\.1:%d" % taken)
    after = listener_options(e.pid, e.port)
    tap.eq(before, (100, 60), "before: backlog 100, keepalive_idle 60 s")
    tap.eq(after, before, "after a failed reload (new port in use): the "
           "kept listener still has backlog 100 and keepalive_idle 60 s")
    holder.close()
    e.write_config(text=text)
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded")
    tap.eq(listener_options(e.pid, e.port), (200, 30), "a good reload "
           "does apply backlog 200 and keepalive_idle 30 s")
    e.stop()

    # 3. A reload that raises max_connections raises RLIMIT_NOFILE before
    # the new workers start, and warns when the hard limit is too low.
    e = Echod({"server": {"workers": "1", "max_connections": "100"}})
    e.start(argv_prefix=["prlimit", "--nofile=1024:6000", "--"])
    w1 = e.wait_workers(1)
    tap.eq(nofile_soft(w1[0]), 1024, "max_connections 100: the soft "
           "limit stays 1024")
    e.write_config(overrides={"server": {"workers": "1",
                                         "max_connections": "5000"}})
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded")
    w2 = wait_for(lambda: [w for w in e.workers() if w not in w1], 5,
                  "the new worker")
    # + 64 for everything else, + 512 for splice pipes (256 per worker).
    tap.eq(nofile_soft(w2[0]), 5576, "reload to max_connections 5000: "
           "the new worker's soft limit is 5000 + 64 + 512")
    e.write_config(overrides={"server": {"workers": "1",
                                         "max_connections": "9000"}})
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded", count=2)
    tap.ok(re.search(r"open file limit 6000 is below the 9064",
                     e.log()), "beyond the hard limit: a warning")
    e.stop()

    # 4. workers = 256 and two SIGHUPs 1 ms apart: both are applied (old
    # workers with no connection exit at once and must be reaped before
    # the slots are counted).
    e = Echod({"server": {"workers": "256", "max_connections": "10000"}})
    e.start(wait_ready=False)
    e.wait_ready(120)
    e.wait_workers(256, timeout=60)
    e.signal(signal.SIGHUP)
    time.sleep(0.001)
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded", timeout=120)
    tap.ok("too many old workers" not in e.log(), "two SIGHUPs 1 ms apart "
           "with 256 workers: neither is refused",
           "\n".join(l for l in e.log().splitlines()
                     if "reload" in l)[-2000:])
    wait_for(lambda: len(e.workers()) == 256, 120, "one generation left")
    c = connect(e.port)
    c.sendall(b"ok")
    tap.eq(recv_exact(c, 2), b"ok", "and the new generation serves")
    c.close()
    e.stop(60)

    # 5. A worker that cannot re-add its listener to epoll (injected
    # ENOMEM) keeps its connections and retries; it does not die.
    if STRACE is None:
        tap.skip("listener re-add failure", "strace is not installed")
        return
    e = Echod({"server": {"workers": "2"}}).start()
    workers = sorted(e.wait_workers(2))
    held = [connect(e.port) for _ in range(10)]
    for h in held:
        h.sendall(b"h")
        recv_exact(h, 1)
    tracers = [spawn([STRACE, "-qq", "-o", "/dev/null", "-p", str(w),
                      "-e", "trace=epoll_ctl",
                      "-e", "inject=epoll_ctl:error=ENOMEM:when=1..6"])
               for w in workers]
    wait_for(lambda: all(_traced(w) for w in workers), 5,
             "strace to attach")
    # Connections make workers add, rotate and re-add listeners: the
    # injected failures hit those calls.
    for _ in range(12):
        try:
            s = connect(e.port, timeout=2)
            s.sendall(b"n")
            s.settimeout(2)
            s.recv(1)
            s.close()
        except OSError:
            pass
    for t in tracers:
        t.send_signal(signal.SIGINT)
        t.wait(5)
    wait_for(lambda: not any(_traced(w) for w in workers), 5,
             "strace to detach")
    tap.eq(sorted(e.workers()), workers, "injected epoll_ctl failures: "
           "both workers are still alive")
    tap.ok("epoll_ctl(listener)" not in e.log() and
           "was killed" not in e.log() and "exited with" not in e.log(),
           "no worker exited", e.log()[-1500:])
    alive = 0
    for h in held:
        h.sendall(b"again")
        alive += recv_exact(h, 5) == b"again"
    tap.eq(alive, 10, "their connections still echo")
    s = wait_for(lambda: _served(e.port), 5, "a new client to be served")
    tap.ok(s, "new clients are served once epoll_ctl works again")
    e.stop()


def _served(port):
    try:
        s = connect(port, timeout=1)
        s.sendall(b"z")
        ok = recv_exact(s, 1) == b"z"
        s.close()
        return ok
    except OSError:
        return False


def _traced(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1]) != 0
    except FileNotFoundError:
        pass
    return False


run_test(body)
