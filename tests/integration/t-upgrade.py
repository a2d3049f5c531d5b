"""Live upgrade: echod started from a copy of its program, 100 connections
streaming hash-checked data and 500 idle ones; the copy replaced by a
newer build (tests/echod-next: the same code as another version), then
SIGUSR2.  Every stream completes with every byte, every idle connection
still echoes, the master keeps its PID, new connections are answered by
the new program (log, STATUS=, /metrics), the old workers leave when
their last connection closes, and nothing leaks: no zombie, no
descriptor.  Then a second upgrade while old workers still drain (to a
build with a newer hand-over format), the refusal of a downgrade to the
older format, and SIGHUP: a plain reload while the program on disk is
the running one, an upgrade once it was replaced (here to an older
version with the same format: a downgrade)."""

import os
import resource
import signal
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import ECHOD, ECHOD_FUTURE, ECHOD_NEXT, Echod, Streamer, \
    ZombieWatch, connect, finish_all, free_port, pid_alive, \
    recv_exact, run_test, socket_owners, tap, wait_for
from metricstest import metrics_echod_config, parse_metrics, scrape
from udptest import Pinger
from upgradetest import fds_of, install, memfd_inodes, runs, version_of

STREAMS = 100
IDLE = 500


def exchange(s, data):
    s.sendall(data)
    return recv_exact(s, len(data)) == data


def notified(e, since, key):
    """The first notify message from index 'since' with line 'key'."""
    return e.notify.find(lambda m: key in m.splitlines(), since)


def status_of(msg):
    return next((l[7:] for l in msg.splitlines()
                 if l.startswith("STATUS=")), "")


def new_children(e, old, n):
    """Wait for n live children of echod that are not in 'old'."""
    return wait_for(lambda: (lambda w: w if len(w) == n and
                             all(pid_alive(p) for p in w) else None)(
                                 sorted(set(e.workers()) - set(old))),
                    10, "%d new workers" % n)


def upgrade_under_load(e, program, v_old, v_new, mport):
    pid = e.pid
    old = sorted(e.wait_workers(2))
    base_fds = len(fds_of(pid))
    before = parse_metrics(scrape(mport))
    idle = [connect(e.port, timeout=20) for _ in range(IDLE)]
    tap.ok(all(exchange(s, b"i") for s in idle),
           "%d idle connections echo before the upgrade" % IDLE)
    streams = [Streamer(e.port, chunk=2048, pace=0.05, timeout=60)
               for _ in range(STREAMS)]
    wait_for(lambda: all(s.ngot > 0 for s in streams), 20,
             "every stream to flow")
    tap.ok(True, "%d connections stream hash-checked data" % STREAMS)
    owners = socket_owners(old, e.port, idle + [s.sock for s in streams])
    tap.ok(set(owners.values()) <= set(old),
           "all of them are served by the old workers")

    rate_old = memfd_inodes(old[0], "echod-udp-rate")
    shared_old = memfd_inodes(old[0], "echod-shared")
    pinger = Pinger(("127.0.0.1", e.port), interval=0.005).start()
    wait_for(lambda: pinger.answered, 5, "UDP answers")
    zw = ZombieWatch(e)
    install(ECHOD_NEXT, program)
    since = len(e.notify.msgs)
    e.signal(signal.SIGUSR2)
    e.wait_log(r"upgraded from echod %s to echod %s: 2 new workers serving"
               % (v_old.replace("+", r"\+"), v_new.replace("+", r"\+")),
               timeout=20)
    tap.ok(True, "logged: upgraded from echod %s to echod %s"
           % (v_old, v_new))
    ready = e.wait_ready(since=since, timeout=20)
    reloading = notified(e, since, "RELOADING=1")
    tap.ok(reloading is not None and
           e.notify.msgs.index(reloading) < e.notify.msgs.index(ready),
           "RELOADING=1 first (%s), READY=1 once the new generation serves"
           % status_of(reloading or ""))
    tap.ok(status_of(ready).endswith("; echod %s" % v_new),
           "STATUS= names the running version: %s" % status_of(ready))
    tap.ok(e.proc.poll() is None and e.pid == pid and runs(pid, program),
           "the master keeps its PID %d and runs the new program" % pid)

    new = new_children(e, old, 2)
    tap.ok(all(pid_alive(p) for p in old),
           "the old workers stay while they hold connections")
    mark = pinger.sent
    wait_for(lambda: len([n for n in pinger.answered if n >= mark]) > 10,
             10, "UDP answers from the new workers")
    pinger.stop()
    tap.ok(not pinger.lost() and not pinger.wrong,
           "UDP: %d datagrams across the upgrade, every one answered"
           % pinger.sent, "lost: %s" % pinger.lost()[:20])
    tap.ok(len(rate_old) == 1 and memfd_inodes(new[0], "echod-udp-rate") ==
           rate_old and memfd_inodes(new[1], "echod-udp-rate") == rate_old
           and memfd_inodes(pid, "echod-shared") == shared_old ==
           memfd_inodes(new[0], "echod-shared") and len(shared_old) == 1,
           "the new master and workers map the old program's shared area "
           "and UDP rate table (what networks used is kept)")
    fresh = [connect(e.port) for _ in range(8)]
    tap.ok(all(exchange(s, b"new") for s in fresh),
           "new connections are answered")
    held = set(socket_owners(old + new, e.port, fresh).values())
    tap.ok(held <= set(new), "by the new program's workers only")
    for s in fresh:
        s.close()
    after = parse_metrics(scrape(mport))
    tap.ok(after.get(("echod_build_info", 'version="%s"' % v_new)) == 1,
           "/metrics: echod_build_info{version=\"%s\"} 1" % v_new)
    tap.ok(after[("echod_start_time_seconds", "")] ==
           before[("echod_start_time_seconds", "")] and
           after[("echod_upgrades_total", 'result="ok"')] ==
           before[("echod_upgrades_total", 'result="ok"')] + 1 and
           after[("echod_connections_accepted_total", "")] >=
           before[("echod_connections_accepted_total", "")] + IDLE +
           STREAMS and
           after[("echod_connections_open", "")] >= IDLE + STREAMS,
           "/metrics carries on: start time kept, upgrades_total{ok} + 1, "
           "the old workers' connections counted (%d open)"
           % after[("echod_connections_open", "")])

    # The streams go on through the new master, then end whole.
    mark = [s.ngot for s in streams]
    wait_for(lambda: all(s.ngot > m for s, m in zip(streams, mark)), 20,
             "every stream to move on after the upgrade")
    whole = finish_all(streams, 60)
    tap.eq(sum(whole), STREAMS, "every stream completes with every byte")
    for s, w in zip(streams, whole):
        if not w:
            tap.diag(s.describe())
    tap.ok(all(exchange(s, b"after") for s in idle),
           "every idle connection still echoes")
    tap.ok(all(pid_alive(p) for p in old),
           "old workers live on while idle connections remain")
    for s in idle:
        s.close()
    wait_for(lambda: not any(p in e.workers() for p in old), 15,
             "the old workers to exit")
    tap.ok(True, "the old workers exit once their last connection closed")
    tap.eq(sorted(e.workers()), new, "the new ones serve on")
    tap.eq(zw.finish(), [], "no zombie at any time")
    wait_for(lambda: len(fds_of(pid)) == base_fds, 5, "the descriptors")
    tap.ok(True, "the master holds as many descriptors as before the "
           "upgrade (%d)" % base_fds)
    return new


def second_upgrade(e, program, v_old, mport):
    """Upgrade again while workers of the first program still drain, to
    a build with a newer hand-over format: it reads the older one."""
    pid = e.pid
    gen2 = sorted(e.wait_workers(2))
    held = Streamer(e.port, chunk=1024, pace=0.05, timeout=60)
    wait_for(lambda: held.ngot > 0, 10, "a stream on generation 2")
    install(ECHOD_FUTURE, program)
    v_future = version_of(ECHOD_FUTURE)
    e.signal(signal.SIGUSR2)
    e.wait_log(r"upgraded from echod %s to echod %s"
               % (v_old.replace("+", r"\+"), v_future.replace("+", r"\+")),
               timeout=20)
    gen3 = new_children(e, gen2, 2)
    tap.ok(e.pid == pid and runs(pid, program) and pid_alive(held_by(
        e, gen2, held)), "upgrade to a newer hand-over format (%s) while "
           "a stream holds a worker of the last program" % v_future)
    # A third, while that worker still drains: back to the older format,
    # which must refuse it; everything goes on.
    install(ECHOD, program)
    e.signal(signal.SIGUSR2)
    e.wait_log(r"upgrade to .* failed: --check-upgrade failed \(exit "
               r"status 1\): echod [^ ]+ cannot take over: hand-over format "
               r"99: this echod reads formats 1 to 1 only \(the running "
               r"echod is newer than this one\); echod %s goes on serving"
               % v_future.replace("+", r"\+"))
    tap.ok(True, "a downgrade to an older hand-over format is refused, "
           "with the reason")
    tap.ok(held.finish(30), "the stream across both ends whole: %s"
           % held.describe())
    wait_for(lambda: sorted(e.workers()) == gen3, 10, "generation 3 alone")
    tap.ok(e.pid == pid and runs(pid, program) is False,
           "generation 3 serves on alone, in the same master, which still "
           "runs %s (the file on disk is the refused one)" % v_future)
    s = connect(e.port)
    tap.ok(exchange(s, b"still here"), "and answers")
    s.close()
    m = parse_metrics(scrape(mport))
    tap.ok(m[("echod_upgrades_total", 'result="ok"')] == 3 and
           m[("echod_upgrades_total", 'result="failed"')] == 1,
           "/metrics: echod_upgrades_total ok 3, failed 1")


def idle_bound(e, program, conf):
    """How long an old worker may live: idle_timeout ends its quiet
    connections, and then it exits.  Reached by a SIGHUP whose upgrade
    is refused (the program on disk is the older format's), which
    reloads the configuration instead."""
    pid = e.pid
    gen = sorted(e.wait_workers(2))
    conf["connection"] = {"idle_timeout": "1s"}
    e.write_config(conf)
    n = e.count_log(r"configuration reloaded from")
    e.signal(signal.SIGHUP)
    e.wait_log(r"SIGHUP: reloading the configuration instead")
    e.wait_log(r"configuration reloaded from", count=n + 1)
    gen = new_children(e, gen, 2)
    tap.ok(e.pid == pid, "SIGHUP with an upgrade refused: the edited "
           "configuration (idle_timeout = 1s) is reloaded instead")
    quiet = connect(e.port, timeout=10)
    tap.ok(exchange(quiet, b"q"), "a connection on the reloaded workers")
    holder = socket_owners(gen, e.port, [quiet])[quiet]
    t0 = time.monotonic()
    install(ECHOD_FUTURE, program)
    e.signal(signal.SIGUSR2)
    e.wait_log(r"upgraded from echod .* to echod .*", count=4, timeout=20)
    tap.ok(pid_alive(holder), "after the upgrade its worker retires, "
           "holding it")
    quiet.settimeout(10)
    try:
        end = quiet.recv(10)
    except OSError as err:
        end = err
    took = time.monotonic() - t0
    wait_for(lambda: holder not in e.workers(), 5, "the old worker to exit")
    tap.ok(end == b"" and 0.5 < took < 5,
           "idle_timeout ends the quiet connection of the old worker (EOF "
           "%.1f s after its last byte), and the worker exits: old "
           "workers live no longer than their clients or idle_timeout"
           % took, "got %r" % (end,))
    quiet.close()


def held_by(e, workers, streamer):
    return socket_owners(workers, e.port, [streamer.sock])[streamer.sock]


def hup_reload(e, program):
    """SIGHUP while the program on disk is the running one: a reload."""
    pid = e.pid
    gen = sorted(e.wait_workers(2))
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded from")
    tap.ok(e.count_log(r"upgrad") == 0 and runs(pid, program),
           "SIGHUP with the program unchanged: a plain reload")
    new_children(e, gen, 2)


def hup_upgrade(e, program, v_from):
    """SIGHUP once the program on disk was replaced: an upgrade (here
    back to the first version, with the same hand-over format)."""
    pid = e.pid
    gen = sorted(e.wait_workers(2))
    v_to = version_of(ECHOD)
    n = e.count_log(r"configuration reloaded from")
    install(ECHOD, program)
    e.signal(signal.SIGHUP)
    e.wait_log(r"SIGHUP with a new program installed: upgrading")
    e.wait_log(r"upgraded from echod %s to echod %s"
               % (v_from.replace("+", r"\+"), v_to.replace("+", r"\+")),
               timeout=20)
    tap.ok(e.pid == pid and runs(pid, program) and
           e.count_log(r"configuration reloaded from") == n,
           "SIGHUP with the program replaced on disk: an upgrade (%s to "
           "%s), same PID" % (v_from, v_to))
    new_children(e, gen, 2)
    s = connect(e.port)
    tap.ok(exchange(s, b"hup"), "serving")
    s.close()


def body():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * (IDLE + STREAMS) + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    for p in (ECHOD_NEXT, ECHOD_FUTURE):
        if not os.access(p, os.X_OK):
            tap.skip_all("%s is not built (make check builds it)" % p)
    v_old, v_new = version_of(ECHOD), version_of(ECHOD_NEXT)
    tap.ok(v_new != v_old, "echod-next is another version: %s, not %s"
           % (v_new, v_old))
    mport = free_port()
    conf = dict(metrics_echod_config(mport),
                server={"workers": "2", "max_connections": "5000"},
                connection={"idle_timeout": "0"},
                log={"level": "info"})
    e = Echod(conf)
    conf["udp"] = {"listen": "127.0.0.1:%d" % e.port, "rate_limit": "10000",
                   "rate_burst": "1000"}
    e.write_config(conf)
    program = os.path.join(e.dir, "echod")
    install(ECHOD, program)
    e.start(program=program)
    hup_reload(e, program)
    upgrade_under_load(e, program, v_old, v_new, mport)
    hup_upgrade(e, program, v_new)
    second_upgrade(e, program, v_old, mport)
    idle_bound(e, program, conf)
    t0 = time.monotonic()
    tap.eq(e.stop(), 0, "a stop after all this is clean (exit 0, %.1f s)"
           % (time.monotonic() - t0))


run_test(body)
