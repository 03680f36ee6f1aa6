#!/bin/sh
# Run as /test.sh by configs/vms/blk-linux.toml: a Linux VM whose disk vda is a 32 MiB region of
# the host's virtio-blk disk (cxvisor's own driver below it) holding an ext4 root filesystem
# (scripts/blk-guest.sh). The first run on a fresh disk writes /data/persist.txt, flushes and powers
# off; a second QEMU run on the same disk file finds it there (system.blk-persist-*). Both runs
# also run the disk's own busybox (chroot) and check the device's size and serial (GET_ID).
CXV_TEST=linux-blk
. /lib/cxv/lib.sh
. /lib/cxv/blk-lib.sh

check "virtio_blk found vda" blk_modules
say "vda: $(blk_sectors) sectors, serial '$(cat /sys/block/vda/serial 2>/dev/null)', ro $(cat /sys/block/vda/ro)"
check "vda is the 32 MiB region" test "$(blk_sectors)" = 65536
# The VM's id comes from the kernel command line (cxv_vm_id=N in the VM config): the id is per ISA.
vm=$(sed -n 's/.*cxv_vm_id=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
check "GET_ID names the VM (${vm:-no cxv_vm_id= on the command line}) and device" grep -qx "cxv${vm:-?}-vda" /sys/block/vda/serial
mkdir -p /newroot
check "mount the ext4 root filesystem on vda" mount -t ext4 /dev/vda /newroot
check "the disk's own busybox runs (chroot)" chroot /newroot /bin/busybox cat /etc/cxv-rootfs
if [ -f /newroot/data/persist.txt ]; then
    say "found /data/persist.txt: $(cat /newroot/data/persist.txt)"
    check "the file written by the first run is there" grep -q "written by the first run" /newroot/data/persist.txt
else
    echo "cxv-blk: written by the first run, $(seq 1 1000 | md5sum | cut -c1-8)" >/newroot/data/persist.txt
    check "write /data/persist.txt" test -s /newroot/data/persist.txt
    # sync: the page cache to the device, then a VIRTIO_BLK_T_FLUSH that cxvisor passes to the
    # host disk before completing it.
    sync
    say "wrote /data/persist.txt"
fi
check "unmount cleanly" umount /newroot
finish
