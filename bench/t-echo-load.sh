#!/bin/bash
# t-echo-load.sh: the load generator works and verifies data (TAP).
#
# Starts echod on a free loopback port with a temporary config, runs
# each echo-load workload for about a second and checks that every
# byte was verified and the figures are not zero.  No timing is judged:
# that is bench/run's job, outside the suite.
#
# The udp workload runs against bench/udp-echo, the reference loop,
# which the test starts itself (echod's own UDP echo is not assumed).
#
# Finds the programs through $ECHOD, $ECHO_LOAD and $UDP_ECHO, or else
# relative to $abs_top_builddir, or else the current directory (the
# build directory, when run by "make check").
set -u

builddir=${abs_top_builddir:-$(pwd)}
ECHOD=${ECHOD:-$builddir/src/echod}
ECHO_LOAD=${ECHO_LOAD:-$(dirname "$ECHOD")/../bench/echo-load}
if [ ! -x "$ECHO_LOAD" ]; then
	ECHO_LOAD=$builddir/bench/echo-load
fi
UDP_ECHO=${UDP_ECHO:-$(dirname "$ECHO_LOAD")/udp-echo}

if [ ! -x "$ECHOD" ] || [ ! -x "$ECHO_LOAD" ] || [ ! -x "$UDP_ECHO" ]; then
	echo "1..0 # SKIP echod ($ECHOD), echo-load ($ECHO_LOAD) or udp-echo ($UDP_ECHO) not built"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t-echo-load.XXXXXX")
pid=
upid=
bad=
cleanup() {
	local p
	for p in $pid $upid $bad; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A free port: bind to 0 and let the kernel choose.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$tmp/echod.ini" <<EOF
[server]
listen = 127.0.0.1:$port
workers = 2
max_connections = 1000
[log]
target = stderr
level = warning
EOF

n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
positive() { awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'; }

echo "1..16"
"$ECHOD" -c "$tmp/echod.ini" 2>"$tmp/echod.log" &
pid=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.05
done

load() {
	timeout 30 "$ECHO_LOAD" -k -t 5 "$@" 2>>"$tmp/load.log"
}

out=$(load -w bulk -c 4 -d 1 -W 0.2 "$port"); rc=$?
echo "# $out"
ok $rc "bulk: exit 0, every byte verified"
positive "$(kv "$out" in_gbps)" && positive "$(kv "$out" verified_bytes)" &&
    [ "$(kv "$out" errors)" = 0 ]
ok $? "bulk: nonzero Gbit/s and bytes verified, 0 errors"

out=$(load -w latency -c 10 -r 2000 -d 1 -W 0.2 "$port"); rc=$?
echo "# $out"
ok $rc "latency: exit 0, every byte verified"
positive "$(kv "$out" lat_n)" && positive "$(kv "$out" p99_us)" &&
    [ "$(kv "$out" errors)" = 0 ]
ok $? "latency: messages timed, p99 reported, 0 errors"

out=$(load -w rate -c 4 -d 1 -W 0.2 "$port"); rc=$?
echo "# $out"
ok $rc "rate: exit 0, every echo verified"
positive "$(kv "$out" conns_per_s)" && [ "$(kv "$out" errors)" = 0 ]
ok $? "rate: nonzero connections/s, 0 errors"

out=$(load -w hold -c 200 -P 2 -s 16 -p "$pid" "$port"); rc=$?
echo "# $out"
ok $rc "hold: exit 0, every connection echoed twice"
[ "$(kv "$out" opened)" = 200 ] && positive "$(kv "$out" rss_kib)" &&
    positive "$(kv "$out" pss_kib)"
ok $? "hold: 200 opened, server RSS and PSS read"

# No server at all: an error, never a silent zero.
out=$(load -w bulk -c 1 -d 0.5 -W 0 -t 1 1 2>&1); rc=$?
[ $rc = 1 ]
ok $? "bulk against a closed port: exit 1, not a silent zero"

# A server that flips a bit of each read must fail verification.
python3 - "$tmp/port2" <<'PY' &
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
def serve(c):
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(bytes(b ^ 1 for b in d[:1]) + d[1:])
    except OSError:
        pass
    c.close()
s.settimeout(10)
try:
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
except socket.timeout:
    pass
PY
bad=$!
for _ in $(seq 100); do [ -s "$tmp/port2" ] && break; sleep 0.05; done
out=$(load -w rate -c 1 -d 0.5 -W 0 -t 2 "$(cat "$tmp/port2")"); rc=$?
echo "# $out"
[ $rc = 1 ] && positive "$(kv "$out" errors)"
ok $? "rate against a corrupting server: exit 1, errors counted"
out=$(load -w bulk -c 1 -d 0.5 -W 0 -t 2 "$(cat "$tmp/port2")"); rc=$?
echo "# $out"
[ $rc = 1 ] && positive "$(kv "$out" errors)"
ok $? "bulk against a corrupting server: exit 1, errors counted"
kill "$bad" 2>/dev/null
wait "$bad" 2>/dev/null
bad=

port3=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/:$port\$/:$port3/" "$tmp/echod.ini" >"$tmp/echod-start.ini"
out=$(load -w start -n 2 -- "$ECHOD" -c "$tmp/echod-start.ini"); rc=$?
echo "# $out"
[ $rc = 0 ] && positive "$(kv "$out" ready_ms_median)"
ok $? "start: READY=1 seen, start-up timed"

# UDP against the reference loop, on a free UDP port.
uport=$(python3 -c 'import socket; s = socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$UDP_ECHO" "$uport" 2>"$tmp/udp-echo.log" &
upid=$!
out=$(load -w udp -c 2 -s 1400 -d 1 -W 0.2 "$uport"); rc=$?
echo "# $out"
ok $rc "udp: exit 0, every answer verified"
positive "$(kv "$out" dgrams_per_s)" && positive "$(kv "$out" p99_us)" &&
    [ "$(kv "$out" errors)" = 0 ] && [ -n "$(kv "$out" loss_pct)" ]
ok $? "udp: nonzero datagrams/s, round trips timed, loss reported, 0 errors"
kill "$upid" 2>/dev/null
wait "$upid" 2>/dev/null
upid=

# Nothing listening: refused, an error, never a silent zero.
out=$(load -w udp -d 0.5 -W 0 "$uport" 2>&1); rc=$?
[ $rc = 1 ]
ok $? "udp against a closed port: exit 1"

# A UDP echo that flips a bit of every 100th datagram must fail.
python3 - "$tmp/uport2" <<'PY' &
import socket, sys
s = socket.socket(type=socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(10)
n = 0
try:
    while True:
        d, a = s.recvfrom(65536)
        n += 1
        if n % 100 == 0:
            d = d[:-1] + bytes([d[-1] ^ 1])
        s.sendto(d, a)
except socket.timeout:
    pass
PY
bad=$!
for _ in $(seq 100); do [ -s "$tmp/uport2" ] && break; sleep 0.05; done
out=$(load -w udp -d 0.5 -W 0 "$(cat "$tmp/uport2")"); rc=$?
echo "# $out"
[ $rc = 1 ] && positive "$(kv "$out" errors)"
ok $? "udp against a corrupting server: exit 1, errors counted"
kill "$bad" 2>/dev/null
wait "$bad" 2>/dev/null
bad=

if [ $fails -gt 0 ]; then
	echo "# load generator messages:"
	sed 's/^/# /' "$tmp/load.log"
	exit 1
fi
exit 0
