# Helpers for the virtio-blk test scripts (sourced after lib.sh; copied to /lib/cxv/). busybox sh.

# /init has loaded virtio_mmio, virtio_blk and ext4 (scripts/linux-guest.sh --modules); the disk
# appears once virtio_blk has probed it: wait up to 10 s for /dev/vda.
blk_modules() {
    local i
    for i in $(seq 1 100); do
        [ -b /dev/vda ] && return 0
        sleep 0.1
    done
    return 1
}

# Sectors of /dev/vda (512-byte units, as the device's capacity says).
blk_sectors() { cat /sys/block/vda/size; }
