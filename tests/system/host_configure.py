#!/usr/bin/env python3
"""`make run ARCH=<isa>` (and bench, debug, soak: everything that needs `tools`) configures the host
build. The host build's system tests boot the aarch64 images from CXV_IMAGE_DIR, so that
configuration must name the aarch64 image directory whatever ARCH says: it once took ARCH's, and
after a `make run ARCH=riscv64` (which the rv-run-exit-status tests do) every aarch64 system test
of the next ctest run booted riscv64 images. Checked on the command `make -n` prints (nothing runs)."""
import os, re, subprocess, sys

src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
build = "/nonexistent/cxv-build"
bad = []
for isa in ("aarch64", "riscv64", "x86_64", "loongarch64"):
    out = subprocess.run(["make", "-n", "--no-print-directory", "-C", src, "host-configure", f"ARCH={isa}",
                          f"BUILD={build}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    m = re.search(r"-DCXV_IMAGE_DIR=(\S+)", out)
    got = m.group(1) if m else "(no -DCXV_IMAGE_DIR in: " + out.strip()[-200:] + ")"
    if got != build + "/aarch64":
        bad.append(f"ARCH={isa}: CXV_IMAGE_DIR={got}, expected {build}/aarch64")
if bad:
    print("FAIL host-configure: " + "; ".join(bad))
    sys.exit(1)
print("PASS host-configure: the host build's test images are the aarch64 ones for every ARCH")
