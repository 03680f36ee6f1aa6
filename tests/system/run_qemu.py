#!/usr/bin/env python3
"""Boot cxvisor on QEMU with a set of VM configs and judge the serial console.

The console is read to the end of the run, not just until the expected lines appear, so that a
PANIC printed after the last expected line still fails the test:

  1. until every --expect pattern (regexes, any order) has appeared;
  2. then on, until every VM the boot log announced has printed its terminal line (powered off,
     stopped, not started, failed to boot, restart failed; "created, not started" for a VM with
     autostart = false, until a later "started" line) and a short grace period has passed
     quietly, or until the console has been quiet for --settle seconds;
  (every VM ended and --settle quiet seconds with an expected line still missing fails at once;)

all bounded by --timeout. A --reject pattern (and by default PANIC, a guest's "TEST x FAIL", an
unexpected EL2 exception or interrupt) anywhere in the log fails the run, including in a last line
that has no newline. QEMU exiting by itself is fine once every expected line has been seen (with
status 0: a guest may power the machine off), a failure before. QEMU runs in its own process group,
which is killed and reaped at the end, on any error and on SIGTERM/SIGINT/SIGHUP; a member of that
group still alive afterwards fails the run.

The console log is kept next to the boot image for post-mortems. --disk FILE gives the machine a
virtio-blk disk (cxvisor's host disk) and can check its bytes after the run (--disk-same/-filled).
"""
import argparse
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time

import machines
from procs import group_members

DEFAULT_REJECT = [r"PANIC", r"TEST \S+ FAIL", r"unexpected EL2 exception", r"unexpected HS-mode exception",
                  r"unexpected interrupt"]

# What cxvisor prints about each VM of the package (src/vmm/main.cpp create_vms, src/vm/vm.cpp
# finish_stop): one announcement when the VM is created, and one line when it is gone for good. A
# reset ("reset (...), restarting") is not the end.
VM_ANNOUNCED = re.compile(r"cxvisor: vm (\d+) \(.*?\): \d+ vCPU\(s\) \[")
VM_ENDED = re.compile(r"cxvisor: vm (\d+) \(.*?\)(?:: powered off \(|: stopped \(|: stopped by the operator \("
                      r"|: restart failed: | not started: | failed to boot: "
                      r"|: created, not started \(autostart = false\))")
# A VM started after boot (the shell's `vm start`, after a stop or autostart = false): it has not
# ended any more, whatever it printed before.
VM_STARTED = re.compile(r"cxvisor: vm (\d+) \(.*?\): started$")

# Lines that report a failure on their own (a guest's check or model, cxvisor): on a failure they
# are printed even when they lie before the last lines of the console that the report shows.
FAILURE_DETAIL = re.compile(r"UNEXPECTED|FAILED|\bFAIL\b|PANIC|unexpected EL2 exception|unexpected interrupt")
SHOWN_LINES = 60
DETAIL_LINES = 20
ERR_SHOWN = 2000  # bytes of QEMU's stderr a failure report shows

# Once every announced VM has ended, a little more quiet time catches a panic in cxvisor's own
# idle path; a second-long settle would cost every test that much for nothing.
ENDED_GRACE = 0.3


class Stop(Exception):
    """Raised by the signal handler: kill QEMU's group and report."""


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--vmconfig", help="path to cxv-vmconfig")
    ap.add_argument("--vmconfig-arg", action="append", default=[],
                    help="extra cxv-vmconfig option, e.g. --vmconfig-arg=--no-host-check")
    ap.add_argument("--image", help="cxvisor.bin")
    ap.add_argument("--guests", action="append", default=[],
                    help="directory with the guest binaries (repeatable: searched in order)")
    ap.add_argument("--configs", help="directory with the VM .toml files")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--vm", action="append", default=[], help="config name (without .toml)")
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--no-default-reject", action="store_true")
    ap.add_argument("--before", action="append", default=[],
                    help="FIRST=>LATER: FIRST must appear, and before any line matching LATER")
    ap.add_argument("--send", action="append", default=[],
                    help="REGEX=>TEXT: once REGEX has appeared, type TEXT (\\r, \\x1c escapes allowed; "
                         "{wait S} in TEXT pauses S seconds there, the console being read on meanwhile)")
    ap.add_argument("--quiet-between", action="append", default=[],
                    help="FROM=>UNTIL=>REGEX: FROM and then UNTIL must appear, and no line matching REGEX "
                         "between them (e.g. a paused VM's output)")
    ap.add_argument("--send-in-order", action="store_true",
                    help="arm each --send only after the one before it has fired (on a later line): "
                         "a pattern that appears more than once, e.g. a shell prompt after a reboot, "
                         "can then answer its second appearance")
    ap.add_argument("--timeout", type=float, default=60, help="hard limit for the whole run (s)")
    ap.add_argument("--settle", type=float, default=1.5,
                    help="after the expected lines: stop once the console has been quiet this long (s)")
    ap.add_argument("--qemu-extra", default="")
    ap.add_argument("--package-on-medium", action="store_true",
                    help="the VM package alone on a boot medium (fw_cfg, src/vmm/boot_medium.hpp), not in the image")
    # QEMU CPU feature flags for the machine's own CPU model (machines.cpu_with), e.g.
    # "+xsave,+xsaveopt,+avx": unlike a -cpu in --qemu-extra it keeps make test-vmx's KVM host CPU.
    ap.add_argument("--cpu-features", default="")
    # The host machine's virtio-blk disk (cxvisor's own driver, drivers/virtio_blk_host.hpp): FILE
    # is attached as QEMU's -drive ... -device virtio-blk-device; --disk-from copies IMAGE to FILE
    # first (a fresh disk), otherwise FILE is used as it is (a second run on the same disk). After
    # the run, --disk-same START:END says FILE's bytes there still equal IMAGE's, --disk-filled
    # START:END:BYTE that every byte there is BYTE (hex); START/END are bytes, with K or M suffixes.
    ap.add_argument("--disk", help="disk image file for the host's virtio-blk")
    ap.add_argument("--disk-from", help="copy this image to --disk before the run")
    ap.add_argument("--disk-same", action="append", default=[], help="START:END unchanged from --disk-from")
    ap.add_argument("--disk-filled", action="append", default=[], help="START:END:BYTE all BYTE after the run")
    # Harness self-tests: run this command instead of QEMU ("{kernel}" is replaced by the boot
    # image's path); no boot image is built.
    ap.add_argument("--qemu-cmd", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if (args.disk_from or args.disk_same or args.disk_filled) and not args.disk:
        ap.error("--disk-from, --disk-same and --disk-filled need --disk")
    if args.disk_same and not args.disk_from:
        ap.error("--disk-same compares with --disk-from")
    if not args.qemu_cmd:
        if not args.image:
            ap.error("--image is required")
        # Without --vm the bare image boots (no VM package): cxv-vmconfig is not needed.
        for need in ("vmconfig", "configs") if args.vm else ():
            if not getattr(args, need):
                ap.error(f"--{need} is required")
        if args.vm and not args.guests:
            ap.error("--guests is required")
    return args


def disk_offset(text):
    scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:].upper(), 1)
    return int(text[:-1] if scale != 1 else text, 0) * scale


def check_disk(args):
    """The --disk-same / --disk-filled verdicts on the disk file after the run; None when all hold."""
    with open(args.disk, "rb") as f:
        disk = f.read()
    for spec in args.disk_same:
        a, b = (disk_offset(x) for x in spec.split(":"))
        with open(args.disk_from, "rb") as f:
            f.seek(a)
            want = f.read(b - a)
        if disk[a:b] != want:
            first = next(i for i in range(b - a) if i >= len(disk) - a or disk[a + i] != want[i])
            return f"disk bytes [{spec}] changed (first difference at byte {a + first:#x})"
    for spec in args.disk_filled:
        a, b, byte = spec.split(":")
        a, b, byte = disk_offset(a), disk_offset(b), int(byte, 16)
        part = disk[a:b]
        bad = next((i for i, v in enumerate(part) if v != byte), None)
        if len(part) != b - a or bad is not None:
            return f"disk bytes [{spec}] not all {byte:#04x} (byte {a + (bad or 0):#x} is {part[bad or 0]:#04x})"
    return None


def medium_package(boot):
    """Where --package-on-medium puts the package alone (QEMU reads it as a fw_cfg file)."""
    return os.path.splitext(boot)[0] + ".pkg"


def build_boot_image(args, boot):
    if not args.vm or args.package_on_medium:  # the image as built, without a package
        shutil.copyfile(args.image, boot)
        if not args.vm:
            return True
    configs = [os.path.join(args.configs, v + ".toml") for v in args.vm]
    cmd = [args.vmconfig, "--cpus", str(args.smp)]
    cmd += ["-o", medium_package(boot)] if args.package_on_medium else ["--image", args.image, "-o", boot]
    for g in args.guests:
        cmd += ["--search-path", g]
    r = subprocess.run(cmd + args.vmconfig_arg + configs, capture_output=True, text=True)
    if r.returncode != 0:
        print("cxv-vmconfig failed:\n" + r.stdout + r.stderr)
        return False
    return True


def kill_group(proc):
    """SIGKILL QEMU's whole process group, reap QEMU; True when nothing of the group is left."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        return False
    # Members other than QEMU itself (none expected) are not our children; give the kernel a moment.
    for _ in range(50):
        if not group_members(proc.pid):
            return True
        time.sleep(0.02)
    return False


class Judge:
    """Checks console lines against the test's patterns and tracks which VMs have ended."""

    def __init__(self, args):
        self.expect = [re.compile(p) for p in args.expect]
        self.expect_text = list(args.expect)
        self.reject = [re.compile(p) for p in args.reject + ([] if args.no_default_reject else DEFAULT_REJECT)]
        self.before = []  # (index of FIRST in expect, LATER)
        for b in args.before:
            first, later = b.split("=>", 1)
            self.before.append((len(self.expect), re.compile(later), later))
            self.expect.append(re.compile(first))
            self.expect_text.append(first)
        self.quiet = []  # [FROM index in expect, UNTIL index in expect, REGEX, text, state]
        for q in args.quiet_between:
            first, until, pattern = q.split("=>", 2)
            self.quiet.append([len(self.expect), len(self.expect) + 1, re.compile(pattern), pattern, "before"])
            self.expect += [re.compile(first), re.compile(until)]
            self.expect_text += [first, until]
        self.seen = [False] * len(self.expect)
        self.announced, self.ended = set(), set()
        self.verdict = None  # the first failure

    def line(self, line):
        for p in self.reject:
            if p.search(line) and self.verdict is None:
                self.verdict = f"rejected line: {line!r}"
        for first, later, ltext in self.before:
            if later.search(line) and not self.seen[first] and not self.expect[first].search(line) \
                    and self.verdict is None:
                self.verdict = f"{line!r} (matches {ltext!r}) came before {self.expect_text[first]!r}"
        for q in self.quiet:
            frm, until, pattern, ptext, state = q
            if state == "before" and self.expect[frm].search(line):
                q[4] = "between"
            elif state == "between" and self.expect[until].search(line):
                q[4] = "after"
            elif state == "between" and pattern.search(line) and self.verdict is None:
                self.verdict = f"{line!r} (matches {ptext!r}) came between {self.expect_text[frm]!r} and " \
                               f"{self.expect_text[until]!r}"
        for i, p in enumerate(self.expect):
            if not self.seen[i] and p.search(line):
                if any(i == q[1] and q[4] != "after" for q in self.quiet):
                    continue  # an UNTIL counts only after its FROM
                self.seen[i] = True
        m = VM_ANNOUNCED.search(line)
        if m:
            self.announced.add(m.group(1))
        m = VM_ENDED.search(line)
        if m:
            self.announced.add(m.group(1))  # "not started" is both
            self.ended.add(m.group(1))
        m = VM_STARTED.search(line)
        if m:
            self.ended.discard(m.group(1))

    def all_seen(self):
        return all(self.seen)

    def all_vms_ended(self):
        return bool(self.announced) and self.announced <= self.ended

    def missing(self):
        return [self.expect_text[i] for i, s in enumerate(self.seen) if not s]


def run(args, judge, qemu, log_path, err_path):
    """Runs QEMU to the end of the test (verdict in judge); returns (why reading stopped, lines, tail,
    QEMU's stderr as (byte count, its last ERR_SHOWN bytes)).

    QEMU's stderr is read on a pipe of its own and kept in err_path: merged into the console's pipe,
    a warning QEMU writes there could land in the middle of a console line and split it."""
    sends = []
    for s in args.send:
        pat, text = s.split("=>", 1)
        # Pieces to type, and pauses between them: "{wait 1.5}" is a 1.5 s pause.
        pieces = []
        for k, part in enumerate(re.split(r"\{wait ([0-9.]+)\}", text)):
            pieces.append(float(part) if k % 2 else part.encode().decode("unicode_escape").encode("latin-1"))
        sends.append([re.compile(pat), pieces, False])

    start = time.monotonic()
    last_output = start
    proc = subprocess.Popen(qemu, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    err_count, err_tail, err_open = 0, b"", True
    buf = b""
    lines = []
    ended_by = None
    typing = []  # what is still to be typed: bytes, and pauses (float seconds) between them
    type_at = start
    try:
        with open(log_path, "wb") as log, open(err_path, "wb") as errlog:
            while ended_by is None and judge.verdict is None:
                while typing and time.monotonic() >= type_at:
                    item = typing.pop(0)
                    if isinstance(item, float):
                        type_at = time.monotonic() + item
                        continue
                    try:
                        for b in item:
                            proc.stdin.write(bytes([b]))
                            proc.stdin.flush()
                            time.sleep(0.01)
                    except BrokenPipeError:
                        typing = []  # QEMU is gone: reading sees the end of its output next
                now = time.monotonic()
                if now - start >= args.timeout:
                    if judge.all_seen():
                        ended_by = f"timeout after {args.timeout:.0f} s: the console never went quiet"
                    else:
                        ended_by = f"timeout after {args.timeout:.0f} s"
                    judge.verdict = judge.verdict or ended_by
                    break
                # Typing still to come counts as activity: the run is not over while the script runs.
                quiet = 0 if typing else now - last_output
                if not judge.all_seen() and judge.all_vms_ended() and quiet >= args.settle:
                    # Nothing is left to print them: fail now rather than at the timeout.
                    judge.verdict = "every VM ended without every expected line appearing"
                    ended_by = "every VM ended"
                    break
                if judge.all_seen():
                    if judge.all_vms_ended() and quiet >= ENDED_GRACE:
                        ended_by = "every VM ended"
                        break
                    if quiet >= args.settle:
                        ended_by = f"console quiet for {args.settle:g} s"
                        break
                ready, _, _ = select.select([proc.stdout] + ([proc.stderr] if err_open else []), [], [], 0.05)
                if proc.stderr in ready:
                    err = os.read(proc.stderr.fileno(), 65536)
                    err_open = bool(err)
                    errlog.write(err)
                    errlog.flush()
                    err_count += len(err)
                    err_tail = (err_tail + err)[-ERR_SHOWN:]
                if proc.stdout not in ready:
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    status = proc.wait()
                    if not judge.all_seen():
                        judge.verdict = f"QEMU exited with status {status} before every expected line appeared"
                    elif status != 0:
                        judge.verdict = f"QEMU exited with status {status}"
                    ended_by = f"QEMU exited with status {status}"
                    break
                last_output = time.monotonic()
                log.write(chunk)
                log.flush()
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    lines.append(line)
                    judge.line(line)
                    # In order: only the first send not yet fired is armed, and the next one
                    # only from the following line on.
                    armed = [s for s in sends if not s[2]][:1] if args.send_in_order else sends
                    for s in armed:
                        if not s[2] and s[0].search(line):
                            s[2] = True
                            typing += [0.05] + s[1]
    finally:
        gone = kill_group(proc)
    # A last line without a newline is judged like any other.
    tail = buf.decode("utf-8", "replace").rstrip("\r")
    if tail:
        judge.line(tail)
    if not gone and judge.verdict is None:
        judge.verdict = f"QEMU's process group {proc.pid} survived SIGKILL"
    if err_open:  # what QEMU wrote to stderr before it was killed
        rest = proc.stderr.read()
        with open(err_path, "ab") as errlog:
            errlog.write(rest)
        err_count += len(rest)
        err_tail = (err_tail + rest)[-ERR_SHOWN:]
    return ended_by, lines, tail, (err_count, err_tail.decode("utf-8", "replace"))


def main():
    args = parse_args()

    def on_signal(signum, _frame):
        raise Stop(signal.Signals(signum).name)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    # Absolute: tests/system/leftovers.py finds our QEMU by this directory in its command line.
    args.workdir = os.path.abspath(args.workdir)
    os.makedirs(args.workdir, exist_ok=True)
    boot = os.path.join(args.workdir, f"{args.name}.bin")
    log_path = os.path.join(args.workdir, f"{args.name}.log")
    err_path = os.path.join(args.workdir, f"{args.name}.stderr")
    if args.qemu_cmd:
        qemu = [a.replace("{kernel}", boot) for a in shlex.split(args.qemu_cmd)]
    else:
        if not build_boot_image(args, boot):
            return 1
        qemu = machines.host(args.smp, args.mem, cpu=machines.cpu_with(args.cpu_features)) + ["-kernel", boot]
        if args.package_on_medium and args.vm:
            qemu += machines.package_medium(medium_package(boot))
        args.expect += machines.vmx_expectations()  # make test-vmx: the VMX backend must be the one chosen
        qemu += args.qemu_extra.split()
        if args.disk:
            if args.disk_from:
                shutil.copyfile(args.disk_from, args.disk)
            qemu += machines.disk(args.disk)

    judge = Judge(args)
    start = time.monotonic()
    try:
        ended_by, lines, tail, (err_count, err_tail) = run(args, judge, qemu, log_path, err_path)
    except Stop as e:
        print(f"FAIL {args.name}: stopped by {e} (QEMU killed)")
        return 1
    elapsed = time.monotonic() - start
    if judge.verdict is None and not judge.all_seen():
        judge.verdict = "not every expected line appeared"
    if judge.verdict is None and args.disk:
        judge.verdict = check_disk(args)
    ended = f"{len(judge.ended & judge.announced)}/{len(judge.announced)} VMs ended"
    if judge.verdict is None:
        print(f"PASS {args.name} ({elapsed:.1f} s, {len(lines)} console lines, {ended}; stopped reading: {ended_by})")
        return 0
    print(f"FAIL {args.name}: {judge.verdict} ({elapsed:.1f} s, {ended})")
    missing = judge.missing()
    if missing:
        print("never seen: " + ", ".join(repr(m) for m in missing))
    earlier = [ln for ln in lines[:-SHOWN_LINES] if FAILURE_DETAIL.search(ln) or any(p.search(ln) for p in judge.reject)]
    if earlier:
        print(f"---- earlier lines that report a failure ({min(len(earlier), DETAIL_LINES)} of {len(earlier)}) ----")
        print("\n".join(earlier[:DETAIL_LINES]))
    print(f"---- console (last {SHOWN_LINES} lines) ----")
    print("\n".join(lines[-SHOWN_LINES:] + ([tail + "  <no newline>"] if tail else [])))
    if err_count:
        print(f"---- QEMU's stderr ({err_count} bytes, the last {len(err_tail)} shown) ----")
        print(err_tail)
    print(f"---- full log: {log_path}" + (f" (QEMU's stderr: {err_path})" if err_count else ""))
    return 1


if __name__ == "__main__":
    sys.exit(main())
