#!/usr/bin/env python3
"""Boot profile of the bench Linux guest (docs/benchmarks.md, "Where the boot time goes").

Boots configs/vms/bench-linux.toml once under cxvisor (or the same guest directly on QEMU with
--native) with an initramfs whose /init powers the VM off at once, stamps every console line on
arrival, and prints the milestones: cxvisor's "VM(s) started ... in N us", Linux's "Freeing unused
kernel memory", /init's line, and, with an image built with -DCXV_EXIT_STATS=ON, the exit counts
the VM prints when it powers off, and QEMU's TLB flush counts (`info jit` over the monitor).
--icount runs QEMU with -icount shift=0,align=off,sleep=off: the virtual counter then counts
executed instructions, a load-independent proxy (read the guest's own printk stamps and cxvisor's
"started in" figure, not the wall-clock column). --runs N --base-image OLD compares native QEMU,
OLD and --image in interleaved rounds: wall clock to /init's line and QEMU's CPU time up to it
(user + system from the reaped QEMU's rusage, less sensitive to the machine's load).

  python3 bench/boot_profile.py --image build/stats/src/cxvisor.bin --vmconfig build/host/tools/vmconfig/cxv-vmconfig \\
      --initramfs /tmp/initrd-off.cpio.gz --kernel build/linux/Image [--native] [--icount]
"""
import argparse, os, re, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "system"))
import machines  # noqa: E402

CONFIG = "configs/vms/bench-linux.toml"


def monitor(sock, command):
    """One HMP command over QEMU's monitor socket; returns its output."""
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.settimeout(5)
    out = b""
    def until_prompt():
        nonlocal out
        buf = b""
        while not buf.endswith(b"(qemu) "):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf
    until_prompt()
    s.sendall(command.encode() + b"\n")
    out = until_prompt().decode(errors="replace")
    s.close()
    return out


def run(cmd, limit, sock=None, native=False):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    t0 = time.monotonic()
    lines = []
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace").rstrip()
            lines.append((time.monotonic() - t0, line))
            if "powered off" in line or (native and "reboot: Power down" in line) or "PANIC" in line or "Kernel panic" in line:
                break
            if time.monotonic() - t0 > limit:
                break
        if sock:
            lines += [(time.monotonic() - t0, "monitor: " + l) for l in monitor(sock, "info jit").splitlines()
                      if "TLB" in l or "TB count" in l or "cycles" in l]
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    return lines


def package(a, image, d, side, medium=False):
    """QEMU's boot arguments for `image` with the VM package, for one side of the comparison, the
    files named after the side: two images from one directory (or two build trees whose parents
    share a name) must not share a file, or both sides would boot whichever package was built
    last. `medium`: the package alone on fw_cfg (src/vmm/boot_medium.hpp), else inside the image."""
    link = os.path.join(d, "bench-linux-initramfs.cpio.gz")
    if not os.path.exists(link):
        os.symlink(os.path.abspath(a.initramfs), link)
    pkg = os.path.join(d, side + "-pkg.bin")
    subprocess.run([a.vmconfig, "--cpus", str(a.smp), "--search-path", os.path.dirname(os.path.abspath(a.kernel)),
                    "--search-path", d] + ([] if medium else ["--image", image]) + ["-o", pkg, CONFIG], check=True,
                   stdout=subprocess.DEVNULL)
    if medium:
        return ["-kernel", image] + machines.package_medium(pkg)
    return ["-kernel", pkg]


def rss_mib(pid):
    """QEMU's resident memory now (VmRSS), in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def time_to_init(cmd):
    """Wall clock from QEMU's start to /init's line, QEMU's CPU time (user + system, from wait4's
    rusage of the reaped QEMU, killed right at that line): the CPU time is far less sensitive to the
    machine's load than the wall clock; and QEMU's resident memory at that line (host memory the
    boot touched)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    t0 = time.monotonic()
    t = None
    rss = 0.0
    try:
        for raw in p.stdout:
            if b"cxv-linux: init on" in raw:
                t = time.monotonic() - t0
                rss = rss_mib(p.pid)
                break
            if time.monotonic() - t0 > 120:
                break
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = -signal.SIGKILL
    if t is None:
        sys.exit(f"boot_profile: {' '.join(cmd[:3])}... did not reach /init")
    return t, ru.ru_utime + ru.ru_stime, rss


def compare(a):
    """Rounds of native QEMU, --base-image and --image (the order rotates every round), wall clock
    from QEMU's start to /init's line; per-round ratios and medians."""
    with tempfile.TemporaryDirectory() as d:
        cmds = {"native": machines.native(a.smp, "256M") + ["-kernel", a.kernel, "-initrd", a.initramfs,
                                                            "-append", f"console={machines.console()}"]}
        for side, image in (("base", a.base_image), ("new", a.image)):
            cmds[side] = machines.host(a.smp, "1G") + package(
                a, image, d, side, a.base_medium if side == "base" else a.medium)
        order = ["native", "base", "new"]
        times = {k: [] for k in order}
        cpu = {k: [] for k in order}
        rss = {k: [] for k in order}
        for i in range(a.runs):
            for side in order[i % 3:] + order[:i % 3]:
                t, c, r = time_to_init(cmds[side])
                times[side].append(t)
                cpu[side].append(c)
                rss[side].append(r)
            n, b, c = (times[k][-1] for k in order)
            cn, cb, cc = (cpu[k][-1] for k in order)
            print(f"round {i + 1}: native {n:.3f} base {b:.3f} ({b / n:.3f}) new {c:.3f} ({c / n:.3f}); "
                  f"QEMU CPU s: native {cn:.3f} base {cb:.3f} ({cb / cn:.3f}) new {cc:.3f} ({cc / cn:.3f}); "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    for label, v in (("wall", times), ("QEMU CPU", cpu)):
        rb = [b / n for n, b in zip(v["native"], v["base"])]
        rc = [c / n for n, c in zip(v["native"], v["new"])]
        print(f"{label} median s: native {med(v['native']):.3f} base {med(v['base']):.3f} new {med(v['new']):.3f}; "
              f"median ratio base {med(rb):.3f} new {med(rc):.3f}")
    print(f"QEMU resident MiB at /init (median): native {med(rss['native']):.1f} base {med(rss['base']):.1f} "
          f"new {med(rss['new']):.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--vmconfig", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initramfs", required=True)
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--icount", action="store_true")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--all", action="store_true", help="print every console line")
    ap.add_argument("--runs", type=int, default=0,
                    help="instead of one profile: N rounds of native / --base-image / --image, wall clock to /init")
    ap.add_argument("--base-image", help="the cxvisor image to compare with (--runs)")
    ap.add_argument("--medium", action="store_true", help="--image reads the package from fw_cfg")
    ap.add_argument("--base-medium", action="store_true", help="--base-image reads the package from fw_cfg")
    a = ap.parse_args()
    if a.runs:
        return compare(a)
    icount = ["-icount", "shift=0,align=off,sleep=off"] if a.icount else []
    with tempfile.TemporaryDirectory() as d:
        if a.native:
            cmd = machines.native(a.smp, "256M") + icount + ["-kernel", a.kernel, "-initrd", a.initramfs,
                                                             "-append", f"console={machines.console()}"]
        else:
            cmd = machines.host(a.smp, "1G") + icount + package(a, a.image, d, "new", a.medium)
        sock = os.path.join(d, "mon.sock")
        cmd += ["-monitor", f"unix:{sock},server=on,wait=off", "-no-shutdown"]
        lines = run(cmd, 300, sock, a.native)
    keys = ["VM(s) started", "Booting Linux", "Freeing unused kernel memory", "cxv-linux: init on", "exit stats",
            "powered off", "reboot: Power down", "PANIC", "Kernel panic", "monitor:"]
    for t, l in lines:
        if a.all or any(k in l for k in keys):
            print(f"{t:8.3f} {l}")


if __name__ == "__main__":
    main()
