#!/usr/bin/env python3
"""Wall time from QEMU's start to a Linux guest's /init, under cxvisor and on plain QEMU.

For docs/benchmarks.md (not a test: nothing is asserted). Each round runs the same config both
ways, interleaved: cxvisor (-M virt,virtualization=on, the VM alone in the package, QEMU -smp
= the VM's vCPUs) and native (tests/linux/native.py: the same kernel, initramfs and generated
device tree on -M virt). Prints every run and the medians.

  tests/linux/boottime.py --build build [--rounds 3] [--config configs/vms/linux-smp.toml]
"""
import argparse
import os
import re
import select
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from run_qemu import kill_group  # noqa: E402
import machines  # noqa: E402

INIT = re.compile(rb"cxv-linux: init on")


def time_to_init(cmd, timeout):
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    buf = b""
    try:
        while time.monotonic() - start < timeout:
            if select.select([p.stdout], [], [], 0.05)[0]:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                if INIT.search(buf):
                    return time.monotonic() - start
        return None
    finally:
        kill_group(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--config", default="configs/vms/linux-smp.toml")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args()
    b = os.path.abspath(args.build)
    vmconfig = f"{b}/host/tools/vmconfig/cxv-vmconfig"
    boot = f"{b}/run/boottime.bin"
    os.makedirs(os.path.dirname(boot), exist_ok=True)
    subprocess.run([vmconfig, "--cpus", str(args.smp), "--search-path", f"{b}/linux", "--image",
                    f"{b}/aarch64/src/cxvisor.bin", "-o", boot, args.config], check=True)
    cxv = machines.host(args.smp, "1G") + ["-kernel", boot]
    # Native: native.py writes the kernel, initramfs and tree once; each round runs QEMU alone.
    native = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "native.py"), "--vmconfig",
                             vmconfig, "--search-path", f"{b}/linux", "--workdir", f"{b}/run/boottime-native",
                             "--dry-run", args.config], check=True, capture_output=True, text=True).stdout.split("\n")
    native = [a for a in native if a]
    got = {"cxvisor": [], "native": []}
    for r in range(args.rounds):
        for name, cmd in (("native", native), ("cxvisor", cxv)):
            t = time_to_init(cmd, args.timeout)
            print(f"round {r + 1}: {name:8s} {'timeout' if t is None else f'{t:.2f} s'}", flush=True)
            if t is not None:
                got[name].append(t)
    if got["native"] and got["cxvisor"]:
        n, c = statistics.median(got["native"]), statistics.median(got["cxvisor"])
        print(f"median to /init: native {n:.2f} s, cxvisor {c:.2f} s, ratio {c / n:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
