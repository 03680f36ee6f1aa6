#!/usr/bin/env python3
"""Fails (and cleans up) when a test left a QEMU behind.

Usage: leftovers.py DIR [DIR...]. Lists every live process whose command line contains one of the
DIRs and that is a QEMU (argv[0] named qemu-system-*) or one of the harness self-tests' fake
consoles (fake_console.py); the test harnesses put their boot images and logs under the build
directory, so these are the ones our tests started. Any such process is reported, killed with
SIGKILL, and the exit status is 1. ctest runs this as the cleanup of the qemu_procs fixture
(system.no-leftover-qemu); scripts/soak.py runs it on its own build directory.
"""
import os
import signal
import sys

from procs import processes


def leftovers(dirs):
    found = []
    for pid, _, _, argv in processes():
        if pid == os.getpid() or not argv:
            continue
        ours = os.path.basename(argv[0]).startswith("qemu-system-") or any("fake_console.py" in a for a in argv)
        if ours and any(x in " ".join(argv) for x in dirs):
            found.append((pid, " ".join(argv)))
    return found


def check(dirs):
    """Reports and kills what leftovers() finds; True when nothing was left."""
    dirs = [os.path.abspath(d) for d in dirs]
    found = leftovers(dirs)
    for pid, cmd in found:
        print(f"left behind: pid {pid}: {cmd}")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if found:
        print(f"FAIL: {len(found)} process(es) left behind under {', '.join(dirs)} (killed now)")
        return False
    print(f"no QEMU left behind under {', '.join(dirs)}")
    return True


def main():
    if len(sys.argv) < 2:
        print("usage: leftovers.py DIR [DIR...]")
        return 2
    return 0 if check(sys.argv[1:]) else 1


if __name__ == "__main__":
    sys.exit(main())
