#!/usr/bin/env bash
# Fetches Debian's Linux kernel and busybox-static through apt and builds busybox initramfs
# images for Linux guests. Everything is cached under $BUILD/linux (arm64) or $BUILD/linux/riscv64,
# so a second run costs nothing.
#
#   scripts/linux-guest.sh [--build DIR] [--arch arm64|riscv64] kernel
#                                                            -> prints the path of the kernel Image
#   scripts/linux-guest.sh [--build DIR] --arch riscv64 firmware
#                                                            -> prints the path of OpenSBI's fw_dynamic.bin
#   scripts/linux-guest.sh [--build DIR] [--arch A] initramfs [--modules "M..."] OUT [TEST [FILE...]]
#                                                            -> writes OUT (gzip'd newc cpio)
#
# arm64 (the default) comes from the host's own Debian release (bookworm). Bookworm has no riscv64
# port, so riscv64 comes from trixie: apt gets a sources list of its own naming only trixie, and
# the Release file is checked against the host's debian-archive-keyring (bookworm's package ships
# the trixie keys), never with signature checks turned off.
#
# The initramfs's /init mounts proc, sys and dev, loads the kernel modules --modules names (Debian
# builds virtio_mmio, virtio_blk, virtio_net, virtio_console and ext4 as modules; their
# dependencies come along, in load order, from each module's depends= and softdep pre: entries),
# prints "cxv-linux: init" and then runs TEST (a shell script copied in as /test.sh) if one was
# given, else an interactive shell on the console.
# FILEs (helpers the script sources) go to /lib/cxv/. When the script or the shell ends, it powers
# the machine (under cxvisor: the VM) off; so do `poweroff` and `reboot` typed at the shell (the
# latter through PSCI SYSTEM_RESET or SBI SRST: the VM boots again).
#
# apt is used with its own state directory and APT::Architecture=<arch>, so the host's apt
# configuration is not changed (no dpkg --add-architecture). Fails loudly if anything is missing:
# a test must never pass by skipping.
set -euo pipefail

BUILD=build
ARCH=arm64
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --arch) ARCH=$2; shift 2 ;;
    *) break ;;
    esac
done
BUILD=$(realpath -m "$BUILD")
case "$ARCH" in
arm64) DIR=$BUILD/linux ;;
riscv64) DIR=$BUILD/linux/riscv64 ;;
*) echo "linux-guest: --arch $ARCH: only arm64 and riscv64 are known" >&2; exit 2 ;;
esac
APTDIR=$DIR/apt
mkdir -p "$DIR"

# apt's options for this architecture's own state directory. riscv64 also gets its own sources
# list (trixie only) and no sources.list.d, so the host's bookworm entries do not mix in.
apt_opts() {
    printf '%s\n' -o Dir::State="$APTDIR/state" -o Dir::State::status="$APTDIR/state/status" \
        -o Dir::Cache="$APTDIR/cache" -o APT::Architecture="$ARCH" -o APT::Architectures::="$ARCH"
    if [ "$ARCH" = riscv64 ]; then
        printf '%s\n' -o Dir::Etc::sourcelist="$APTDIR/sources.list" -o Dir::Etc::sourceparts="$APTDIR/sources.list.d"
    fi
}
apt_arch() {
    local opts
    mapfile -t opts < <(apt_opts)
    apt-get "${opts[@]}" -o Debug::NoLocking=1 -qq "$@"
}
apt_cache_arch() {
    local opts
    mapfile -t opts < <(apt_opts)
    apt-cache "${opts[@]}" "$@"
}

# The RISC-V Linux Image header (Documentation/arch/riscv/boot-image-header.rst): "RSC\x05" at
# offset 0x38. Debian's riscv64 package ships boot/vmlinux-* gzip-compressed or as that Image.
is_riscv_image() { [ "$(od -An -tx1 -j 56 -N 4 "$1" | tr -d ' ')" = 52534305 ]; }

# apt's state directory and (riscv64) its own trixie sources list, then `apt-get update`. apt fails
# the update (and so this script) when the Release signature does not verify. Callers hold the lock.
apt_update() {
    mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial"
    touch "$APTDIR/state/status"
    if [ "$ARCH" = riscv64 ]; then
        local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
        [ -f "$keyring" ] || { echo "linux-guest: $keyring is missing (package debian-archive-keyring)" >&2; exit 1; }
        mkdir -p "$APTDIR/sources.list.d"
        echo "deb [signed-by=$keyring] http://deb.debian.org/debian trixie main" >"$APTDIR/sources.list"
    fi
    apt_arch update
}

# Downloads and unpacks the two packages once; leaves $DIR/Image, $DIR/busybox and the kernel's
# modules in $DIR/modules (lib/modules/<version> of the package).
fetch() {
    fetched() { [ -f "$DIR/Image" ] && [ -x "$DIR/busybox" ] && [ -d "$DIR/modules/kernel" ]; }
    fetched && return 0
    # The build generates several initramfs images at once: one of them fetches, the others wait
    # for it (a cache from before --modules existed has no modules yet, so each would fetch).
    exec {lock}>"$DIR/.fetch.lock"
    flock "$lock"
    if fetched; then exec {lock}>&-; return 0; fi
    command -v cpio >/dev/null || { echo "linux-guest: cpio is missing (scripts/setup.sh installs it)" >&2; exit 1; }
    mkdir -p "$DIR/debs"
    echo "linux-guest: fetching Debian's $ARCH kernel and busybox-static through apt" >&2
    apt_update
    # linux-image-<arch> is the meta package; it names the versioned kernel package to download.
    local kpkg
    kpkg=$(apt_cache_arch depends "linux-image-$ARCH" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$kpkg" ] || { echo "linux-guest: apt names no kernel for linux-image-$ARCH" >&2; exit 1; }
    (cd "$DIR/debs" && rm -f ./*.deb && apt_arch download "$kpkg" busybox-static 2>/dev/null) ||
        { echo "linux-guest: apt-get download $kpkg busybox-static failed" >&2; exit 1; }
    rm -rf "$DIR/x" && mkdir -p "$DIR/x"
    for d in "$DIR"/debs/*.deb; do dpkg-deb -x "$d" "$DIR/x"; done
    local img
    img=$(ls "$DIR"/x/boot/vmlinu[xz]-* | head -n 1)
    if [ "$ARCH" = riscv64 ]; then
        # The loader (cxv-vmconfig, QEMU -kernel) wants the bare Image: undo a gzip wrapper.
        if gzip -t "$img" 2>/dev/null; then gzip -dc "$img" >"$DIR/Image.tmp"; else cp "$img" "$DIR/Image.tmp"; fi
        is_riscv_image "$DIR/Image.tmp" ||
            { echo "linux-guest: $(basename "$img") of $kpkg is no RISC-V Image (no RSC\\x05 at 0x38)" >&2; exit 1; }
    else
        # boot/vmlinuz-* in Debian's arm64 package is an uncompressed arm64 Image.
        cp "$img" "$DIR/Image.tmp"
    fi
    mv "$DIR/Image.tmp" "$DIR/Image"
    # trixie's packages are merged-/usr (usr/bin, usr/lib/modules); bookworm's are not.
    local bb mods
    bb=$(ls "$DIR"/x/bin/busybox "$DIR"/x/usr/bin/busybox 2>/dev/null | head -n 1 || true)
    mods=$(ls -d "$DIR"/x/lib/modules/* "$DIR"/x/usr/lib/modules/* 2>/dev/null | head -n 1 || true)
    [ -n "$bb" ] && [ -n "$mods" ] || { echo "linux-guest: no busybox or lib/modules in the packages" >&2; exit 1; }
    cp "$bb" "$DIR/busybox"
    rm -rf "$DIR/modules"
    mv "$mods" "$DIR/modules"
    echo "$kpkg" >"$DIR/kernel-package"
    rm -rf "$DIR/x" "$DIR/debs"
    exec {lock}>&-
}

# The .ko files for module names $*, dependencies first, one path (relative to $DIR/modules) per
# line. Dependencies are read from each module's .modinfo (depends=, softdep=pre:); a softdep on
# a crypto algorithm (crypto-crc32c) takes the module of that name or <name>_generic.
# A module may be xz-compressed (<name>.ko.xz: trixie's riscv64 kernel); a module built into the
# kernel (listed in modules.builtin: trixie's riscv64 virtio_console) needs nothing and is left out.
# An unknown module name is an error.
module_file() { # the path of module $1 (.ko or .ko.xz) relative to $DIR/modules, or nothing
    (cd "$DIR/modules" && find kernel \( -name "$1.ko" -o -name "$1.ko.xz" \) -print -quit)
}
module_builtin() { grep -q "/$1\.ko\$" "$DIR/modules/modules.builtin" 2>/dev/null; }
modinfo_of() { # the module's bytes, decompressed
    case $1 in *.xz) xz -dc "$DIR/modules/$1" ;; *) cat "$DIR/modules/$1" ;; esac
}
modules_in_order() {
    local -A seen=()
    local out=()
    visit() {
        local name=$1 f deps d
        [ -n "${seen[$name]:-}" ] && return 0
        seen[$name]=1
        f=$(module_file "$name")
        if [ -z "$f" ]; then
            module_builtin "$name" && return 0
            echo "linux-guest: no kernel module $name in $(cat "$DIR/kernel-package")" >&2
            return 1
        fi
        deps=$(modinfo_of "$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' ')
        for d in $deps; do visit "$d" || return 1; done
        for d in $(modinfo_of "$f" | tr '\0' '\n' | sed -n 's/^softdep=.*pre: *//p' | sed 's/^crypto-//'); do
            if [ -n "$(module_file "$d")" ]; then visit "$d" || return 1
            elif [ -n "$(module_file "${d}_generic")" ]; then visit "${d}_generic" || return 1
            fi
        done
        out+=("$f")
    }
    local m
    for m in "$@"; do visit "$m" || return 1; done
    printf '%s\n' "${out[@]}"
}

# The machine firmware cxvisor and the native reference runs boot on (riscv64 only): OpenSBI's
# fw_dynamic from trixie's `opensbi` package (an Architecture: all package), in $BUILD/firmware/riscv64.
# Not QEMU 7.2's built-in OpenSBI 1.1 (-bios default), nor bookworm's package (also 1.1): in 1.1,
# sbi_hsm_hart_start() marks the target hart START_PENDING before it writes the start address and
# argument, so a hart that leaves its WFI loop early (any wakeup, not only the IPI) jumps to a stale
# address. Later releases (trixie ships 1.6) write the address and argument first, under a per-hart
# start ticket. That race hung secondary-CPU bring-up of Linux on plain QEMU now and then
# (system.rv-linux-native); cxvisor's own boot survives it (src/arch/riscv64/boot.S).
FW_DIR=$BUILD/firmware/riscv64
firmware() {
    [ "$ARCH" = riscv64 ] || { echo "linux-guest: firmware: only riscv64 boots on a firmware of Debian's" >&2; exit 2; }
    [ -f "$FW_DIR/fw_dynamic.bin" ] && return 0
    mkdir -p "$DIR" "$FW_DIR"
    exec {lock}>"$DIR/.fetch.lock" # one apt at a time in this state directory
    flock "$lock"
    if [ -f "$FW_DIR/fw_dynamic.bin" ]; then exec {lock}>&-; return 0; fi
    echo "linux-guest: fetching Debian trixie's OpenSBI (package opensbi) through apt" >&2
    apt_update
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && apt_arch download opensbi 2>/dev/null) || { echo "linux-guest: apt-get download opensbi failed" >&2; exit 1; }
    dpkg-deb -x "$tmp"/opensbi_*.deb "$tmp/x"
    local fw=$tmp/x/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
    [ -f "$fw" ] || { echo "linux-guest: the opensbi package has no riscv64 generic/fw_dynamic.bin" >&2; exit 1; }
    dpkg-deb -f "$tmp"/opensbi_*.deb Version >"$FW_DIR/version"
    cp "$fw" "$FW_DIR/fw_dynamic.bin.tmp"
    mv "$FW_DIR/fw_dynamic.bin.tmp" "$FW_DIR/fw_dynamic.bin"
    rm -rf "$tmp"
    exec {lock}>&-
}

initramfs() {
    local modules=""
    if [ "${1:-}" = "--modules" ]; then modules=$2; shift 2; fi
    local out test=${2:-}
    out=$(realpath -m "$1")
    fetch
    local root
    root=$(mktemp -d)
    trap 'rm -rf "$root"' RETURN
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,etc,root}
    cp "$DIR/busybox" "$root/bin/busybox"
    # The applets /init and the tests use, as links to busybox.
    for a in sh mount umount cat echo ls mkdir sleep poweroff reboot halt uname grep awk sed head tail \
             wc seq dd md5sum sync setsid cttyhack true false nproc taskset time date dmesg ps kill; do
        ln -s busybox "$root/bin/$a"
    done
    cat >"$root/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
/bin/busybox --install -s # every other applet, for the interactive shell
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Kernel modules the image was built with (scripts/linux-guest.sh --modules), dependencies first.
if [ -f /lib/modules/order ]; then
    while read -r ko; do
        insmod "/lib/modules/$ko" || echo "cxv-linux: insmod $ko failed"
    done </lib/modules/order
    echo "cxv-linux: modules loaded: $(sed 's,.*/,,; s,\.ko$,,' /lib/modules/order | tr '\n' ' ')"
fi
# The prompt ends its line: cxvisor's console shows a VM's output a whole line at a time, so a
# prompt without a newline would only appear once Enter is pressed.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root PS1='cxv-linux:\w#\n'
cd /root
echo "cxv-linux: init on $(nproc) CPU(s), kernel $(uname -r)"
# busybox's poweroff, reboot and halt (without -f) signal PID 1 - USR2, TERM, USR1 - as they would
# busybox init: act on them, so both the shell's `poweroff` and `poweroff -f` stop the VM.
trap 'echo "cxv-linux: powering off"; poweroff -f' USR1 USR2
trap 'echo "cxv-linux: rebooting"; reboot -f' TERM
if [ -x /test.sh ]; then
    /test.sh
    echo "cxv-linux: test script ended with status $?"
else
    echo "cxv-linux: shell ready (exit or poweroff to stop this VM)"
    # In the background, so that `wait` (unlike a foreground job) returns when a signal arrives
    # and the trap runs. cttyhack opens the console itself (a background job's stdin is /dev/null).
    setsid cttyhack sh &
    shell=$!
    while kill -0 "$shell" 2>/dev/null; do wait "$shell"; done
fi
poweroff -f
EOF
    chmod +x "$root/init"
    if [ -n "$test" ]; then
        cp "$test" "$root/test.sh"
        chmod +x "$root/test.sh"
    fi
    if [ -n "$modules" ]; then
        local order ko
        # shellcheck disable=SC2086 # a list of names
        order=$(modules_in_order $modules) || exit 1
        mkdir -p "$root/lib/modules"
        # Uncompressed in the image: busybox's insmod hands the kernel the file as it is.
        while read -r ko; do
            [ -n "$ko" ] || continue
            mkdir -p "$root/lib/modules/$(dirname "$ko")"
            modinfo_of "$ko" >"$root/lib/modules/${ko%.xz}"
        done <<<"$order"
        sed 's/\.xz$//' <<<"$order" | grep . >"$root/lib/modules/order" || true
    fi
    # Further files (helpers the test script sources) go to /lib/cxv/ under their own names.
    local f
    for f in "${@:3}"; do
        mkdir -p "$root/lib/cxv"
        cp "$f" "$root/lib/cxv/"
    done
    mkdir -p "$(dirname "$out")"
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9 >"$out.tmp")
    mv "$out.tmp" "$out"
}

case "${1:-}" in
kernel) fetch; echo "$DIR/Image" ;;
firmware) firmware; echo "$FW_DIR/fw_dynamic.bin" ;;
initramfs) [ $# -ge 2 ] || { echo "usage: $0 initramfs [--modules \"M...\"] OUT [TEST [FILE...]]" >&2; exit 2; }; shift; initramfs "$@" ;;
*) echo "usage: $0 [--build DIR] [--arch arm64|riscv64] kernel | firmware | initramfs [--modules \"M...\"] OUT [TEST [FILE...]]" >&2; exit 2 ;;
esac
