#!/bin/sh
# Run as /test.sh by configs/vms/blk-fill.toml: vda is the 16 MiB region [32 MiB, 48 MiB) of the
# host disk. The guest writes its whole disk until the end (dd stops there with "No space left"),
# reads past the end (nothing), and flushes; system.blk-region-contained then checks on the disk
# file that exactly its region changed and the rest (the root filesystem before it, the pattern
# after it) did not.
CXV_TEST=linux-blk-fill
. /lib/cxv/lib.sh
. /lib/cxv/blk-lib.sh

check "virtio_blk found vda" blk_modules
sectors=$(blk_sectors)
say "vda: $sectors sectors"
check "vda is the 16 MiB region" test "$sectors" = 32768
# A pattern of 0xA5 bytes over the whole region and one more 64 KiB block past its end (from a
# file, so that dd gets whole blocks).
tr '\000' '\245' </dev/zero | head -c $((257 * 65536)) >/tmp/pattern
out=$(dd if=/tmp/pattern of=/dev/vda bs=64k conv=fsync 2>&1)
say "dd to vda: $(echo "$out" | tr '\n' ' ')"
dd_said() { echo "$out" | grep -q "$1"; }
check "a write past the end of vda fails (No space left)" dd_said "No space left"
check "256 blocks of 64 KiB written before the end" dd_said "^256+0 records out"
past=$(dd if=/dev/vda of=/dev/null bs=512 skip="$sectors" count=1 2>&1 | head -n 1)
check "a read past the end of vda returns nothing ($past)" test "$past" = "0+0 records in"
check "the last sector reads back the pattern" \
    test "$(dd if=/dev/vda bs=512 skip=$((sectors - 1)) count=1 2>/dev/null | tr -d '\245' | wc -c)" = 0
sync
finish
