#!/bin/bash
# Build the echod Debian package from a clean copy of the git tree.
#
# usage: tests/systemd/build-deb.sh OUTDIR [VERSION]
#
# Copies the work tree that holds this script (the committed files plus
# uncommitted changes and untracked files that .gitignore does not
# exclude, never build products) to a scratch directory, installs the
# missing build dependencies with apt-get, and runs
# "dpkg-buildpackage -us -uc -b" there.  The .deb files (echod and its
# -dbgsym), .buildinfo and .changes land in OUTDIR.
#
# With VERSION (say 0.1.0+upgrade1), the copy gets a debian/changelog
# entry for it on top and configure.ac's version set to it, so that the
# package and "echod -V" both say VERSION: the same tree as another
# version, to test upgrades and downgrades between the two.
#
# It also installs what tests/systemd/t-container.sh needs on the host:
# systemd-container (systemd-nspawn), lintian and python3.
#
# Environment: DEB_BUILD_OPTIONS is passed on (default "parallel=N" for
# the number of CPUs); add "nocheck" to skip make check inside the build.
# ECHOD_BUILD_KEEP=1 keeps the scratch directory.
set -euo pipefail

die() { echo "build-deb.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || [ $# -eq 2 ] || die "usage: $0 OUTDIR [VERSION]"
version=${2:-}
case $version in
''|[0-9]*) ;;
*) die "VERSION must start with a digit: $version" ;;
esac
case $version in
*[!0-9A-Za-z.+~]*) die "VERSION may hold only digits, letters, . + ~ (a native package has no revision): $version" ;;
esac
mkdir -p "$1"
outdir=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$top/debian/control" ] || die "$top/debian/control not found"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/echod-deb.XXXXXX")
cleanup() {
	if [ "${ECHOD_BUILD_KEEP:-0}" = 1 ]; then
		echo "build-deb.sh: scratch directory kept: $scratch" >&2
	else
		rm -rf --one-file-system "$scratch"
	fi
}
trap cleanup EXIT

# --- dependencies -------------------------------------------------------
apt_updated=0
apt_install() {
	if [ "$apt_updated" = 0 ]; then
		timeout 600 apt-get update -q >&2 || die "apt-get update failed"
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get install -y -q \
	    --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >&2 ||
	    die "apt-get install $* failed"
}
need=()
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper \
    systemd-nspawn:systemd-container lintian:lintian python3:python3 \
    git:git nsenter:util-linux ss:iproute2 ps:procps; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${need[*]}; run as root to install"
	apt_install "${need[@]}"
fi

# --- a clean copy of the tree ------------------------------------------
src=$scratch/echod
mkdir "$src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	# Files git tracks or would track; skip tracked files deleted in the
	# work tree.
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	    while IFS= read -r -d '' f; do
		[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
	    done | tar --null -T - -cf -) | tar -C "$src" -xf -
else
	(cd "$top" && tar --exclude=.git -cf - .) | tar -C "$src" -xf -
fi

if [ -n "$version" ]; then
	sed -i "s/^AC_INIT(\[echod\], \[[^]]*\]/AC_INIT([echod], [$version]/" \
	    "$src/configure.ac"
	grep -q "^AC_INIT(\[echod\], \[$version\]" "$src/configure.ac" ||
	    die "could not set the version in configure.ac"
	{
		printf 'echod (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * The same tree built as version %s %s.\n\n' \
		    "$version" "(tests/systemd/build-deb.sh)"
		printf ' -- echod developers <echod-devel@example.org>  %s\n\n' \
		    "$(date -R)"
		cat "$src/debian/changelog"
	} >"$src/debian/changelog.new"
	mv "$src/debian/changelog.new" "$src/debian/changelog"
fi

if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null; then
	[ "$(id -u)" = 0 ] || die "build dependencies missing; run as root"
	if [ "$apt_updated" = 0 ]; then
		timeout 600 apt-get update -q >&2 || die "apt-get update failed"
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get build-dep -y -q \
	    -o DPkg::Lock::Timeout=300 "$src" >&2 ||
	    die "apt-get build-dep failed"
fi

# --- build --------------------------------------------------------------
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}"
echo "build-deb.sh: building in $src (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)" >&2
(cd "$src" && timeout 1800 dpkg-buildpackage -us -uc -b) >"$scratch/build.log" 2>&1 || {
	tail -n 150 "$scratch/build.log" >&2
	die "dpkg-buildpackage failed (log above)"
}
shopt -s nullglob
built=("$scratch"/*.deb "$scratch"/*.ddeb "$scratch"/*.buildinfo "$scratch"/*.changes)
[ ${#built[@]} -gt 0 ] || die "dpkg-buildpackage produced nothing"
cp "${built[@]}" "$outdir/"
cp "$scratch/build.log" "$outdir/build.log"
for f in "${built[@]}"; do
	echo "$outdir/$(basename "$f")"
done
