#!/usr/bin/env python3
"""`make run` with stdin closed reaches the Linux shell prompt in time and stays up until killed.

Runs `make -C SOURCE run BUILD=BUILD [MAKE_ARGS, e.g. ARCH=riscv64] < /dev/null` (its own process group), reads its output and
passes when the Linux VM's shell prompt has appeared within --timeout seconds of the start (the
build step included: with everything built it is a no-op), the make/QEMU pair is still running
--hold seconds later without printing a PANIC, and killing the group leaves no process behind.
The output is kept in --log.
"""
import argparse
import os
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from procs import processes  # noqa: E402
from run_qemu import kill_group  # noqa: E402

# busybox's \w shows the home directory as /root (bookworm's 1.35, arm64) or ~ (trixie's 1.37, riscv64).
PROMPT = re.compile(rb"\[linux\] cxv-linux:(/root|~)#\r?\n")
BAD = re.compile(rb"PANIC|Kernel panic|Unable to handle kernel|unexpected EL2 exception|unexpected HS-mode exception")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True, help="the source tree (where the Makefile is)")
    ap.add_argument("--build", required=True, help="make's BUILD directory")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--hold", type=float, default=5)
    ap.add_argument("--log", required=True)
    ap.add_argument("make_args", nargs="*", help="more make arguments, e.g. JOBS=1")
    args = ap.parse_args()

    # Under `make test` ctest inherits make's jobserver settings; the inner make must not use them.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    cmd = ["make", "--no-print-directory", "-C", args.source, "run", f"BUILD={os.path.abspath(args.build)}"]
    cmd += args.make_args
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env)
    out = b""
    verdict, prompt_at = None, None
    try:
        while verdict is None:
            now = time.monotonic() - start
            if prompt_at is None and now > args.timeout:
                verdict = f"no shell prompt within {args.timeout:g} s"
                break
            if prompt_at is not None and now > prompt_at + args.hold:
                break  # held long enough
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                verdict = f"make run exited with status {proc.wait()} (it must stay up until killed)"
                break
            out += chunk
            if BAD.search(out):
                verdict = f"bad line: {BAD.search(out).group(0).decode()!r}"
            if prompt_at is None and PROMPT.search(out):
                prompt_at = now
        if verdict is None and proc.poll() is not None:
            verdict = f"make run exited with status {proc.returncode} after the prompt"
    finally:
        gone = kill_group(proc)
        with open(args.log, "wb") as f:
            f.write(out)
    left = [] if gone else [f"process group {proc.pid}"]
    run_image = os.path.join(os.path.abspath(args.build), "run")
    left += [f"pid {pid}" for pid, _, _, argv in processes() if any(run_image in a for a in argv)]
    if verdict is None and left:
        verdict = f"left behind: {', '.join(left)}"
    if verdict is None:
        print(f"PASS make-run: Linux shell prompt after {prompt_at:.1f} s with stdin closed; "
              f"still running {args.hold:g} s later; killed, nothing left")
        return 0
    print(f"FAIL make-run: {verdict}")
    print("---- output (last 40 lines) ----")
    print("\n".join(out.decode("utf-8", "replace").splitlines()[-40:]))
    print(f"---- full log: {args.log}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
