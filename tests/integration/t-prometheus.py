"""A real Prometheus server (Debian's prometheus) scrapes a real echod:
started by the test on loopback with its own port, a scratch storage
directory and a 1 s scrape interval; its HTTP API must return echod's
series with the values the test caused.  The test then stops it and
removes its files."""

import json
import os
import sys
import shutil
import signal
import socket
import subprocess
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, connect, free_port, recv_all, run_test, spawn, \
    tap, tmpdir, wait_for
from metricstest import metrics_echod_config

PROMETHEUS = shutil.which("prometheus")


def api(port, path, **params):
    url = "http://127.0.0.1:%d%s" % (port, path)
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read().decode())


def query(port, q):
    """{'label=value,...': float} of an instant query's vector."""
    try:
        res = api(port, "/api/v1/query", query=q)
    except OSError:
        return {}
    return {",".join("%s=%s" % kv for kv in sorted(r["metric"].items())):
            float(r["value"][1]) for r in res["data"]["result"]}


def ready(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port,
                                    timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def body():
    if PROMETHEUS is None:
        tap.skip_all("prometheus not installed (Debian package prometheus)")
    mport = free_port()
    e = Echod(dict(metrics_echod_config(mport),
                   server={"workers": "2"})).start()
    d = tmpdir()
    pport = free_port()
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n"
                "  scrape_interval: 1s\n"
                "  scrape_timeout: 1s\n"
                "  evaluation_interval: 1s\n"
                "scrape_configs:\n"
                "  - job_name: echod\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % mport)
    log = open(os.path.join(d, "prometheus.log"), "wb")
    p = spawn([PROMETHEUS, "--config.file=" + cfg,
               "--storage.tsdb.path=" + os.path.join(d, "data"),
               "--web.listen-address=127.0.0.1:%d" % pport,
               "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT,
              cwd=d)
    wait_for(lambda: ready(pport), 60, "Prometheus to be ready")
    tap.ok(True, "Prometheus %s runs on 127.0.0.1:%d with a 1 s scrape "
           "interval" % (subprocess.run([PROMETHEUS, "--version"],
                                        capture_output=True, text=True)
                         .stdout.split()[2], pport))

    for i in range(7):
        s = connect(e.port)
        s.sendall(b"prometheus %d" % i)
        s.shutdown(socket.SHUT_WR)
        recv_all(s)
        s.close()
    up = wait_for(lambda: query(pport, 'up{job="echod"}'), 20,
                  "the target to be scraped")
    tap.eq(list(up.values()), [1.0], "up{job=\"echod\"} is 1: the target "
           "is scraped and healthy")
    acc = wait_for(lambda: (lambda r: r if list(r.values()) == [7.0]
                            else None)(query(
                                pport, "echod_connections_accepted_total")),
                   20, "the 7 connections in Prometheus")
    tap.ok(True, "the API returns echod_connections_accepted_total = 7: %s"
           % acc)
    info = query(pport, "echod_build_info")
    tap.ok(len(info) == 1 and "version=" in list(info)[0] and
           list(info.values()) == [1.0],
           "echod_build_info with its version label: %s" % info, info)
    closed = query(pport, 'echod_connections_closed_total{reason="client"}')
    tap.eq(list(closed.values()), [7.0],
           "echod_connections_closed_total{reason=\"client\"} = 7")
    echoed = query(pport, "echod_echoed_bytes_total")
    tap.ok(list(echoed.values()) and list(echoed.values())[0] >= 7 * 12,
           "echod_echoed_bytes_total counts the bytes echoed: %s" % echoed)
    names = api(pport, "/api/v1/label/__name__/values")["data"]
    want = ["echod_workers", "echod_worker_exits_total",
            "echod_reloads_total", "echod_connections_open",
            "echod_connections_refused_total", "echod_received_bytes_total",
            "echod_accept_pauses_total", "echod_start_time_seconds"]
    tap.eq([n for n in want if n not in names], [],
           "Prometheus holds every echod series")

    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = None
    log.close()
    tap.eq(rc, 0, "Prometheus stops on SIGTERM")
    shutil.rmtree(d)
    tap.ok(not os.path.exists(d), "its configuration and storage are "
           "removed")
    tap.eq(e.stop(), 0, "echod exits 0")


run_test(body)
