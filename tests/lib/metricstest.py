"""Helpers for tests of echod's metrics and health endpoint: a plain HTTP
client over a socket (so a test sees exactly what echod sends), a parser
of the Prometheus text format, promtool, and a notify socket."""

import os
import re
import shutil
import socket
import subprocess
import threading

from echodtest import connect, free_port, recv_all, tmpdir, wait_for


def metrics_echod_config(port):
    """The [metrics] overrides for an Echod on loopback 'port'."""
    return {"metrics": {"listen": "127.0.0.1:%d, [::1]:%d" % (port, port)}}


def http(port, path="/metrics", method="GET", raw=None, host="127.0.0.1",
         timeout=10.0):
    """Send one request (or the bytes 'raw'), read to EOF, and return
    (status, {header: value}, body bytes).  status is None when the
    connection closed without an answer."""
    s = connect(port, host, timeout)
    try:
        s.sendall(raw if raw is not None else
                  ("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method, path))
                  .encode())
        data = recv_all(s)
    finally:
        s.close()
    return parse_response(data)


def parse_response(data):
    if b"\r\n\r\n" not in data:
        return None, {}, data
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return (int(m.group(1)) if m else None), headers, body


def scrape(port, host="127.0.0.1"):
    """GET /metrics: the text, checked to be a 200 of the right type."""
    status, headers, body = http(port, host=host)
    if status != 200:
        raise AssertionError("GET /metrics: status %r" % status)
    if headers.get("content-type") != "text/plain; version=0.0.4":
        raise AssertionError("GET /metrics: Content-Type %r"
                             % headers.get("content-type"))
    if int(headers.get("content-length", -1)) != len(body):
        raise AssertionError("GET /metrics: Content-Length %r for %d "
                             "bytes" % (headers.get("content-length"),
                                        len(body)))
    return body.decode()


_sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """{(name, 'label="value"' or ''): float} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _sample.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        out[m.group(1), (m.group(2) or "{}")[1:-1]] = float(m.group(3))
    return out


def counters(samples):
    """Only the counters (names ending in _total)."""
    return {k: v for k, v in samples.items() if k[0].endswith("_total")}


def value(samples, name, label=""):
    return samples[name, label]


def promtool():
    return shutil.which("promtool")


def promtool_check(text):
    """(ok, output) of 'promtool check metrics' on text."""
    p = subprocess.run([promtool(), "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode()
    return p.returncode == 0 and not out.strip(), out


def health(port):
    status, _, body = http(port, "/health")
    return status, body.decode().strip()


__all__ = ["metrics_echod_config", "http", "parse_response", "scrape",
           "parse_metrics", "counters", "value", "promtool",
           "promtool_check", "health", "free_port"]
