#!/usr/bin/env python3
"""Boot a Linux VM config directly on QEMU, without cxvisor: the reference run.

Builds the config with cxv-vmconfig into a package (without the hypervisor image), takes the VM's
kernel, initramfs and the device tree cxv-vmconfig generated out of it, and boots them on plain
QEMU virt (the ISA's machine from tests/system/machines.py, CXV_ARCH; as many CPUs and as much RAM as the VM has): what the guest does
there is what it should do under cxvisor. The console goes to stdout; QEMU ends when the guest
powers off (-no-reboot turns a reset into an exit too) or after --timeout seconds.

  tests/linux/native.py --vmconfig build/host/tools/vmconfig/cxv-vmconfig \\
      --search-path build/linux configs/vms/linux-smp.toml [--dump-dtb out.dtb] [--timeout 120]

QEMU patches the tree's /chosen initrd range (it places the initramfs itself) and adds its own
/memory node when the tree has none at RAM base; everything else (cpus, psci, GIC, timer, PL011,
bootargs) is cxv-vmconfig's. Where the machine's firmware needs QEMU's own tree (riscv64: OpenSBI;
machines.py native_guest_dtb), that tree is used and the VM's cmdline goes in with -append.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
import machines  # noqa: E402

HEADER = struct.Struct("<IIQIIQIIQ")  # version 5: ..., isa, reserved, resident_size
# vm_package::VmRecord, version 5 (src/abi/vm_package.hpp; the layout of version 3): version 2's
# fields, then shm_count, reserved0 and the offset of the shared-memory records.
RECORD = struct.Struct("<II32s16IQQQQQQQQQQQIIQIIQQQQIIIIQ")
REGION = struct.Struct("<QQII")
MAGIC, VERSION = 0x50565843, 5


def unpack(pkg):
    magic, version, _total, count, rec_size, rec_off, _isa, _reserved, _resident = HEADER.unpack_from(pkg, 0)
    if magic != MAGIC or version != VERSION or rec_size != RECORD.size:
        sys.exit(f"native.py: not a version {VERSION} package (magic {magic:#x}, version {version}, "
                 f"record {rec_size} bytes, expected {RECORD.size})")
    vms = []
    for i in range(count):
        f = RECORD.unpack_from(pkg, rec_off + i * RECORD.size)
        name = f[2].split(b"\0")[0].decode()
        cpu_num = f[1]
        entry, kload, rload, dload = f[19:23]
        blobs = [pkg[o:o + s] for o, s in (f[23:25], f[25:27], f[27:29])]
        cmdline_off = f[29]
        region_count, regions = f[31], f[32]
        ram = [REGION.unpack_from(pkg, regions + j * REGION.size) for j in range(region_count)]
        cmdline = pkg[cmdline_off:pkg.index(b"\0", cmdline_off)].decode() if cmdline_off else ""
        vms.append(dict(name=name, cpus=cpu_num, entry=entry, kernel_addr=kload, kernel=blobs[0],
                        ramdisk=blobs[1], dtb=blobs[2], regions=ram, cmdline=cmdline))
    return vms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmconfig", required=True)
    ap.add_argument("--search-path", action="append", default=[])
    ap.add_argument("--dump-dtb", help="also write the generated device tree here")
    ap.add_argument("--timeout", type=float, default=0, help="kill QEMU after this many seconds (0: never)")
    ap.add_argument("--smp", type=int, help="QEMU CPUs (default: the VM's vCPUs)")
    ap.add_argument("--workdir", help="keep the package, kernel, initramfs and tree here (default: a "
                    "temporary directory); the system tests give theirs, where leftovers.py looks")
    ap.add_argument("--dry-run", action="store_true",
                    help="only write the files (give --workdir) and print the QEMU command, one argument a line")
    ap.add_argument("config")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="cxv-native-") as scratch:
        tmp = scratch
        if args.workdir:
            tmp = os.path.abspath(args.workdir)
            os.makedirs(tmp, exist_ok=True)
        pkg_path = os.path.join(tmp, "package.bin")
        cmd = [args.vmconfig, "--arch", machines.arch(), "--cpus", "16", "-o", pkg_path, args.config]
        for s in args.search_path:
            cmd[1:1] = ["--search-path", s]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("cxv-vmconfig failed:\n" + r.stdout + r.stderr)
        with open(pkg_path, "rb") as f:
            vm = unpack(f.read())[0]
        if not vm["dtb"]:
            sys.exit("native.py: the VM has no device tree (give dtb_load_addr)")
        base, size = vm["regions"][0][0], vm["regions"][0][1]
        ram_base = machines.machine()["ram_base"]
        if base != ram_base:
            sys.exit(f"native.py: QEMU virt's RAM starts at {ram_base:#x}, the VM's at {base:#x}")
        files = {}
        for what in ("kernel", "ramdisk", "dtb"):
            files[what] = os.path.join(tmp, what)
            with open(files[what], "wb") as f:
                f.write(vm[what])
        if args.dump_dtb:
            with open(args.dump_dtb, "wb") as f:
                f.write(vm["dtb"])
        qemu = machines.native(args.smp or vm["cpus"], f"{size // (1024 * 1024)}M") + [
            "-no-reboot", "-kernel", files["kernel"]]
        if machines.machine().get("native_guest_dtb", True):
            qemu += ["-dtb", files["dtb"]]
        elif vm["cmdline"]:
            qemu += ["-append", vm["cmdline"]]
        if vm["ramdisk"]:
            qemu += ["-initrd", files["ramdisk"]]
        if args.dry_run:
            print("\n".join(qemu))
            return 0
        print("native.py: " + " ".join(qemu), file=sys.stderr, flush=True)
        # QEMU stays in this process group: a harness that kills the group kills QEMU too.
        p = subprocess.Popen(qemu)
        try:
            return p.wait(timeout=args.timeout or None)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            p.kill()
            p.wait()
            print(f"native.py: QEMU killed after {args.timeout:g} s", file=sys.stderr)
            return 124


if __name__ == "__main__":
    sys.exit(main())
