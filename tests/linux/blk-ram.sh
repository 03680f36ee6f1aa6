#!/bin/sh
# Run as /test.sh by configs/vms/blk-ram.toml: vda is a RAM disk made from the ext4 image in the
# package (writable), vdb the same image read-only. Each VM life must start from the image: the
# script checks that no file of an earlier life is on vda, writes one, and waits for a command on
# the console: "reboot" (the system test's first answer: PSCI SYSTEM_RESET, a new life) or "finish"
# (its second: the verdict, then power off). vdb refuses writes and says it is read-only.
CXV_TEST=linux-blk-ram
. /lib/cxv/lib.sh
. /lib/cxv/blk-lib.sh

check "virtio_blk found vda" blk_modules
check "and vdb" test -b /dev/vdb
mkdir -p /a /b
check "mount vda (RAM disk)" mount -t ext4 /dev/vda /a
check "no file of an earlier life on vda" test ! -e /a/data/life.txt
echo "written in this life" >/a/data/life.txt
sync
check "the file reads back" grep -q "written in this life" /a/data/life.txt
check "vdb is read-only (VIRTIO_BLK_F_RO)" test "$(cat /sys/block/vdb/ro)" = 1
check "mount vdb read-only" mount -t ext4 -o ro,noload /dev/vdb /b
check "vdb holds the image, not vda's writes" test ! -e /b/data/life.txt -a -e /b/etc/cxv-rootfs
umount /b
raw_write_fails() { ! dd if=/dev/zero of=/dev/vdb bs=512 count=1 oflag=direct 2>/dev/null; }
check "a raw write to vdb is refused" raw_write_fails
umount /a
say "ram disk written, waiting for a command"
read -r cmd
case "$cmd" in
reboot) say "rebooting for a new life"; reboot -f ;;
*) finish ;;
esac
