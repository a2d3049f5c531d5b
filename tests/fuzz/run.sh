#!/bin/sh
# Fuzz each parser of outside input for a bounded time, report in TAP:
#
#	tests/fuzz/run.sh [SECONDS [BUILDDIR [TARGET...]]]
#
# SECONDS (default 60) is per target; no TARGET means every target in
# tests/fuzz/targets.  Builds them (build.sh) into BUILDDIR, or into a
# temporary directory, then runs libFuzzer on a copy of each target's
# seeds (corpus/TARGET, plus conf/echod.ini for the config loader), with
# LeakSanitizer on.  Everything temporary is removed on exit.  If a
# fuzzer finds a problem, the input is kept as ./fuzz-TARGET-crash-SHA1
# (or in $FUZZ_ARTIFACT_DIR) and the report is printed as TAP comments.
#
# Environment: FUZZ_ARGS, extra libFuzzer options (e.g. "-seed=1");
# FUZZ_ARTIFACT_DIR, where to keep a failing input; CC, EXTRA_CFLAGS
# (see build.sh).
#
# Exit status: 0 pass, 1 fail, 77 skip (no clang or libFuzzer runtime).
set -u

secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
keep=${FUZZ_ARTIFACT_DIR:-.}

case $secs in
''|*[!0-9]*|0)
	echo "usage: $0 [SECONDS [BUILDDIR [TARGET...]]]" >&2
	exit 1
	;;
esac

case $keep in
/*) ;;
*) keep=$PWD/$keep ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX") || exit 1
pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"
	cd / && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
bin=${2:-$tmp/build}
case $bin in
/*) ;;
*) bin=$PWD/$bin ;;
esac
[ $# -gt 2 ] && shift 2 || set --
[ $# -gt 0 ] ||
    set -- $(sed -n 's/^\([a-z0-9-]*\)[[:space:]].*/\1/p' "$here/targets")

echo "1..$#"

diag() {
	sed 's/^/# /' "$@"
}

"$here/build.sh" "$bin" "$@" >"$tmp/build.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then
	n=0
	for t in "$@"; do
		n=$((n + 1))
		echo "ok $n # SKIP $t fuzzer: $(tail -n 1 "$tmp/build.log")"
	done
	exit 77
fi
if [ $rc -ne 0 ]; then
	n=0
	for t in "$@"; do
		n=$((n + 1))
		echo "not ok $n - $t fuzzer: build failed"
	done
	diag "$tmp/build.log"
	exit 1
fi

failed=0
n=0
for t in "$@"; do
	n=$((n + 1))
	rm -rf "$tmp/corpus" "$tmp/artifacts"
	mkdir "$tmp/corpus" "$tmp/artifacts"
	cp "$here/corpus/$t"/* "$tmp/corpus/" || exit 1
	if [ "$t" = config ]; then
		cp "$top/conf/echod.ini" "$tmp/corpus/conf-echod.ini" || exit 1
	fi
	dict=
	[ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict

	# The fuzzer stops itself after $secs; timeout(1) only guards
	# against a hang of libFuzzer itself.  -timeout catches one slow
	# input.  In the background, so that a signal to this script stops
	# it too.
	start=$(date +%s)
	cd "$tmp" || exit 1
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1" \
	    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1" \
	    TMPDIR="$tmp" \
	    timeout -k 10 $((secs + 120)) "$bin/fuzz-$t" \
	    -max_total_time="$secs" -detect_leaks=1 -max_len=4096 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -error_exitcode=1 -timeout_exitcode=1 \
	    $dict -artifact_prefix="$tmp/artifacts/" \
	    ${FUZZ_ARGS:-} "$tmp/corpus" >"$tmp/fuzz.log" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	pid=
	took=$(($(date +%s) - start))

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/fuzz.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/fuzz.log")
	seed=$(sed -n 's/^INFO: Seed: *//p' "$tmp/fuzz.log")

	# A slow unit is only slow on a loaded machine, not a finding.
	rm -f "$tmp"/artifacts/slow-unit-*
	if [ $rc -eq 0 ] && [ -n "$runs" ] &&
	    [ -z "$(ls -A "$tmp/artifacts")" ]; then
		echo "ok $n - $t fuzzer: $runs runs in $took s ($rate/s)," \
		    "no crash, leak or UB"
		echo "# seed $seed; corpus grew from" \
		    "$(find "$here/corpus/$t" -type f | wc -l) to" \
		    "$(find "$tmp/corpus" -type f | wc -l) inputs"
		continue
	fi
	failed=1
	echo "not ok $n - $t fuzzer: libFuzzer exit status $rc after" \
	    "$took s (seed ${seed:-?})"
	for a in "$tmp"/artifacts/*; do
		[ -f "$a" ] || continue
		sum=$(sha1sum <"$a" | cut -c1-40)
		mkdir -p "$keep" && cp "$a" "$keep/fuzz-$t-crash-$sum" &&
		    echo "# failing input kept as $keep/fuzz-$t-crash-$sum;" \
		    "reproduce with: tests/fuzz/build.sh DIR $t &&" \
		    "DIR/fuzz-$t $keep/fuzz-$t-crash-$sum"
	done
	# The report: libFuzzer's progress lines are noise.
	grep -v -e '^#[0-9]' -e '^INFO:' -e '^	NEW_FUNC' "$tmp/fuzz.log" |
	    tail -n 80 | diag
done
exit $failed
