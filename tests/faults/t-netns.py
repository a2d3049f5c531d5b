"""Hostile networks, real faults (issue 3, items 1 and 2).

echod runs in a network namespace of its own ("server"); remote clients
run in another ("client"), joined by a veth pair; other clients use the
server namespace's loopback.  Every fault is real: packets are dropped
by iptables inside a namespace or by a link set down, a "crashed" host
loses its TCP state, a "rebooted" host comes back with the same address
and no memory of its connections.

1. The client host vanishes: echod finds the dead peers through TCP
   keepalive (idle_timeout 0), or through idle_timeout (keepalive off),
   within the configured bound, closes them and lets their sockets go,
   while the loopback clients keep being served.
2. The client host crashes and reboots: echod's next keepalive probe, or
   its retransmission of an echo still unacknowledged, draws a RST and
   the connection is closed "Connection reset by peer".  And the server
   host "reboots": echod is SIGKILLed while silent, comes back on the
   same port; the client's old connection gets ECONNRESET on its next
   exchange and new connections work at once.
"""

import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))

from echodtest import Echod, cleanup, pid_alive, recv_exact, tap, wait_for
import netns  # noqa: E402
from netns import Lab, abort, socket_inodes, tcp_table

PORT = 7007     # inside the server namespace, which nothing else uses
T_START = time.monotonic()


def exchange(sock, msg):
    """One echo round trip; returns the seconds it took."""
    t = time.monotonic()
    sock.sendall(msg)
    got = recv_exact(sock, len(msg))
    if got != msg:
        raise AssertionError("echo %r came back as %r" % (msg, got))
    return time.monotonic() - t


class Loopback:
    """Clients on the server's loopback that keep exchanging (every 100 ms,
    from the polling loops) while a fault plays out on the veth."""

    def __init__(self, lab, n=2):
        self.socks = [lab.connect(lab.S, "127.0.0.1", PORT)
                      for _ in range(n)]
        self.rounds = 0
        self.errors = []
        self.max_rtt = 0.0
        self.last = 0.0
        self.tick(force=True)

    def tick(self, force=False):
        now = time.monotonic()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        for i, s in enumerate(self.socks):
            try:
                rtt = exchange(s, b"loopback %d round %d\n" % (i, self.rounds))
                self.max_rtt = max(self.max_rtt, rtt)
            except Exception as e:
                self.errors.append("client %d round %d: %r"
                                   % (i, self.rounds, e))
        self.rounds += 1

    def check(self, what):
        self.tick(force=True)
        tap.ok(not self.errors and self.rounds >= 3,
               "%s: %d loopback clients served throughout (%d rounds, "
               "max round trip %.1f ms)" % (what, len(self.socks),
                                            self.rounds, self.max_rtt * 1e3),
               "\n".join(self.errors[:10]))


def start_echod(lab, conn):
    e = Echod({"server": {"listen": "127.0.0.1:%d, %s:%d"
                          % (PORT, lab.s_addr, PORT), "workers": "2"},
               "connection": conn, "log": {"connections": "yes"}},
              port=PORT)
    return e.start(argv_prefix=["ip", "netns", "exec", lab.S])


def echod_pids(e):
    return [e.pid] + e.workers()


def server_side(lab, cport):
    """Server-namespace sockets of the connection from client port cport."""
    return [t for t in tcp_table(lab.S)
            if t["local"][1] == PORT and t["remote"] == (lab.c_addr, cport)]


def open_remote(lab, e, n, tag):
    """n connections from the client namespace, one exchange each; returns
    (sockets, {client port: server-side inode}, {client port: time of the
    last exchange})."""
    socks = [lab.connect(lab.C, lab.s_addr, PORT) for _ in range(n)]
    last = {}
    for i, s in enumerate(socks):
        exchange(s, b"%s %d hello\n" % (tag.encode(), i))
        last[s.getsockname()[1]] = time.monotonic()
    inodes = {}
    for s in socks:
        cport = s.getsockname()[1]
        ss = server_side(lab, cport)
        inodes[cport] = ss[0]["inode"] if len(ss) == 1 else None
    held = socket_inodes(echod_pids(e))
    tap.ok(all(i in held for i in inodes.values()),
           "%s: %d connections from the client namespace, each held by "
           "an echod worker" % (tag, n), "inodes %r, echod holds %r"
           % (inodes, sorted(held)))
    return socks, inodes, last


def wait_closed(e, lab, lo, ports, timeout, what):
    """Poll (loopback clients exchanging meanwhile) until echod logged
    the close of each client port; returns {port: (when, reason)}."""
    pending = set(ports)
    done = {}

    def cond():
        lo.tick()
        log = e.log()
        for p in list(pending):
            m = re.search(r"connection from %s:%d closed: (.*?) \(\d+ bytes "
                          r"echoed\)" % (re.escape(lab.c_addr), p), log)
            if m:
                done[p] = (time.monotonic(), m.group(1))
                pending.discard(p)
        return not pending
    try:
        wait_for(cond, timeout, what)
    except TimeoutError as ex:
        tap.diag("%s; still open: %r; server side: %r" % (
            ex, sorted(pending), [server_side(lab, p) for p in pending]))
    return done


def check_released(e, lab, inodes, what, orphans_ok=False):
    """The server-side sockets are out of echod's hands: no echod process
    holds them, and the kernel table has none left (or, when echod closed
    first with the peer silent, only orphans the kernel is finishing:
    inode 0, not ESTABLISHED)."""
    held = socket_inodes(echod_pids(e))
    left = {p: server_side(lab, p) for p in inodes}
    bad = {p: ts for p, ts in left.items()
           if ts and not (orphans_ok and all(
               t["inode"] == 0 and t["state"] != "ESTABLISHED" for t in ts))}
    states = sorted({t["state"] for ts in left.values() for t in ts})
    tap.ok(not bad and not (set(inodes.values()) & held),
           "%s: server-side sockets released by echod (%s)" % (
               what, "left in the kernel TCP table: %s" % ", ".join(states)
               if states else "gone from the kernel TCP table"),
           "left %r; echod still holds %r" % (
               bad, sorted(set(inodes.values()) & held)))


def fmt(ts):
    return ", ".join("%.2f" % t for t in sorted(ts))


# --- 1. the client host vanishes -----------------------------------------

def case_keepalive(lab):
    idle, intvl, cnt = 1, 1, 3
    bound = idle + intvl * cnt
    e = start_echod(lab, {"keepalive": "yes", "keepalive_idle": "%ds" % idle,
                          "keepalive_interval": "%ds" % intvl,
                          "keepalive_count": str(cnt), "idle_timeout": "0"})
    lo = Loopback(lab)
    socks, inodes, last = open_remote(lab, e, 3, "keepalive")
    # The cable is pulled: nothing in or out of the client host's veth.
    lab.silence(lab.C)
    done = wait_closed(e, lab, lo, inodes, bound + 4,
                       "echod to close the vanished peers (keepalive)")
    took = [done[p][0] - last[p] for p in done]
    reasons = sorted({done[p][1] for p in done})
    tap.ok(len(done) == 3 and reasons == ["Connection timed out"],
           "keepalive: echod closed all 3 vanished peers: %s"
           % (", ".join(reasons) or "none"), "closed %r" % done)
    tap.diag("keepalive detection after the last exchange: %s s (bound "
             "keepalive_idle + interval x count = %d + %d x %d = %d s)"
             % (fmt(took), idle, intvl, cnt, bound))
    tap.ok(len(took) == 3 and all(bound - 0.5 <= t <= bound + 1.0
                                  for t in took),
           "keepalive: detected in %s s, within [bound - 0.5, bound + 1] "
           "of the %d s bound" % (fmt(took), bound))
    check_released(e, lab, inodes, "keepalive")
    lo.check("keepalive")
    fresh = lab.connect(lab.S, "127.0.0.1", PORT)
    exchange(fresh, b"new loopback client\n")
    tap.ok(all(pid_alive(p) for p in echod_pids(e)),
           "keepalive: a new loopback client is served; echod and its "
           "workers are alive")
    for s in socks:
        abort(s)        # their RSTs are dropped: the host is still silent
    lab.unsilence(lab.C)
    e.stop()


def case_idle_timeout(lab):
    idle_timeout = 2.0
    e = start_echod(lab, {"keepalive": "no", "idle_timeout": "2s"})
    lo = Loopback(lab)
    socks, inodes, last = open_remote(lab, e, 3, "idle_timeout")
    # This time the client host's link goes down.
    lab.link(lab.C, up=False)
    done = wait_closed(e, lab, lo, inodes, idle_timeout + 4,
                       "echod to close the vanished peers (idle_timeout)")
    took = [done[p][0] - last[p] for p in done]
    reasons = sorted({done[p][1] for p in done})
    tap.ok(len(done) == 3 and reasons == ["idle timeout"],
           "idle_timeout: echod closed all 3 vanished peers: %s"
           % (", ".join(reasons) or "none"), "closed %r" % done)
    tap.diag("idle_timeout detection after the last exchange: %s s "
             "(bound idle_timeout = %.0f s)" % (fmt(took), idle_timeout))
    tap.ok(len(took) == 3 and all(idle_timeout - 0.05 <= t <=
                                  idle_timeout + 1.0 for t in took),
           "idle_timeout: detected in %s s, within [bound, bound + 1] of "
           "the %.0f s bound" % (fmt(took), idle_timeout))
    # echod's FIN cannot reach a vanished peer: the kernel keeps
    # retransmitting it from an orphan socket echod no longer holds.
    check_released(e, lab, inodes, "idle_timeout", orphans_ok=True)
    lo.check("idle_timeout (active loopback clients are not idle)")
    lab.link(lab.C, up=True)
    for s in socks:
        abort(s)
    e.stop()


# --- 2. crash and reboot -------------------------------------------------

def case_client_reboot(lab):
    idle, intvl, cnt = 2, 1, 5
    e = start_echod(lab, {"keepalive": "yes", "keepalive_idle": "%ds" % idle,
                          "keepalive_interval": "%ds" % intvl,
                          "keepalive_count": str(cnt), "idle_timeout": "0"})
    lo = Loopback(lab)
    socks, inodes, last = open_remote(lab, e, 3, "client reboot")
    busy = socks[2]          # the other two stay idle
    bport = busy.getsockname()[1]
    # The client host stops hearing; its last words are data to echo.
    lab.silence(lab.C, ["INPUT"])
    busy.sendall(b"x" * 1000)
    try:
        st = wait_for(lambda: (lambda ts: ts if ts and ts[0]["txq"] > 0
                               else None)(server_side(lab, bport)), 5,
                      "echod's echo to be in flight")
        tap.ok(True, "client reboot: echod holds %d echoed bytes the "
               "client never acknowledged" % st[0]["txq"])
    except TimeoutError as ex:
        tap.ok(False, "client reboot: echod's echo in flight", str(ex))
    # It crashes: whatever it sends (RSTs of its closing sockets) is lost.
    lab.silence(lab.C, ["OUTPUT"])
    for s in socks:
        abort(s)
    tap.ok(all(len(server_side(lab, p)) == 1 and
               server_side(lab, p)[0]["state"] == "ESTABLISHED"
               for p in inodes),
           "client reboot: after the crash echod still sees its 3 "
           "connections established (nothing reached it)")
    # It reboots: new namespace, same address, no TCP state.
    lab.reboot_client()
    t_boot = time.monotonic()
    tap.ok(lab.rules(lab.C).count("DROP") == 0 and not
           tcp_table(lab.C), "client reboot: the client host is back with "
           "the same address, no rules and no sockets")
    done = wait_closed(e, lab, lo, inodes, idle + intvl * cnt + 3,
                       "echod to get RSTs from the rebooted client")
    reasons = {p: done[p][1] for p in done}
    idle_ports = [s for s in inodes if s != bport]
    probe_took = [done[p][0] - last[p] for p in idle_ports if p in done]
    tap.ok(all(reasons.get(p) == "Connection reset by peer"
               for p in idle_ports),
           "client reboot: idle connections closed \"Connection reset by "
           "peer\" on the first keepalive probe, %s s after their last "
           "exchange (keepalive_idle %d s)" % (fmt(probe_took), idle),
           "closed %r" % reasons)
    tap.ok(reasons.get(bport) == "Connection reset by peer",
           "client reboot: the connection with data in flight closed "
           "\"Connection reset by peer\" on a retransmission, %.2f s after "
           "the reboot" % ((done[bport][0] - t_boot) if bport in done
                           else -1), "closed %r" % reasons)
    tap.diag("client reboot: RSTs %s s after the reboot"
             % fmt([done[p][0] - t_boot for p in done]))
    check_released(e, lab, inodes, "client reboot")
    lo.check("client reboot")
    again = lab.connect(lab.C, lab.s_addr, PORT)
    exchange(again, b"back from the dead\n")
    tap.ok(True, "client reboot: the rebooted client connects and is "
           "served")
    abort(again)
    e.stop()


def case_server_reboot(lab):
    conn = {"keepalive": "yes", "keepalive_idle": "30s",
            "idle_timeout": "0"}
    e = start_echod(lab, conn)
    socks, inodes, _ = open_remote(lab, e, 2, "server reboot")
    workers = e.workers()
    # The server host goes silent on its veth, then crashes: echod's whole
    # process group is SIGKILLed and the FINs of its sockets are lost.
    lab.silence(lab.S)
    os.killpg(e.pid, signal.SIGKILL)
    e.wait_exit(5)
    wait_for(lambda: not any(pid_alive(w) for w in workers), 5,
             "echod's workers to die")
    orphans = sorted({t["state"] for p in inodes
                      for t in server_side(lab, p)})
    # A reboot also wipes the orphans the kernel would go on retransmitting
    # those FINs from (which would reach the client once the DROP goes):
    # ss -K destroys them; their RSTs are dropped too.
    lab.destroy_sockets(lab.S, "dst", lab.c_addr)
    left = [t for p in inodes for t in server_side(lab, p)]
    tap.ok(not left,
           "server reboot: echod SIGKILLed while silent; its kernel state "
           "wiped (orphans were: %s)" % (", ".join(orphans) or "none"),
           "left %r" % left)
    client = [t for t in tcp_table(lab.C)
              if t["remote"] == (lab.s_addr, PORT)]
    tap.ok(len(client) == 2 and
           all(t["state"] == "ESTABLISHED" for t in client),
           "server reboot: the client still holds its 2 connections "
           "established", "client sockets %r" % client)
    lab.unsilence(lab.S)
    t0 = time.monotonic()
    e2 = start_echod(lab, conn)
    t_up = time.monotonic()
    results = []
    for i, s in enumerate(socks):
        try:
            s.sendall(b"are you there %d\n" % i)
            got = s.recv(100)
            results.append("got %r" % got)
        except ConnectionResetError:
            results.append("ECONNRESET")
        except Exception as ex:
            results.append(repr(ex))
    tap.ok(results == ["ECONNRESET"] * 2,
           "server reboot: echod restarted on the same port in %.0f ms; "
           "each old connection gets ECONNRESET on its next exchange"
           % ((t_up - t0) * 1e3), "results %r" % results)
    t1 = time.monotonic()
    try:
        fresh = lab.connect(lab.C, lab.s_addr, PORT)
        exchange(fresh, b"hello again\n")
        ok = True
        abort(fresh)
    except Exception as ex:
        ok = False
        tap.diag("new connection: %r" % ex)
    tap.ok(ok, "server reboot: a new connection from the client is served "
           "at once (%.1f ms)" % ((time.monotonic() - t1) * 1e3))
    for s in socks:
        s.close()
    e2.stop()


CASES = [case_keepalive, case_idle_timeout, case_client_reboot,
         case_server_reboot]


def main():
    why = netns.unavailable()
    if why:
        tap.skip_all(why)
    lab = Lab()
    try:
        for case in CASES:
            try:
                case(lab)
            except Exception as ex:
                import traceback
                tap.ok(False, "%s raised %s: %s" % (case.__name__,
                                                    type(ex).__name__, ex),
                       traceback.format_exc())
                # Leave a clean lab to the next case.
                cleanup()
                try:
                    for ns in list(lab.silenced):
                        lab.unsilence(ns)
                    lab.link(lab.C, up=True)
                except Exception as ex2:
                    tap.diag("restoring the lab: %r" % ex2)
            finally:
                cleanup()
    finally:
        lab.destroy()
    tap.ok(not lab.leftovers(), "no namespace left behind")
    tap.diag("t-netns took %.1f s" % (time.monotonic() - T_START))


main()
