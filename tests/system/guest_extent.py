#!/usr/bin/env python3
"""Every test guest's memory lies inside its image's extent.

usage: guest_extent.py DIR   (a build's guests directory: every *.elf in it)

The guests' runtime and programs take [__image_start, __image_end) (guest.ld) as all the memory
the image occupies: isolation fills RAM outside it, reset checks it is zero, dtb_range and the
VM configs are laid out around it. A section the linker script does not place (an orphan) lands
after __image_end and is silently overwritten (loongarch64's .got once did). For each ELF this
checks that every allocated section (SHF_ALLOC, ELF-64 v1.5 "Sections") lies inside the extent;
it fails with the file, the section and its range otherwise, and when DIR holds no ELF at all.
"""
import glob
import os
import struct
import sys

SHF_ALLOC = 0x2
SHT_SYMTAB = 2


def sections(data):
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    out = []
    for i in range(shnum):
        name, typ, flags, addr, off, size, link = struct.unpack_from("<IIQQQQI", data, shoff + i * shentsize)
        out.append({"name": name, "type": typ, "flags": flags, "addr": addr, "off": off, "size": size, "link": link})
    strtab = out[shstrndx]
    for s in out:
        raw = data[strtab["off"] + s["name"]:]
        s["name"] = raw[:raw.index(b"\0")].decode()
    return out


def symbols(data, secs):
    syms = {}
    for s in secs:
        if s["type"] != SHT_SYMTAB:
            continue
        strtab = secs[s["link"]]
        for off in range(s["off"], s["off"] + s["size"], 24):
            name, _info, _other, _shndx, value, _size = struct.unpack_from("<IBBHQQ", data, off)
            raw = data[strtab["off"] + name:]
            syms[raw[:raw.index(b"\0")].decode()] = value
    return syms


def check(path):
    data = open(path, "rb").read()
    if data[:5] != b"\x7fELF\x02" or data[5] != 1:
        return [f"{path}: not a little-endian ELF64 file"]
    secs = sections(data)
    syms = symbols(data, secs)
    if "__image_start" not in syms or "__image_end" not in syms:
        return [f"{path}: no __image_start/__image_end symbols"]
    lo, hi = syms["__image_start"], syms["__image_end"]
    return [f"{path}: section {s['name']} at {s['addr']:#x}..{s['addr'] + s['size']:#x} lies outside the image "
            f"{lo:#x}..{hi:#x} (guest.ld does not place it)"
            for s in secs if s["flags"] & SHF_ALLOC and s["size"] and not (lo <= s["addr"] and s["addr"] + s["size"] <= hi)]


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    elfs = sorted(glob.glob(os.path.join(sys.argv[1], "*.elf")))
    if not elfs:
        print(f"FAIL: no guest ELF in {sys.argv[1]} (build the image of that ISA first)")
        return 1
    problems = [p for e in elfs for p in check(e)]
    for p in problems:
        print("FAIL: " + p)
    if problems:
        return 1
    print(f"PASS: {len(elfs)} guest images, every allocated section inside __image_start..__image_end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
