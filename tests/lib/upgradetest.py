"""Helpers for the live upgrade tests (tests/integration/t-upgrade*.py):
install a program as a package manager does, write stand-in programs,
and look at which program a process runs."""

import os
import shutil
import stat
import subprocess
import time

from echodtest import ECHOD, ECHOD_FUTURE, ECHOD_NEXT  # noqa: F401


def version_of(program):
    """What 'program -V' says: "0.1.0" of "echod 0.1.0"."""
    out = subprocess.run([program, "-V"], capture_output=True, text=True,
                         timeout=10).stdout.split()
    return out[1]


def install(src, dst, mode=0o755):
    """Put a copy of 'src' at 'dst' the way dpkg does: written beside it,
    then renamed over it, so a process running the old file keeps it
    (its /proc/PID/exe then reads "(deleted)")."""
    tmp = dst + ".dpkg-new"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, mode)
    os.replace(tmp, dst)


def install_script(dst, text):
    """Install a shell script at 'dst' (as install() does)."""
    tmp = dst + ".dpkg-new"
    with open(tmp, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dst)


def runs(pid, path):
    """Whether process pid runs the file that is at 'path' now."""
    try:
        a, b = os.stat("/proc/%d/exe" % pid), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def exe_deleted(pid):
    """Whether the program pid runs was removed or replaced on disk."""
    return os.readlink("/proc/%d/exe" % pid).endswith(" (deleted)")


def fds_of(pid):
    """The descriptors of pid, settled: the fewest seen over 100 ms, so
    that a socket the master opens for a moment (each sd_notify() opens
    one) is not counted.  A sorted list of (fd, what it is)."""
    d = "/proc/%d/fd" % pid
    best = None
    for _ in range(20):
        now = []
        for f in os.listdir(d):
            try:
                now.append((int(f), os.readlink(os.path.join(d, f))))
            except OSError:
                pass
        if best is None or len(now) < len(best):
            best = sorted(now)
        time.sleep(0.005)
    return best


def memfd_inodes(pid, name):
    """Inodes of the memfds named 'name' that pid maps (from
    /proc/PID/maps): the same inode in two processes is the same memory."""
    out = set()
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                fl = line.split()
                if len(fl) >= 6 and fl[5] == "/memfd:" + name:
                    out.add(int(fl[4]))
    except OSError:
        pass
    return out


def executable(path):
    return bool(os.stat(path).st_mode & stat.S_IXUSR)
