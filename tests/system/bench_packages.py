#!/usr/bin/env python3
"""bench/boot_profile.py --runs builds one VM package per compared image. Two images in one
directory must give two packages, each holding its own image: the old naming (after the image's
grandparent directory) gave both sides one file, so both booted the image packaged last.
A stand-in for cxv-vmconfig writes the --image file's bytes to the -o file."""
import os, stat, sys, tempfile, types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import boot_profile  # noqa: E402

with tempfile.TemporaryDirectory() as d:
    tool = os.path.join(d, "fake-vmconfig")
    with open(tool, "w") as f:
        f.write("#!/bin/sh\n"
                "while [ $# -gt 0 ]; do case $1 in --image) img=$2; shift ;; -o) out=$2; shift ;; esac; shift; done\n"
                "cp \"$img\" \"$out\"\n")
    os.chmod(tool, os.stat(tool).st_mode | stat.S_IXUSR)
    images = {}
    for side in ("base", "new"):
        images[side] = os.path.join(d, side + "-image.bin")
        with open(images[side], "w") as f:
            f.write("image of " + side)
    for name in ("Image", "initrd.cpio.gz"):
        open(os.path.join(d, name), "w").close()
    a = types.SimpleNamespace(vmconfig=tool, smp=2, kernel=os.path.join(d, "Image"),
                              initramfs=os.path.join(d, "initrd.cpio.gz"))
    work = os.path.join(d, "work")
    os.mkdir(work)
    # QEMU's arguments for each side: ["-kernel", <package>] with the package in the image.
    pkgs = {side: boot_profile.package(a, images[side], work, side)[1] for side in images}
    contents = {side: open(p).read() for side, p in pkgs.items()}
    print(f"packages: {pkgs}")
    if pkgs["base"] == pkgs["new"] or contents != {"base": "image of base", "new": "image of new"}:
        sys.exit(f"FAIL: the two sides' packages are not their own images: {contents}")
print("PASS bench-boot-profile-packages")
