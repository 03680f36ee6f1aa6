"""The QEMU machine of each ISA cxvisor runs on: the one place the system tests, `make bench`,
the boot profiles and the Linux scripts take a QEMU command line from (docs/porting.md).

host(...): the machine cxvisor boots on (virtualization extensions on); native(...): the same
machine without them, for a guest run directly on QEMU (the bench baselines, tests/linux/native.py).
The ISA is CXV_ARCH from the environment (the Makefile exports it), aarch64 by default. A port adds
one row to MACHINES.
"""
import os

MACHINES = {
    "aarch64": {
        "qemu": "qemu-system-aarch64",
        "host_machine": "virt,virtualization=on,gic-version=3",
        "native_machine": "virt,gic-version=3",
        "cpu": "cortex-a72",
        "blk_device": "virtio-blk-device",  # a virtio-mmio disk (cxvisor's host disk, QEMU's own for baselines)
        "console": "ttyAMA0",               # Linux's name for the board's console UART
        "ram_base": 0x4000_0000,             # where QEMU virt's RAM starts
    },
    "riscv64": {
        "qemu": "qemu-system-riscv64",
        "host_machine": "virt",              # the rv64 CPU has the H extension on by default
        "native_machine": "virt",
        "cpu": "rv64",
        # OpenSBI (trixie's package, scripts/linux-guest.sh firmware): cxvisor is its payload, in
        # HS-mode. Not QEMU 7.2's -bios default (OpenSBI 1.1, whose hart_start race hangs a
        # secondary hart now and then).
        "firmware": "fw_dynamic.bin",
        "blk_device": "virtio-blk-device",
        "console": "ttyS0",
        "ram_base": 0x8000_0000,
        # The firmware (OpenSBI) boots from the machine's own device tree, which must describe what
        # it drives (CLINT, the PLIC's M contexts): a guest tree cannot replace it on the native run.
        "native_guest_dtb": False,
    },
    "x86_64": {
        "qemu": "qemu-system-x86_64",
        # QEMU's i440FX PC with SeaBIOS; cxvisor.bin goes in through -kernel as a Multiboot image
        # (docs/porting.md "x86_64"). No KVM here: TCG emulates AMD SVM with nested paging.
        "host_machine": "pc,accel=tcg",
        "native_machine": "pc,accel=tcg",
        "cpu": "qemu64,+svm,+npt",
        "blk_device": "virtio-blk-pci",
        "console": "ttyS0",
        "ram_base": 0,
    },
    "loongarch64": {
        "qemu": "qemu-system-loongarch64",
        # Stock QEMU has no LVZ. make test-lvz and make run QEMU_LVZ=<path> name a QEMU that emulates
        # it (README "LVZ tests"): this variable then holds its path and replaces "qemu".
        "qemu_env": "CXV_QEMU_LVZ",
        # QEMU's LoongArch virt board with no firmware: cxvisor.bin starts with an ELF header, which
        # is what its -kernel loads (docs/porting.md "loongarch64"). Stock QEMU has no LVZ (the
        # virtualization extension): the host runtime runs, VMs are refused.
        "host_machine": "virt",
        "native_machine": "virt",
        "cpu": "la464",
        "blk_device": "virtio-blk-pci",
        "console": "ttyS0",
        "ram_base": 0,
    },
}


# `make test-vmx` (CXV_X86_VMX=1): the x86_64 machine under KVM on an Intel host with nested VMX,
# so cxvisor chooses its VMX backend (docs/porting.md "VMX"). scripts/vmx-host-check.py has checked
# the host first; the boot line must then name VMX (vmx_expectations).
VMX_X86_64 = {"host_machine": "pc,accel=kvm", "native_machine": "pc,accel=kvm", "cpu": "host,+vmx"}


def arch():
    return os.environ.get("CXV_ARCH", "aarch64")


def vmx_mode(isa=None):
    return (isa or arch()) == "x86_64" and os.environ.get("CXV_X86_VMX") == "1"


def vmx_expectations(isa=None):
    """Console lines a run must show in VMX mode (none otherwise): the backend cxvisor chose."""
    return [r"cxvisor: x86_64: virtualization backend VMX on GenuineIntel"] if vmx_mode(isa) else []


def machine(isa=None):
    isa = isa or arch()
    if isa not in MACHINES:
        raise SystemExit(f"machines.py: no QEMU machine for ISA {isa!r} (known: {', '.join(MACHINES)})")
    return {**MACHINES[isa], **VMX_X86_64} if vmx_mode(isa) else MACHINES[isa]


def qemu_binary(isa=None):
    """The ISA's QEMU: the one its "qemu_env" variable names when that is set, else "qemu"."""
    m = machine(isa)
    override = os.environ.get(m.get("qemu_env", ""), "") if "qemu_env" in m else ""
    if override and not (os.path.isfile(override) and os.access(override, os.X_OK)):
        raise SystemExit(f"machines.py: {m['qemu_env']}={override} is not an executable file")
    return override or m["qemu"]


def firmware(isa=None):
    """The firmware the ISA's machine runs below the kernel (riscv64: OpenSBI), or None.

    It lives in <build>/firmware/<isa>/ (<build> is CXV_BUILD_ROOT, which the Makefile exports, else
    the checkout's build/); the build fetches it (make firmware, or the host build's firmware target).
    """
    isa = isa or arch()
    m = machine(isa)
    if "firmware" not in m:
        return None
    root = os.environ.get("CXV_BUILD_ROOT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    path = os.path.normpath(os.path.join(root, "firmware", isa, m["firmware"]))
    if not os.path.isfile(path):
        raise SystemExit(f"machines.py: the {isa} firmware {path} is missing: `make firmware ARCH={isa}` "
                         f"(scripts/linux-guest.sh --build <BUILD> --arch {isa} firmware) fetches it")
    return path


def cpu_with(features, isa=None):
    """The machine's -cpu with QEMU feature flags added or taken away ("+xsave,+avx", "-xsave"), on
    whichever CPU model the mode runs (x86_64: TCG's qemu64 with SVM, or make test-vmx's KVM host CPU
    with VMX), so that a row needing a CPU feature keeps its backend."""
    base = machine(isa)["cpu"]
    return f"{base},{features}" if features else base


def _cmd(kind, smp, mem, cpu, isa):
    m = machine(isa)
    fw = firmware(isa)
    bios = ["-bios", fw] if fw else []  # firmware below the kernel, where the ISA has one
    return [qemu_binary(isa), "-M", m[kind], "-cpu", cpu or m["cpu"], *bios, "-smp", str(smp), "-m", str(mem),
            "-nographic", "-nic", "none"]


def host(smp, mem="1G", cpu=None, isa=None):
    """QEMU for cxvisor: add -kernel <boot image> and what else the run needs."""
    return _cmd("host_machine", smp, mem, cpu, isa)


def native(smp, mem, cpu=None, isa=None):
    """QEMU for a guest run directly on the machine, at the kernel level (no hypervisor)."""
    return _cmd("native_machine", smp, mem, cpu, isa)


def disk(path, ident="cxvdisk", isa=None):
    """A raw disk image as the machine's virtio-blk device."""
    return ["-drive", f"file={path},format=raw,if=none,id={ident}", "-device", f"{machine(isa)['blk_device']},drive={ident}"]


# The fw_cfg file name cxvisor reads a VM package from (src/vmm/boot_medium.hpp kPackageFile).
PACKAGE_FW_CFG = "opt/cxvisor/package"


def package_medium(path):
    """The VM package file `path` (cxv-vmconfig without --image) on the boot medium: a fw_cfg file."""
    return ["-fw_cfg", f"name={PACKAGE_FW_CFG},file={path}"]


def console(isa=None):
    return machine(isa)["console"]


if __name__ == "__main__":
    # `python3 machines.py host SMP MEM`: the host command line for the Makefile (make run, debug).
    import shlex
    import sys
    # `python3 machines.py package-medium FILE`: QEMU's arguments for a VM package on the boot medium.
    if len(sys.argv) == 3 and sys.argv[1] == "package-medium":
        print(shlex.join(package_medium(sys.argv[2])))
        sys.exit(0)
    if len(sys.argv) != 4 or sys.argv[1] not in ("host", "native"):
        raise SystemExit("usage: machines.py host|native SMP MEM | machines.py package-medium FILE")
    print(shlex.join((host if sys.argv[1] == "host" else native)(sys.argv[2], sys.argv[3])))
