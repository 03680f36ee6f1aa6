#!/usr/bin/env python3
"""make soak: the chaos guest with many random seeds, one QEMU run each, stop at the first failure.

The chaos guest's seed is a compile-time constant (guests/programs/chaos.hpp, CXV_CHAOS_SEED), so
for each seed this script reconfigures a separate cross build directory (<build>/soak/<arch>)
with -DCXV_CHAOS_SEED=<seed> and rebuilds only the chaos guest there. It then runs the system test
chaos-contained (riscv64: rv-chaos-contained) exactly as ctest would (the command comes from `ctest --show-only=json-v1`, so
the expected and rejected lines are the test's own), with the soak build's chaos.bin found first
and cxvisor, hello and spin from the normal build. The seeds are printed before the first run; a
failure prints its seed, its console log and the command that repeats it.

Usage: scripts/soak.py [--seeds N | --seed-list S,S,...] [--build DIR] [--arch A] [--jobs J]
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
from leftovers import check as check_leftovers  # noqa: E402

# The system test each ISA's soak repeats: the chaos guest beside hello.
SCENARIOS = {"aarch64": "system.chaos-contained", "riscv64": "system.rv-chaos-contained"}


def scenario(host_dir, arch):
    """The ctest command line of the ISA's chaos scenario, and its environment (ctest's ENVIRONMENT
    property: CXV_ARCH for riscv64) on top of this process's."""
    if arch not in SCENARIOS:
        sys.exit(f"soak: no chaos scenario for {arch} (known: {', '.join(SCENARIOS)})")
    name = SCENARIOS[arch]
    r = subprocess.run(["ctest", "--test-dir", host_dir, "-R", f"^{name}$", "--show-only=json-v1"],
                       capture_output=True, text=True, check=True)
    tests = [t for t in json.loads(r.stdout)["tests"] if t["name"] == name]  # not the fixture's cleanup
    if len(tests) != 1:
        sys.exit(f"soak: ctest in {host_dir} has no single test {name} (run make host first)")
    env = dict(os.environ)
    for prop in tests[0].get("properties", []):
        if prop["name"] == "ENVIRONMENT":
            env.update(v.split("=", 1) for v in prop["value"])
    return tests[0]["command"], env


def with_option(cmd, opt, value):
    """cmd with the value of `opt` replaced."""
    i = cmd.index(opt)
    return cmd[:i + 1] + [value] + cmd[i + 2:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--arch", default="aarch64")
    ap.add_argument("--seeds", type=int, default=50, help="how many random seeds")
    ap.add_argument("--seed-list", default="", help="comma-separated seeds to run instead (to repeat a failure)")
    ap.add_argument("--jobs", default="2")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    os.environ["CXV_BUILD_ROOT"] = build  # machines.py's firmware (riscv64), as the Makefile exports it
    host_dir = os.path.join(build, "host")
    soak_dir = os.path.join(build, "soak", args.arch)
    runs = os.path.join(build, "soak", "runs")
    os.makedirs(runs, exist_ok=True)
    if args.seed_list:
        seeds = [int(s, 0) for s in args.seed_list.split(",") if s.strip()]
    else:
        seeds = [secrets.randbits(64) for _ in range(args.seeds)]
    print(f"soak: {len(seeds)} seed(s): " + " ".join(f"0x{s:016x}" for s in seeds), flush=True)

    base, env = scenario(host_dir, args.arch)
    normal_guests = base[base.index("--guests") + 1]
    configure = ["cmake", "-S", ROOT, "-B", soak_dir, "-G", "Ninja", f"-DCXV_TARGET={args.arch}",
                 f"-DCMAKE_TOOLCHAIN_FILE={os.path.join(ROOT, 'cmake', args.arch + '-elf.cmake')}",
                 "-DCMAKE_BUILD_TYPE=Release"]
    status = 0
    start = time.monotonic()
    for n, seed in enumerate(seeds, 1):
        tag = f"0x{seed:016x}"
        name = f"soak-{tag}"
        log = os.path.join(runs, name + ".log")
        r = subprocess.run(configure + [f"-DCXV_CHAOS_SEED={tag}"], capture_output=True, text=True)
        if r.returncode == 0:
            r = subprocess.run(["ninja", "-C", soak_dir, "-j", str(args.jobs), "cxv-guest-chaos"], capture_output=True,
                               text=True)
        if r.returncode != 0:
            print(f"soak: building the chaos guest with seed {tag} failed:\n{r.stdout}{r.stderr}")
            status = 1
            break
        cmd = with_option(with_option(base, "--name", name), "--workdir", runs)
        i = cmd.index("--guests")
        cmd = cmd[:i] + ["--guests", os.path.join(soak_dir, "guests")] + cmd[i:]  # searched first
        t0 = time.monotonic()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        verdict = r.stdout.strip().splitlines()[0] if r.stdout.strip() else f"exit status {r.returncode}"
        print(f"soak: [{n}/{len(seeds)}] seed {tag}: {verdict}  ({time.monotonic() - t0:.1f} s)", flush=True)
        if r.returncode != 0:
            print(r.stdout)
            print(f"soak: FAILED with seed {tag}\n  log: {log}\n  repeat: make soak SOAK_SEED_LIST={tag}")
            status = 1
            break
    if not check_leftovers([os.path.join(build, "soak")]):
        status = 1
    if status == 0:
        print(f"soak: all {len(seeds)} seed(s) passed in {time.monotonic() - start:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
