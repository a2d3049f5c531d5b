#!/usr/bin/python3
"""Echo clients for tests/systemd/t-container.sh.

Run on the host inside the container's network namespace
(nsenter -t PID1 -n python3 probe.py ...).  Each mode prints one line
and exits 0 on success, 1 on failure.

  echo ADDR PORT [BYTES]
      Send BYTES (default 100000) of a known pattern, half-close, read to
      EOF; succeed when exactly the same bytes came back.
  stream ADDR PORT SECONDS READYFILE
      Send a steady stream for SECONDS while reading the echo, then
      half-close and read to EOF.  READYFILE is created once data flows.
      Succeed when every byte came back.
  forever ADDR PORT LIMIT READYFILE
      Send and read without end.  Succeed when the server ends the
      connection (EOF or reset) before LIMIT seconds; print how long it
      took.
"""
import hashlib
import os
import selectors
import socket
import sys
import time

CHUNK = 16384


def connect(addr, port, timeout=10.0):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((addr, int(port)))
    return s


def pattern(n, salt=b"echod"):
    block = hashlib.sha256(salt).digest() * (CHUNK // 32)
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def mode_echo(addr, port, nbytes="100000"):
    msg = pattern(int(nbytes))
    s = connect(addr, port)
    got = bytearray()
    sel = selectors.DefaultSelector()
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    off, deadline = 0, time.monotonic() + 20
    while time.monotonic() < deadline:
        for _key, ev in sel.select(1.0):
            if ev & selectors.EVENT_WRITE and off < len(msg):
                try:
                    off += s.send(msg[off:off + CHUNK])
                except BlockingIOError:
                    pass
                if off == len(msg):
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                if not b:
                    ok = bytes(got) == msg
                    print("echo %s:%s: sent %d, got %d back, %s" % (
                        addr, port, len(msg), len(got),
                        "identical" if ok else "DIFFERENT"))
                    return 0 if ok else 1
                got += b
    print("echo %s:%s: timed out (sent %d, got %d)" % (addr, port, off,
                                                     len(got)))
    return 1


def mode_stream(addr, port, seconds, readyfile):
    s = connect(addr, port)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent = hashlib.sha256()
    recv = hashlib.sha256()
    nsent = nrecv = 0
    block = pattern(CHUNK, b"stream")
    t0 = time.monotonic()
    end = t0 + float(seconds)
    closed_wr = False
    ready = False
    while time.monotonic() < end + 30:
        now = time.monotonic()
        for _key, ev in sel.select(0.05):
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    b = None
                except ConnectionError as e:
                    print("stream: %s after %d of %d bytes" % (e, nrecv,
                                                               nsent))
                    return 1
                if b == b"":
                    ok = closed_wr and nrecv == nsent and \
                        recv.digest() == sent.digest()
                    print("stream %s:%s: sent %d, got %d back in %.1fs, %s" % (
                        addr, port, nsent, nrecv, now - t0,
                        "identical" if ok else "INCOMPLETE"))
                    return 0 if ok else 1
                if b:
                    recv.update(b)
                    nrecv += len(b)
            if ev & selectors.EVENT_WRITE and not closed_wr:
                if now >= end:
                    s.shutdown(socket.SHUT_WR)
                    closed_wr = True
                    sel.modify(s, selectors.EVENT_READ)
                elif nsent - nrecv < 4 * CHUNK:
                    # About 1.6 MB/s: a steady, modest stream.
                    try:
                        n = s.send(block[:4096])
                    except BlockingIOError:
                        n = 0
                    sent.update(block[:n])
                    nsent += n
                    if not ready and nrecv > 0:
                        open(readyfile, "w").close()
                        ready = True
                    time.sleep(0.0025)
    print("stream: timed out (sent %d, got %d)" % (nsent, nrecv))
    return 1


def mode_forever(addr, port, limit, readyfile):
    s = connect(addr, port)
    s.settimeout(1.0)
    block = pattern(4096, b"forever")
    t0 = time.monotonic()
    ready = False
    while time.monotonic() - t0 < float(limit):
        try:
            s.sendall(block)
            b = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionError, BrokenPipeError) as e:
            print("forever: server ended the connection after %.1fs (%s)" %
                  (time.monotonic() - t0, e.__class__.__name__))
            return 0
        if b == b"":
            print("forever: server closed the connection after %.1fs" %
                  (time.monotonic() - t0))
            return 0
        if not ready:
            open(readyfile, "w").close()
            ready = True
        time.sleep(0.01)
    print("forever: connection still open after %ss" % limit)
    return 1


def main(argv):
    modes = {"echo": mode_echo, "stream": mode_stream,
             "forever": mode_forever}
    if len(argv) < 2 or argv[1] not in modes:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return modes[argv[1]](*argv[2:])
    except OSError as e:
        print("%s: %s" % (argv[1], e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
