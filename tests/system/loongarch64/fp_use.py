#!/usr/bin/env python3
"""Only fp_context.S touches FP/vector registers in the loongarch64 image (system.loongarch64-fp-use).

A guest's f0-f31 / vr0-vr31 / xr0-xr31, FCC0-7 and FCSR0 stay live in the core while cxvisor runs
between its exits, and are saved only at put() (src/arch/loongarch64/fp_context.hpp): any other
instruction of cxvisor that names one of them would corrupt or leak a guest's values. The image is
built soft-float, but inline assembly, a per-file flag or a compiler change could still bring them
in. This disassembles the image (llvm-objdump-19) and fails naming every instruction outside
cxv_la_fp_save / cxv_la_fp_restore whose operands name an FP or vector register, FCC or FCSR
(LoongArch Reference Manual Vol. 1 v1.10, chapter 3), and checks that those two functions move all
32 registers at each width, the 8 flags and FCSR0.
"""
import argparse
import re
import subprocess
import sys

ALLOWED = ("cxv_la_fp_save", "cxv_la_fp_restore")
# objdump names FP registers by their ABI aliases ($fa0-7, $ft0-15, $fs0-7) or $f<n>.
FP_OPERAND = re.compile(r"\$(f[ats]?\d+|vr\d+|xr\d+|fcc\d|fcsr\d)\b")
FUNC = re.compile(r"^[0-9a-f]+ <(.+)>:$")
INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")

ap = argparse.ArgumentParser()
ap.add_argument("--elf", required=True)
ap.add_argument("--objdump", default="llvm-objdump-19")
args = ap.parse_args()

out = subprocess.run([args.objdump, "-d", "-C", "--no-show-raw-insn", args.elf], check=True, capture_output=True,
                     text=True).stdout
func = None
stray = []
counts = {name: {} for name in ALLOWED}
for line in out.splitlines():
    m = FUNC.match(line)
    if m:
        func = m.group(1)
        continue
    m = INSN.match(line)
    if not m or not FP_OPERAND.search(m.group(3)):
        continue
    if func in ALLOWED:
        counts[func][m.group(2)] = counts[func].get(m.group(2), 0) + 1
    else:
        stray.append(f"  {func} at {m.group(1)}: {m.group(2)} {m.group(3)}")

want = {
    "cxv_la_fp_save": {"fst.d": 32, "vst": 32, "xvst": 32, "movcf2gr": 8, "movfcsr2gr": 1},
    "cxv_la_fp_restore": {"fld.d": 32, "vld": 32, "xvld": 32, "movgr2cf": 8, "movgr2fcsr": 1},
}
ok = True
if stray:
    ok = False
    print(f"FAIL: {len(stray)} instruction(s) outside {' and '.join(ALLOWED)} use FP/vector registers:")
    print("\n".join(stray[:20]))
for name, w in want.items():
    if counts[name] != w:
        ok = False
        print(f"FAIL: {name} moves {counts[name] or 'nothing'}, expected {w}")
if not ok:
    sys.exit(1)
total = sum(sum(c.values()) for c in counts.values())
print(f"PASS: the only FP/vector instructions in {args.elf} are the {total} of {' and '.join(ALLOWED)}")
