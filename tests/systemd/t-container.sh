#!/bin/bash
# echod's Debian package under a real systemd, booted in a container.
#
# usage: tests/systemd/t-container.sh [--next DEB] DEB...
#        ECHOD_DEB_DIR=DIR tests/systemd/t-container.sh [--next DEB]
#
# Boots systemd with systemd-nspawn over a throw-away overlay of the
# host's root file system (so the package's dependencies are there and
# nothing needs downloading), installs the .deb with apt-get inside, and
# checks socket activation, status, journal, reload, stop, crash
# recovery, upgrade, removal and purge.  With --next, DEB is a newer echod
# package (tests/systemd/build-deb.sh OUTDIR VERSION): echod is upgraded
# to it live, under streaming clients, then downgraded back; without it
# those tests are skipped.  Output is TAP on stdout; the
# exit status is 0 when every test passed, 1 otherwise, and 77 (skip)
# only where the machine cannot run a container at all (not root, no
# systemd-nspawn, no overlayfs, no cgroup file system).
#
# Everything is bounded: each command by timeout(1), each wait by a
# deadline, the whole run by ECHOD_CT_LIMIT seconds (default 600).  The
# EXIT trap stops the container and removes mounts, cgroups and files
# even when a test fails or the run is interrupted.
# ECHOD_CT_KEEP=1 leaves the scratch directory (logs) behind.
#
# See shared/notes/real-systemd-in-a-container.md for the recipe.

set -u
export LC_ALL=C.UTF-8 SYSTEMD_PAGER='' SYSTEMD_COLORS=0 SYSTEMD_URLIFY=0

here=$(cd "$(dirname "$0")" && pwd)
limit=${ECHOD_CT_LIMIT:-600}
# Bound the whole run: timeout(1) sends SIGTERM, and the trap below
# still tears the container down.  The trap runs once the command in
# progress ends (each is bounded by 120s), hence the long -k.
if [ -z "${ECHOD_CT_TIMED:-}" ] && command -v timeout >/dev/null; then
	export ECHOD_CT_TIMED=1
	exec timeout -k 180 "$limit" "$0" "$@"
fi
max_exposure=1.5
# Must match shipped echod.service: TimeoutStopSec.
unit_stop_timeout=30

# --- TAP ------------------------------------------------------------------
ntests=28
n=0
failed=0
ok()    { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip()  { n=$((n + 1)); echo "ok $n # SKIP $*"; }
diag()  { sed 's/^/# /'; }
note()  { echo "# $*"; }
# check DESCRIPTION COMMAND...: one test from a command's status; the
# command's output becomes diagnostics on failure.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		notok "$desc"
		printf '%s\n' "$out" | tail -n 40 | diag
	fi
}
skip_all() {	# skip_all REASON: the machine cannot run this at all
	echo "1..0 # SKIP $*"
	echo "t-container.sh: SKIP: $*" >&2
	exit 77
}
bail_rest() {	# the remaining tests but teardown cannot run
	while [ "$n" -lt $((ntests - 1)) ]; do
		notok "not run: $*"
	done
}

# --- what the machine must offer -------------------------------------------
[ "$(id -u)" = 0 ] || skip_all "needs root (systemd-nspawn, mounts, cgroups)"
command -v systemd-nspawn >/dev/null ||
	skip_all "systemd-nspawn not installed (apt-get install systemd-container)"
command -v nsenter >/dev/null || skip_all "nsenter not installed (util-linux)"
command -v python3 >/dev/null || skip_all "python3 not installed"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
	skip_all "the kernel has no overlayfs"
[ -d /sys/fs/cgroup ] || skip_all "no cgroup file system"

# --- the packages -----------------------------------------------------------
next_deb=
if [ "${1:-}" = --next ]; then
	[ $# -ge 2 ] || { echo "t-container.sh: --next needs a .deb" >&2; exit 99; }
	[ "$(dpkg-deb -f "$2" Package 2>/dev/null)" = echod ] ||
	    { echo "t-container.sh: --next $2 is not an echod .deb" >&2; exit 99; }
	next_deb=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	shift 2
fi
debs=()
if [ $# -gt 0 ]; then
	debs=("$@")
elif [ -n "${ECHOD_DEB_DIR:-}" ]; then
	shopt -s nullglob
	debs=("$ECHOD_DEB_DIR"/*.deb)
	shopt -u nullglob
fi
install_debs=()
for d in "${debs[@]}"; do
	case $(dpkg-deb -f "$d" Package 2>/dev/null) in
	'')	echo "t-container.sh: $d is not a .deb" >&2; exit 99 ;;
	*-dbgsym) ;;		# not needed, and apt purge echod would leave it
	*)	install_debs+=("$(cd "$(dirname "$d")" && pwd)/$(basename "$d")") ;;
	esac
done
[ ${#install_debs[@]} -gt 0 ] || {
	echo "t-container.sh: no .deb given (arguments or ECHOD_DEB_DIR)" >&2
	exit 99
}
main_deb=
for d in "${install_debs[@]}"; do
	[ "$(dpkg-deb -f "$d" Package)" = echod ] && main_deb=$d
done
[ -n "$main_deb" ] || { echo "t-container.sh: no echod_*.deb among ${debs[*]}" >&2; exit 99; }
echo "1..$ntests"
note "package: $(basename "$main_deb")${next_deb:+, then $(basename "$next_deb")}"

# --- scratch space, container state, cleanup ------------------------------
machine=echodct$$
work=$(mktemp -d "${TMPDIR:-/tmp}/echod-ct.XXXXXX") || exit 99
fs=$work/fs		# tmpfs: the overlay's upper and work directories
root=$work/root		# the container's root file system
cg_dirs=()
nspawn_pid=
pid1=
bg_pids=()
t_start=$(date +%s)

teardown() {
	set +e
	local p
	for p in "${bg_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid"
		for _ in $(seq 100); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$nspawn_pid" 2>/dev/null
	fi
	# If nspawn is gone but PID 1 lives on, killing it ends the PID
	# namespace and everything in it.
	if [ -n "$pid1" ] && kill -0 "$pid1" 2>/dev/null; then
		kill -KILL "$pid1"
		for _ in $(seq 100); do
			kill -0 "$pid1" 2>/dev/null || break
			sleep 0.1
		done
	fi
	wait 2>/dev/null
	for _ in 1 2 3; do
		mountpoint -q "$root" || break
		umount "$root" 2>/dev/null || sleep 0.5
	done
	mountpoint -q "$root" && umount -l "$root"
	mountpoint -q "$fs" && { umount "$fs" 2>/dev/null || umount -l "$fs"; }
	rm -rf "/run/systemd/nspawn/propagate/$machine" \
	    "/run/systemd/nspawn/unix-export/$machine"
	for p in "${cg_dirs[@]}"; do
		[ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if [ "${ECHOD_CT_KEEP:-0}" = 1 ]; then
		echo "t-container.sh: kept $work" >&2
	else
		rm -rf --one-file-system "$work"
	fi
}

leftovers() {	# what teardown failed to remove; empty when all is well
	local p
	mountpoint -q "$root" 2>/dev/null && echo "mount $root"
	mountpoint -q "$fs" 2>/dev/null && echo "mount $fs"
	[ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null && echo "nspawn $nspawn_pid"
	[ -n "$pid1" ] && kill -0 "$pid1" 2>/dev/null && echo "container PID 1 $pid1"
	for p in "${cg_dirs[@]}"; do
		[ -d "$p" ] && echo "cgroup $p"
	done
	grep -F " $work" /proc/mounts | sed 's/^/mount: /'
	ip -o link 2>/dev/null | grep -F "ve-$machine" | sed 's/^/veth: /'
	[ "${ECHOD_CT_KEEP:-0}" = 1 ] || { [ -e "$work" ] && echo "directory $work"; }
}

finish() {
	local out
	trap - EXIT INT TERM HUP
	# A trap runs inside the redirections of the command it interrupted
	# (ct ... >log): report on the original stdout and stderr.
	exec 1>&8 2>&9
	bail_rest "interrupted or timed out"
	teardown >/dev/null 2>&1
	out=$(leftovers)
	if [ -z "$out" ]; then
		ok "teardown left no container, mount, cgroup or scratch file behind"
	else
		notok "teardown left no container, mount, cgroup or scratch file behind"
		printf '%s\n' "$out" | diag
	fi
	note "container test took $(( $(date +%s) - t_start ))s"
	[ "$failed" -eq 0 ] && [ "$n" -eq "$ntests" ] && exit 0
	exit 1
}
exec 8>&1 9>&2
trap finish EXIT
trap 'note "interrupted (or ECHOD_CT_LIMIT=${limit}s reached)"; exit 1' INT TERM HUP

# --- helpers ----------------------------------------------------------------
# wait_until SECONDS COMMAND...: poll COMMAND every 0.1s until it
# succeeds; fail after SECONDS.
wait_until() {
	local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 ))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $(( $(date +%s%N) / 1000000 )) -lt "$end" ] || return 1
		sleep 0.1
	done
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Run a command inside the container (all namespaces of its PID 1).
ct() { timeout 120 nsenter -t "$pid1" -a "$@"; }
# Run a host program in the container's network namespace only.
ctnet() { timeout 120 nsenter -t "$pid1" -n "$@"; }
probe() { ctnet python3 "$here/probe.py" "$@"; }
prop() { ct systemctl show -p "$2" --value "$1"; }
cursor() { ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'; }
# journal_since CURSOR [ARGS...]: JSON entries after CURSOR.
journal_since() {
	local c=$1
	shift
	ct journalctl -q --no-pager -o json --after-cursor="$c" "$@"
}
# Messages (one per line) of echod.service entries after CURSOR.
messages_since() {
	ct journalctl -q --no-pager -o cat --after-cursor="$1" -u echod.service
}
# jfind FIELD=VALUE...: read JSON journal entries on stdin; succeed and
# print the first entry that has every FIELD=VALUE.
jfind() {
	python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[1:])
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if all(str(e.get(k)) == v for k, v in want.items()):
        print(json.dumps(e, indent=1, sort_keys=True))
        sys.exit(0)
sys.exit(1)' "$@"
}
has_journal() {	# has_journal CURSOR FIELD=VALUE...
	local c=$1
	shift
	journal_since "$c" | jfind "$@" >/dev/null
}
active() { [ "$(prop "$1" ActiveState)" = active ]; }
inactive() { [ "$(prop "$1" ActiveState)" = inactive ]; }
main_pid() { prop echod.service MainPID; }
# PIDs in echod.service's cgroup, one per line (container's PID space).
cgroup_pids() {
	local cg
	cg=$(prop echod.service ControlGroup)
	[ -n "$cg" ] || return 0
	ct sh -c "cat /sys/fs/cgroup/unified$cg/cgroup.procs 2>/dev/null ||
	    cat /sys/fs/cgroup/systemd$cg/cgroup.procs 2>/dev/null ||
	    cat /sys/fs/cgroup$cg/cgroup.procs 2>/dev/null" | sort -n
}
workers() { ct ps -o pid= --ppid "$1" | tr -d ' ' | sort -n; }
nworkers_is() { [ "$(workers "$1" | grep -c .)" -eq "$2" ]; }
listening7() { ctnet ss -Hltn 'sport = :7' | grep -q .; }
listening9007() { ctnet ss -Hltn 'sport = :9007' | grep -q .; }
listening7008() { ctnet ss -Hltn 'sport = :7008' | grep -q .; }
# http_get ADDR PORT PATH: GET over HTTP/1.1 from the container's network
# namespace; print the status code, then the body.  Succeed on a 200.
http_get() {
	ctnet python3 -c '
import socket, sys
addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(20)
s.connect((addr, port))
s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
code = head.split(b" ")[1].decode() if head.startswith(b"HTTP/1.1 ") else "none"
print(code)
sys.stdout.write(body.decode("utf-8", "replace"))
sys.exit(0 if code == "200" else 1)' "$@"
}
udp7() { ctnet ss -Hlun 'sport = :7' | grep -q .; }
# udp_echo ADDR: one datagram through echo-client -u, echoed exactly.
udp_echo() {
	local out
	out=$(ct sh -c "printf 'udp probe to %s\n' '$1' |
	    echo-client -u -q -t 5s '$1' 7") && [ "$out" = "udp probe to $1" ]
}
set_ini() {	# set_ini KEY VALUE: change or add a [server] key
	local f=$root/etc/echod.ini
	if grep -q "^$1 *=" "$f"; then
		sed -i "s|^$1 *=.*|$1 = $2|" "$f"
	else
		sed -i "s|^\[server\]$|[server]\n$1 = $2|" "$f"
	fi
}

# --- the container ----------------------------------------------------------
boot() {
	mkdir "$fs" "$root" || return 1
	mount -t tmpfs -o mode=0755,size=4g tmpfs "$fs" || return 1
	mkdir "$fs/upper" "$fs/work" || return 1
	mount -t overlay overlay \
	    -o "lowerdir=/,upperdir=$fs/upper,workdir=$fs/work" "$root" ||
	    return 1
	# The host image forbids starting services from maintainer scripts.
	rm -f "$root/usr/sbin/policy-rc.d"
	# A stale echod on the host (make install) must not hide the package.
	if ! dpkg-query -W echod >/dev/null 2>&1; then
		rm -f "$root/etc/echod.ini" "$root"/lib/systemd/system/echod.* \
		    "$root"/etc/systemd/system/echod.* "$root/usr/sbin/echod"
	fi
	cat >"$root/etc/systemd/system/echod-test.target" <<-EOF
	[Unit]
	Description=echod container test: basic system only
	Requires=sysinit.target sockets.target
	After=sysinit.target sockets.target
	AllowIsolate=yes
	EOF
	mkdir -p "$root/var/tmp/echod-ct"
	cp "${install_debs[@]}" ${next_deb:+"$next_deb"} "$root/var/tmp/echod-ct/"

	# A private cgroup in every hierarchy systemd uses, so that nspawn
	# leaves nothing in the caller's cgroup.
	local h
	for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
		[ -e "$h/cgroup.procs" ] || continue
		mkdir "$h/$machine" && cg_dirs+=("$h/$machine") || return 1
	done
	if [ ${#cg_dirs[@]} -eq 0 ] && [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		mkdir "/sys/fs/cgroup/$machine" && cg_dirs+=("/sys/fs/cgroup/$machine") || return 1
	fi
	(
		for h in "${cg_dirs[@]}"; do
			echo "$BASHPID" >"$h/cgroup.procs" || exit 1
		done
		exec 8>&- 9>&-
		exec setsid systemd-nspawn -q -D "$root" -M "$machine" --boot \
		    --register=no --keep-unit --private-network \
		    --console=passive systemd.unit=echod-test.target
	) </dev/null >"$work/nspawn.log" 2>&1 &
	nspawn_pid=$!
	# PID 1 is the child of nspawn that runs systemd.
	wait_until 20 sh -c "ps -o comm= --ppid $nspawn_pid | grep -qx systemd" || return 1
	pid1=$(ps -o pid=,comm= --ppid "$nspawn_pid" | awk '$2 == "systemd" { print $1; exit }')
	wait_until 30 sh -c "nsenter -t $pid1 -a systemctl is-system-running 2>/dev/null |
	    grep -Eq 'starting|running|degraded'" || return 1
	ct timeout 60 systemctl is-system-running --wait >/dev/null
	local state
	state=$(ct systemctl is-system-running)
	note "container: machine $machine, nspawn pid $nspawn_pid, PID 1 = host pid $pid1, state $state"
	[ "$state" = running ] || [ "$state" = degraded ]
}

# --- tests --------------------------------------------------------------------

# 1. lintian, on the host.
if command -v lintian >/dev/null; then
	timeout 300 lintian --fail-on error,warning "$main_deb" >"$work/lintian.out" 2>&1
	rc=$?
	lint=$(grep -v 'running with root privileges' "$work/lintian.out")
	if [ "$rc" -eq 0 ] && ! printf '%s\n' "$lint" | grep -q '^[EW]:'; then
		ok "lintian: no errors or warnings on $(basename "$main_deb")"
	else
		notok "lintian: no errors or warnings on $(basename "$main_deb")"
	fi
	[ -n "$lint" ] && printf '%s\n' "$lint" | diag
else
	skip "lintian not installed"
fi

# 2. boot
if boot; then
	ok "systemd boots in the container (nspawn over an overlay of /)"
else
	notok "systemd boots in the container (nspawn over an overlay of /)"
	{ tail -n 30 "$work/nspawn.log"; [ -n "$pid1" ] && ct systemctl --failed --no-legend; } 2>&1 | diag
	bail_rest "the container did not boot"
	exit 1
fi

# 3. install
debs_in_ct=()
for d in "${install_debs[@]}"; do
	debs_in_ct+=("/var/tmp/echod-ct/$(basename "$d")")
done
if ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    "${debs_in_ct[@]}" >"$work/install.log" 2>&1 &&
    ct test -x /usr/sbin/echod &&
    ct dpkg-query -W -f='${Conffiles}\n' echod | grep -q '^ /etc/echod.ini ' &&
    ct test -f /lib/systemd/system/echod.socket &&
    ct test -f /lib/systemd/system/echod.service &&
    ct test -f /usr/share/man/man8/echod.8.gz &&
    ct test -f /usr/share/man/man5/echod.ini.5.gz; then
	ok "apt-get install ./$(basename "$main_deb"): /usr/sbin/echod, conffile /etc/echod.ini, units, man pages"
	ct test -x /usr/bin/echo-client && note "the package also ships /usr/bin/echo-client"
else
	notok "apt-get install ./$(basename "$main_deb"): /usr/sbin/echod, conffile /etc/echod.ini, units, man pages"
	tail -n 30 "$work/install.log" | diag
	bail_rest "the package did not install"
	exit 1
fi

# 4. the socket listens, the service waits
if ct systemctl is-enabled -q echod.socket && active echod.socket &&
    listening7 && inactive echod.service; then
	ok "after install echod.socket is enabled and listening on port 7; echod.service not started yet"
	ctnet ss -Hltn 'sport = :7' | diag
else
	notok "after install echod.socket is enabled and listening on port 7; echod.service not started yet"
	{ ct systemctl status --no-pager echod.socket echod.service; ctnet ss -ltn; } 2>&1 | diag
fi

# 4b. UDP is shipped but off: a TCP-only install, as before
if ct test -f /lib/systemd/system/echod-udp.socket &&
    ! ct systemctl is-enabled -q echod-udp.socket &&
    inactive echod-udp.socket && ! udp7; then
	ok "echod-udp.socket is installed but neither enabled nor listening: nothing on UDP port 7"
else
	notok "echod-udp.socket is installed but neither enabled nor listening: nothing on UDP port 7"
	{ ct systemctl status --no-pager echod-udp.socket; ctnet ss -lun; } 2>&1 | diag
fi

# 5. socket activation and IPv4
c_start=$(cursor)
if out=$(probe echo 127.0.0.1 7 200000) &&
    wait_until 10 active echod.service; then
	ok "first connection to 127.0.0.1:7 starts echod.service (socket activation); $out"
else
	notok "first connection to 127.0.0.1:7 starts echod.service (socket activation)"
	{ echo "$out"; ct systemctl status --no-pager echod.service; } 2>&1 | diag
fi

# 6. IPv6
check "round trip on [::1]:7 (IPv6 loopback)" probe echo ::1 7 200000

# 7. status
wait_until 10 sh -c "nsenter -t $pid1 -a systemctl status --no-pager echod.service |
    grep -q 'Status: \"[0-9]* workers, [0-9]* connections'"
status=$(ct systemctl status --no-pager echod.service 2>&1)
if printf '%s\n' "$status" | grep -q 'Status: "[0-9]* workers, [0-9]* connections'; then
	ok "systemctl status echod shows the STATUS= line: $(printf '%s\n' "$status" | sed -n 's/^ *Status: //p')"
else
	notok "systemctl status echod shows the STATUS= line"
	printf '%s\n' "$status" | diag
fi

# 8. journal: start message with MESSAGE_ID and fields
wait_until 10 has_journal "$c_start" MESSAGE_ID=20de030929574eeea9b3998c2618bbaf
if entry=$(journal_since "$c_start" | jfind MESSAGE_ID=20de030929574eeea9b3998c2618bbaf \
    _SYSTEMD_UNIT=echod.service SYSLOG_IDENTIFIER=echod ECHOD_ROLE=master GENERATION=1) &&
    printf '%s\n' "$entry" | grep -q '"WORKERS": "[0-9]'; then
	ok "journalctl -u echod: start message with MESSAGE_ID=20de0309… and fields WORKERS, GENERATION, ECHOD_ROLE"
	printf '%s\n' "$entry" | grep -E '"(MESSAGE|MESSAGE_ID|PRIORITY|WORKERS|GENERATION|ECHOD_ROLE|_SYSTEMD_UNIT)"' | diag
else
	notok "journalctl -u echod: start message with MESSAGE_ID=20de0309… and fields WORKERS, GENERATION, ECHOD_ROLE"
	ct journalctl -q --no-pager -u echod.service -o verbose --after-cursor="$c_start" 2>&1 | tail -n 40 | diag
fi

# 9. systemd-analyze verify, installed units, real systemd
if out=$(ct systemd-analyze verify --man=no /lib/systemd/system/echod.socket \
    /lib/systemd/system/echod-udp.socket /lib/systemd/system/echod.service \
    2>&1) && [ -z "$out" ]; then
	ok "systemd-analyze verify is clean for the installed echod.socket, echod-udp.socket and echod.service"
else
	notok "systemd-analyze verify is clean for the installed echod.socket, echod-udp.socket and echod.service"
	printf '%s\n' "$out" | diag
fi

# 10. systemd-analyze security
sec=$(ct systemd-analyze security --no-pager echod.service 2>&1)
exposure=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for echod.service: \([0-9.]*\).*/\1/p')
note "systemd-analyze security echod.service: exposure ${exposure:-unknown} (target <= $max_exposure)"
if [ -n "$exposure" ] && awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
	ok "systemd-analyze security echod.service: exposure $exposure <= $max_exposure"
else
	notok "systemd-analyze security echod.service: exposure ${exposure:-unknown} <= $max_exposure"
fi
printf '%s\n' "$sec" | grep -E '^✗|Overall' | diag

# 11. reload with a valid edit
main1=$(main_pid)
c=$(cursor)
set_ini workers 3
set_ini shutdown_timeout 5s
if out=$(ct systemctl reload echod.service 2>&1) &&
    wait_until 15 has_journal "$c" MESSAGE_ID=7c7b5cdf6dbd4cfe8646d0c7aa9dbc29 WORKERS=3 GENERATION=2 &&
    wait_until 15 nworkers_is "$main1" 3 &&
    [ "$(main_pid)" = "$main1" ] && out2=$(probe echo 127.0.0.1 7); then
	ok "valid edit (workers = 3) + systemctl reload: applied (MESSAGE_ID=7c7b5cdf…, 3 workers), same main PID, serving"
else
	notok "valid edit (workers = 3) + systemctl reload: applied, same main PID, serving"
	{ echo "$out"; echo "${out2:-}"; messages_since "$c"; } 2>&1 | tail -n 30 | diag
fi

# 12. reload with a broken edit
c=$(cursor)
set_ini workers lots
bad_line=$(grep -n '^workers = lots' "$root/etc/echod.ini" | cut -d: -f1)
if out=$(ct systemctl reload echod.service 2>&1); then
	notok "broken edit: systemctl reload fails"
	printf '%s\n' "$out" | diag
else
	if wait_until 10 sh -c "nsenter -t $pid1 -a journalctl -q --no-pager -o cat -u echod.service \
	    --after-cursor='$c' | grep -qF '/etc/echod.ini:$bad_line:'" &&
	    [ "$(main_pid)" = "$main1" ] && active echod.service &&
	    nworkers_is "$main1" 3 && out2=$(probe echo 127.0.0.1 7); then
		ok "broken edit: systemctl reload fails loudly, /etc/echod.ini:$bad_line: in the journal, old config keeps serving"
		{ printf '%s\n' "$out"; messages_since "$c" | grep -F "echod.ini:$bad_line:"; } | diag
	else
		notok "broken edit: systemctl reload fails loudly, error with file:line in the journal, keeps serving"
		{ printf '%s\n' "$out"; messages_since "$c"; echo "main $(main_pid) (was $main1)"; } 2>&1 | tail -n 30 | diag
	fi
fi
set_ini workers 2
ct systemctl reload echod.service >/dev/null 2>&1
wait_until 15 nworkers_is "$main1" 2

# 13. stop with a client mid-stream: full drain, clean stop
c=$(cursor)
rm -f "$work/ready"
probe stream 127.0.0.1 7 2.5 "$work/ready" >"$work/stream.out" 2>&1 &
client=$!
bg_pids+=("$client")
if wait_until 10 test -e "$work/ready"; then
	t0=$(ms)
	ct systemctl stop echod.service >"$work/stop.out" 2>&1
	stop_rc=$?
	t_stop=$(( $(ms) - t0 ))
	wait "$client"
	client_rc=$?
	msgs=$(messages_since "$c")
	if [ "$stop_rc" = 0 ] && [ "$client_rc" = 0 ] && inactive echod.service &&
	    [ "$(prop echod.service Result)" = success ] &&
	    [ "$(prop echod.service ExecMainStatus)" = 0 ] &&
	    ! printf '%s\n' "$msgs" | grep -Eqi 'SIGKILL|killing|shutdown_timeout passed'; then
		ok "systemctl stop with a client mid-stream: $(cat "$work/stream.out"); stopped cleanly in ${t_stop} ms, no SIGKILL"
	else
		notok "systemctl stop with a client mid-stream: client gets every byte, clean stop without SIGKILL"
		{ cat "$work/stream.out" "$work/stop.out"; echo "stop rc $stop_rc in ${t_stop} ms, client rc $client_rc";
		  echo "Result=$(prop echod.service Result) ExecMainStatus=$(prop echod.service ExecMainStatus)";
		  printf '%s\n' "$msgs"; } 2>&1 | tail -n 30 | diag
	fi
else
	notok "systemctl stop with a client mid-stream: the client did not start streaming"
	cat "$work/stream.out" | diag
	kill "$client" 2>/dev/null
fi

# 14. stop with a client that never stops: echod's shutdown_timeout ends it
ct systemctl reset-failed echod.service >/dev/null 2>&1
set_ini shutdown_timeout 2s
c=$(cursor)
rm -f "$work/ready"
probe forever 127.0.0.1 7 60 "$work/ready" >"$work/forever.out" 2>&1 &
client=$!
bg_pids+=("$client")
if wait_until 15 test -e "$work/ready" && wait_until 10 active echod.service; then
	t0=$(ms)
	ct systemctl stop echod.service >"$work/stop.out" 2>&1
	stop_rc=$?
	t_stop=$(( $(ms) - t0 ))
	wait "$client"
	client_rc=$?
	msgs=$(messages_since "$c")
	if [ "$stop_rc" = 0 ] && [ "$client_rc" = 0 ] &&
	    [ "$t_stop" -lt $((unit_stop_timeout * 1000)) ] && [ "$t_stop" -ge 1500 ] &&
	    inactive echod.service && [ "$(prop echod.service Result)" = success ]; then
		ok "stop with a never-ending client: echod ends it after shutdown_timeout = 2s; stop took ${t_stop} ms < TimeoutStopSec=${unit_stop_timeout}s"
		printf '%s\n' "$msgs" | grep -Ei 'shutdown_timeout|killing|stopped|Deactivated' | diag
	else
		notok "stop with a never-ending client: completes after shutdown_timeout, within TimeoutStopSec"
		{ cat "$work/forever.out" "$work/stop.out"; echo "stop rc $stop_rc in ${t_stop} ms, client rc $client_rc";
		  echo "Result=$(prop echod.service Result)"; printf '%s\n' "$msgs"; } 2>&1 | tail -n 30 | diag
	fi
else
	notok "stop with a never-ending client: the client could not start"
	cat "$work/forever.out" | diag
	kill "$client" 2>/dev/null
fi

# 15. the last resort: shutdown_timeout above TimeoutStopSec, systemd kills
ct systemctl reset-failed echod.service >/dev/null 2>&1
set_ini shutdown_timeout 1h
mkdir -p "$root/etc/systemd/system/echod.service.d"
printf '[Service]\nTimeoutStopSec=3s\n' >"$root/etc/systemd/system/echod.service.d/test-timeout.conf"
ct systemctl daemon-reload
c=$(cursor)
rm -f "$work/ready"
probe forever 127.0.0.1 7 60 "$work/ready" >"$work/forever.out" 2>&1 &
client=$!
bg_pids+=("$client")
if wait_until 15 test -e "$work/ready" && wait_until 10 active echod.service; then
	t0=$(ms)
	ct systemctl stop echod.service >"$work/stop.out" 2>&1
	t_stop=$(( $(ms) - t0 ))
	wait "$client"
	client_rc=$?
	msgs=$(messages_since "$c")
	state=$(prop echod.service ActiveState)
	if [ "$t_stop" -ge 2500 ] && [ "$t_stop" -lt 8000 ] && [ "$client_rc" = 0 ] &&
	    { [ "$state" = inactive ] || [ "$state" = failed ]; } &&
	    printf '%s\n' "$msgs" | grep -q 'timed out. Killing'; then
		ok "with shutdown_timeout above TimeoutStopSec=3s, systemd's SIGKILL ends the stop in ${t_stop} ms"
		printf '%s\n' "$msgs" | grep -E 'timed out|SIGKILL|Failed with' | diag
	else
		notok "with shutdown_timeout above TimeoutStopSec=3s, systemd's SIGKILL ends the stop at TimeoutStopSec"
		{ cat "$work/forever.out"; echo "stop took ${t_stop} ms, client rc $client_rc";
		  echo "ActiveState=$(prop echod.service ActiveState) Result=$(prop echod.service Result)";
		  printf '%s\n' "$msgs"; } 2>&1 | tail -n 30 | diag
	fi
else
	notok "with shutdown_timeout above TimeoutStopSec, systemd's SIGKILL ends the stop: the client could not start"
	cat "$work/forever.out" | diag
	kill "$client" 2>/dev/null
fi
rm -rf "$root/etc/systemd/system/echod.service.d"
ct systemctl daemon-reload
ct systemctl reset-failed echod.service >/dev/null 2>&1
set_ini shutdown_timeout 5s

# 16. SIGKILL of a worker: logged, replaced
c=$(cursor)
probe echo 127.0.0.1 7 >/dev/null 2>&1
wait_until 10 active echod.service
main2=$(main_pid)
wait_until 10 nworkers_is "$main2" 2
victim=$(workers "$main2" | head -n 1)
if [ -n "$victim" ] && ct kill -KILL "$victim" &&
    wait_until 10 has_journal "$c" MESSAGE_ID=bb4b2ff49636424db8e570453a3bcc37 WORKER_PID="$victim" &&
    wait_until 10 sh -c "nsenter -t $pid1 -a ps -o pid= --ppid $main2 | wc -l | grep -qx 2 &&
	! nsenter -t $pid1 -a ps -o pid= --ppid $main2 | tr -d ' ' | grep -qx $victim" &&
    [ "$(main_pid)" = "$main2" ] && out=$(probe echo 127.0.0.1 7); then
	ok "SIGKILL of worker $victim is logged (MESSAGE_ID=bb4b2ff4…, WORKER_PID) and the worker is replaced"
	journal_since "$c" | jfind MESSAGE_ID=bb4b2ff49636424db8e570453a3bcc37 |
	    grep -E '"(MESSAGE|WORKER_PID|EXIT_STATUS)"' | diag
else
	notok "SIGKILL of a worker is logged and the worker is replaced"
	{ echo "victim ${victim:-none}, main $main2 -> $(main_pid)"; workers "$main2"; messages_since "$c"; } 2>&1 | tail -n 30 | diag
fi

# 17. SIGKILL of the master: restart, no orphan
old_workers=$(workers "$main2" | tr '\n' ' ')
restarts=$(prop echod.service NRestarts)
c=$(cursor)
ct kill -KILL "$main2"
newmain_ok() { local m; m=$(main_pid); [ -n "$m" ] && [ "$m" != 0 ] && [ "$m" != "$main2" ] && active echod.service; }
if wait_until 20 newmain_ok && main3=$(main_pid) && wait_until 10 nworkers_is "$main3" 2; then
	orphans=
	for p in $(cgroup_pids); do
		[ "$p" = "$main3" ] && continue
		[ "$(ct ps -o ppid= -p "$p" | tr -d ' ')" = "$main3" ] || orphans="$orphans $p"
	done
	for p in $old_workers; do
		ct test -d "/proc/$p" && orphans="$orphans $p(old)"
	done
	if [ -z "$orphans" ] && [ "$(prop echod.service NRestarts)" -gt "$restarts" ] &&
	    out=$(probe echo 127.0.0.1 7); then
		ok "SIGKILL of the master: systemd restarts echod.service (main $main2 -> $main3), no orphan worker in the cgroup"
		messages_since "$c" | grep -Ei 'main process exited|scheduled restart|started' | diag
	else
		notok "SIGKILL of the master: restart without orphan workers"
		{ echo "orphans:$orphans; cgroup: $(cgroup_pids | tr '\n' ' ')"; messages_since "$c"; } 2>&1 | tail -n 30 | diag
	fi
else
	notok "SIGKILL of the master: systemd restarts echod.service"
	{ ct systemctl status --no-pager echod.service; messages_since "$c"; } 2>&1 | tail -n 30 | diag
fi

# 17b. UDP echo, turned on as README and echod(8) say
c=$(cursor)
# systemd starts no socket while its service runs ("Socket service
# echod.service already active, refusing"), not even in one transaction
# with a restart of it: stop echod first, as README and echod(8) say.
if ct systemctl stop echod.service >"$work/udp.out" 2>&1 &&
    ct systemctl enable --now echod-udp.socket >>"$work/udp.out" 2>&1 &&
    ct systemctl start echod.service >>"$work/udp.out" 2>&1 &&
    wait_until 10 active echod.service && udp7 &&
    wait_until 10 udp_echo 127.0.0.1 && udp_echo ::1 &&
    ping=$(ct echo-client -u -c 3 -i 0.1 127.0.0.1 7 2>&1) &&
    printf '%s\n' "$ping" | grep -q '3 datagrams sent, 3 received, 0% loss' &&
    messages_since "$c" | grep -q 'serving on .*udp \[::\]:7.* (from systemd)'; then
	ok "stop echod, enable --now echod-udp.socket, start echod: UDP echo on 127.0.0.1:7 and [::1]:7 through the sandbox"
	printf '%s\n' "$ping" | tail -n 2 | diag
else
	notok "stop echod, enable --now echod-udp.socket, start echod: UDP echo on 127.0.0.1:7 and [::1]:7"
	{ cat "$work/udp.out"; echo "${ping:-}"; ct systemctl status --no-pager echod-udp.socket;
	  ctnet ss -lun; messages_since "$c"; } 2>&1 | tail -n 30 | diag
fi

# 18. the metrics socket: off after install; enabled, it passes its
# sockets (FileDescriptorName=metrics) through the sandbox, and a
# connection to it starts echod.service
metrics_ok=yes
msgs=""
state=$(ct systemctl is-enabled echod-metrics.socket 2>&1)
if [ "$state" != disabled ] || listening9007; then
	metrics_ok=no
	msgs="after install: echod-metrics.socket is $state, not disabled"
fi
# systemd refuses to start a socket unit whose service already runs.
ct systemctl stop echod.service >/dev/null 2>&1
ct systemctl enable --now echod-metrics.socket >/dev/null 2>&1 || metrics_ok=no
if [ $metrics_ok = yes ] && listening9007 && inactive echod.service &&
    wait_until 15 http_get 127.0.0.1 9007 /health &&
    wait_until 10 active echod.service &&
    scrape=$(http_get 127.0.0.1 9007 /metrics) &&
    scrape6=$(http_get ::1 9007 /metrics) &&
    printf '%s\n' "$scrape" | grep -q '^echod_build_info{version=' &&
    printf '%s\n' "$scrape6" | grep -q '^echod_connections_accepted_total ' &&
    { ! command -v promtool >/dev/null ||
      printf '%s\n' "$scrape" | sed 1d | promtool check metrics; } &&
    out=$(probe echo 127.0.0.1 7); then
	ok "echod-metrics.socket: disabled after install; enabled, a health check on it starts echod.service, and /metrics and /health answer on 127.0.0.1:9007 and [::1]:9007 through the sandbox (promtool clean)"
	printf '%s\n' "$scrape" | grep -E '^echod_(workers|connections_accepted_total|worker_restarts_total)' | diag
else
	notok "echod-metrics.socket: disabled after install; enabled, a health check starts echod.service and /metrics and /health answer through it"
	{ echo "$msgs"; printf '%s\n' "${scrape:-}" | head -n 20;
	  ct systemctl status --no-pager echod.service echod-metrics.socket; } 2>&1 | tail -n 40 | diag
fi

# 18b. the PROXY socket: off after install; with [proxy] trusted in
# echod.ini and echod-proxy.socket enabled, echo-client --proxy is served
# through the sandbox and the journal names the client its header claims
proxy_ok=yes
msgs=""
state=$(ct systemctl is-enabled echod-proxy.socket 2>&1)
if [ "$state" != disabled ] || listening7008; then
	proxy_ok=no
	msgs="after install: echod-proxy.socket is $state, not disabled"
fi
printf '\n[proxy]\ntrusted = 127.0.0.1, ::1\n' >>"$root/etc/echod.ini"
sed -i 's/^connections = no$/connections = yes/' "$root/etc/echod.ini"
ct systemctl stop echod.service >/dev/null 2>&1
ct systemctl enable --now echod-proxy.socket >/dev/null 2>&1 || proxy_ok=no
c=$(cursor)
if [ $proxy_ok = yes ] && listening7008 &&
    out=$(ct sh -c "printf 'through the PROXY socket\n' | echo-client -q -t 10s \
	--proxy-source 198.51.100.7:40000 127.0.0.1 7008") &&
    [ "$out" = "through the PROXY socket" ] &&
    out6=$(ct sh -c "printf 'six\n' | echo-client -q -t 10s --proxy=v1 ::1 7008") &&
    [ "$out6" = six ] &&
    wait_until 10 has_journal "$c" REMOTE_ADDR=198.51.100.7:40000 &&
    journal_since "$c" | jfind REMOTE_ADDR=198.51.100.7:40000 |
	grep -q '"PROXY_ADDR" *: *"127\.0\.0\.1:' &&
    messages_since "$c" | grep -q 'serving on .*proxy \[::\]:7008.*(from systemd)'; then
	ok "echod-proxy.socket: disabled after install; with [proxy] trusted and the socket enabled, echo-client --proxy through it is echoed (IPv4 v2, IPv6 v1) and the journal has REMOTE_ADDR=198.51.100.7:40000 with PROXY_ADDR"
else
	notok "echod-proxy.socket: disabled after install; enabled with [proxy] trusted, echo-client --proxy is echoed and journaled"
	{ echo "$msgs"; echo "${out:-} ${out6:-}"; messages_since "$c";
	  ct systemctl status --no-pager echod.service echod-proxy.socket; } 2>&1 | tail -n 40 | diag
fi

# 18c. maintenance as README "Running a fleet" says: stopping the sockets
# with echod lets a stream through the PROXY socket finish, then every
# port is closed, so no health check can start echod again; starting
# the sockets brings it back on the next check.
cat >"$root/var/tmp/echod-ct/paced.py" <<'PY'
import sys, time
for _ in range(60):
    sys.stdout.buffer.write(b"x" * 65536)
    sys.stdout.flush()
    time.sleep(0.05)
PY
c=$(cursor)
ct sh -c 'python3 /var/tmp/echod-ct/paced.py | echo-client -q -t 20s \
    --proxy-source 198.51.100.8:40000 127.0.0.1 7008 >/var/tmp/echod-ct/paced.out
    echo $?' >"$work/paced.rc" 2>"$work/paced.err" &
client=$!
bg_pids+=("$client")
if wait_until 10 has_journal "$c" REMOTE_ADDR=198.51.100.8:40000; then
	ct systemctl stop echod-metrics.socket echod-proxy.socket echod.socket \
	    >"$work/maint.out" 2>&1
	stop_rc=$?
	wait "$client"
	got=$(ct sh -c 'wc -c </var/tmp/echod-ct/paced.out; tr -d x </var/tmp/echod-ct/paced.out | wc -c' | tr '\n' ' ')
	closed=yes
	for port in 7 7008 9007; do
		ctnet ss -Hltn "sport = :$port" | grep -q . && closed="no ($port)"
	done
	if [ "$stop_rc" = 0 ] && [ "$(cat "$work/paced.rc")" = 0 ] &&
	    [ "$got" = "3932160 0 " ] && inactive echod.service &&
	    [ "$closed" = yes ] &&
	    ct systemctl start echod.socket echod-proxy.socket echod-metrics.socket \
	    >>"$work/maint.out" 2>&1 &&
	    wait_until 15 http_get 127.0.0.1 9007 /health && active echod.service; then
		ok "maintenance: systemctl stop echod-metrics.socket echod-proxy.socket echod.socket lets a 3.75 MiB stream through the PROXY socket finish whole, closes ports 7, 7008 and 9007; starting them, a health check brings echod back"
	else
		notok "maintenance: stopping echod with its sockets lets a PROXY stream finish, closes every port; starting them brings echod back"
		{ cat "$work/maint.out" "$work/paced.err"; echo "stop rc $stop_rc, client rc $(cat "$work/paced.rc"), got '$got', closed $closed";
		  messages_since "$c"; } 2>&1 | tail -n 30 | diag
	fi
else
	notok "maintenance: the stream through the PROXY socket did not start"
	{ cat "$work/paced.err"; messages_since "$c"; } 2>&1 | tail -n 20 | diag
	kill "$client" 2>/dev/null
fi

# 18d. a live upgrade to the next version, under streaming clients
msgid_upgraded=aa4bc96fd21a4862a8fe0f57e1370661
if [ -z "$next_deb" ]; then
	skip "live upgrade to a newer package: none given (--next DEB)"
	skip "systemctl stop after a live upgrade: no newer package given"
else
	next_in_ct=/var/tmp/echod-ct/$(basename "$next_deb")
	probe echo 127.0.0.1 7 >/dev/null 2>&1
	wait_until 10 active echod.service
	main5=$(main_pid)
	wait_until 10 nworkers_is "$main5" 2
	old_workers=$(workers "$main5" | tr '\n' ' ')
	v_old=$(ct echod -V | cut -d' ' -f2)
	c=$(cursor)
	rm -f "$work"/up.*
	clients=()
	for i in 1 2 3; do
		probe until 127.0.0.1 7 "$work/up.stop" "$work/up.ready.$i" 90 \
		    >"$work/up.out.$i" 2>&1 &
		clients+=("$!")
		bg_pids+=("$!")
	done
	if wait_until 15 sh -c "test -e '$work/up.ready.1' && test -e '$work/up.ready.2' &&
	    test -e '$work/up.ready.3'"; then
		t0=$(ms)
		ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    "$next_in_ct" >"$work/next.log" 2>&1
		apt_rc=$?
		t_apt=$(( $(ms) - t0 ))
		v_new=$(ct echod -V | cut -d' ' -f2)
		spanned=yes
		for p in "${clients[@]}"; do
			kill -0 "$p" 2>/dev/null || spanned=no
		done
		# The streams go on a while through the new master, then end.
		sleep 1
		touch "$work/up.stop"
		client_rc=0
		for p in "${clients[@]}"; do
			wait "$p" || client_rc=1
		done
		old_gone() {
			local p
			for p in $old_workers; do
				ct test -d "/proc/$p" && return 1
			done
			return 0
		}
		if [ "$apt_rc" = 0 ] && [ "$v_new" != "$v_old" ] &&
		    [ "$(main_pid)" = "$main5" ] && active echod.service &&
		    [ "$(ct readlink "/proc/$main5/exe")" = /usr/sbin/echod ] &&
		    wait_until 10 has_journal "$c" MESSAGE_ID=$msgid_upgraded \
		        _PID="$main5" OLD_VERSION="$v_old" NEW_VERSION="$v_new" &&
		    [ "$spanned" = yes ] && [ "$client_rc" = 0 ] &&
		    wait_until 15 old_gone && nworkers_is "$main5" 2 &&
		    out=$(probe echo 127.0.0.1 7); then
			ok "apt-get install of $v_new under 3 streaming clients: echod upgraded live from $v_old (MainPID $main5 kept, MESSAGE_ID=aa4bc96f…), every byte back, old workers gone after their clients (apt took ${t_apt} ms)"
			{ cat "$work"/up.out.*; messages_since "$c" | grep -E 'upgrad|Reload'; } | diag
		else
			notok "apt-get install of a newer package under streaming clients: live upgrade, same MainPID, every byte back"
			{ echo "apt rc $apt_rc in ${t_apt} ms, $v_old -> $v_new, main $main5 -> $(main_pid)," \
			    "exe $(ct readlink "/proc/$main5/exe"), clients spanned the upgrade: $spanned, rc $client_rc";
			  echo "old workers: $old_workers; now: $(workers "$main5" | tr '\n' ' ')";
			  cat "$work"/up.out.*; tail -n 15 "$work/next.log"; messages_since "$c"; } 2>&1 | tail -n 40 | diag
		fi
	else
		notok "live upgrade: the streaming clients did not start"
		cat "$work"/up.out.* 2>/dev/null | diag
		touch "$work/up.stop"
		wait "${clients[@]}" 2>/dev/null
	fi

	# 18e. and a stop afterwards drains as always
	c=$(cursor)
	rm -f "$work/ready"
	probe stream 127.0.0.1 7 2.5 "$work/ready" >"$work/stream.out" 2>&1 &
	client=$!
	bg_pids+=("$client")
	if wait_until 10 test -e "$work/ready"; then
		ct systemctl stop echod.service >"$work/stop.out" 2>&1
		stop_rc=$?
		wait "$client"
		client_rc=$?
		msgs=$(messages_since "$c")
		if [ "$stop_rc" = 0 ] && [ "$client_rc" = 0 ] && inactive echod.service &&
		    [ "$(prop echod.service Result)" = success ] &&
		    ! printf '%s\n' "$msgs" | grep -Eqi 'SIGKILL|killing|shutdown_timeout passed'; then
			ok "systemctl stop after the live upgrade: a client mid-stream gets every byte, clean stop"
		else
			notok "systemctl stop after the live upgrade: client gets every byte, clean stop"
			{ cat "$work/stream.out" "$work/stop.out"; echo "stop rc $stop_rc, client rc $client_rc";
			  echo "Result=$(prop echod.service Result)"; printf '%s\n' "$msgs"; } 2>&1 | tail -n 30 | diag
		fi
	else
		notok "systemctl stop after the live upgrade: the client did not start"
		kill "$client" 2>/dev/null
	fi
fi

# 19. reinstall (or downgrade from the next version): conffile edit
# survives, the running echod takes the reinstalled program over live
printf '; local edit kept across upgrades\n' >>"$root/etc/echod.ini"
probe echo 127.0.0.1 7 >/dev/null 2>&1
wait_until 10 active echod.service
main4=$(main_pid)
c=$(cursor)
if ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall \
    --allow-downgrades "${debs_in_ct[@]}" >"$work/upgrade.log" 2>&1 &&
    grep -q '^; local edit kept across upgrades$' "$root/etc/echod.ini" &&
    [ "$(main_pid)" = "$main4" ] && active echod.service &&
    wait_until 10 has_journal "$c" MESSAGE_ID=$msgid_upgraded _PID="$main4" &&
    [ "$(ct readlink "/proc/$main4/exe")" = /usr/sbin/echod ] &&
    active echod.socket && out=$(probe echo 127.0.0.1 7) &&
    active echod-udp.socket && wait_until 10 udp_echo 127.0.0.1; then
	ok "$(if [ -n "$next_deb" ]; then echo "downgrade"; else echo "reinstall"; fi) (apt-get install --reinstall): the edited /etc/echod.ini is kept, echod takes the program over live (MainPID $main4 kept), serving (UDP too)"
	messages_since "$c" | grep -E 'upgrad' | diag
else
	notok "reinstall or downgrade: conffile kept, echod upgraded live with the same MainPID"
	{ tail -n 20 "$work/upgrade.log"; echo "main $main4 -> $(main_pid)"; messages_since "$c"; } 2>&1 | tail -n 40 | diag
fi

# 20. apt remove
if ct env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q echod >"$work/remove.log" 2>&1 &&
    [ "$(prop echod.service ActiveState)" != active ] &&
    [ "$(prop echod.socket ActiveState)" != active ] && ! listening7 &&
    [ "$(prop echod-metrics.socket ActiveState)" != active ] && ! listening9007 &&
    [ "$(prop echod-udp.socket ActiveState)" != active ] && ! udp7 &&
    [ "$(prop echod-proxy.socket ActiveState)" != active ] && ! listening7008 &&
    ! ct test -e /usr/sbin/echod && ! ct test -e /lib/systemd/system/echod.socket &&
    ct test -f /etc/echod.ini; then
	ok "apt-get remove: echod stopped, TCP and UDP port 7 and ports 7008 and 9007 closed, program and units gone, conffile kept"
else
	notok "apt-get remove: echod stopped, ports 7 and 9007 closed, program and units gone, conffile kept"
	{ tail -n 20 "$work/remove.log"; ct systemctl status --no-pager echod.socket echod.service; } 2>&1 | diag
fi

# 21. apt purge
if ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q echod >"$work/purge.log" 2>&1; then
	# Every path the container changed lives in the overlay's upper
	# directory; after the purge none may mention echod, except the
	# copies of the packages and logs of dpkg and apt.
	left=$( (cd "$fs/upper" && find . -iname '*echod*' ! -path './var/tmp/echod-ct*' \
	    ! -path './etc/systemd/system/echod-test.target' \
	    -exec sh -c 'for f; do [ -c "$f" ] || echo "$f"; done' sh {} +) )
	pkg=$(ct dpkg-query -W -f='${db:Status-Status}' echod 2>/dev/null)
	if [ -z "$left" ] && { [ -z "$pkg" ] || [ "$pkg" = not-installed ]; } &&
	    ! ct test -e /etc/echod.ini; then
		ok "apt-get purge: nothing of echod is left behind"
	else
		notok "apt-get purge: nothing of echod is left behind"
		{ echo "dpkg status: ${pkg:-none}"; printf '%s\n' "$left"; } | diag
	fi
else
	notok "apt-get purge"
	tail -n 20 "$work/purge.log" | diag
fi

# The last test (teardown) is reported by finish().
