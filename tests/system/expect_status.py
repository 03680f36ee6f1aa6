#!/usr/bin/env python3
"""Runs a command and passes only if it exits with STATUS and its output matches REGEX.

Usage: expect_status.py STATUS REGEX -- COMMAND [ARG...]. The harness self-tests use it to assert
that run_qemu.py fails, and fails for the right reason (a bare WILL_FAIL would pass on any crash).
"""
import re
import subprocess
import sys


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        print(__doc__)
        return 2
    want, pattern, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout, end="")
    ok = True
    if r.returncode != want:
        print(f"expect_status: exit status {r.returncode}, expected {want}")
        ok = False
    if not re.search(pattern, r.stdout, re.M):
        print(f"expect_status: output does not match {pattern!r}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
