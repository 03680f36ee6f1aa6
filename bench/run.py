#!/usr/bin/env python3
"""make bench: micro-benchmarks of cxvisor's exit paths, reproducible under QEMU -icount.

With `-icount shift=0,align=off,sleep=off` QEMU advances virtual time by exactly 1 ns per guest
instruction, so a delta of the guest's counter (CNTVCT_EL0) converts to an instruction count:
instructions = ticks * 1e9 / CNTFRQ. Emulated-exit costs are therefore counted in instructions
executed by cxvisor and the guest together, the same unit Xen's published figures use.

Each bench guest runs twice in one invocation: under cxvisor, and directly on QEMU at EL1 (no
hypervisor) as the baseline. `bench` measures exits (null hypercall, emulated MMIO); `bench-irq`
the interrupt paths (virtual timer and SGI-to-self latency, a GICD_TYPER read, an EOI) of a VM with
interrupt_mode "emulated". Writes build/bench/results.json and prints a table.
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

ICOUNT = "shift=0,align=off,sleep=off"
QEMU_TIME_LIMIT = 60  # seconds per QEMU run

# Process groups of every QEMU this script started; each must be empty at exit.
g_qemu_groups = []


def run(cmd, timeout=120):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.stdout.decode("utf-8", "replace")


def qemu(kernel, el2, smp=1, test="bench"):
    """Runs a bench guest under QEMU until it reports (or QEMU_TIME_LIMIT); returns its console.

    The bench guest powers itself off (PSCI SYSTEM_OFF), but under cxvisor only the VM stops and
    QEMU runs on, so the run is cut short once the results are printed. QEMU runs in its own
    process group, which is killed and reaped here on every path: a `timeout` wrapper killed
    from Python (as before) leaves QEMU itself running.
    """
    machine = "virt,virtualization=on,gic-version=3" if el2 else "virt,gic-version=3"
    cmd = ["qemu-system-aarch64", "-M", machine, "-cpu", "cortex-a72", "-smp", str(smp),
           "-m", "1G", "-nographic", "-nic", "none", "-icount", ICOUNT, "-kernel", os.path.abspath(kernel)]
    out, buf = [], b""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    g_qemu_groups.append(p.pid)
    deadline = time.monotonic() + QEMU_TIME_LIMIT
    try:
        done = False
        while not done:
            left = deadline - time.monotonic()
            if left <= 0:
                out.append(f"bench: QEMU time limit ({QEMU_TIME_LIMIT} s) reached")
                break
            ready, _, _ = select.select([p.stdout], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                out.append(line)
                if f"TEST {test} PASS" in line or f"TEST {test} FAIL" in line or "PANIC" in line:
                    done = True
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        p.stdout.close()
    if buf:
        out.append(buf.decode("utf-8", "replace"))
    return out


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


def parse(lines):
    res = {}
    for line in lines:
        m = re.search(r"BENCH (\S+) (\d+) (\d+)", line)
        if m:
            name, ticks_x1000, freq = m.group(1), int(m.group(2)), int(m.group(3))
            res[name] = round(ticks_x1000 / 1000 * 1e9 / freq, 1)  # instructions per iteration
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--arch", default="aarch64")
    args = ap.parse_args()
    img_dir = os.path.join(args.build, args.arch)
    out_dir = os.path.join(args.build, "bench")
    os.makedirs(out_dir, exist_ok=True)
    boot = os.path.join(out_dir, "cxvisor-bench.bin")
    vmconfig = os.path.join(args.build, "host", "tools", "vmconfig", "cxv-vmconfig")
    boot_irq = os.path.join(out_dir, "cxvisor-bench-irq.bin")
    for package, config in ((boot, "configs/vms/bench.toml"), (boot_irq, "configs/vms/bench-irq.toml")):
        r = subprocess.run([vmconfig, "--cpus", "1", "--search-path", os.path.join(img_dir, "guests"), "--image",
                            os.path.join(img_dir, "src", "cxvisor.bin"), "-o", package, config])
        if r.returncode:
            return 1

    under = qemu(boot, el2=True)
    bare = qemu(os.path.join(img_dir, "guests", "bench.elf"), el2=False)
    cx, native = parse(under), parse(bare)
    needed = ["add100", "hvc_nop", "mmio_read"]
    if any(k not in cx for k in needed) or "add100" not in native or "mmio_read" not in native:
        print("bench: missing results\n--- under cxvisor:\n" + "\n".join(under) + "\n--- bare:\n" + "\n".join(bare))
        return 1
    # The interrupt paths (guests/programs/bench-irq.cpp), the same way: under cxvisor and bare.
    under_irq = qemu(boot_irq, el2=True, test="bench-irq")
    bare_irq = qemu(os.path.join(img_dir, "guests", "bench-irq.elf"), el2=False, test="bench-irq")
    cxi, nati = parse(under_irq), parse(bare_irq)
    needed_irq = ["add100", "gicd_typer", "irq_timer", "irq_sgi_self", "eoi_pair", "counter_pair"]
    if any(k not in cxi or k not in nati for k in needed_irq):
        print("bench: missing interrupt results\n--- under cxvisor:\n" + "\n".join(under_irq) +
              "\n--- bare:\n" + "\n".join(bare_irq))
        return 1

    # Every iteration includes the loop's own few instructions; add100 carries 100 adds + the same
    # overhead, so (x - (add100 - 100)) is the cost of the operation itself.
    overhead = cx["add100"] - 100

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
    irq_cx, irq_bare = irq_figures(cxi), irq_figures(nati)
    irq_xen = {"timer_irq_latency": 1085, "sgi_self_latency": 1098, "eoi": 1, "gicd_typer_read": 600}
    irq_goal = {"timer_irq_latency": "<= 500", "sgi_self_latency": "<= 500", "eoi": "untrapped",
                "gicd_typer_read": "<= 200"}
    results = {
        "method": f"{run(['qemu-system-aarch64', '--version']).splitlines()[0]}, -icount {ICOUNT}, "
                  "cortex-a72, 1000 iterations; instructions per iteration = CNTVCT ticks * 1e9 / CNTFRQ",
        "under_cxvisor": cx,
        "bare_qemu": native,
        "derived": {
            "loop_overhead": round(overhead, 1),
            "null_hypercall_round_trip": round(cx["hvc_nop"] - overhead, 1),
            "mmio_read_round_trip": round(cx["mmio_read"] - overhead, 1),
            "mmio_read_bare": round(native["mmio_read"] - (native["add100"] - 100), 1),
            "add100_ratio_cxvisor_vs_bare": round(cx["add100"] / native["add100"], 3),
        },
        "reference_xen_4_17": {"null_hypercall_round_trip": 470, "mmio_read_round_trip": 600, **irq_xen},
        "interrupts": {
            "method": "guests/programs/bench-irq.cpp, 1 vCPU, interrupt_mode emulated; latencies include the "
                      "guest's own vector and dispatcher (see bare_qemu); timer latency is rounded down to a "
                      "multiple of 16 instructions (one counter tick)",
            "under_cxvisor": irq_cx,
            "bare_qemu": irq_bare,
            "raw_under_cxvisor": cxi,
            "raw_bare_qemu": nati,
            "goal": irq_goal,
        },
    }
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    d = results["derived"]
    print(f"{'benchmark (guest-visible instructions)':44} {'cxvisor':>10} {'bare QEMU':>10} {'Xen 4.17':>9}")
    print(f"{'100 plain instructions (loop, for scale)':44} {cx['add100']:>10} {native['add100']:>10} {'':>9}")
    print(f"{'null hypercall round trip (HVC)':44} {d['null_hypercall_round_trip']:>10} {'-':>10} {470:>9}")
    print(f"{'emulated MMIO read round trip (PL011 FR)':44} {d['mmio_read_round_trip']:>10} "
          f"{d['mmio_read_bare']:>10} {600:>9}")
    print(f"{'interrupts (guest-visible instructions)':44} {'cxvisor':>10} {'bare QEMU':>10} {'Xen 4.17':>9}  goal")
    for key, label in (("timer_irq_latency", "virtual timer IRQ latency (CVAL -> handler)"),
                       ("sgi_self_latency", "SGI to self latency (SGI1R -> handler)"),
                       ("gicd_typer_read", "GICD_TYPER read (emulated MMIO)"),
                       ("eoi", "EOI (ICC_EOIR1_EL1 write)")):
        print(f"{label:44} {irq_cx[key]:>10} {irq_bare[key]:>10} {irq_xen[key]:>9}  {irq_goal[key]}")
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
