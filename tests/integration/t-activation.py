"""Socket activation: echod serves on sockets passed the systemd way
(systemd-socket-activate) and refuses passed fds that are not listening
stream sockets, or a garbled LISTEN_* environment, with a clear message."""

import os
import shutil
import socket
import subprocess
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import ECHOD, Echod, connect, echo_stream, free_port, \
    recv_exact, run_test, sha256, tap, wait_for

ACTIVATE = shutil.which("systemd-socket-activate")


def run_with_env(cfg, shell_setup, timeout=10):
    """Run echod from sh, so LISTEN_PID can be the exec'd pid ($$)."""
    p = subprocess.run(
        ["sh", "-c", shell_setup + ' exec "$0" -c "$1"', ECHOD, cfg],
        capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr.decode()


def body():
    if ACTIVATE is None:
        tap.skip_all("systemd-socket-activate is not installed")

    # Two passed sockets; the config's own listen addresses are unused.
    e = Echod()
    p1, p2 = free_port(), free_port()
    # systemd-socket-activate execs echod on the first connection, with
    # only the environment variables named by -E.
    e.start(argv_prefix=[ACTIVATE, "-l", "127.0.0.1:%d" % p1,
                         "-l", "[::1]:%d" % p2,
                         "-E", "NOTIFY_SOCKET=" + e.notify_path],
            wait_ready=False)
    s = wait_for(lambda: _try_connect(p1), 5, "the activation socket")
    s.sendall(b"activated")
    tap.eq(recv_exact(s, 9), b"activated", "echod serves on the passed "
           "IPv4 socket")
    ready = e.wait_ready()
    tap.ok("STATUS=" in ready, "READY=1 once it serves them", ready)
    e.wait_log(r"started: \d+ workers serving on 127\.0\.0\.1:%d, "
               r"\[::1\]:%d \(from systemd\)" % (p1, p2))
    tap.ok(True, "it logs that the sockets came from systemd")
    digest, n = echo_stream(p2, b"\x00\xff" * 500000, host="::1")
    tap.ok(digest == sha256(b"\x00\xff" * 500000),
           "and on the passed IPv6 socket (1 MB by hash)")
    try:
        connect(e.port).close()
        own = True
    except ConnectionRefusedError:
        own = False
    tap.ok(not own, "the config's listen addresses are not bound")
    s.close()
    tap.eq(e.stop(), 0, "exit 0 on SIGTERM")

    cfg = e.config
    rc, err = run_with_env(cfg, "export LISTEN_PID=$$ LISTEN_FDS=1; "
                           "exec 3</dev/null;")
    tap.ok(rc == 1 and "file descriptor 3 passed by systemd is not a "
           "listening stream socket" in err,
           "a passed fd that is a file: refused with a clear message",
           err)
    # A connected, not listening, socket as fd 3.
    a, b = socket.socketpair()
    p = subprocess.run(
        ["bash", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=1; exec 3<&%d; '
         'exec "$0" -c "$1"' % a.fileno(), ECHOD, cfg],
        capture_output=True, timeout=10, pass_fds=[a.fileno()],
        stdin=subprocess.DEVNULL)
    tap.ok(p.returncode == 1 and b"is not a listening stream socket"
           in p.stderr, "a passed socket that is not listening: refused",
           p.stderr)
    a.close()
    b.close()
    rc, err = run_with_env(cfg, "export LISTEN_PID=$$ LISTEN_FDS=lots;")
    tap.ok(rc == 1 and "invalid socket activation environment "
           "(LISTEN_PID=" in err and "LISTEN_FDS=lots" in err,
           "LISTEN_FDS garbage: refused, naming the variables", err)
    rc, err = run_with_env(cfg, "export LISTEN_PID=abc LISTEN_FDS=1;")
    tap.ok(rc == 1 and "LISTEN_PID=abc" in err,
           "LISTEN_PID garbage: refused, naming it", err)
    rc, err = run_with_env(cfg, "export LISTEN_PID=$$ LISTEN_FDS=1;")
    tap.ok(rc == 1 and ("not a listening stream socket" in err or
                        "invalid socket activation" in err),
           "LISTEN_FDS=1 with nothing on fd 3: refused", err)


def _try_connect(port):
    try:
        return connect(port)
    except ConnectionRefusedError:
        return None


run_test(body)
