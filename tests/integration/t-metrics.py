"""The metrics endpoint of a real echod: its HTTP answers, promtool on real
scrapes before and after traffic, counters that rise by exactly what the
test did (connections, refusals by reason, bytes), counters that never go
down when a worker is SIGKILLed (also when the master answers a scrape
between the worker's death and its reap), on reloads good and bad, and
the rates on the STATUS= line."""

import os
import sys
import shutil
import signal
import socket
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, connect, free_port, proc_state, recv_all, \
    recv_exact, run_test, tap, wait_for
from metricstest import counters, health, http, metrics_echod_config, \
    parse_metrics, parse_response, promtool, promtool_check, scrape, value


def check_promtool(text, when):
    if promtool() is None:
        tap.skip("promtool check metrics %s" % when,
                 "promtool not installed (Debian package prometheus)")
        return
    ok, out = promtool_check(text)
    tap.ok(ok, "promtool check metrics passes on a real scrape %s" % when,
           out)


def monotonic(before, after):
    """Counters of 'before' that went down (or vanished) in 'after'."""
    return {k: (v, after.get(k)) for k, v in counters(before).items()
            if after.get(k) is None or after[k] < v}


def echo_once(port, data, host="127.0.0.1"):
    s = connect(port, host)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = recv_all(s)
    s.close()
    return got


def test_http(mport):
    status, body = health(mport)
    tap.eq((status, body), (200, "ok"), "GET /health: 200 ok")
    text = scrape(mport)
    tap.ok("echod_build_info{version=" in text, "GET /metrics: 200, "
           "text/plain; version=0.0.4, Content-Length right")
    s6 = scrape(mport, host="::1")
    tap.ok("echod_connections_open" in s6, "GET /metrics on [::1] too")
    status, headers, body = http(mport, method="HEAD")
    tap.ok(status == 200 and body == b"" and
           int(headers["content-length"]) > 1000,
           "HEAD /metrics: the head with the GET's length, no body",
           (status, headers, body[:100]))
    status, headers, body = http(mport, "/nope")
    tap.eq(status, 404, "another path: 404")
    status, headers, body = http(mport, "/metrics", "POST")
    tap.ok(status == 405 and headers.get("allow") == "GET, HEAD",
           "POST: 405 with Allow: GET, HEAD", (status, headers))
    status, headers, body = http(mport, "/health", "OPTIONS")
    tap.eq(status, 405, "OPTIONS (HAProxy's bare option httpchk): 405")
    cases = [
        (b"hello\r\n\r\n", 400, "garbage"),
        (b"GET /metrics HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"),
        (b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414,
         "a 9 KB request line"),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 1200 + b"\r\n", 431,
         "an 8 KiB header section"),
    ]
    for raw, want, what in cases:
        status, _, _ = http(mport, raw=raw)
        tap.eq(status, want, "%s: %d" % (what, want))
    status, _, body = http(mport, raw=b"GET /health HTTP/1.0\r\n\r\n")
    tap.eq((status, body), (200, b"ok\n"), "HTTP/1.0 without Host: 200")
    # A request split in single bytes still gets its answer.
    s = connect(mport)
    for b in b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n":
        s.sendall(bytes([b]))
    got = parse_response(recv_all(s))
    s.close()
    tap.eq(got[0], 200, "a request sent one byte at a time is answered")


def test_traffic(e, mport):
    before = parse_metrics(scrape(mport))
    check_promtool(scrape(mport), "before any traffic")
    n, size = 25, 3000
    for i in range(n):
        got = echo_once(e.port, bytes([i]) * size)
        if len(got) != size:
            tap.ok(False, "echo %d came back whole" % i)
    wait_for(lambda: value(parse_metrics(scrape(mport)),
                           "echod_connections_closed_total",
                           'reason="client"') >= n, 5, "closes counted")
    after = parse_metrics(scrape(mport))

    def d(name, label=""):
        return value(after, name, label) - value(before, name, label)
    tap.eq(d("echod_connections_accepted_total"), n,
           "%d connections: echod_connections_accepted_total +%d" % (n, n))
    tap.eq(d("echod_connections_closed_total", 'reason="client"'), n,
           "echod_connections_closed_total{reason=\"client\"} +%d" % n)
    tap.ok(d("echod_received_bytes_total") >= n * size and
           d("echod_echoed_bytes_total") >= n * size,
           "bytes received and echoed rose by at least the %d echoed"
           % (n * size), (d("echod_received_bytes_total"),
                          d("echod_echoed_bytes_total")))
    tap.eq(value(after, "echod_connections_open"), 0,
           "echod_connections_open is 0 again")
    check_promtool(scrape(mport), "after traffic")


def test_refusals():
    mport = free_port()
    e = Echod(dict(metrics_echod_config(mport),
                   server={"workers": "2", "max_connections": "4"},
                   connection={"max_connections_per_ip": "2"})).start()
    held = []

    def hold(host="127.0.0.1", source=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(5)
        if source:
            s.bind((source, 0))
        s.connect((host, e.port))
        return s

    def refused(s):
        s.settimeout(5)
        try:
            return s.recv(1) == b""
        except ConnectionResetError:
            return True
        finally:
            s.close()

    for _ in range(2):
        s = hold()
        s.sendall(b"x")
        recv_exact(s, 1)
        held.append(s)
    r1 = refused(hold())
    for _ in range(2):
        s = hold("::1")
        s.sendall(b"x")
        recv_exact(s, 1)
        held.append(s)
    r2 = refused(hold(source="127.0.0.2"))
    r3 = refused(hold(source="127.0.0.3"))
    tap.ok(r1 and r2 and r3, "a 3rd connection from 127.0.0.1 and two more "
           "past max_connections are closed at once")
    samples = wait_for(lambda: (lambda m: m if value(
        m, "echod_connections_refused_total",
        'reason="max_connections"') >= 2 else None)(
            parse_metrics(scrape(mport))), 5, "refusals counted")
    tap.eq(value(samples, "echod_connections_refused_total",
                 'reason="max_connections_per_ip"'), 1,
           "refused{reason=\"max_connections_per_ip\"} is exactly 1")
    tap.eq(value(samples, "echod_connections_refused_total",
                 'reason="max_connections"'), 2,
           "refused{reason=\"max_connections\"} is exactly 2")
    tap.eq(value(samples, "echod_connections_accepted_total"), 4,
           "the 4 held connections are the accepted ones")
    tap.eq(value(samples, "echod_connections_open"), 4,
           "echod_connections_open is 4")
    for s in held:
        s.close()
    tap.eq(e.stop(), 0, "echod with limits exits 0")


def queued_bytes(port, peer_port):
    """Bytes unread on the server side of the IPv4 connection from
    peer_port to port (not yet accepted), or None."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fl = line.split()
            if int(fl[1].split(":")[1], 16) == port and \
                    int(fl[2].split(":")[1], 16) == peer_port and \
                    fl[3] == "01":
                return int(fl[4].split(":")[1], 16)
    return None


def scrape_while_stopped(e, mport, victim):
    """Send a scrape to a SIGSTOPped master, SIGKILL a worker, let the
    master go on: the scrape is read before the worker's SIGCHLD (the
    endpoint's socket became ready first), so it is answered between the
    death and the reap."""
    req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    e.signal(signal.SIGSTOP)
    try:
        wait_for(lambda: proc_state(e.pid) == "T", 5, "the master to stop")
        s = connect(mport)
        s.sendall(req)
        # Loopback delivers in a softirq: wait until the kernel holds the
        # connection with its request, so that it is ready before SIGCHLD.
        wait_for(lambda: queued_bytes(mport, s.getsockname()[1]) ==
                 len(req), 5, "the request in the accept queue")
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: open("/proc/%d/stat" % victim).read()
                 .rsplit(")", 1)[1].split()[0] == "Z", 5,
                 "the worker to be a zombie")
    finally:
        e.signal(signal.SIGCONT)
    status, _, body = parse_response(recv_all(s))
    s.close()
    if status != 200:
        raise AssertionError("scrape while stopped: status %r" % status)
    return parse_metrics(body.decode())


def test_crash_and_reload(e, mport):
    s0 = parse_metrics(scrape(mport))
    acc0 = value(s0, "echod_connections_accepted_total")
    # Connections on every worker, so the victim has counts to lose.
    for i in range(20):
        echo_once(e.port, b"y" * 100)
    held = connect(e.port)
    held.sendall(b"z")
    recv_exact(held, 1)
    s1 = wait_for(lambda: (lambda m: m if value(
        m, "echod_connections_accepted_total") == acc0 + 21 else None)(
            parse_metrics(scrape(mport))), 5, "21 connections counted")
    # The scrape races the worker's SIGCHLD in the master's loop: epoll
    # reports whichever of the two it queued first, and the SIGSTOP we
    # send queues the signalfd too.  Kill until one scrape lands between
    # the death and the reap; every scrape must be exact either way.
    kills, hit, exact, mono = 0, False, True, {}
    prev = s1
    while kills < 8 and not hit:
        victim = min(e.wait_workers(2))     # the older: slots alternate
        s2 = scrape_while_stopped(e, mport, victim)
        kills += 1
        hit = value(s2, "echod_worker_exits_total",
                    'cause="signal"') == kills - 1
        s3 = wait_for(lambda: (lambda m: m if value(
            m, "echod_worker_exits_total", 'cause="signal"') == kills
            else None)(parse_metrics(scrape(mport))), 5, "the reap")
        exact = exact and [value(x, "echod_connections_accepted_total")
                           for x in (prev, s2, s3)] == [acc0 + 21] * 3
        mono.update(monotonic(prev, s2))
        mono.update(monotonic(s2, s3))
        prev = s3
    new = e.wait_workers(2)
    tap.ok(victim not in new, "the SIGKILLed worker was replaced")
    held.close()
    s3 = wait_for(lambda: (lambda m: m if value(
        m, "echod_connections_open") == 0 else None)(
            parse_metrics(scrape(mport))), 5, "no connection open")
    tap.ok(hit, "a scrape was answered between a worker's death and its "
           "reap (no exit counted yet), after %d kills" % kills)
    tap.ok(exact and value(s3, "echod_connections_accepted_total") ==
           acc0 + 21, "accepted total is exact before each kill, between "
           "the death and the reap, and after the reap (folded once)")
    tap.eq(monotonic(s0, s1), {}, "every counter is monotonic (traffic)")
    tap.eq(mono, {}, "every counter is monotonic across the kills, "
           "scraped between death and reap and after")
    tap.eq((value(s3, "echod_worker_exits_total", 'cause="signal"'),
            value(s3, "echod_worker_restarts_total")), (kills, kills),
           "worker_exits_total{cause=\"signal\"} and "
           "worker_restarts_total count the %d kills" % kills)

    # A good reload: the old generation retires and exits cleanly.
    e.signal(signal.SIGHUP)
    e.wait_log(r"configuration reloaded")
    s4 = wait_for(lambda: (lambda m: m if value(
        m, "echod_worker_exits_total", 'cause="clean"') == 2 else None)(
            parse_metrics(scrape(mport))), 10, "the old workers' exits")
    tap.eq((value(s4, "echod_reloads_total", 'result="ok"'),
            value(s4, "echod_last_reload_successful")), (1, 1),
           "reloads_total{result=\"ok\"} 1, last_reload_successful 1, "
           "2 clean exits")
    tap.eq(monotonic(s3, s4), {}, "every counter is monotonic (reload)")
    for i in range(5):
        echo_once(e.port, b"w" * 10)
    s5 = wait_for(lambda: (lambda m: m if value(
        m, "echod_connections_open") == 0 and value(
            m, "echod_connections_closed_total", 'reason="client"') >=
        value(s4, "echod_connections_closed_total", 'reason="client"') + 5
        else None)(parse_metrics(scrape(mport))), 5, "5 more counted")
    tap.eq(value(s5, "echod_connections_accepted_total"), acc0 + 26,
           "after the reload the totals go on from where they were (+5)")

    # A broken reload: counted as failed, nothing else changes.
    good = open(e.config).read()
    e.write_config(text=good + "[server]\nbogus = 1\n")
    e.signal(signal.SIGHUP)
    e.wait_log(r"keeping the running configuration")
    s6 = parse_metrics(scrape(mport))
    tap.eq((value(s6, "echod_reloads_total", 'result="failed"'),
            value(s6, "echod_last_reload_successful")), (1, 0),
           "a broken reload: reloads_total{result=\"failed\"} 1, "
           "last_reload_successful 0")
    tap.eq(monotonic(s5, s6), {}, "every counter is monotonic (failed "
           "reload)")
    e.write_config(text=good)
    e.signal(signal.SIGHUP)
    wait_for(lambda: value(parse_metrics(scrape(mport)),
                           "echod_reloads_total", 'result="ok"') == 2, 10,
             "the second good reload")
    tap.eq(value(parse_metrics(scrape(mport)),
                 "echod_last_reload_successful"), 1,
           "a good reload after it: last_reload_successful 1 again")


def test_fork_hygiene(e, mport):
    """A worker forked while a metrics client is connected holds no copy
    of its socket: the client sees the close at its deadline."""
    s = connect(mport)
    s.sendall(b"GET /metr")
    time.sleep(0.2)
    victim = e.wait_workers(2)[0]
    os.kill(victim, signal.SIGKILL)
    new = wait_for(lambda: (lambda w: w if victim not in w else None)(
        e.wait_workers(2)), 5, "the respawn")
    t0 = time.monotonic()
    s.settimeout(10)
    try:
        closed = s.recv(1) == b""
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    s.close()
    tap.ok(closed and time.monotonic() - t0 < 6,
           "a metrics connection open across a worker's fork is closed at "
           "its 5 s deadline (the new worker %d holds no copy)" % new[0])


def test_status(n, e):
    # The rates on the STATUS= line: connections and bytes per second.
    t_end = time.monotonic() + 3
    while time.monotonic() < t_end:
        echo_once(e.port, b"r" * 20000)
    m = n.wait(lambda m: "STATUS=" in m and " accepted/s" in m and
               not " 0.0 accepted/s" in m and "B/s echoed" in m and
               " 0 B/s echoed" not in m, 10,
               what="STATUS with non-zero rates")
    tap.ok(True, "STATUS= shows the rates: %s" % m.split("STATUS=")[1])


def test_activation():
    """Sockets passed the systemd way: an echo socket and two named
    "metrics" (as echod-metrics.socket passes them); a health check is
    what starts echod, and both metrics sockets are served."""
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        tap.skip("passed metrics sockets", "systemd-socket-activate is "
                 "not installed")
        return
    eport, mport = free_port(), free_port()
    e = Echod()
    e.start(argv_prefix=[activate, "-l", "127.0.0.1:%d" % eport,
                         "-l", "127.0.0.1:%d" % mport, "-l",
                         "[::1]:%d" % mport, "--fdname=echo:metrics:metrics"],
            wait_ready=False)
    st = wait_for(lambda: (lambda r: r if r[0] is not None else None)(
        health_or_none(mport)), 10, "the activation by a health check")
    tap.ok(st[0] in (200, 503), "a health check on a passed metrics "
           "socket starts echod and is answered (%d %s)" % st)
    wait_for(lambda: health(mport) == (200, "ok"), 10, "200 ok")
    tap.ok(True, "then /health is 200 ok")
    tap.ok("echod_build_info" in scrape(mport) and
           "echod_build_info" in scrape(mport, host="::1"),
           "both passed metrics sockets (127.0.0.1 and [::1]) are served")
    tap.eq(echo_once(eport, b"passed"), b"passed",
           "the passed echo socket echoes")
    e.wait_log(r"serving on 127\.0\.0\.1:%d, metrics 127\.0\.0\.1:%d, "
               r"metrics \[::1\]:%d \(from systemd\)" % (eport, mport, mport))
    tap.ok(True, "the start message names the sockets by kind")
    tap.eq(e.stop(), 0, "exit 0")


def health_or_none(port):
    try:
        return health(port)
    except OSError:
        return (None, None)


def body():
    mport = free_port()
    e = Echod(dict(metrics_echod_config(mport),
                   server={"workers": "2"})).start()
    n = e.notify
    test_http(mport)
    test_traffic(e, mport)
    test_status(n, e)
    test_crash_and_reload(e, mport)
    test_fork_hygiene(e, mport)
    tap.eq(e.stop(), 0, "echod exits 0")
    test_refusals()
    test_activation()


run_test(body)
