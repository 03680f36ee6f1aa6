#!/usr/bin/env python3
"""make bench: micro-benchmarks of cxvisor's exit paths, reproducible under QEMU -icount.

With `-icount shift=0,align=off,sleep=off` QEMU advances virtual time by exactly 1 ns per guest
instruction, so a delta of the guest's counter (CNTVCT_EL0) converts to an instruction count:
instructions = ticks * 1e9 / CNTFRQ. Emulated-exit costs are therefore counted in instructions
executed by cxvisor and the guest together, the same unit Xen's published figures use.

Each bench guest runs twice in one invocation: under cxvisor, and directly on QEMU at EL1
(no hypervisor) as the baseline: `bench` for exits (null hypercall, emulated MMIO, PSCI), `bench-irq`
for the interrupt paths of a VM with interrupt_mode "emulated" (virtual timer and SGI-to-self
latency, a GICD_TYPER read, an EOI). Then "Linux boot to /init": the same Linux guest booted several
times under cxvisor and directly on QEMU, interleaved, wall clock (see linux_bench). Writes
build/bench/results.json and prints a table.
"""
import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "system"))
from procs import group_members  # noqa: E402
import machines  # noqa: E402

ICOUNT = "shift=0,align=off,sleep=off"
QEMU_TIME_LIMIT = 60  # seconds per QEMU run

# Process groups of every QEMU this script started; each must be empty at exit.
g_qemu_groups = []


def run(cmd, timeout=120):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.stdout.decode("utf-8", "replace")


def kill_group(p):
    """Kills the process group of p (started with start_new_session) and reaps p."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def watch_qemu(cmd, stop, time_limit):
    """Runs QEMU (cmd) and reads its console until stop(line) returns something other than None,
    QEMU exits, or time_limit seconds pass. Returns (lines, stop's answer or None, seconds from
    just before QEMU was started to the line that stopped it, or None).

    QEMU runs in its own process group, which is killed and reaped here on every path: a `timeout`
    wrapper killed from Python (as before) leaves QEMU itself running.
    """
    out, buf, verdict, elapsed = [], b"", None, None
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    g_qemu_groups.append(p.pid)
    deadline = t0 + time_limit
    try:
        while verdict is None:
            left = deadline - time.monotonic()
            if left <= 0:
                out.append(f"bench: QEMU time limit ({time_limit} s) reached")
                break
            ready, _, _ = select.select([p.stdout], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                out.append("bench: QEMU exited")
                break
            now = time.monotonic()
            buf += chunk
            while b"\n" in buf and verdict is None:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                out.append(line)
                verdict = stop(line)
                if verdict is not None:
                    elapsed = now - t0
    finally:
        kill_group(p)
        p.stdout.close()
    if buf:
        out.append(buf.decode("utf-8", "replace"))
    return out, verdict, elapsed


def qemu(kernel, el2, smp=1, test="bench", extra=()):
    """Runs a bench guest (TEST name `test`) under QEMU -icount until it reports (or QEMU_TIME_LIMIT);
    returns its console.

    The bench guest powers itself off (PSCI SYSTEM_OFF), but under cxvisor only the VM stops and
    QEMU runs on, so the run is cut short once the results are printed.
    """
    cmd = (machines.host if el2 else machines.native)(smp, "1G") + ["-icount", ICOUNT, "-kernel",
                                                                   os.path.abspath(kernel), *extra]

    def stop(line):
        return True if f"TEST {test} PASS" in line or f"TEST {test} FAIL" in line or "PANIC" in line else None

    return watch_qemu(cmd, stop, QEMU_TIME_LIMIT)[0]


# ---- Linux boot to /init: wall clock, cxvisor vs the same guest directly on QEMU ----------------
# The same kernel (Debian's arm64 Image), busybox initramfs and bootargs, CPU model, vCPU count and
# guest RAM as configs/vms/bench-linux.toml says; no -icount (Linux's boot depends on real timer
# interrupts and wall time is what a user sees). The runs alternate (native first on even runs,
# cxvisor first on odd ones) so load changes on a shared machine hit both sides alike.
LINUX_CONFIG = "configs/vms/bench-linux.toml"  # id 125, 2 vCPUs, 256 MiB, interrupt_mode emulated
LINUX_VM = "vm 125 (bench-linux)"
LINUX_SMP, LINUX_GUEST_MEM, LINUX_BOOTARGS = 2, "256M", "console=ttyAMA0"  # as in LINUX_CONFIG
LINUX_INIT_LINE = "cxv-linux: init on"  # printed by /init (scripts/linux-guest.sh)
LINUX_TIME_LIMIT = 120  # seconds per boot
LINUX_GOAL, LINUX_XEN = 1.05, 1.15  # issue 6; Xen 4.17 dom0less, tuned, measured on the same QEMU


def linux_verdict(line):
    """stop() for a Linux boot: "init" at /init's line, a failure reason for what ends the boot."""
    if LINUX_INIT_LINE in line:
        return "init"
    failures = ["PANIC", "Kernel panic", f"{LINUX_VM}: stopped", f"{LINUX_VM}: powered off",
                f"{LINUX_VM} not started", "the virtual GICv3 is not wired in yet"]
    return line.strip() if any(f in line for f in failures) else None


def boot_once(cmd):
    """Boots once; returns (seconds to /init, None) or (None, why it failed)."""
    lines, verdict, elapsed = watch_qemu(cmd, linux_verdict, LINUX_TIME_LIMIT)
    if verdict == "init":
        return elapsed, None
    tail = [l for l in lines if l.strip()][-3:]
    return None, verdict or "no \"" + LINUX_INIT_LINE + "\" line; last console lines: " + " | ".join(tail)


def print_linux_instructions(li):
    if li["status"] != "ok":
        print(f"  instructions to \"Run /init\" (-icount): FAILED: {li['reason']}")
        return
    print(f"  instructions to \"Run /init\" (-icount): cxvisor {li['cxvisor_guest_to_init'] / 1e6:.1f} M + its own boot "
          f"{li['cxvisor_boot'] / 1e6:.1f} M, native QEMU {li['native_to_init'] / 1e6:.1f} M; ratio {li['ratio']}")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


# The same for riscv64 (make bench ARCH=riscv64): Debian trixie's riscv64 kernel, OpenSBI below
# both sides (trixie's OpenSBI, machines.firmware()), configs/vms/riscv64/bench-linux.toml.
LINUX_RV = {"config": "configs/vms/riscv64/bench-linux.toml", "bootargs": "console=ttyS0", "cpu": "rv64",
            "guest_arch": "riscv64"}
# medium: the VM package on the boot medium (a fw_cfg file, src/vmm/boot_medium.hpp), as make run
# boots it on that ISA (Makefile PACKAGE_ON_MEDIUM_<isa>); else inside the boot image.
LINUX_A64 = {"config": LINUX_CONFIG, "bootargs": LINUX_BOOTARGS, "cpu": "cortex-a72", "guest_arch": "arm64",
             "medium": True}


def linux_bench(build, img_dir, vmconfig, runs, isa=LINUX_A64):
    """The "Linux boot to /init" entry of results.json: figures, or status FAILED with the reason."""
    config, bootargs = isa["config"], isa["bootargs"]
    res = {"method": f"wall clock from QEMU start to /init's \"{LINUX_INIT_LINE} N CPU(s)\" line, no -icount; "
                     f"{runs} runs each, interleaved; {isa['cpu']}, {LINUX_SMP} vCPUs, {LINUX_GUEST_MEM} guest RAM, "
                     f"bootargs \"{bootargs}\"; native: {' '.join(machines.native(LINUX_SMP, LINUX_GUEST_MEM)[1:5])}; "
                     f"cxvisor: {' '.join(machines.host(LINUX_SMP, '1G')[1:5])} -m 1G -smp {LINUX_SMP}, {config}"
                     + (", the VM package on the boot medium (fw_cfg), as make run" if isa.get("medium") else
                        ", the VM package in the boot image, as make run"),
           "goal_ratio": LINUX_GOAL, "reference_xen_4_17_ratio": LINUX_XEN}
    out_dir = os.path.join(build, "bench")
    initramfs = os.path.join(out_dir, "bench-linux-initramfs.cpio.gz")
    script = ["scripts/linux-guest.sh", "--build", build, "--arch", isa["guest_arch"]]
    guest = subprocess.run(script + ["kernel"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if guest.returncode == 0:
        kernel = guest.stdout.strip().splitlines()[-1]
        guest = subprocess.run(script + ["initramfs", initramfs],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if guest.returncode:
        return dict(res, status="FAILED", reason="scripts/linux-guest.sh: " + guest.stderr.strip()[-300:])
    image = os.path.abspath(os.path.join(img_dir, "src", "cxvisor.bin"))
    package = os.path.abspath(os.path.join(out_dir, "cxvisor-linux.pkg" if isa.get("medium") else "cxvisor-linux.bin"))
    pk = subprocess.run([vmconfig, "--cpus", str(LINUX_SMP), "--search-path", os.path.dirname(kernel),
                         "--search-path", out_dir] + ([] if isa.get("medium") else ["--image", image]) +
                        ["-o", package, config], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
    if pk.returncode:
        return dict(res, status="FAILED", reason="cxv-vmconfig: " + pk.stdout.strip()[-300:])
    native_cmd = machines.native(LINUX_SMP, LINUX_GUEST_MEM) + ["-kernel", kernel, "-initrd", initramfs,
                                                               "-append", bootargs]
    cx_cmd = machines.host(LINUX_SMP, "1G") + (["-kernel", image] + machines.package_medium(package)
                                               if isa.get("medium") else ["-kernel", package])
    native, cx = [], []
    for i in range(runs):
        for side in (("native", "cxvisor") if i % 2 == 0 else ("cxvisor", "native")):
            t, why = boot_once(native_cmd if side == "native" else cx_cmd)
            if t is None:
                # One failed boot ends the measurement: a ratio over the boots that worked would
                # hide it. Never a figure for a side that did not reach /init.
                return dict(res, status="FAILED", reason=f"{side} run {i + 1}: {why}",
                            native_s=[round(x, 3) for x in native], cxvisor_s=[round(x, 3) for x in cx])
            (native if side == "native" else cx).append(t)
    ratios = [c / n for c, n in zip(cx, native)]
    return dict(res, status="ok", native_s=[round(x, 3) for x in native], cxvisor_s=[round(x, 3) for x in cx],
                ratios=[round(r, 3) for r in ratios], median_native_s=round(median(native), 3),
                median_cxvisor_s=round(median(cx), 3), median_ratio=round(median(ratios), 3),
                ratio_of_medians=round(median(cx) / median(native), 3),
                instructions=linux_instructions(native_cmd, cx_cmd))


LINUX_RUN_INIT = re.compile(r"\[\s*([0-9]+\.[0-9]+)\] Run /init as init process")
CXV_STARTED = re.compile(r"VM\(s\) started on [0-9]+/[0-9]+ CPUs in ([0-9]+) us")


def linux_instructions(native_cmd, cx_cmd):
    """The same boot once per side under -icount shift=0 (1 ns of virtual time per instruction):
    instructions to the kernel's "Run /init as init process" line (its printk stamp), and for
    cxvisor also its own boot before the VM started ("VM(s) started ... in N us"). Wall clock
    varies by tens of percent from one boot to the next on a shared 2-core machine; these counts
    do not, so a change's effect on the work a boot takes shows here even when the wall-clock ratio
    cannot resolve it. Idle time is skipped under -icount (sleep=off): waiting is not counted."""
    counts = {}
    for side, cmd in (("native", native_cmd), ("cxvisor", cx_cmd)):
        lines, verdict, _ = watch_qemu(cmd + ["-icount", ICOUNT], linux_verdict, 4 * LINUX_TIME_LIMIT)
        guest = next((float(m.group(1)) for l in lines for m in [LINUX_RUN_INIT.search(l)] if m), None)
        if verdict != "init" or guest is None:
            return {"status": "FAILED", "reason": f"{side} under -icount: {verdict or 'no Run /init line'}"}
        counts[side] = guest * 1e9
        if side == "cxvisor":
            boot = next((int(m.group(1)) for l in lines for m in [CXV_STARTED.search(l)] if m), None)
            if boot is None:
                return {"status": "FAILED", "reason": "cxvisor under -icount: no \"VM(s) started\" line"}
            counts["cxvisor_boot"] = boot * 1000.0
    total = counts["cxvisor"] + counts["cxvisor_boot"]
    return {"status": "ok", "method": "one boot per side under -icount " + ICOUNT + "; printk stamp of "
            "\"Run /init as init process\" x 1e9, plus cxvisor's own boot (\"VM(s) started ... in N us\" x 1000)",
            "native_to_init": round(counts["native"]), "cxvisor_guest_to_init": round(counts["cxvisor"]),
            "cxvisor_boot": round(counts["cxvisor_boot"]), "ratio": round(total / counts["native"], 4)}


# ---- virtio-blk throughput: a Linux guest under cxvisor vs the same guest on QEMU's virtio-blk ------
# tests/linux/blk-bench.sh in the same kernel + initramfs, 1 vCPU, 256 MiB, cortex-a72, no -icount
# (wall clock inside the guest, /proc/uptime): under cxvisor vda is a 128 MiB region of the host's
# virtio-blk disk (cxvisor's device over cxvisor's own driver of QEMU's virtio-blk); natively vda is
# QEMU's virtio-blk on a file of the same size. The two sides alternate like the boot benchmark.
BLK_CONFIG = "configs/vms/bench-blk.toml"  # id 212
BLK_MIB = 128  # the disk, and what each round writes and reads (tests/linux/blk-bench.sh)
BLK_GOAL = 0.8  # issue 8: throughput under cxvisor at least 0.8 of QEMU's own virtio-blk
BLK_MODULES = ("virtio_mmio", "virtio_blk")  # scripts/linux-guest.sh --modules adds their dependencies


def blk_run(cmd):
    """One boot of the blk benchmark guest: ({"write": [MiB/s...], "read": [...]}, None) or (None, why)."""
    def stop(line):
        if "TEST blk-bench PASS" in line:
            return "pass"
        bad = ("TEST blk-bench FAIL", "PANIC", "Kernel panic", "vm 212 (bench-blk): stopped", "vm 212 (bench-blk) not started")
        return line.strip() if any(b in line for b in bad) else None

    lines, verdict, _ = watch_qemu(cmd, stop, LINUX_TIME_LIMIT)
    if verdict != "pass":
        tail = [l for l in lines if l.strip()][-4:]
        return None, verdict or "no TEST blk-bench PASS; last console lines: " + " | ".join(tail)
    rates = {"write": [], "read": []}
    for line in lines:
        m = re.search(r"BLKBENCH (write|read) \d+ ([0-9.]+)", line)
        if m:
            rates[m.group(1)].append(float(m.group(2)))
    return rates, None


def blk_bench(build, img_dir, vmconfig, runs):
    """The "virtio-blk throughput" entry of results.json: figures, or status FAILED with the reason."""
    res = {"method": f"tests/linux/blk-bench.sh: dd of {BLK_MIB} MiB, bs=1M, O_DIRECT, write then read, 3 rounds "
                     f"per boot, MiB/s from /proc/uptime (10 ms); {runs} boots each side, interleaved; cortex-a72, "
                     f"1 vCPU, 256 MiB guest RAM, no -icount; native: QEMU's virtio-blk-device on a raw "
                     f"{BLK_MIB} MiB file; cxvisor: {BLK_CONFIG}, its host region on QEMU's virtio-blk-device "
                     f"(same kind of file)", "goal_ratio": BLK_GOAL}
    out_dir = os.path.join(build, "bench")
    initramfs = os.path.join(out_dir, "bench-blk-initramfs.cpio.gz")
    kernel = os.path.join(build, "linux", "Image")
    files = ["tests/linux/blk-bench.sh", "tests/linux/lib.sh", "tests/linux/blk-lib.sh"]
    guest = subprocess.run(["scripts/linux-guest.sh", "--build", build, "initramfs", "--modules", " ".join(BLK_MODULES),
                            initramfs] + files, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    if guest.returncode:
        return dict(res, status="FAILED", reason="scripts/linux-guest.sh: " + guest.stderr.strip()[-300:])
    package = os.path.join(out_dir, "cxvisor-blk.bin")
    pk = subprocess.run([vmconfig, "--cpus", "1", "--search-path", os.path.dirname(kernel), "--search-path", out_dir,
                         "--image", os.path.join(img_dir, "src", "cxvisor.bin"), "-o", package, BLK_CONFIG],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if pk.returncode:
        return dict(res, status="FAILED", reason="cxv-vmconfig: " + pk.stdout.strip()[-300:])
    disk = os.path.abspath(os.path.join(out_dir, "blk-bench-disk.img"))
    with open(disk, "wb") as f:
        f.truncate(BLK_MIB << 20)
    drive = machines.disk(disk, "d0")
    native_cmd = machines.native(1, "256M") + drive + ["-kernel", kernel, "-initrd", initramfs,
                                                      "-append", f"console={machines.console()}"]
    cx_cmd = machines.host(1, "1G") + drive + ["-kernel", os.path.abspath(package)]
    got = {"native": {"write": [], "read": []}, "cxvisor": {"write": [], "read": []}}
    for i in range(runs):
        for side in (("native", "cxvisor") if i % 2 == 0 else ("cxvisor", "native")):
            rates, why = blk_run(native_cmd if side == "native" else cx_cmd)
            if rates is None:
                return dict(res, status="FAILED", reason=f"{side} run {i + 1}: {why}", runs=got)
            for k in rates:
                got[side][k] += rates[k]
    out = dict(res, status="ok", mib_s=got)
    for k in ("write", "read"):
        n, c = median(got["native"][k]), median(got["cxvisor"][k])
        out[f"median_{k}_native_mib_s"], out[f"median_{k}_cxvisor_mib_s"] = n, c
        out[f"{k}_ratio"] = round(c / n, 3) if n else None
    return out


# ---- VM-to-VM network throughput: two Linux VMs on one virtual switch -------------------------
# configs/vms/bench-net-a/-b.toml (ids 225, 226): linux-net-a/-b with a bigger file
# (cxv_net_lines on their command lines); tests/linux/net.sh in both moves the file each way with
# busybox nc and prints "cxv-linux: sent N bytes md5 M in T s: R KiB/s" on the sending side (wall
# clock of the guest, /proc/uptime). Wall clock of the machine, no -icount: TCG's speed sets the
# scale, so the figure compares cxvisor builds on one machine, not with hardware.
NET_CONFIGS = ["configs/vms/bench-net-a.toml", "configs/vms/bench-net-b.toml"]
NET_VMS = ["bench-net-a", "bench-net-b"]
NET_TIME_LIMIT = 400
NET_SENT = re.compile(r"^\[(bench-net-[ab])\] cxv-linux: sent (\d+) bytes md5 (\w+) in ([\d.]+) s: (\d+) KiB/s")


def net_bench(build, img_dir, vmconfig, runs):
    """The "net" entry of results.json: per-direction rates of each run, or status FAILED."""
    res = {"method": "two Linux VMs (1 vCPU each, pinned to physical CPUs 0 and 1, 256 MiB) on virtual switch 0, "
                     "busybox nc of a seq-generated file one way then the other, TCP over virtio-net, no offloads; "
                     "the sender's /proc/uptime around nc; qemu -smp 2 -m 1G, no -icount",
           "configs": NET_CONFIGS}
    out_dir = os.path.join(build, "bench")
    package = os.path.join(out_dir, "cxvisor-net.bin")
    pk = subprocess.run([vmconfig, "--cpus", "2", "--search-path", os.path.join(build, "linux"), "--image",
                         os.path.join(img_dir, "src", "cxvisor.bin"), "-o", package] + NET_CONFIGS,
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if pk.returncode:
        return dict(res, status="FAILED", reason="cxv-vmconfig: " + pk.stdout.strip()[-300:])
    cmd = machines.host(2, "1G") + ["-kernel", os.path.abspath(package)]
    rates, size = [], None
    for i in range(runs):
        done, sent = set(), {}

        def stop(line):
            m = NET_SENT.match(line)
            if m:
                sent[m.group(1)] = (int(m.group(2)), float(m.group(4)))
            for vm in NET_VMS:
                if f"[{vm}] TEST linux-net PASS" in line:
                    done.add(vm)
                if f"[{vm}] TEST linux-net FAIL" in line:
                    return line.strip()
            if "PANIC" in line:
                return line.strip()
            return "ok" if len(done) == len(NET_VMS) else None

        lines, verdict, _ = watch_qemu(cmd, stop, NET_TIME_LIMIT)
        if verdict != "ok" or len(sent) != 2:
            tail = [l for l in lines if l.strip()][-4:]
            return dict(res, status="FAILED", reason=f"run {i + 1}: {verdict or 'no verdict'}; " + " | ".join(tail),
                        rates_kib_s=rates)
        for vm in NET_VMS:
            n, t = sent[vm]
            size = n
            rates.append(round(n / t / 1024))
    native = net_native(build, runs)
    out = dict(res, status="ok", bytes_per_transfer=size, rates_kib_s=rates, median_kib_s=median(rates),
               median_mbit_s=round(median(rates) * 1024 * 8 / 1e6, 1), native_qemu=native)
    if native["status"] == "ok":
        out["ratio_to_native"] = round(median(rates) / native["median_kib_s"], 2)
    return out


# The same two guests directly on QEMU, one QEMU each, joined by QEMU's socket netdev, with QEMU's
# own virtio-net-device limited to the features cxvisor's device has (no checksum/segmentation
# offloads, no mergeable rx buffers): what TCG and the guests cost without cxvisor.
NET_NATIVE_NIC = ("virtio-net-device,netdev=n0,mac={mac},csum=off,guest_csum=off,gso=off,host_tso4=off,"
                  "host_tso6=off,host_ecn=off,host_ufo=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,"
                  "guest_ufo=off,mrg_rxbuf=off")


def net_native(build, runs):
    kernel, initrd = os.path.join(build, "linux", "Image"), os.path.join(build, "linux", "linux-net.cpio.gz")
    common = machines.native(1, "256M") + ["-kernel", kernel, "-initrd", initrd,
                                           "-append", f"console={machines.console()} cxv_net_lines=1000000"]
    sent_re = re.compile(r"cxv-linux: sent (\d+) bytes md5 \w+ in ([\d.]+) s")
    rates = []
    for i in range(runs):
        port = str(20000 + (os.getpid() + i) % 20000)
        b_log = os.path.join(build, "bench", "net-native-b.log")
        with open(b_log, "w") as out:
            b = subprocess.Popen(common + ["-device", NET_NATIVE_NIC.format(mac="02:00:00:00:e1:02"), "-netdev",
                                           f"socket,id=n0,listen=127.0.0.1:{port}"],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        g_qemu_groups.append(b.pid)
        try:
            time.sleep(1)  # B listens before A connects
            a_cmd = common + ["-device", NET_NATIVE_NIC.format(mac="02:00:00:00:e1:01"), "-netdev",
                              f"socket,id=n0,connect=127.0.0.1:{port}"]
            lines, verdict, _ = watch_qemu(a_cmd, lambda l: l if "TEST linux-net" in l or "Kernel panic" in l else None,
                                           NET_TIME_LIMIT)
            try:
                b.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        finally:
            kill_group(b)
        with open(b_log) as f:
            lines += f.read().splitlines()
        found = [sent_re.search(l) for l in lines]
        found = [m for m in found if m]
        if not verdict or "PASS" not in verdict or len(found) != 2:
            tail = [l for l in lines if l.strip()][-4:]
            return {"status": "FAILED", "reason": f"native run {i + 1}: {verdict}; " + " | ".join(tail)}
        rates += [round(int(m.group(1)) / float(m.group(2)) / 1024) for m in found]
    return {"status": "ok", "rates_kib_s": rates, "median_kib_s": median(rates),
            "method": "the same kernel, initramfs and command line, one QEMU per guest (-smp 1 -m 256M), QEMU's "
                      "virtio-net-device without offloads or mergeable buffers, -netdev socket between them"}


def survivors():
    """QEMU process groups of this script that still have a live member (after a short grace)."""
    left = []
    for pgid in g_qemu_groups:
        for _ in range(50):
            if not group_members(pgid):
                break
            time.sleep(0.02)
        else:
            left.append(pgid)
    return left


def qemu_wall(kernel, el2, smp, test):
    """Like qemu(), without -icount: for wall-clock figures (cross-CPU IPIs; QEMU 7.2 with -icount
    and -smp 2 does not wake a WFI on a cross-CPU SGI)."""
    cmd = (machines.host if el2 else machines.native)(smp, "1G") + ["-kernel", os.path.abspath(kernel)]

    def stop(line):
        return True if f"TEST {test} PASS" in line or f"TEST {test} FAIL" in line or "PANIC" in line else None

    return watch_qemu(cmd, stop, QEMU_TIME_LIMIT)[0]


def parse_ns(lines):
    res = {}
    for line in lines:
        m = re.search(r"BENCHNS (\S+) (\d+) (\d+) (\d+) (\d+)", line)
        if m:
            res[m.group(1)] = {"median_ns": int(m.group(2)), "min_ns": int(m.group(3)), "max_ns": int(m.group(4)),
                               "rounds": int(m.group(5))}
    return res


def cross_cpu_ipi(boot, bare_elf, method):
    """bench-ipi (2 vCPUs on 2 CPUs) under cxvisor and directly on QEMU, -smp 2, wall clock: the
    results' "cross_cpu_ipi" entry, or None (both consoles printed) when a figure is missing."""
    under = qemu_wall(boot, el2=True, smp=2, test="bench-ipi")
    bare = qemu_wall(bare_elf, el2=False, smp=2, test="bench-ipi")
    cx, nat = parse_ns(under), parse_ns(bare)
    if any(k not in cx or k not in nat for k in ("ipi_spin", "ipi_wfi")):
        print("bench: missing cross-CPU IPI results\n--- under cxvisor:\n" + "\n".join(under) +
              "\n--- bare:\n" + "\n".join(bare))
        return None
    return {"method": method, "under_cxvisor": cx, "bare_qemu": nat}


def print_cross_cpu_ipi(c, title, width):
    print(f"{title:{width}} {'cxvisor':>10} {'bare QEMU':>10}")
    for key, label in (("ipi_spin", "  to a running vCPU"), ("ipi_wfi", "  to a vCPU in WFI")):
        print(f"{label:{width}} {c['under_cxvisor'][key]['median_ns'] / 1000:>10.1f} "
              f"{c['bare_qemu'][key]['median_ns'] / 1000:>10.1f}")


def parse(lines):
    res = {}
    for line in lines:
        m = re.search(r"BENCH (\S+) (\d+) (\d+)", line)
        if m:
            name, ticks_x1000, freq = m.group(1), int(m.group(2)), int(m.group(3))
            res[name] = round(ticks_x1000 / 1000 * 1e9 / freq, 1)  # instructions per iteration
    return res


def virtio_bench(package, img_dir, qemu_version):
    """Part virtio: a virtio-mmio register read, notification and console request
    (guests/programs/bench-virtio.cpp) through cxvisor's transport and virtio-console vs QEMU's own
    virtio-serial device (modern virtio-mmio) on bare QEMU; the results, or None (printed why)."""
    under_v = qemu(package, el2=True, test="bench-virtio")
    bare_v = qemu(os.path.join(img_dir, "guests", "bench-virtio.elf"), el2=False, test="bench-virtio",
                  extra=("-global", "virtio-mmio.force-legacy=false", "-device", "virtio-serial-device"))
    cxv, natv = parse(under_v), parse(bare_v)
    needed_v = ["add100", "virtio_reg_read", "virtio_notify", "virtio_tx_request"]
    if any(k not in cxv or k not in natv for k in needed_v):
        print("bench: missing virtio results\n--- under cxvisor:\n" + "\n".join(under_v) +
              "\n--- bare:\n" + "\n".join(bare_v))
        return None

    def virtio_figures(r):
        loop = r["add100"] - 100
        return {k: round(r[k] - loop, 1) for k in ("virtio_reg_read", "virtio_notify", "virtio_tx_request")}
    return {
        "method": f"{qemu_version}, -icount {ICOUNT}, guests/programs/bench-virtio.cpp, 1000 iterations, "
                  "loop overhead subtracted; bare QEMU: its virtio-serial-device (virtio-mmio version 2)",
        "under_cxvisor": virtio_figures(cxv),
        "bare_qemu": virtio_figures(natv),
        "raw_under_cxvisor": cxv,
        "raw_bare_qemu": natv,
    }


def shm_bench(package, qemu_version, where, delivery):
    """Part shm (guests/programs/shm.cpp + shm-<isa>.cpp): ping writes a counter into the shared page
    and rings pong (HC_DOORBELL), pong answers likewise; ping times its 500 rounds. The results, or
    None (printed why)."""
    under_shm = qemu(package, el2=True, smp=1, test="shm-ping")
    shm = parse(under_shm)
    if "shm_roundtrip" not in shm:
        print("bench: missing shm results\n" + "\n".join(under_shm))
        return None
    return {
        "method": f"{qemu_version}, -icount {ICOUNT}, -smp 1: VMs shm-ping and shm-pong ({where}; ping's counter "
                  "from its write of the round number to seeing pong's answer, mean of 500 rounds: 2 HC_DOORBELL "
                  f"calls, {delivery}, 2 WFI exits and 2 vCPU switches",
        "doorbell_round_trip": shm["shm_roundtrip"],
    }


def print_virtio(v, width):
    print(f"{'virtio-mmio (guest-visible instructions)':{width}} {'cxvisor':>10} {'bare QEMU':>10}")
    for key, label in (("virtio_reg_read", "register read (QueueNumMax)"),
                       ("virtio_notify", "notification exit (QueueNotify, ring empty)"),
                       ("virtio_tx_request", "console transmit request (submit, notify, used)")):
        print(f"{label:{width}} {v['under_cxvisor'][key]:>10} {v['bare_qemu'][key]:>10}")


PARTS = ("micro", "interrupts", "ipi", "linux", "virtio", "shm", "blk", "net")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--arch", default="aarch64")
    # 15: one pair's ratio varies by +-30 % on a shared 2-core machine, so the median of 5 pairs
    # moved by 0.1 from one run to the next (docs/benchmarks.md, "The VM package on a boot medium").
    ap.add_argument("--linux-runs", type=int, default=15,
                    help="boots of each side for the Linux boot-time ratio (0: leave it out)")
    ap.add_argument("--blk-runs", type=int, default=3,
                    help="boots of each side for the virtio-blk throughput ratio (0: leave it out)")
    ap.add_argument("--net-runs", type=int, default=2,
                    help="QEMU runs of the two-VM network transfer (each gives one rate per direction; 0: leave it out)")
    ap.add_argument("--only", default=",".join(PARTS),
                    help="comma-separated parts to run: micro (bench: hypercall, MMIO, PSCI), interrupts "
                         "(bench-irq), ipi (bench-ipi, wall clock), linux (boot ratio), virtio (bench-virtio: "
                         "notification exit), shm (doorbell round trip), blk (virtio-blk throughput ratio), "
                         "net (VM-to-VM throughput); "
                         "default: all. "
                         "results.json then holds only those parts")
    args = ap.parse_args()
    parts = set(p for p in args.only.split(",") if p)
    if not parts or parts - set(PARTS):
        ap.error(f"--only: choose among {', '.join(PARTS)}")
    # machines.py takes the ISA from CXV_ARCH and the firmware from CXV_BUILD_ROOT (the Makefile
    # exports both; a direct call may not).
    os.environ["CXV_ARCH"] = args.arch
    os.environ["CXV_BUILD_ROOT"] = os.path.abspath(args.build)
    img_dir = os.path.join(args.build, args.arch)
    out_dir = os.path.join(args.build, "bench")
    os.makedirs(out_dir, exist_ok=True)
    if args.arch == "riscv64":
        return main_riscv64(args, parts, img_dir, out_dir)
    if args.arch == "x86_64":
        return main_x86_64(args, parts, img_dir, out_dir)
    if args.arch != "aarch64":
        ap.error(f"--arch: no benchmarks for {args.arch} (aarch64, riscv64, x86_64)")
    boot = os.path.join(out_dir, "cxvisor-bench.bin")
    vmconfig = os.path.join(args.build, "host", "tools", "vmconfig", "cxv-vmconfig")
    boot_irq = os.path.join(out_dir, "cxvisor-bench-irq.bin")
    boot_ipi = os.path.join(out_dir, "cxvisor-bench-ipi.bin")
    boot_virtio = os.path.join(out_dir, "cxvisor-bench-virtio.bin")
    boot_shm = os.path.join(out_dir, "cxvisor-bench-shm.bin")
    if "shm" in parts:  # two VMs: ping and pong on one physical CPU (deterministic under -icount)
        r = subprocess.run([vmconfig, "--cpus", "1", "--search-path", os.path.join(img_dir, "guests"), "--image",
                            os.path.join(img_dir, "src", "cxvisor.bin"), "-o", boot_shm,
                            "configs/vms/shm-ping.toml", "configs/vms/shm-pong.toml"])
        if r.returncode:
            return 1
    for part, package, config, cpus in (("micro", boot, "configs/vms/bench.toml", 1),
                                        ("virtio", boot_virtio, "configs/vms/bench-virtio.toml", 1),
                                        ("interrupts", boot_irq, "configs/vms/bench-irq.toml", 1),
                                        ("ipi", boot_ipi, "configs/vms/bench-ipi.toml", 2)):
        if part not in parts:
            continue
        r = subprocess.run([vmconfig, "--cpus", str(cpus), "--search-path", os.path.join(img_dir, "guests"), "--image",
                            os.path.join(img_dir, "src", "cxvisor.bin"), "-o", package, config])
        if r.returncode:
            return 1

    results = {}
    irq_xen = {"timer_irq_latency": 1085, "sgi_self_latency": 1098, "eoi": 1, "gicd_typer_read": 600}
    irq_goal = {"timer_irq_latency": "<= 500", "sgi_self_latency": "<= 500", "eoi": "untrapped",
                "gicd_typer_read": "<= 200"}
    results["reference_xen_4_17"] = {"null_hypercall_round_trip": 470, "mmio_read_round_trip": 600,
                                     "null_psci_round_trip": 473, **irq_xen}
    results["goals"] = {"null_psci_round_trip": 100, **irq_goal}
    qemu_version = run([machines.qemu_binary(), '--version']).splitlines()[0]

    if "micro" in parts:
        under = qemu(boot, el2=True)
        bare = qemu(os.path.join(img_dir, "guests", "bench.elf"), el2=False)
        cx, native = parse(under), parse(bare)
        needed = ["add100", "hvc_nop", "mmio_read", "psci_version", "psci_features"]
        needed_bare = ["add100", "mmio_read", "psci_version", "psci_features"]
        if any(k not in cx for k in needed) or any(k not in native for k in needed_bare):
            print("bench: missing results\n--- under cxvisor:\n" + "\n".join(under) + "\n--- bare:\n" + "\n".join(bare))
            return 1
        # Every iteration includes the loop's own few instructions; add100 carries 100 adds + the same
        # overhead, so (x - (add100 - 100)) is the cost of the operation itself.
        overhead = cx["add100"] - 100
        overhead_bare = native["add100"] - 100
        results.update({
            "method": f"{qemu_version}, -icount {ICOUNT}, "
                      "cortex-a72, 1000 iterations; instructions per iteration = CNTVCT ticks * 1e9 / CNTFRQ",
            "under_cxvisor": cx,
            "bare_qemu": native,
            "derived": {
                "loop_overhead": round(overhead, 1),
                "null_hypercall_round_trip": round(cx["hvc_nop"] - overhead, 1),
                "mmio_read_round_trip": round(cx["mmio_read"] - overhead, 1),
                "mmio_read_bare": round(native["mmio_read"] - overhead_bare, 1),
                # PSCI_VERSION through HVC #0: answered in the exit vector (boot.S low64_sync).
                "null_psci_round_trip": round(cx["psci_version"] - overhead, 1),
                "null_psci_bare": round(native["psci_version"] - overhead_bare, 1),
                # PSCI_FEATURES(CPU_ON_64): argument-dependent, the full exit path to Vcpu::handle_smccc.
                "psci_features_round_trip": round(cx["psci_features"] - overhead, 1),
                "psci_features_bare": round(native["psci_features"] - overhead_bare, 1),
                "add100_ratio_cxvisor_vs_bare": round(cx["add100"] / native["add100"], 3),
            },
        })

    if "interrupts" in parts:
        # The interrupt paths (guests/programs/bench-irq.cpp), the same way: under cxvisor and bare.
        under_irq = qemu(boot_irq, el2=True, test="bench-irq")
        bare_irq = qemu(os.path.join(img_dir, "guests", "bench-irq.elf"), el2=False, test="bench-irq")
        cxi, nati = parse(under_irq), parse(bare_irq)
        needed_irq = ["add100", "gicd_typer", "irq_timer", "irq_sgi_self", "eoi_pair", "counter_pair"]
        if any(k not in cxi or k not in nati for k in needed_irq):
            print("bench: missing interrupt results\n--- under cxvisor:\n" + "\n".join(under_irq) +
                  "\n--- bare:\n" + "\n".join(bare_irq))
            return 1

        def irq_figures(r):
            return {
                # CNTV_CVAL reached -> the handler's first counter read (rounded down to a counter tick,
                # 16 instructions: the timer fires on a tick boundary)
                "timer_irq_latency": r["irq_timer"],
                # the counter read before the ICC_SGI1R_EL1 write -> the handler's first counter read
                "sgi_self_latency": r["irq_sgi_self"],
                "gicd_typer_read": round(r["gicd_typer"] - (r["add100"] - 100), 1),
                "eoi": round(r["eoi_pair"] - r["counter_pair"], 1),  # one ICC_EOIR1_EL1 write
            }
        results["interrupts"] = {
            "method": "guests/programs/bench-irq.cpp, 1 vCPU, interrupt_mode emulated; latencies include the "
                      "guest's own vector and dispatcher (see bare_qemu); timer latency is rounded down to a "
                      "multiple of 16 instructions (one counter tick)",
            "under_cxvisor": irq_figures(cxi),
            "bare_qemu": irq_figures(nati),
            "raw_under_cxvisor": cxi,
            "raw_bare_qemu": nati,
        }

    if "ipi" in parts:
        # SGI between vCPUs on different physical CPUs: wall clock, median of the guest's rounds.
        results["cross_cpu_ipi"] = cross_cpu_ipi(
            boot_ipi, os.path.join(img_dir, "guests", "bench-ipi.elf"),
            "guests/programs/bench-ipi.cpp, 2 vCPUs pinned to physical CPUs 0 and 1, QEMU -smp 2 without "
            "-icount (wall clock; depends on the machine's load); the counter read before the "
            "ICC_SGI1R_EL1 write -> the target's handler's first counter read, median of the rounds")
        if results["cross_cpu_ipi"] is None:
            return 1

    if "shm" in parts:
        results["shm"] = shm_bench(boot_shm, qemu_version, "1 vCPU each) on one physical CPU", "2 SPI deliveries")
        if results["shm"] is None:
            return 1

    if "virtio" in parts:
        results["virtio"] = virtio_bench(boot_virtio, img_dir, qemu_version)
        if results["virtio"] is None:
            return 1

    if "linux" in parts and args.linux_runs > 0:
        results["linux_boot_to_init"] = linux_bench(args.build, img_dir, vmconfig, args.linux_runs)
    if "blk" in parts and args.blk_runs > 0:
        results["virtio_blk_throughput"] = blk_bench(args.build, img_dir, vmconfig, args.blk_runs)
    if "net" in parts and args.net_runs > 0:
        results["net_vm_to_vm"] = net_bench(args.build, img_dir, vmconfig, args.net_runs)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)

    if "micro" in parts:
        d = results["derived"]
        print(f"{'benchmark (guest-visible instructions)':44} {'cxvisor':>10} {'bare QEMU':>10} {'Xen 4.17':>9}")
        print(f"{'100 plain instructions (loop, for scale)':44} {cx['add100']:>10} {native['add100']:>10} {'':>9}")
        print(f"{'null hypercall round trip (HVC)':44} {d['null_hypercall_round_trip']:>10} {'-':>10} {470:>9}")
        print(f"{'emulated MMIO read round trip (PL011 FR)':44} {d['mmio_read_round_trip']:>10} "
              f"{d['mmio_read_bare']:>10} {600:>9}")
        print(f"{'null PSCI call (HVC PSCI_VERSION, goal <= 100)':44} {d['null_psci_round_trip']:>10} "
              f"{d['null_psci_bare']:>10} {473:>9}")
        print(f"{'PSCI_FEATURES(CPU_ON_64) (full exit path)':44} {d['psci_features_round_trip']:>10} "
              f"{d['psci_features_bare']:>10} {'':>9}")
    if "interrupts" in parts:
        irq_cx, irq_bare = results["interrupts"]["under_cxvisor"], results["interrupts"]["bare_qemu"]
        print(f"{'interrupts (guest-visible instructions)':44} {'cxvisor':>10} {'bare QEMU':>10} {'Xen 4.17':>9}  goal")
        for key, label in (("timer_irq_latency", "virtual timer IRQ latency (CVAL -> handler)"),
                           ("sgi_self_latency", "SGI to self latency (SGI1R -> handler)"),
                           ("gicd_typer_read", "GICD_TYPER read (emulated MMIO)"),
                           ("eoi", "EOI (ICC_EOIR1_EL1 write)")):
            print(f"{label:44} {irq_cx[key]:>10} {irq_bare[key]:>10} {irq_xen[key]:>9}  {irq_goal[key]}")
    if "ipi" in parts:
        print_cross_cpu_ipi(results["cross_cpu_ipi"], "cross-CPU SGI, wall clock (median us)", 44)
    if "shm" in parts:
        print(f"{'shm doorbell round trip (ping -> pong -> ping)':44} {results['shm']['doorbell_round_trip']:>10}")
    if "virtio" in parts:
        print_virtio(results["virtio"], 44)
    lb = results.get("linux_boot_to_init")
    if lb and lb["status"] == "ok":
        print(f"Linux boot to /init, {args.linux_runs} runs each (median s): cxvisor {lb['median_cxvisor_s']}, "
              f"native QEMU {lb['median_native_s']}; median ratio {lb['median_ratio']} "
              f"(goal <= {LINUX_GOAL}, Xen 4.17: {LINUX_XEN})")
        print_linux_instructions(lb["instructions"])
    elif lb:
        print(f"Linux boot to /init: FAILED: {lb['reason']}")
    bb = results.get("virtio_blk_throughput")
    if bb and bb["status"] == "ok":
        print(f"virtio-blk sequential {BLK_MIB} MiB O_DIRECT (median MiB/s): write cxvisor "
              f"{bb['median_write_cxvisor_mib_s']} / QEMU {bb['median_write_native_mib_s']} = {bb['write_ratio']}, "
              f"read cxvisor {bb['median_read_cxvisor_mib_s']} / QEMU {bb['median_read_native_mib_s']} = "
              f"{bb['read_ratio']} (goal >= {BLK_GOAL})")
    elif bb:
        print(f"virtio-blk throughput: FAILED: {bb['reason']}")
    nb = results.get("net_vm_to_vm")
    if nb and nb["status"] == "ok":
        print(f"VM-to-VM TCP over virtio-net, {nb['bytes_per_transfer']} bytes per transfer (KiB/s): "
              f"{nb['rates_kib_s']}; median {nb['median_kib_s']} KiB/s ({nb['median_mbit_s']} Mbit/s)")
        nq = nb["native_qemu"]
        if nq["status"] == "ok":
            print(f"  the same on two plain QEMUs (-netdev socket): {nq['rates_kib_s']}; median {nq['median_kib_s']} "
                  f"KiB/s; cxvisor / plain QEMU {nb['ratio_to_native']}")
        else:
            print(f"  plain QEMU reference: FAILED: {nq['reason']}")
    elif nb:
        print(f"VM-to-VM network: FAILED: {nb['reason']}")
    print(f"results: {os.path.join(out_dir, 'results.json')}")
    return 0


# ---- riscv64 (make bench ARCH=riscv64) ------------------------------------------------------
# The same method: each bench guest under cxvisor and directly on QEMU (OpenSBI in M-mode below it),
# -icount, in one invocation. The guests' counter is the time CSR (10 MHz: one tick per 100
# instructions under -icount shift=0), so a figure is a mean over 1000 iterations.
RV_UNAVAILABLE = {
    "blk": "the riscv64 Linux guests and disks with virtio-blk exist (system tests rv-blk-*), but blk_bench still "
           "drives aarch64's kernel, configs and QEMU baseline",
    "net": "the riscv64 Linux guests with virtio-net exist (system test rv-linux-net), but net_bench still drives "
           "aarch64's kernel, configs and QEMU baselines",
}


def main_riscv64(args, parts, img_dir, out_dir):
    vmconfig = os.path.join(args.build, "host", "tools", "vmconfig", "cxv-vmconfig")
    guests = os.path.join(img_dir, "guests")
    packages = {}
    for part, name, cpus in (("micro", "bench", 1), ("interrupts", "bench-irq", 1), ("ipi", "bench-ipi", 2),
                             ("virtio", "bench-virtio", 1)):
        if part not in parts:
            continue
        packages[part] = os.path.join(out_dir, f"cxvisor-riscv64-{name}.bin")
        r = subprocess.run([vmconfig, "--cpus", str(cpus), "--search-path", guests, "--image",
                            os.path.join(img_dir, "src", "cxvisor.bin"), "-o", packages[part],
                            f"configs/vms/riscv64/{name}.toml"])
        if r.returncode:
            return 1
    if "shm" in parts:  # two VMs: ping and pong on one hart (deterministic under -icount)
        packages["shm"] = os.path.join(out_dir, "cxvisor-riscv64-bench-shm.bin")
        r = subprocess.run([vmconfig, "--cpus", "1", "--search-path", guests, "--image",
                            os.path.join(img_dir, "src", "cxvisor.bin"), "-o", packages["shm"],
                            "configs/vms/riscv64/shm-ping.toml", "configs/vms/riscv64/shm-pong.toml"])
        if r.returncode:
            return 1
    qemu_version = run([machines.qemu_binary(), "--version"]).splitlines()[0]
    results = {"arch": "riscv64"}

    def both(part, name, needed, needed_bare):
        under = qemu(packages[part], el2=True, test=name)
        bare = qemu(os.path.join(guests, f"{name}.elf"), el2=False, test=name)
        cx, nat = parse(under), parse(bare)
        if any(k not in cx for k in needed) or any(k not in nat for k in needed_bare):
            print(f"bench: missing {name} results\n--- under cxvisor:\n" + "\n".join(under) +
                  "\n--- bare:\n" + "\n".join(bare))
            return None, None
        return cx, nat

    fw = machines.firmware()
    with open(os.path.join(os.path.dirname(fw), "version")) as f:
        fw_version = f.read().strip()
    method = (f"{qemu_version}, -icount {ICOUNT}, -cpu rv64 (H, Sstc), OpenSBI {fw_version} (Debian trixie), 1 hart; "
              "1000 iterations; instructions per iteration = time-CSR ticks * 1e9 / 10 MHz")
    if "micro" in parts:
        cx, nat = both("micro", "bench", ["add100", "hc_nop", "sbi_base", "mmio_read", "mmio_write", "ram_first_touch"],
                       ["add100", "sbi_base", "mmio_read", "mmio_write", "ram_first_touch"])
        if cx is None:
            return 1

        def micro(r, hc):
            loop = r["add100"] - 100
            d = {"loop_overhead": round(loop, 1)}
            if hc:
                d["null_hypercall_round_trip"] = round(r["hc_nop"] - loop, 1)
            for k in ("sbi_base", "mmio_read", "mmio_write"):
                d[f"{k}_round_trip"] = round(r[k] - loop, 1)
            d["ram_first_touch"] = r["ram_first_touch"]  # one store, timed on its own: no loop
            return d
        results["micro"] = {"method": method + "; guests/programs/bench.cpp + bench-riscv64.cpp, "
                                      "configs/vms/riscv64/bench.toml; loop overhead (add100 - 100) subtracted",
                            "under_cxvisor": micro(cx, True), "bare_qemu": micro(nat, False),
                            "raw_under_cxvisor": cx, "raw_bare_qemu": nat}
    if "interrupts" in parts:
        cx, nat = both("interrupts", "bench-irq", ["add100", "plic_read", "irq_timer", "irq_timer_wfi", "irq_ipi_self"],
                       ["add100", "plic_read", "irq_timer", "irq_timer_wfi", "irq_ipi_self"])
        if cx is None:
            return 1

        def irq(r):
            return {"irq_timer": r["irq_timer"], "irq_timer_wfi": r["irq_timer_wfi"], "irq_ipi_self": r["irq_ipi_self"],
                    "plic_read": round(r["plic_read"] - (r["add100"] - 100), 1)}
        results["interrupts"] = {
            "method": method + "; guests/programs/bench-irq.cpp + bench-irq-riscv64.cpp, configs/vms/riscv64/"
                      "bench-irq.toml (a vPLIC); latencies include the guest's own small vector; the timer figures "
                      "are rounded down to a multiple of 100 instructions (one time tick)",
            "under_cxvisor": irq(cx), "bare_qemu": irq(nat), "raw_under_cxvisor": cx, "raw_bare_qemu": nat}
    if "ipi" in parts:
        # As on aarch64 (main): wall clock, QEMU -smp 2 without -icount, which under QEMU 7.2 does
        # not wake a hart in WFI on another hart's IPI. The IPI is SBI send_ipi (bench-ipi-riscv64.cpp).
        results["cross_cpu_ipi"] = cross_cpu_ipi(
            packages["ipi"], os.path.join(guests, "bench-ipi.elf"),
            f"{qemu_version}; guests/programs/bench-ipi.cpp + bench-ipi-riscv64.cpp, configs/vms/riscv64/"
            "bench-ipi.toml: 2 vCPUs pinned to harts 0 and 1, QEMU -smp 2 without -icount (wall clock; "
            "depends on the machine's load); the time CSR read before the SBI send_ipi ECALL -> the "
            "target's interrupt handler's first time read (after the runtime's register saves), median "
            "of the rounds; time CSR resolution 100 ns")
        if results["cross_cpu_ipi"] is None:
            return 1
    if "virtio" in parts:
        results["virtio"] = virtio_bench(packages["virtio"], img_dir, qemu_version)
        if results["virtio"] is None:
            return 1
    if "shm" in parts:
        results["shm"] = shm_bench(packages["shm"], qemu_version, "configs/vms/riscv64, 1 vCPU each) on one hart",
                                   "2 vPLIC deliveries (hvip.VSEIP, trapped claim and complete)")
        if results["shm"] is None:
            return 1
    if "linux" in parts and args.linux_runs > 0:
        results["linux_boot_to_init"] = linux_bench(args.build, img_dir, vmconfig, args.linux_runs, LINUX_RV)
    for part in sorted(parts & set(RV_UNAVAILABLE)):
        results[part] = {"status": "not available on riscv64", "reason": RV_UNAVAILABLE[part]}
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)

    rows = []
    if "micro" in results:
        m = results["micro"]
        rows += [(m, "null_hypercall_round_trip", "null hypercall (cxvisor SBI EID, HC_NR_NOP)"),
                 (m, "sbi_base_round_trip", "SBI BASE get_spec_version"),
                 (m, "mmio_read_round_trip", "emulated MMIO read (16550 LSR, lbu)"),
                 (m, "mmio_write_round_trip", "emulated MMIO write (16550 SCR, sb)"),
                 (m, "ram_first_touch", "first touch of a lazily backed 2 MiB block")]
    if "interrupts" in results:
        i = results["interrupts"]
        rows += [(i, "irq_timer", "timer IRQ latency, spinning (stimecmp -> handler)"),
                 (i, "irq_timer_wfi", "timer IRQ latency from WFI (vCPU blocked)"),
                 (i, "irq_ipi_self", "SBI IPI to self latency (ecall -> handler)"),
                 (i, "plic_read", "vPLIC register read (priority 1)")]
    if rows:
        print(f"{'riscv64 (guest-visible instructions)':48} {'cxvisor':>10} {'bare QEMU':>10}")
    for r, key, label in rows:
        bare = r["bare_qemu"].get(key, "-")
        print(f"{label:48} {r['under_cxvisor'][key]:>10} {bare:>10}")
    if "cross_cpu_ipi" in results:
        print_cross_cpu_ipi(results["cross_cpu_ipi"], "cross-hart SBI IPI, wall clock (median us)", 48)
    if "virtio" in results:
        print_virtio(results["virtio"], 48)
    if "shm" in results:
        print(f"{'shm doorbell round trip (ping -> pong -> ping)':48} {results['shm']['doorbell_round_trip']:>10}")
    lb = results.get("linux_boot_to_init")
    if lb and lb["status"] == "ok":
        print(f"Linux boot to /init, {args.linux_runs} runs each (median s): cxvisor {lb['median_cxvisor_s']}, "
              f"native QEMU {lb['median_native_s']}; median ratio {lb['median_ratio']} (goal <= {LINUX_GOAL})")
        print_linux_instructions(lb["instructions"])
    elif lb:
        print(f"Linux boot to /init: FAILED: {lb['reason']}")
    for part in sorted(parts & set(RV_UNAVAILABLE)):
        print(f"{part}: not available on riscv64: {RV_UNAVAILABLE[part]}")
    print(f"results: {os.path.join(out_dir, 'results.json')}")
    return 0


# ---- x86_64 (make bench ARCH=x86_64) --------------------------------------------------------
# The exit costs and the local APIC's interrupt latencies (part micro), the cross-CPU IPI (part
# ipi, wall clock): the x86 VMs have no virtio
# and no Linux guest yet (docs/porting.md "x86_64"), so the other parts say so instead of a figure.
X86_UNAVAILABLE = {
    "interrupts": "the local APIC's self-IPI and timer latencies are rows of part micro on x86_64",
    "linux": "no x86 Linux guest yet (it needs a vLAPIC timer, a vIOAPIC, an HPET and ACPI tables)",
    "virtio": "the x86 test guests do not build the virtio programs yet (guests/CMakeLists.txt)",
    "shm": "the x86 test guests do not build the shared-memory programs yet (guests/CMakeLists.txt)",
    "blk": "no x86 Linux guest yet",
    "net": "no x86 Linux guest yet",
}


def parse_tsc(lines):
    """BENCH lines of the x86 guest: under -icount shift=0 QEMU's TSC advances once per executed
    instruction (QEMU's cpu_get_ticks() is the icount clock in ns, 1 ns per instruction at shift 0),
    so ticks per iteration are instructions; the frequency field (cxvisor's calibrated TSC rate,
    CPUID 4000_0010h) is not needed and not used."""
    res = {}
    for line in lines:
        m = re.search(r"BENCH (\S+) (\d+) (\d+)", line)
        if m:
            res[m.group(1)] = round(int(m.group(2)) / 1000, 1)
    return res


def main_x86_64(args, parts, img_dir, out_dir):
    vmconfig = os.path.join(args.build, "host", "tools", "vmconfig", "cxv-vmconfig")
    guests = os.path.join(img_dir, "guests")
    qemu_version = run([machines.qemu_binary(), "--version"]).splitlines()[0]
    results = {"arch": "x86_64"}

    def package(name, cpus):
        """The x86 image with configs/vms/x86_64/<name>.toml, or None if cxv-vmconfig refused it."""
        out = os.path.join(out_dir, f"cxvisor-x86_64-{name}.bin")
        r = subprocess.run([vmconfig, "--cpus", str(cpus), "--search-path", guests, "--image",
                            os.path.join(img_dir, "src", "cxvisor.bin"), "-o", out, f"configs/vms/x86_64/{name}.toml"])
        return None if r.returncode else out

    if "micro" in parts:
        bench_image = package("bench", 1)
        if not bench_image:
            return 1
        under = qemu(bench_image, el2=True, test="bench")
        cx = parse_tsc(under)
        needed = ["add100", "hc_nop", "cpuid0", "pio_read", "pio_write", "mmio_read", "mmio_write",
                  "lapic_self_ipi", "lapic_timer"]
        if any(k not in cx for k in needed) or not any("TEST bench PASS" in line for line in under):
            print("bench: missing bench results\n--- under cxvisor:\n" + "\n".join(under))
            return 1
        loop = cx["add100"] - 100
        d = {"loop_overhead": round(loop, 1)}
        for k in needed[1:]:
            # The latencies are per-round means of (handler's read - arming read), no loop around them.
            d[f"{k}_round_trip"] = round(cx[k] - (0 if k.startswith("lapic_") else loop), 1)
        results["micro"] = {
            "method": f"{qemu_version}, -icount {ICOUNT}, -M pc -cpu qemu64,+svm,+npt, 1 CPU; "
                      "guests/programs/bench.cpp + bench-x86_64.cpp, configs/vms/x86_64/bench.toml; 1000 iterations; "
                      "instructions per iteration = guest TSC ticks (1 per instruction at icount shift 0); "
                      "loop overhead (add100 - 100) subtracted (not from the lapic_ latencies, which are "
                      "per-round means of handler read - arming read)",
            "under_cxvisor": d, "raw_under_cxvisor": cx,
            "bare_qemu": "not run: the x86 test guests enter by cxvisor's 32-bit protocol (no Multiboot header), "
                         "so QEMU cannot boot them directly; natively each case is the one instruction"}
    if "ipi" in parts:
        # Wall clock, -smp 2 without -icount, as on the other ISAs (bench-ipi.cpp says why); under
        # cxvisor only: the x86 test guests cannot boot on bare QEMU (no Multiboot header).
        ipi_image = package("bench-ipi", 2)
        if not ipi_image:
            return 1
        under = qemu_wall(ipi_image, el2=True, smp=2, test="bench-ipi")
        cx = parse_ns(under)
        if any(k not in cx for k in ("ipi_spin", "ipi_wfi")) or not any("TEST bench-ipi PASS" in l for l in under):
            print("bench: missing cross-CPU IPI results\n--- under cxvisor:\n" + "\n".join(under))
            return 1
        results["cross_cpu_ipi"] = {
            "method": f"{qemu_version}; guests/programs/bench-ipi.cpp + bench-ipi-x86_64.cpp, configs/vms/x86_64/"
                      "bench-ipi.toml: 2 vCPUs pinned to CPUs 0 and 1, QEMU -smp 2 without -icount (wall clock; "
                      "depends on the machine's load); the TSC read before the ICR write -> the target's "
                      "interrupt handler's first TSC read (after the runtime's register saves), median of the rounds",
            "under_cxvisor": cx,
            "bare_qemu": "not run: the x86 test guests cannot boot on bare QEMU (no Multiboot header)"}
    for part in sorted(parts & set(X86_UNAVAILABLE)):
        results[part] = {"status": "not available on x86_64", "reason": X86_UNAVAILABLE[part]}
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    if "cross_cpu_ipi" in results:
        c = results["cross_cpu_ipi"]["under_cxvisor"]
        print(f"{'x86_64 cross-CPU IPI (us, wall clock, median)':48} {'cxvisor':>10}")
        print(f"{'  to a running vCPU':48} {c['ipi_spin']['median_ns'] / 1000:>10.1f}")
        print(f"{'  to a vCPU in HLT':48} {c['ipi_wfi']['median_ns'] / 1000:>10.1f}")
    if "micro" in results:
        m = results["micro"]["under_cxvisor"]
        print(f"{'x86_64 (guest-visible instructions)':48} {'cxvisor':>10}")
        for key, label in (("hc_nop_round_trip", "null hypercall (VMMCALL, HC_NR_NOP)"),
                           ("cpuid0_round_trip", "CPUID leaf 0 (intercepted)"),
                           ("pio_read_round_trip", "port-I/O read (IN, 16550 LSR at 3fdh)"),
                           ("pio_write_round_trip", "port-I/O write (OUT, 16550 SCR at 3ffh)"),
                           ("mmio_read_round_trip", "emulated MMIO read (16550 LSR, movzbq)"),
                           ("mmio_write_round_trip", "emulated MMIO write (16550 SCR, movb)"),
                           ("lapic_self_ipi_round_trip", "self-IPI to its handler (vLAPIC ICR)"),
                           ("lapic_timer_round_trip", "APIC timer 1 tick ahead to its handler")):
            print(f"{label:48} {m[key]:>10}")
    for part in sorted(parts & set(X86_UNAVAILABLE)):
        print(f"{part}: not available on x86_64: {X86_UNAVAILABLE[part]}")
    print(f"results: {os.path.join(out_dir, 'results.json')}")
    return 0


def main_checked():
    def on_signal(signum, _frame):
        raise SystemExit(f"bench: stopped by {signal.Signals(signum).name}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        status = main()
    finally:
        left = survivors()
        if left:
            print(f"bench: FAIL: QEMU process group(s) {left} still alive after the run", file=sys.stderr)
    return 1 if left else status


if __name__ == "__main__":
    sys.exit(main_checked())
