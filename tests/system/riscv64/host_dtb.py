"""The device tree QEMU's riscv64 virt gives its firmware, with every cpu node's mmu-type replaced:
a board whose harts say they translate less than QEMU's (system.rv-gstage-sv39x4 boots cxvisor on
it with QEMU's -dtb). The tree comes from the same QEMU command line the test boots (machines.py,
the same -smp and -m), dumped with -machine dumpdtb; fdtput (device-tree-compiler) edits it.

usage: host_dtb.py --smp N --mem SIZE --mmu-type riscv,sv39 -o OUT.dtb
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import machines  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smp", type=int, required=True)
    ap.add_argument("--mem", required=True)
    ap.add_argument("--mmu-type", required=True)
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    tmp = args.out + ".tmp"
    cmd = machines.host(args.smp, args.mem, isa="riscv64") + ["-machine", f"dumpdtb={tmp}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not os.path.exists(tmp):
        raise SystemExit(f"host_dtb.py: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    cpus = subprocess.run(["fdtget", "-l", tmp, "/cpus"], capture_output=True, text=True, check=True).stdout.split()
    harts = [c for c in cpus if c.startswith("cpu@")]
    if len(harts) != args.smp:
        raise SystemExit(f"host_dtb.py: {tmp} lists {len(harts)} harts, expected {args.smp}")
    for c in harts:
        subprocess.run(["fdtput", "-t", "s", tmp, f"/cpus/{c}", "mmu-type", args.mmu_type], check=True)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
