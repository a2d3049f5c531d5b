"""TCP urgent data is echoed in order like any other byte, and a read
that stops short at the urgent mark does not stall the rest."""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, connect, recv_exact, run_test, tap, wait_for


def body():
    e = Echod({"server": {"workers": "1"}}).start()
    for round_ in range(3):
        s = connect(e.port)
        s.sendall(b"AAAA")
        tap.eq(recv_exact(s, 4), b"AAAA", "round %d: plain bytes echoed"
               % round_)
        # B is sent urgent; C follows at once, before echod reads.
        s.send(b"B", socket.MSG_OOB)
        s.sendall(b"CCCC")
        s.settimeout(3)
        got = recv_exact(s, 5)
        tap.eq(got, b"BCCCC", "round %d: the urgent byte and what follows "
               "come back in order, without another send" % round_)
        s.close()

    # Urgent byte in the middle of data that is already queued when echod
    # reads: the read stops at the mark, and must go on past it.
    s = connect(e.port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"x" * 1000)
    s.send(b"U", socket.MSG_OOB)
    s.sendall(b"y" * 1000)
    s.settimeout(3)
    tap.eq(recv_exact(s, 2001), b"x" * 1000 + b"U" + b"y" * 1000,
           "urgent byte mid-stream: all 2001 bytes in order")
    s.shutdown(socket.SHUT_WR)
    tap.eq(s.recv(10), b"", "then a clean end")
    s.close()

    # Several urgent bytes in a row, each with data around it.
    s = connect(e.port)
    want = b""
    for i in range(20):
        s.sendall(b"%03d" % i)
        s.send(bytes([65 + i]), socket.MSG_OOB)
        want += b"%03d" % i + bytes([65 + i])
    s.settimeout(3)
    tap.eq(recv_exact(s, len(want)), want, "20 urgent bytes among data: "
           "all echoed in order")
    s.close()
    tap.eq(e.stop(), 0, "clean stop")


run_test(body)
