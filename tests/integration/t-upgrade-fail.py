"""Live upgrades that must not happen, each with connections open: the
new program is not executable, exits at once, fails its check; it passes
its check but then cannot be executed, cannot read the hand-over (an
older hand-over format: the rollback path), or finds the configuration
broken by then; an upgrade asked for again while one is checked; a stop
while one is checked.  Each time the running echod keeps its PID,
workers and descriptors, cuts nothing, and logs why."""

import os
import re
import signal
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import ECHOD, ECHOD_FUTURE, ECHOD_NEXT, Echod, Streamer, \
    connect, finish_all, pid_alive, proc_state, recv_exact, \
    run_test, tap, wait_for
from upgradetest import exe_deleted, fds_of, install, install_script, \
    runs, version_of


def exchange(s, data):
    s.sendall(data)
    return recv_exact(s, len(data)) == data


class Load:
    """Connections that must live through a failed upgrade."""

    def __init__(self, e):
        self.idle = [connect(e.port) for _ in range(20)]
        self.streams = [Streamer(e.port, chunk=1024, pace=0.05,
                                 timeout=60) for _ in range(10)]
        wait_for(lambda: all(s.ngot > 0 for s in self.streams), 10,
                 "the streams to flow")

    def check(self, what):
        whole = finish_all(self.streams, 30)
        echo = all(exchange(s, b"still") for s in self.idle)
        tap.ok(all(whole) and echo, "%s: 10 streams whole, 20 idle "
               "connections still echo" % what,
               "\n".join(s.describe() for s in self.streams))
        for s in self.idle:
            s.close()


def quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def failed(e, pid, workers, fds, since, pattern, what):
    """The upgrade failed as 'pattern' says; nothing changed."""
    e.wait_log(pattern, timeout=20)
    tap.ok(True, "%s: logged" % what)
    ready = e.wait_ready(since=since, timeout=10)
    tap.ok("(last upgrade failed)" in ready and
           e.notify.find(lambda m: "RELOADING=1" in m.splitlines(), since),
           "%s: RELOADING=1, then READY=1 with STATUS= saying so" % what)
    try:
        wait_for(lambda: len(fds_of(pid)) == len(fds), 5, "the "
                 "descriptors")
    except TimeoutError:
        pass
    tap.ok(e.proc.poll() is None and e.pid == pid and
           sorted(e.workers()) == workers and
           len(fds_of(pid)) == len(fds),
           "%s: same PID, same workers, same %d descriptors"
           % (what, len(fds)), "before: %s\nafter: %s" % (fds, fds_of(pid)))


def attempt(e, program, install_it, pattern, what):
    pid = e.pid
    workers = sorted(e.wait_workers(2))
    fds = fds_of(pid)
    load = Load(e)
    install_it()
    since = len(e.notify.msgs)
    e.signal(signal.SIGUSR2)
    failed(e, pid, workers, fds, since, pattern, what)
    load.check(what)
    s = connect(e.port)
    tap.ok(exchange(s, b"new"), "%s: new connections served" % what)
    s.close()


def body():
    for p in (ECHOD_NEXT, ECHOD_FUTURE):
        if not os.access(p, os.X_OK):
            tap.skip_all("%s is not built (make check builds it)" % p)
    v_old, v_next = version_of(ECHOD), version_of(ECHOD_NEXT)
    e = Echod({"server": {"workers": "2"},
               "connection": {"idle_timeout": "0"},
               "log": {"level": "info"}})
    program = os.path.join(e.dir, "echod")
    install(ECHOD, program)
    e.start(program=program)
    q = quote(program)

    attempt(e, program, lambda: install(ECHOD_NEXT, program, 0o644),
            r"upgrade to %s failed: --check-upgrade failed \(exit status "
            r"127\): cannot run %s: Permission denied; echod %s goes on "
            r"serving" % (re.escape(program), re.escape(program),
                          re.escape(v_old)),
            "a program that is not executable")
    attempt(e, program, lambda: install_script(program, "exit 0\n"),
            r"failed: --check-upgrade did not say which version it is",
            "a program that exits at once (status 0)")
    attempt(e, program, lambda: install_script(
        program, "echo 'Segmentation fault' >&2; exit 139\n"),
            r"failed: --check-upgrade failed \(exit status 139\): "
            r"Segmentation fault;",
            "a program that fails its check")

    # Passes its check, then cannot be executed.
    attempt(e, program, lambda: install_script(
        program, "%s \"$@\" && chmod a-x %s\n" % (quote(ECHOD_NEXT), q)),
            r"upgrading from echod %s to echod %s: executing .*\n.*"
            r"upgrade to .* failed: cannot execute %s: Permission denied"
            % (re.escape(v_old), re.escape(v_next), re.escape(program)),
            "a program that passes its check, then cannot be executed")

    # Passes its check, but the configuration is broken by the time it
    # runs: it cannot take over and goes back to the old program.
    cfg = open(e.config).read()
    attempt(e, program, lambda: install_script(program, """
case "$1" in
--check-upgrade) %s "$@" || exit; printf '[server]\\nworkers = lots\\n' >>%s ;;
*) exec %s "$@" ;;
esac
""" % (quote(ECHOD_NEXT), quote(e.config), quote(ECHOD_NEXT))),
            r"upgrade failed: echod %s could not take over: .*echod\.ini:"
            r"\d+: .*; echod %s went back to work"
            % (re.escape(v_next), re.escape(v_old)),
            "a program that finds the configuration broken once it runs")
    tap.ok(exe_deleted(e.pid) and
           e.count_log(r"going back to echod %s" % re.escape(v_old)) == 1,
           "the old program, exec'd back from the file it ran, resumed")
    with open(e.config, "w") as f:
        f.write(cfg)

    pid = e.pid

    # Asked again while the check runs: the newest program is checked
    # once the check under way is over.
    gate = os.path.join(e.dir, "gate")
    gated = """
case "$1" in
--check-upgrade) i=0; while [ ! -e %s ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1)); done ;;
esac
exec %s "$@"
""" % (quote(gate), quote(ECHOD_NEXT))
    install_script(program, gated)
    pid = e.pid
    load = Load(e)
    execs = e.count_log(r"upgrading from echod")
    n = e.count_log(r"SIGUSR2: upgrading: checking")
    e.signal(signal.SIGUSR2)
    e.wait_log(r"SIGUSR2: upgrading: checking", count=n + 1)
    e.signal(signal.SIGUSR2)
    e.wait_log(r"SIGUSR2: an upgrade is under way; .* will be checked "
               r"again once it is done")
    open(gate, "w").close()
    e.wait_log(r"upgrade requested again: upgrading: checking")
    e.wait_log(r"upgraded from echod %s to echod %s"
               % (re.escape(v_old), re.escape(v_next)), timeout=20)
    tap.ok(e.count_log(r"upgrading from echod") == execs + 1 and
           e.pid == pid,
           "an upgrade asked for during a check is queued: checked once "
           "more, then one upgrade, same PID")
    load.check("an upgrade queued behind another")
    os.unlink(gate)

    # SIGHUP is a reload too: with the upgrade refused, the edited file
    # is still applied.
    install_script(program, "exit 0\n")
    e.write_config({"server": {"workers": "3"},
                    "connection": {"idle_timeout": "0"},
                    "log": {"level": "info"}})
    n = e.count_log(r"configuration reloaded from")
    e.signal(signal.SIGHUP)
    e.wait_log(r"SIGHUP with a new program installed: upgrading: checking")
    e.wait_log(r"did not say which version it is")
    e.wait_log(r"SIGHUP: reloading the configuration instead")
    e.wait_log(r"configuration reloaded from .*: 3 new workers serving",
               count=n + 1)
    e.wait_workers(3)
    tap.ok(e.pid == pid, "SIGHUP with a program that fails its check: "
           "refused, and the edited configuration reloaded instead")

    # A stop during a check abandons the upgrade, and the check.
    install_script(program, gated)
    n = e.count_log(r"SIGUSR2: upgrading: checking")
    e.signal(signal.SIGUSR2)
    e.wait_log(r"SIGUSR2: upgrading: checking", count=n + 1)
    checker = wait_for(lambda: [p for p in e.workers()
                                if "--check-upgrade" in open(
                                    "/proc/%d/cmdline" % p).read()
                                .replace("\0", " ")], 5, "the check")[0]
    e.signal(signal.SIGTERM)
    tap.eq(e.wait_exit(15), 0, "a stop during a check is clean (exit 0)")
    tap.ok(e.count_log(r"upgrade to .* failed: abandoned: echod is "
                       r"stopping") == 1 and not pid_alive(checker) and
           proc_state(checker) is None,
           "the upgrade is abandoned and its check killed and reaped")

    # The new program passes its check (a stand-in answers it) but is
    # older than the hand-over it gets: it refuses the format and goes
    # back to the running program, which resumes.
    v_future = version_of(ECHOD_FUTURE)
    e = Echod({"server": {"workers": "2"},
               "connection": {"idle_timeout": "0"},
               "log": {"level": "info"}})
    program = os.path.join(e.dir, "echod")
    install(ECHOD_FUTURE, program)
    e.start(program=program)
    attempt(e, program, lambda: install_script(program, """
case "$1" in
--check-upgrade) exec %s "$@" ;;
*) exec %s "$@" ;;
esac
""" % (quote(ECHOD_FUTURE), quote(ECHOD))),
            r"upgrade failed: echod %s could not take over: hand-over "
            r"format 99: this echod reads formats 1 to 1 only \(the running "
            r"echod is newer than this one\); echod %s went back to work"
            % (re.escape(v_old), re.escape(v_future)),
            "an older program that cannot read the hand-over")
    tap.ok(exe_deleted(e.pid) and runs(e.pid, program) is False,
           "the program that runs again is the one that ran before")
    tap.eq(e.stop(), 0, "and stops cleanly")


run_test(body)
