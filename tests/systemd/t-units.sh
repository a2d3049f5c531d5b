#!/bin/sh
# Static checks of the systemd units and the manual pages (TAP):
# systemd-analyze verify and security, man --warnings.
# Run by make check; ECHOD (the built daemon) and ECHOD_SRCDIR come from
# AM_TESTS_ENVIRONMENT.  Checks whose tool is missing are skipped.

: "${ECHOD:?ECHOD is not set}"
: "${ECHOD_SRCDIR:?ECHOD_SRCDIR is not set}"
builddir=$(cd "$(dirname "$ECHOD")/.." && pwd)
srcdir=$ECHOD_SRCDIR
# Highest exposure systemd-analyze security may report (0-10 scale).
max_exposure=1.5

tmp=$(mktemp -d "${TMPDIR:-/tmp}/echod-units.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
diag() { sed 's/^/# /'; }

echo "1..8"

# The generated unit, with paths pointing into this build so that
# verify finds an executable and a config file.
svc=$builddir/systemd/echod.service
if [ -f "$svc" ] && ! grep -q '@[a-z]*@' "$svc" &&
    grep -q '^ExecStart=/.*/echod -c /.*/echod.ini$' "$svc"; then
	ok "systemd/echod.service is generated with absolute paths"
else
	notok "systemd/echod.service is generated with absolute paths"
fi
mkdir "$tmp/units"
cp "$srcdir/systemd/echod.socket" "$srcdir/systemd/echod-udp.socket" \
    "$srcdir/systemd/echod-metrics.socket" "$srcdir/systemd/echod-proxy.socket" \
    "$tmp/units/"
sed -e "s|^\(Exec[A-Za-z]*=\)[^ ]*/echod|\1$ECHOD|" \
    -e "s| -c [^ ]*/echod.ini| -c $srcdir/conf/echod.ini|" \
    "$svc" >"$tmp/units/echod.service" 2>/dev/null

if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "systemd-analyze verify: systemd-analyze not installed"
	skip "systemd-analyze security: systemd-analyze not installed"
else
	# verify exits 0 on mere warnings: anything on stderr is a failure.
	if systemd-analyze verify --man=no "$tmp/units/echod.socket" \
	    "$tmp/units/echod-udp.socket" "$tmp/units/echod-metrics.socket" \
	    "$tmp/units/echod-proxy.socket" "$tmp/units/echod.service" \
	    >"$tmp/verify.out" 2>&1 && ! [ -s "$tmp/verify.out" ]; then
		ok "systemd-analyze verify is clean for echod.socket, echod-udp.socket, echod-metrics.socket, echod-proxy.socket and echod.service"
	else
		notok "systemd-analyze verify is clean for echod.socket, echod-udp.socket, echod-metrics.socket, echod-proxy.socket and echod.service"
		diag <"$tmp/verify.out"
	fi
	systemd-analyze security --offline=yes --no-pager \
	    "$tmp/units/echod.service" >"$tmp/security.out" 2>&1
	exposure=$(sed -n 's/.*Overall exposure level for echod.service: \([0-9.]*\).*/\1/p' \
	    "$tmp/security.out")
	echo "# systemd-analyze security: exposure ${exposure:-unknown} (at most $max_exposure wanted)"
	if [ -n "$exposure" ] &&
	    awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
		ok "systemd-analyze security exposure $exposure <= $max_exposure"
	else
		notok "systemd-analyze security exposure ${exposure:-unknown} <= $max_exposure"
		grep -E '^✗' "$tmp/security.out" | diag
	fi
fi

# What the unit must say for a graceful stop; see echod.service.in.
if grep -qx 'KillMode=mixed' "$svc" && grep -qx 'Type=notify' "$svc" &&
    timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$svc") &&
    [ -n "$timeout" ] && [ "$timeout" -gt 10 ]; then
	ok "Type=notify, KillMode=mixed, TimeoutStopSec ${timeout}s > default shutdown_timeout 10s"
else
	notok "Type=notify, KillMode=mixed, TimeoutStopSec > default shutdown_timeout 10s"
fi

# UDP: a datagram socket that activates echod.service itself.
udp=$srcdir/systemd/echod-udp.socket
if grep -qx 'ListenDatagram=7' "$udp" && grep -qx 'Service=echod.service' "$udp" &&
    grep -qx 'BindIPv6Only=both' "$udp" &&
    grep -q '^After=.*echod-udp\.socket' "$svc"; then
	ok "echod-udp.socket: ListenDatagram=7, both families, activates echod.service (ordered after it)"
else
	notok "echod-udp.socket: ListenDatagram=7, both families, activates echod.service (ordered after it)"
fi

# PROXY: a stream socket echod tells apart by name, on a port of its own,
# activating echod.service, installed and left disabled by the package.
proxy=$srcdir/systemd/echod-proxy.socket
pport=$(sed -n 's/^ListenStream=\(.*:\)\{0,1\}\([0-9]*\)$/\2/p' "$proxy")
eport=$(sed -n 's/^ListenStream=\(.*:\)\{0,1\}\([0-9]*\)$/\2/p' \
    "$srcdir/systemd/echod.socket")
if grep -qx 'FileDescriptorName=proxy' "$proxy" &&
    grep -qx 'Service=echod.service' "$proxy" &&
    [ -n "$pport" ] && [ "$pport" != "$eport" ] &&
    grep -q '^After=.*echod-proxy\.socket' "$svc" &&
    grep -q 'systemd/echod-proxy\.socket' "$srcdir/systemd/local.am" &&
    # debian/ is not in the release tarball (make distcheck).
    { ! [ -f "$srcdir/debian/rules" ] ||
      { grep -q -- '-Xechod-proxy\.socket' "$srcdir/debian/rules" &&
        grep -q -- '--no-enable .*echod-proxy\.socket' \
        "$srcdir/debian/rules"; }; }; then
	ok "echod-proxy.socket: FileDescriptorName=proxy on port $pport (echod.socket: $eport), activates echod.service, installed, not enabled by the package"
else
	notok "echod-proxy.socket: FileDescriptorName=proxy on a port of its own, activates echod.service, installed, not enabled by the package"
fi

for page in man/echod.8 man/echod.ini.5; do
	if ! command -v man >/dev/null 2>&1; then
		skip "man --warnings $page: man not installed"
		continue
	fi
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 \
	    -l -Tutf8 -Z "$srcdir/$page" 2>"$tmp/man.err" >/dev/null
	if [ -s "$tmp/man.err" ]; then
		notok "man --warnings $page"
		diag <"$tmp/man.err"
	else
		ok "man --warnings $page is clean"
	fi
done
