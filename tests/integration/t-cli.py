"""Command line and config errors of the real binary: messages and exit
codes, -t on good and bad files, refusing to start on a bad config."""

import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import ECHOD, SRCDIR, Echod, make_config, free_port, \
    run_test, tap, tmpdir

EXIT_USAGE, EXIT_CONFIG = 2, 6


def run(*args, timeout=10):
    p = subprocess.run([ECHOD] + list(args), capture_output=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def write(d, name, text, mode="w"):
    path = os.path.join(d, name)
    with open(path, mode) as f:
        f.write(text)
    return path


def body():
    d = tmpdir()
    rc, out, err = run("-V")
    tap.ok(rc == 0 and out.startswith("echod "), "-V prints the version",
           out + err)
    rc, out, _ = run("--version")
    tap.ok(rc == 0 and out.startswith("echod "), "--version too")
    rc, out, _ = run("-h")
    tap.ok(rc == 0 and "--test-config" in out and "--config" in out,
           "-h prints usage on stdout, exit 0")
    rc, _, err = run("--bogus")
    tap.ok(rc == EXIT_USAGE and "unknown option '--bogus'" in err,
           "unknown long option: message and exit 2", err)
    rc, _, err = run("-x")
    tap.ok(rc == EXIT_USAGE and "unknown option '-x'" in err,
           "unknown short option: message and exit 2", err)
    rc, _, err = run("-c")
    tap.ok(rc == EXIT_USAGE and "needs an argument" in err,
           "-c without a file: exit 2", err)
    rc, _, err = run("-c", "")
    tap.ok(rc == EXIT_USAGE and "needs a file name" in err,
           "-c '': exit 2", err)
    rc, _, err = run("-t", "stray")
    tap.ok(rc == EXIT_USAGE and "unexpected argument 'stray'" in err,
           "stray argument: exit 2", err)

    shipped = os.path.join(SRCDIR, "conf", "echod.ini")
    rc, _, err = run("-t", "-c", shipped)
    tap.ok(rc == 0 and "test is successful" in err,
           "-t on the shipped config: exit 0", err)
    good = write(d, "good.ini", make_config(7007))
    rc, _, err = run("--test-config", "--config", good)
    tap.ok(rc == 0, "--test-config --config on a good file: exit 0", err)

    # Each kind of bad config: -t says what and where, exit 1; starting
    # with it refuses with the same message and exit 6.
    cases = [
        ("missing", None, "missing.ini: cannot open: No such file"),
        ("directory", "DIR", "is a directory"),
        ("unknown section", "[srv]\nworkers = 1\n",
         "bad.ini:1: unknown section [srv]"),
        ("unknown key", "[server]\nwokers = 1\n",
         "bad.ini:2: unknown key 'wokers' in [server]"),
        ("bad value", "[connection]\nidle_timeout = soon\n",
         "bad.ini:2: [connection] idle_timeout = \"soon\": not a number"),
        ("out of range", "[connection]\nkeepalive_count = 0\n",
         "bad.ini:2: [connection] keepalive_count = \"0\": out of range; "
         "expected 1 to 127"),
        ("duplicate key", "[log]\nlevel = info\nlevel = debug\n",
         "bad.ini:3: [log] level: duplicate key, already set on line 2"),
        ("syntax error", "[log]\nlevel info\n", "bad.ini:2: syntax error"),
        ("huge file", "; x\n" * 300000, "too large"),
        ("FIFO", "FIFO", "fifo.ini: is not a regular file"),
        ("device", "/dev/zero", "/dev/zero: is not a regular file"),
        ("unreadable file", "/proc/self/mem",
         "/proc/self/mem: cannot read: Input/output error"),
    ]
    fifo = os.path.join(d, "fifo.ini")
    os.mkfifo(fifo)
    for name, text, want in cases:
        if text is None:
            path = os.path.join(d, "missing.ini")
        elif text == "DIR":
            path = d
        elif text == "FIFO":
            path = fifo
        elif text.startswith("/"):
            path = text
        else:
            path = write(d, "bad.ini", text)
        rc, _, err = run("-t", "-c", path)
        tap.ok(rc == 1 and want in err and "test failed" in err,
               "-t %s: exit 1 and '%s'" % (name, want), err)
        rc, _, err = run("-c", path)
        tap.ok(rc == EXIT_CONFIG and want in err and "not starting" in err,
               "start with %s: refuses, exit 6" % name, err)

    path = write(d, "bad.ini", "[server]\nworkers = x\nbacklog = y\n"
                 "[log]\nlevel = z\n")
    rc, _, err = run("-t", "-c", path)
    tap.ok(rc == 1 and ":2:" in err and ":3:" in err and ":5:" in err,
           "-t prints every problem, not just the first", err)

    if os.getuid() != 0:
        path = write(d, "unreadable.ini", "[server]\n")
        os.chmod(path, 0)
        rc, _, err = run("-t", "-c", path)
        tap.ok(rc == 1 and "Permission denied" in err,
               "unreadable file: exit 1", err)

    # A port already taken: runtime failure, exit 1, naming the address.
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = free_port()
    busy.bind(("127.0.0.1", port))
    busy.listen()
    e = Echod(port=port)
    e.start(wait_ready=False)
    rc = e.wait_exit(10)
    tap.ok(rc == 1 and ("cannot listen on 127.0.0.1:%d: Address already "
                        "in use" % port) in e.log(),
           "port in use: exit 1 naming the address", e.log())
    busy.close()


run_test(body)
