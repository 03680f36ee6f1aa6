#!/usr/bin/env bash
# Disks for Linux guests on virtio-blk (docs/virtio.md, "virtio-blk"). The kernel modules they need
# (virtio_mmio, virtio_blk, ext4) go into their initramfs with scripts/linux-guest.sh --modules.
#
#   scripts/blk-guest.sh [--build DIR] [--arch arm64|riscv64] rootfs OUT MIB -> OUT: an ext4 filesystem image of MIB MiB with
#                                                        busybox (/bin), /sbin/init and an empty /data
#   scripts/blk-guest.sh [--build DIR] [--arch A] disk OUT -> OUT: the system tests' host disk, 64 MiB:
#                                                        [0, 32 MiB) the ext4 root filesystem,
#                                                        [32, 64 MiB) a repeated text pattern
#
# The filesystem is made by mke2fs -d (e2fsprogs, installed by scripts/setup.sh) without root
# rights or loop devices; busybox is the one scripts/linux-guest.sh fetched for that --arch
# (default arm64; riscv64's is in DIR/linux/riscv64). Fails loudly if anything is missing.
set -euo pipefail

BUILD=build
ARCH=arm64
if [ "${1:-}" = "--build" ]; then BUILD=$2; shift 2; fi
if [ "${1:-}" = "--arch" ]; then ARCH=$2; shift 2; fi
BUILD=$(realpath -m "$BUILD")
HERE=$(cd "$(dirname "$0")" && pwd)
case $ARCH in
arm64) LDIR=$BUILD/linux ;;
riscv64) LDIR=$BUILD/linux/riscv64 ;;
*) echo "blk-guest: --arch $ARCH: only arm64 and riscv64 are known" >&2; exit 2 ;;
esac

rootfs() {
    local out mib=$2
    out=$(realpath -m "$1")
    command -v mke2fs >/dev/null || [ -x /sbin/mke2fs ] || { echo "blk-guest: mke2fs is missing (scripts/setup.sh installs e2fsprogs)" >&2; exit 1; }
    "$HERE/linux-guest.sh" --build "$BUILD" --arch "$ARCH" kernel >/dev/null # busybox
    local root
    root=$(mktemp -d)
    trap 'rm -rf "$root"; trap - RETURN' RETURN
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,root,data}
    cp "$LDIR/busybox" "$root/bin/busybox"
    for a in sh mount umount cat echo ls mkdir sync poweroff true date; do ln -s busybox "$root/bin/$a"; done
    # Booted as root (switch_root) by a guest that wants a whole system from the disk.
    cat >"$root/sbin/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
echo "cxv-blk-root: init from the virtio-blk root filesystem"
exec /bin/sh
EOF
    chmod +x "$root/sbin/init"
    echo "cxvisor virtio-blk root filesystem" >"$root/etc/cxv-rootfs"
    mkdir -p "$(dirname "$out")"
    truncate -s "${mib}M" "$out.tmp" # an existing file: mke2fs then says nothing with -q
    PATH=$PATH:/sbin:/usr/sbin mke2fs -q -F -t ext4 -L cxv-root -E root_owner=0:0 -d "$root" "$out.tmp" "${mib}M"
    mv "$out.tmp" "$out"
}

disk() {
    local out
    out=$(realpath -m "$1")
    rootfs "$out.root" 32
    {
        cat "$out.root"
        # 32 MiB of a pattern no filesystem writes: a region a test can check is untouched.
        { yes "cxv-blk untouched region " || true; } | head -c $((32 * 1024 * 1024)) # yes ends by SIGPIPE
    } >"$out.tmp"
    rm -f "$out.root"
    mv "$out.tmp" "$out"
}

case "${1:-}" in
rootfs) [ $# -eq 3 ] || { echo "usage: $0 rootfs OUT MIB" >&2; exit 2; }; rootfs "$2" "$3" ;;
disk) [ $# -eq 2 ] || { echo "usage: $0 disk OUT" >&2; exit 2; }; disk "$2" ;;
*) echo "usage: $0 [--build DIR] [--arch arm64|riscv64] rootfs OUT MIB | disk OUT" >&2; exit 2 ;;
esac
