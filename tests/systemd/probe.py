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
  until ADDR PORT STOPFILE READYFILE LIMIT
      Stream as "stream" does until STOPFILE exists (at most LIMIT
      seconds), then half-close and read to EOF.  Succeed when every
      byte came back.
  forever ADDR PORT LIMIT READYFILE
      Send and read without end.  Succeed when the server ends the
      connection (EOF or reset) before LIMIT seconds; print how long it
      took.
"""
import hashlib
import os
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from clients import Streamer  # noqa: E402

CHUNK = 16384


def pattern(n, salt=b"echod"):
    block = hashlib.sha256(salt).digest() * (CHUNK // 32)
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def flowing(s, until):
    """Wait until echoed data arrives (True) or the stream ends or the
    monotonic time 'until' passes (False)."""
    while s.ngot == 0 and not s.ended.wait(0.01):
        if time.monotonic() >= until:
            break
    return s.ngot > 0


def mode_echo(addr, port, nbytes="100000"):
    msg = pattern(int(nbytes))
    s = Streamer(port, addr, data=msg, chunk=CHUNK, timeout=20)
    ok = s.finish(20) and s.nsent == len(msg)
    if s.timed_out:
        print("echo %s:%s: timed out (sent %d, got %d)" % (addr, port,
                                                         s.nsent, s.ngot))
        return 1
    print("echo %s:%s: sent %d, got %d back, %s%s" % (
        addr, port, s.nsent, s.ngot, "identical" if ok else "DIFFERENT",
        " (%s)" % s.error if s.error else ""))
    return 0 if ok else 1


def mode_stream(addr, port, seconds, readyfile):
    t0 = time.monotonic()
    end = t0 + float(seconds)
    # About 1.6 MB/s: a steady, modest stream.
    s = Streamer(port, addr, chunk=4096, window=4 * CHUNK, pace=0.0025)
    if flowing(s, end):
        open(readyfile, "w").close()
    s.ended.wait(max(0.0, end - time.monotonic()))
    ok = s.finish(30)
    if s.timed_out:
        print("stream: timed out (sent %d, got %d)" % (s.nsent, s.ngot))
    elif s.error:
        print("stream: %s after %d of %d bytes" % (s.error, s.ngot,
                                                   s.nsent))
    else:
        print("stream %s:%s: sent %d, got %d back in %.1fs, %s" % (
            addr, port, s.nsent, s.ngot, time.monotonic() - t0,
            "identical" if ok else "INCOMPLETE"))
    return 0 if ok else 1


def mode_until(addr, port, stopfile, readyfile, limit):
    t0 = time.monotonic()
    end = t0 + float(limit)
    s = Streamer(port, addr, chunk=4096, window=4 * CHUNK, pace=0.0025)
    if flowing(s, end):
        open(readyfile, "w").close()
    while not os.path.exists(stopfile) and time.monotonic() < end and \
            not s.ended.wait(0.05):
        pass
    ok = s.finish(30)
    print("until %s:%s: %s in %.1fs%s" % (
        addr, port, s.describe(), time.monotonic() - t0,
        "" if os.path.exists(stopfile) else " (LIMIT reached first)"))
    return 0 if ok and os.path.exists(stopfile) else 1


def mode_forever(addr, port, limit, readyfile):
    t0 = time.monotonic()
    end = t0 + float(limit)
    s = Streamer(port, addr, chunk=4096, window=4 * CHUNK, pace=0.01,
                 timeout=float(limit))
    if flowing(s, end):
        open(readyfile, "w").close()
    s.ended.wait(max(0.0, end - time.monotonic()))
    took = time.monotonic() - t0
    s.finish(5)
    if s.early_eof:
        print("forever: server closed the connection after %.1fs" % took)
        return 0
    if s.cut:
        print("forever: server ended the connection after %.1fs (%s)" %
              (took, s.error.__class__.__name__))
        return 0
    if s.error:
        print("forever: %s after %.1fs" % (s.error, took))
        return 1
    print("forever: connection still open after %ss" % limit)
    return 1


def main(argv):
    modes = {"echo": mode_echo, "stream": mode_stream,
             "until": mode_until, "forever": mode_forever}
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
