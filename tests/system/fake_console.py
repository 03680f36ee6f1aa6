#!/usr/bin/env python3
"""A stand-in for QEMU in the harness self-tests (run_qemu.py --qemu-cmd).

Prints what cxvisor prints for two VMs, hello (id 1) and spin (id 2), in one of several scenarios,
then behaves like QEMU with idle VMs: stays alive and silent until killed (unless the scenario
powers the machine off). With --child it also leaves a sleeping child process in its process
group, as a helper process of QEMU might: the harness must kill the whole group.

Scenarios (the self-tests expect the hello lines and judge what comes after them):
  clean        hello passes and powers off, spin finishes a little later and powers off
  panic-late   hello passes and powers off; 0.5 s later, while spin still runs, cxvisor panics
  panic-tail   like panic-late, but the panic line has no newline and nothing follows it
  fail-late    hello passes; later spin prints "TEST spin FAIL" in a last unterminated line
  exit-early   QEMU exits (status 0) before hello has passed
  poweroff     everything passes, then QEMU exits by itself with status 0
  chatter      every line expected, but spin prints forever (the console never goes quiet)
  prompt-twice hello prints "ready" and reads a line, twice; like a UART driver starting up, it
               drops input that arrived before each "ready" (the harness's --send-in-order)
  detail-early spin reports an UNEXPECTED outcome, then 80 more lines, then TEST spin FAIL: the
               detail line lies before the last lines the harness shows
  held         a third VM, held (id 3), is created but not started (autostart = false), and stays so
  held-start   like held, but after spin has ended it is started (the shell's `vm start`), is quiet
               for 2 s, then passes and powers off: started, it has not ended any more
  stderr       like clean, but in the middle of the line "[hello] TEST hello PASS" a message goes to
               stderr without a newline, as QEMU 7.2's riscv64 TCG prints one for each invalid CSR
               instruction a guest runs ("system_opcode_insn: ..."): it must not split the console line
"""
import argparse
import os
import select
import subprocess
import sys
import time


def out(text, newline=True):
    sys.stdout.write(text + ("\n" if newline else ""))
    sys.stdout.flush()


def boot():
    out("cxvisor aarch64: 2 CPUs, 1024 MiB RAM, GICv3 at 8000000, console at 9000000")
    out("cxvisor: vm 1 (hello): 1 vCPU(s) [any], entry 40080000")
    out("cxvisor: vm 2 (spin): 1 vCPU(s) [any], entry 40080000")
    out("cxvisor: 2 VM(s) started on 2/2 CPUs in 1234 us")
    out("[spin] TEST spin START")


def hello(stderr_inside=False):
    out("[hello] TEST hello START")
    out("[hello] hello from cxvisor guest, vcpu 0, vm 1")
    if stderr_inside:
        out("[hello] TEST hel", newline=False)
        sys.stderr.write("system_opcode_insn: Invalid opcode for CSR read/write instruction")
        sys.stderr.flush()
        out("lo PASS")
    else:
        out("[hello] TEST hello PASS")
    out("cxvisor: vm 1 (hello): powered off (PSCI SYSTEM_OFF)")


def read_line():
    """A line from stdin ending in CR or LF (QEMU's console gets what a terminal sends)."""
    got = b""
    while True:
        c = os.read(0, 1)
        if not c or c in b"\r\n":
            return got.decode()
        got += c


def prompt_twice():
    for _ in range(2):
        time.sleep(0.5)  # "booting": what is typed meanwhile is lost, as the driver drains its FIFO
        while select.select([0], [], [], 0)[0] and os.read(0, 64):
            pass
        out("[hello] ready")
        out(f"[hello] got {read_line()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=["clean", "panic-late", "panic-tail", "fail-late", "exit-early", "poweroff",
                                         "chatter", "prompt-twice", "detail-early", "held", "held-start", "stderr"])
    ap.add_argument("--child", action="store_true", help="leave a sleeping child in the process group")
    ap.add_argument("--kernel", default="", help="ignored, like QEMU's: names the test's work directory in "
                    "the command line, where tests/system/leftovers.py looks for processes left behind")
    args = ap.parse_args()
    if args.child:
        # Same session and group as this process; it ignores its stdout, like a QEMU helper.
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", "fake_console.py-child",
                          args.kernel], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)

    boot()
    s = args.scenario
    if s in ("held", "held-start"):
        out("cxvisor: vm 3 (held): 1 vCPU(s) [any], entry 40080000")
        out("cxvisor: vm 3 (held): created, not started (autostart = false)")
    if s == "exit-early":
        out("[hello] TEST hello START")
        return 0
    if s == "prompt-twice":
        prompt_twice()
    hello(stderr_inside=s == "stderr")
    if s == "chatter":
        n = 0
        while True:
            n += 1
            out(f"[spin] spin {n}")
            time.sleep(0.1)
    time.sleep(0.5)
    if s == "panic-late":
        out("cxvisor: PANIC on CPU 1: fake invariant broken")
    elif s == "panic-tail":
        out("cxvisor: PANIC on CPU 1: fake invariant broken, no newline", newline=False)
    elif s == "detail-early":
        out("[spin] UNEXPECTED vcpu 0 op 7: fake detail")
        for n in range(80):
            out(f"[spin] progress {n}")
        out("[spin] TEST spin FAIL: fake (1 checks failed)")
    elif s == "fail-late":
        out("[spin] TEST spin FAIL: fake (1 checks failed)", newline=False)
    else:
        out("[spin] TEST spin PASS")
        out("cxvisor: vm 2 (spin): powered off (PSCI SYSTEM_OFF)")
        if s == "poweroff":
            return 0
        if s == "held-start":
            out("cxvisor: vm 3 (held): started")
            time.sleep(2)
            out("[held] TEST hello PASS")
            out("cxvisor: vm 3 (held): powered off (PSCI SYSTEM_OFF)")
    while True:  # idle VMs: QEMU keeps running until killed
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
