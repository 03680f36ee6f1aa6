#!/usr/bin/env bash
# Installs what `make run` / `make test` need on a Debian bookworm machine, once. Idempotent and
# fast when everything is present (one dpkg-query). Fails loudly if something cannot be installed:
# a test must never pass by skipping a missing tool.
set -euo pipefail

PKGS=(
  qemu-system-arm          # qemu-system-aarch64 (QEMU 7.2 on bookworm)
  g++-aarch64-linux-gnu    # cross compiler for the image and guests
  binutils-aarch64-linux-gnu
  qemu-system-misc         # qemu-system-riscv64 (QEMU 7.2 on bookworm)
  g++-riscv64-linux-gnu    # cross compiler for the riscv64 image
  binutils-riscv64-linux-gnu
  qemu-system-x86          # qemu-system-x86_64 (QEMU 7.2 on bookworm; SVM with NPT under TCG)
  clang-19 lld-19 llvm-19  # the loongarch64 image (qemu-system-misc runs it): bookworm has no GNU
                           # toolchain for it, and lld-16 cannot link LoongArch (cmake/loongarch64-elf.cmake)
  device-tree-compiler     # dtc: unit tests compile .dts fixtures, debugging
  libtomlplusplus-dev      # cxv-vmconfig parses TOML with toml++
  libfdt-dev               # cxv-vmconfig writes guest device trees with libfdt
  libgtest-dev             # unit tests
  cmake ninja-build g++ make python3
  gdb-multiarch            # make debug
  cpio                     # initramfs images for Linux guests (scripts/linux-guest.sh)
  e2fsprogs                # mke2fs -d: ext4 root filesystem images for virtio-blk (scripts/blk-guest.sh)
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
