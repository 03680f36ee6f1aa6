#!/usr/bin/env python3
"""Can this host run cxvisor's VMX backend under QEMU (make test-vmx)? QEMU's TCG does not emulate
VMX, so the x86_64 system tests reach VMX only through KVM with nested VMX: an Intel CPU with VT-x,
the kvm_intel module loaded with nested=1, and /dev/kvm usable by this user. Prints every missing
piece and exits 1 if any is missing (make test-vmx fails loudly: never a skip), 0 otherwise.
"""
import os
import sys

# The files are read under this root ("/" on a real run; a directory with fake /proc, /sys and /dev
# in tests/system/vmx_host_check_test.py).
ROOT = os.environ.get("CXV_VMX_CHECK_ROOT", "/")


def host_path(path):
    return os.path.join(ROOT, path.lstrip("/"))


def read(path):
    try:
        with open(host_path(path)) as f:
            return f.read()
    except OSError:
        return None


def missing():
    out = []
    cpuinfo = read("/proc/cpuinfo") or ""
    vendor = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("vendor_id")), "unknown")
    flags = next((ln.split(":", 1)[1].split() for ln in cpuinfo.splitlines() if ln.startswith("flags")), [])
    if vendor != "GenuineIntel":
        out.append(f"the CPU is {vendor}, not GenuineIntel: VMX (Intel VT-x) exists only on Intel CPUs "
                   "(an AMD host runs the SVM backend: make test)")
    elif "vmx" not in flags:
        out.append("the CPU reports no 'vmx' flag in /proc/cpuinfo: VT-x is off in the firmware or hidden by a hypervisor")
    nested = read("/sys/module/kvm_intel/parameters/nested")
    if nested is None:
        out.append("the kvm_intel module is not loaded (/sys/module/kvm_intel): `modprobe kvm_intel nested=1`")
    elif nested.strip() not in ("Y", "1"):
        out.append(f"kvm_intel runs with nested={nested.strip()}: reload it with `modprobe -r kvm_intel; modprobe kvm_intel nested=1`")
    if not os.path.exists(host_path("/dev/kvm")):
        out.append("/dev/kvm does not exist: KVM is not available")
    elif not os.access(host_path("/dev/kvm"), os.R_OK | os.W_OK):
        out.append("/dev/kvm is not readable and writable by this user (add it to the kvm group)")
    return out


if __name__ == "__main__":
    problems = missing()
    if problems:
        print("make test-vmx: this host cannot run cxvisor's VMX backend under QEMU/KVM:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        print("make test-vmx needs an Intel host with nested VMX (QEMU's TCG has no VMX); nothing was run.", file=sys.stderr)
        sys.exit(1)
    print("make test-vmx: Intel CPU with VMX, kvm_intel nested=1, /dev/kvm usable")
