#!/usr/bin/env python3
"""Boot cxvisor on QEMU with a set of VM configs and judge the serial console.

A run passes when every --expect pattern has appeared (each a regex, any order) and no --reject
pattern has; it fails on a reject pattern, on QEMU exiting early, or at the hard --timeout.
Default reject patterns catch hypervisor panics and any guest "TEST <name> FAIL".
The console log is kept next to the boot image for post-mortems.
"""
import argparse
import os
import re
import select
import subprocess
import sys
import time

DEFAULT_REJECT = [r"PANIC", r"TEST \S+ FAIL", r"unexpected EL2 exception", r"unexpected interrupt"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--vmconfig", required=True, help="path to cxv-vmconfig")
    ap.add_argument("--vmconfig-arg", action="append", default=[],
                    help="extra cxv-vmconfig option, e.g. --vmconfig-arg=--no-host-check")
    ap.add_argument("--image", required=True, help="cxvisor.bin")
    ap.add_argument("--guests", required=True, help="directory with the guest binaries")
    ap.add_argument("--configs", required=True, help="directory with the VM .toml files")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--vm", action="append", default=[], help="config name (without .toml)")
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--no-default-reject", action="store_true")
    ap.add_argument("--send", action="append", default=[],
                    help="REGEX=>TEXT: once REGEX has appeared, type TEXT (\\r, \\x1c escapes allowed)")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--qemu-extra", default="")
    args = ap.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    boot = os.path.join(args.workdir, f"{args.name}.bin")
    log_path = os.path.join(args.workdir, f"{args.name}.log")
    configs = [os.path.join(args.configs, v + ".toml") for v in args.vm]
    cmd = [args.vmconfig, "--cpus", str(args.smp), "--search-path", args.guests, "--image", args.image,
           "-o", boot] + args.vmconfig_arg + configs
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print("cxv-vmconfig failed:\n" + r.stdout + r.stderr)
        return 1

    qemu = ["qemu-system-aarch64", "-M", "virt,virtualization=on,gic-version=3", "-cpu", "cortex-a72",
            "-smp", str(args.smp), "-m", args.mem, "-nographic", "-nic", "none", "-kernel", boot]
    qemu += args.qemu_extra.split()
    expect = [re.compile(p) for p in args.expect]
    reject = [re.compile(p) for p in args.reject + ([] if args.no_default_reject else DEFAULT_REJECT)]
    sends = []
    for s in args.send:
        pat, text = s.split("=>", 1)
        sends.append([re.compile(pat), text.encode().decode("unicode_escape").encode("latin-1"), False])

    seen = [False] * len(expect)
    start = time.monotonic()
    proc = subprocess.Popen(qemu, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = b""
    lines = []
    verdict = None
    with open(log_path, "wb") as log:
        while verdict is None:
            left = args.timeout - (time.monotonic() - start)
            if left <= 0:
                verdict = f"timeout after {args.timeout:.0f} s"
                break
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.5))
            if not ready:
                if proc.poll() is not None:
                    verdict = f"QEMU exited with status {proc.returncode}"
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                verdict = f"QEMU exited with status {proc.wait()}"
                break
            log.write(chunk)
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                lines.append(line)
                for p in reject:
                    if p.search(line):
                        verdict = f"rejected line: {line!r}"
                for i, p in enumerate(expect):
                    if not seen[i] and p.search(line):
                        seen[i] = True
                for s in sends:
                    if not s[2] and s[0].search(line):
                        s[2] = True
                        time.sleep(0.05)
                        for b in s[1]:
                            proc.stdin.write(bytes([b]))
                            proc.stdin.flush()
                            time.sleep(0.01)
                if verdict is None and all(seen):
                    verdict = "ok"
    elapsed = time.monotonic() - start
    proc.kill()
    proc.wait()
    if verdict == "ok":
        print(f"PASS {args.name} ({elapsed:.1f} s, {len(lines)} console lines)")
        return 0
    print(f"FAIL {args.name}: {verdict} ({elapsed:.1f} s)")
    missing = [args.expect[i] for i, s in enumerate(seen) if not s]
    if missing:
        print("never seen: " + ", ".join(repr(m) for m in missing))
    print("---- console (last 60 lines) ----")
    print("\n".join(lines[-60:] + ([buf.decode("utf-8", "replace")] if buf else [])))
    print(f"---- full log: {log_path}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
