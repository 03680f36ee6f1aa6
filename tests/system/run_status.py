#!/usr/bin/env python3
"""A scriptable run through the Makefile's real run path, judged by its exit status and console.

Runs `scripts/run BUILD=.. RUN_DIR=.. RUN_TIMEOUT=.. MAKE_VARS...` (which runs `make run`, which
runs QEMU through scripts/run) with stdin at /dev/null, in its own process group, and passes when:
  - its exit status is --status;
  - every --expect regex appears in the console log (RUN_DIR/console.log, QEMU's own copy of the
    console, read after QEMU has exited: the run is read to its end);
  - no --reject regex (by default also PANIC, a guest's TEST x FAIL, an unexpected EL2 exception
    or interrupt; --no-default-reject drops those) matches a line of it;
  - nothing of the process group is left afterwards.
Usage: run_status.py --source SRC --build BUILD --run-dir DIR --status N [--expect R]... [--reject R]...
                     [--no-default-reject] [--timeout S] -- MAKE_VAR=value...
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procs import group_members  # noqa: E402
from run_qemu import DEFAULT_REJECT, kill_group  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True, help="make's BUILD directory")
    ap.add_argument("--run-dir", required=True, help="this test's RUN_DIR (boot image and console log)")
    ap.add_argument("--status", type=int, required=True)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--no-default-reject", action="store_true")
    ap.add_argument("--timeout", type=float, default=60, help="RUN_TIMEOUT: QEMU's limit (s)")
    ap.add_argument("make_vars", nargs="*")
    args = ap.parse_args()

    run_dir = os.path.abspath(args.run_dir)
    os.makedirs(run_dir, exist_ok=True)
    log = os.path.join(run_dir, "console.log")
    if os.path.exists(log):
        os.remove(log)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    cmd = [os.path.join(args.source, "scripts", "run"), f"BUILD={os.path.abspath(args.build)}",
           f"RUN_DIR={run_dir}", f"RUN_TIMEOUT={args.timeout:g}", "JOBS=1", *args.make_vars]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env)
    try:
        out, _ = proc.communicate(timeout=args.timeout + 120)  # the build step is a no-op when built
    except subprocess.TimeoutExpired:
        out = b""
    took = time.monotonic() - start
    status = proc.returncode
    gone = kill_group(proc) and not group_members(proc.pid)
    try:
        with open(log, "rb") as f:
            console = f.read().decode("utf-8", "replace").replace("\r", "")
    except OSError:
        console = ""
    lines = console.split("\n")

    problems = []
    if status != args.status:
        problems.append(f"exit status {status}, expected {args.status}")
    for e in args.expect:
        if not any(re.search(e, line) for line in lines):
            problems.append(f"never seen: {e!r}")
    rejects = args.reject + ([] if args.no_default_reject else DEFAULT_REJECT)
    for line in lines:
        for r in rejects:
            if re.search(r, line):
                problems.append(f"rejected line: {line!r}")
    if not gone:
        problems.append("a process of the run was left behind")
    name = os.path.basename(run_dir)
    if not problems:
        print(f"PASS {name}: exit status {status} in {took:.1f} s")
        return 0
    print(f"FAIL {name}: " + "; ".join(problems))
    print("---- scripts/run output (last 30 lines) ----")
    print("\n".join(out.decode("utf-8", "replace").splitlines()[-30:]))
    print("---- console (last 40 lines) ----")
    print("\n".join(lines[-40:]))
    print(f"---- full console log: {log}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
