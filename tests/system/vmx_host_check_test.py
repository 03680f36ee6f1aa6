#!/usr/bin/env python3
"""make test-vmx's gate and machine row (scripts/vmx-host-check.py, tests/system/machines.py) on
fake hosts: an AMD machine like the development one, an Intel one without nested VMX, and one that
has everything. The gate must fail naming each missing piece and pass only the complete host; the
x86_64 machine must switch to KVM with a VMX CPU only under CXV_X86_VMX=1."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "..", "..", "scripts", "vmx-host-check.py")
sys.path.insert(0, HERE)
import machines  # noqa: E402


def fake_host(root, vendor, flags, nested, kvm):
    os.makedirs(os.path.join(root, "proc"))
    with open(os.path.join(root, "proc", "cpuinfo"), "w") as f:
        f.write(f"processor\t: 0\nvendor_id\t: {vendor}\nflags\t\t: {' '.join(flags)}\n")
    if nested is not None:
        d = os.path.join(root, "sys", "module", "kvm_intel", "parameters")
        os.makedirs(d)
        with open(os.path.join(d, "nested"), "w") as f:
            f.write(nested + "\n")
    if kvm:
        os.makedirs(os.path.join(root, "dev"))
        open(os.path.join(root, "dev", "kvm"), "w").close()


def check(root):
    env = dict(os.environ, CXV_VMX_CHECK_ROOT=root)
    r = subprocess.run([sys.executable, CHECK], capture_output=True, text=True, env=env)
    return r.returncode, r.stdout + r.stderr


failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


with tempfile.TemporaryDirectory() as tmp:
    amd = os.path.join(tmp, "amd")
    fake_host(amd, "AuthenticAMD", ["svm", "npt"], None, True)
    rc, out = check(amd)
    expect(rc == 1, f"AMD host: status {rc}, want 1")
    expect("not GenuineIntel" in out and "kvm_intel module is not loaded" in out, f"AMD host: {out!r}")

    no_nested = os.path.join(tmp, "intel-no-nested")
    fake_host(no_nested, "GenuineIntel", ["vmx", "ept"], "N", True)
    rc, out = check(no_nested)
    expect(rc == 1 and "nested=N" in out, f"Intel without nested: status {rc}, {out!r}")

    no_vmx = os.path.join(tmp, "intel-no-vmx")
    fake_host(no_vmx, "GenuineIntel", ["sse2"], "Y", False)
    rc, out = check(no_vmx)
    expect(rc == 1 and "no 'vmx' flag" in out and "/dev/kvm does not exist" in out, f"Intel without VT-x: {out!r}")

    good = os.path.join(tmp, "intel")
    fake_host(good, "GenuineIntel", ["vmx", "ept"], "Y", True)
    rc, out = check(good)
    expect(rc == 0, f"complete Intel host: status {rc}, {out!r}")

os.environ.pop("CXV_X86_VMX", None)
tcg = machines.host(2, isa="x86_64")
expect("pc,accel=tcg" in tcg and "qemu64,+svm,+npt" in tcg and not machines.vmx_expectations("x86_64"), f"default row: {tcg}")
# A row's CPU features (run_qemu.py --cpu-features) go onto the mode's own CPU model.
expect(machines.cpu_with("+xsave,+avx", "x86_64") == "qemu64,+svm,+npt,+xsave,+avx", "TCG row with features")
expect(machines.cpu_with("", "x86_64") == "qemu64,+svm,+npt", "TCG row without features")
os.environ["CXV_X86_VMX"] = "1"
kvm = machines.host(2, isa="x86_64")
expect("pc,accel=kvm" in kvm and "host,+vmx" in kvm, f"VMX row: {kvm}")
expect(machines.cpu_with("-xsave", "x86_64") == "host,+vmx,-xsave", "VMX row with features keeps the host CPU")
expect(machines.vmx_expectations("x86_64") == [r"cxvisor: x86_64: virtualization backend VMX on GenuineIntel"],
       "VMX mode must expect the VMX boot line")
expect(machines.host(2, isa="aarch64") == machines.host(2, isa="aarch64") and "accel=kvm" not in " ".join(machines.host(2, isa="aarch64")),
       "other ISAs must not change in VMX mode")

if failures:
    print("FAIL vmx-host-check: " + "; ".join(failures))
    sys.exit(1)
print("PASS vmx-host-check: AMD, Intel without nested, Intel without VT-x refused; complete host accepted; machine rows")
