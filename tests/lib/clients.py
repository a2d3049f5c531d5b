"""Clients of an echo service, for the tests: connect and read helpers,
and Streamer, the one client that streams data and checks, byte count
and sha256, that all of it came back.

No side effects on import (unlike echodtest, which prints a TAP plan at
exit), so a plain script such as tests/systemd/probe.py can use it too.
"""

import hashlib
import os
import random
import selectors
import socket
import threading
import time


def connect(port, host="127.0.0.1", timeout=5.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, int(port)))
    except BaseException:
        s.close()
        raise
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(min(1 << 16, n - len(buf)))
        if not d:
            break
        buf += d
    return bytes(buf)


def recv_all(s):
    """Read until EOF; a reset is returned as what came before it."""
    buf = bytearray()
    while True:
        try:
            d = s.recv(1 << 16)
        except ConnectionResetError:
            break
        if not d:
            break
        buf += d
    return bytes(buf)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Streamer:
    """One connection that streams data to the server and checks what
    comes back: both directions are counted (nsent, ngot) and hashed
    (sent, got: sha256 objects), and each byte that comes back is
    compared with the one sent at that offset as it arrives.  It sends
    and reads at the same time, so neither side's buffers can deadlock.

    data=None sends random bytes until stop() or finish(), drawn from a
    generator seeded at random, which a twin replays to check the echo
    without keeping what is in flight; data=bytes sends exactly those,
    then half-closes by itself.
    chunk is the size of each send.  window bounds the bytes sent but
    not yet echoed (None: only TCP's back-pressure bounds them).  pace
    is a pause in seconds after each send, for a steady, modest stream.
    timeout bounds the connect, and any stretch in which no byte moves
    either way; running past it ends the stream with a TimeoutError.

    ended is set once the stream is over: EOF, an error, or finish()
    giving up.  How it ended:
      whole      every byte sent came back, in order, then EOF after our
                 half-close: what an echo service must do
      intact     what came back so far is what was sent (a prefix);
                 bad_at is the offset of the first wrong byte, or None
      cut        the server ended it first: EOF before our half-close,
                 or a reset / broken pipe
      error      the first exception, or None
      timed_out  finish() gave up waiting for the end

    Every Streamer is driven by one shared selector thread (_Pump): with
    a thread or two per connection, hundreds of streams crawl under the
    GIL.
    """

    def __init__(self, port, host="127.0.0.1", data=None, chunk=1 << 16,
                 window=None, pace=0.0, timeout=30.0):
        self.sock = connect(port, host, timeout)
        self.sock.setblocking(False)
        self.sent = hashlib.sha256()
        self.got = hashlib.sha256()
        self.nsent = self.ngot = 0
        self.bad_at = None
        self.error = None
        self.closed_wr = False  # we half-closed
        self.eof = False        # the server closed its side
        self.early_eof = False  # ... before we half-closed
        self.timed_out = False
        self.ended = threading.Event()
        self._data = self._all = None
        if data is not None:
            self._data = self._all = memoryview(data)
        else:
            seed = os.urandom(16)
            self._gen = random.Random(seed)         # what we send
            self._regen = random.Random(seed)       # what must come back
            self._expect = bytearray()
        self._chunk, self._window = chunk, window
        self._pace, self._timeout = pace, timeout
        self._pending = memoryview(b"")     # produced, not yet sent
        self._next_send = 0.0
        self._moved = time.monotonic()      # when a byte last moved
        self._stop = False
        self._abort = False
        self._over = False
        self._mask = None                   # registered events, if any
        self._pump = _the_pump()
        self._pump.add(self)

    @property
    def whole(self):
        return (self.error is None and self.eof and not self.early_eof and
                not self.timed_out and self.intact and
                self.nsent == self.ngot and
                self.sent.digest() == self.got.digest())

    @property
    def intact(self):
        return self.bad_at is None and self.ngot <= self.nsent

    @property
    def cut(self):
        return self.early_eof or isinstance(
            self.error, (ConnectionResetError, BrokenPipeError))

    def describe(self):
        """How it went, in one line, for a test's diagnostics."""
        return "sent %d, got %d back, %s%s%s%s" % (
            self.nsent, self.ngot,
            "whole" if self.whole else "cut" if self.cut else
            "timed out" if self.timed_out else
            "no EOF" if not self.eof else "DIFFERENT",
            ", wrong from byte %d on" % self.bad_at
            if self.bad_at is not None else "",
            ", EOF before our half-close" if self.early_eof else "",
            ", %r" % self.error if self.error else "")

    def stop(self):
        """End an open-ended stream: half-close now.  Returns at once;
        finish() waits for the end."""
        self._stop = True
        self._pump.wake()

    def finish(self, timeout=30.0):
        """stop(), then wait up to 'timeout' seconds for the server to
        echo the rest and close; close the socket.  Returns whole."""
        self.stop()
        if not self.ended.wait(timeout):
            self._abort = True
            self._pump.wake()
            self.ended.wait(5)
        self.sock.close()
        return self.whole

    # --- driven by the pump thread only ---------------------------------

    def _end(self, error=None):
        """Over; the pump lets go of the socket, then sets ended."""
        if error is not None and self.error is None:
            self.error = error
        self._over = True

    def _half_close(self):
        self.closed_wr = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self._end(e)

    def _produce(self):
        """The next bytes to send, or None when there are no more."""
        if len(self._pending):
            return self._pending
        if self._data is not None:
            if not len(self._data):
                return None
            self._pending = self._data[:self._chunk]
            self._data = self._data[self._chunk:]
        elif self._stop:
            return None
        else:
            self._pending = memoryview(self._gen.randbytes(self._chunk))
        return self._pending

    def _expected(self, n):
        """The next n bytes that should come back (fewer past the end
        of given data)."""
        if self._all is not None:
            return bytes(self._all[self.ngot:self.ngot + n])
        while len(self._expect) < n:
            # The very calls the sender made: randbytes(a) + randbytes(b)
            # is not randbytes(a + b) unless a is a multiple of 4.
            self._expect += self._regen.randbytes(self._chunk)
        want = bytes(self._expect[:n])
        del self._expect[:n]
        return want

    def _check(self, d):
        if self.bad_at is not None:
            return
        want = self._expected(len(d))
        if want != d:
            self.bad_at = self.ngot + next(
                (i for i, (a, b) in enumerate(zip(want, d)) if a != b),
                len(want))

    def _want(self, now):
        """Events to wait for, and the time by which to look again; the
        stream's own decisions (half-close, time-out) are taken here."""
        if self._abort:
            self.timed_out = True
            return 0, None
        if now - self._moved > self._timeout:
            self._end(TimeoutError("nothing moved for %.0f s: %s"
                                   % (self._timeout, self.describe())))
            return 0, None
        again = self._moved + self._timeout
        if not self.closed_wr and self._stop and self._data is None:
            self._half_close()
        if self._over:
            return 0, None
        if self.closed_wr:
            return selectors.EVENT_READ, again
        if self._window is not None and \
                self.nsent - self.ngot >= self._window:
            return selectors.EVENT_READ, again
        if now < self._next_send:
            return selectors.EVENT_READ, min(again, self._next_send)
        return selectors.EVENT_READ | selectors.EVENT_WRITE, again

    def _on_write(self, now):
        d = self._produce()
        if d is None:
            self._half_close()
            return
        try:
            k = self.sock.send(d)
        except BlockingIOError:
            return
        except OSError as e:
            self._end(e)
            return
        self.sent.update(d[:k])
        self.nsent += k
        self._pending = d[k:]
        self._moved = now
        if self._pace:
            self._next_send = now + self._pace
        if self._data is not None and not len(self._data) and \
                not len(self._pending):
            self._half_close()

    def _on_read(self, now):
        try:
            d = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as e:
            self._end(e)
            return
        if not d:
            self.early_eof = not self.closed_wr
            self.eof = True
            self._end()
            return
        self._check(d)
        self.got.update(d)
        self.ngot += len(d)
        self._moved = now


class _Pump:
    """The one thread that moves the bytes of every live Streamer."""

    def __init__(self):
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._live = set()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ)
        self._thread = None

    def add(self, s):
        with self._lock:
            self._live.add(s)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run,
                                                daemon=True)
                self._thread.start()
        self.wake()

    def wake(self):
        try:
            self._wake_w.send(b"!")
        except BlockingIOError:
            pass                # a wake-up is pending anyway

    def _set_mask(self, s, mask):
        if mask == (s._mask or 0):
            return
        if s._mask is None:
            self._sel.register(s.sock, mask, s)
        elif mask:
            self._sel.modify(s.sock, mask, s)
        else:
            self._sel.unregister(s.sock)
        s._mask = mask or None

    def _run(self):
        while True:
            now = time.monotonic()
            with self._lock:
                live = list(self._live)
            until = None
            for s in live:
                mask, again = (0, None) if s._over else s._want(now)
                if not mask:
                    # Let go of the socket before finish() may close it:
                    # its number may come back with a new socket.
                    self._set_mask(s, 0)
                    with self._lock:
                        self._live.discard(s)
                    s.ended.set()
                    continue
                self._set_mask(s, mask)
                if again is not None and (until is None or again < until):
                    until = again
            timeout = None if until is None else max(0.0, until - now)
            for key, ev in self._sel.select(timeout):
                if key.data is None:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                s = key.data
                now = time.monotonic()
                if ev & selectors.EVENT_READ and not s._over:
                    s._on_read(now)
                if ev & selectors.EVENT_WRITE and not s._over:
                    s._on_write(now)


_pump = None
_pump_lock = threading.Lock()


def _the_pump():
    """The pump, made on first use (not on import)."""
    global _pump
    with _pump_lock:
        if _pump is None:
            _pump = _Pump()
        return _pump


def finish_all(streamers, timeout=30.0):
    """Stop every streamer first, then finish each within one overall
    deadline; return their whole flags."""
    for s in streamers:
        s.stop()
    deadline = time.monotonic() + timeout
    return [s.finish(max(0.0, deadline - time.monotonic()))
            for s in streamers]


def echo_stream(port, data, host="127.0.0.1", chunk=1 << 16, timeout=30.0):
    """Send 'data' while reading (so neither side's buffers deadlock),
    half-close, and return (sha256 of what came back, length).  Raises
    the first error either side met."""
    s = Streamer(port, host, data=data, chunk=chunk, timeout=timeout)
    s.finish(timeout)
    if s.error is not None:
        raise s.error
    return s.got.hexdigest(), s.ngot
