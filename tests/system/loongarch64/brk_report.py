#!/usr/bin/env python3
"""Exception report test for the loongarch64 image (system.loongarch64-exception-report).

cxvisor cannot be made to fault from outside on QEMU's LoongArch virt (no NMI), so this plants a
`break 0` (LoongArch Reference Manual Vol. 1 v1.10, 4.2.10.6: BRK exception, Ecode 0xC) over the
first instruction of a function the boot CPU runs once paging is on (arch::host_irq_init), in a copy
of the boot image, and runs the copy with run_qemu.py: cxvisor must report the exception with its
code, name, ERA and BADV (both the function's address) and stop. The address comes from the image's
own symbols (llvm-nm-19); the file offset from the image's ELF header (p_vaddr of its one PT_LOAD,
which starts at file offset 0: src/arch/loongarch64/boot.S).
"""
import argparse
import os
import struct
import subprocess
import sys

BREAK_0 = 0x002A0000

ap = argparse.ArgumentParser()
ap.add_argument("--elf", required=True)
ap.add_argument("--image", required=True)
ap.add_argument("--symbol", default="arch::host_irq_init(HostPlatform const&)")
ap.add_argument("--workdir", required=True)
ap.add_argument("run_qemu_args", nargs=argparse.REMAINDER)
args = ap.parse_args()

nm = subprocess.run(["llvm-nm-19", "-C", args.elf], check=True, capture_output=True, text=True).stdout
addr = next((int(line.split()[0], 16) for line in nm.splitlines() if line.endswith(" " + args.symbol)), None)
if addr is None:
    sys.exit(f"brk_report.py: {args.symbol} not in {args.elf}")
image = bytearray(open(args.image, "rb").read())
if image[:4] != b"\x7fELF":
    sys.exit(f"brk_report.py: {args.image} does not start with the image's ELF header")
load = struct.unpack_from("<Q", image, 0x50)[0]
struct.pack_into("<I", image, addr - load, BREAK_0)
os.makedirs(args.workdir, exist_ok=True)
patched = os.path.join(args.workdir, "loongarch64-brk.bin")
with open(patched, "wb") as f:
    f.write(image)
expect = (f"cxvisor PANIC on cpu 0: loongarch64: exception ECODE 0xc \\(EsubCode 0: BRK: breakpoint\\) in cxvisor "
          f"at ERA {addr:x}: BADV {addr:x} BADI [0-9a-f]+ PRMD [0-9a-f]+ ra [0-9a-f]+ sp [0-9a-f]+")
run = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "run_qemu.py")
rest = [a for a in args.run_qemu_args if a != "--"]
sys.exit(subprocess.call([sys.executable, run, "--image", patched, "--workdir", args.workdir, "--expect", expect] + rest))
