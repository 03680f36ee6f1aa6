#!/usr/bin/env python3
"""Runs a command and passes only if it exits with STATUS and its output matches REGEX.

Usage: expect_status.py [--term-when PATH] STATUS REGEX -- COMMAND [ARG...]
The harness self-tests use it to assert that run_qemu.py fails, and fails for the right reason (a
bare WILL_FAIL would pass on any crash). With --term-when, the command gets SIGTERM as soon as PATH
exists and is not empty (as ctest or a user stopping a run would send it).
"""
import os
import re
import signal
import subprocess
import sys
import time


def main():
    args = sys.argv[1:]
    term_when = None
    if args[:1] == ["--term-when"]:
        term_when, args = args[1], args[2:]
    if len(args) < 4 or args[2] != "--":
        print(__doc__)
        return 2
    want, pattern, cmd = int(args[0]), args[1], args[3:]
    if term_when and os.path.exists(term_when):
        os.remove(term_when)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if term_when:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            if os.path.exists(term_when) and os.path.getsize(term_when) > 0:
                p.send_signal(signal.SIGTERM)
                break
            time.sleep(0.05)
    out = p.communicate()[0]
    print(out, end="")
    ok = True
    if p.returncode != want:
        print(f"expect_status: exit status {p.returncode}, expected {want}")
        ok = False
    if not re.search(pattern, out, re.M):
        print(f"expect_status: output does not match {pattern!r}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
