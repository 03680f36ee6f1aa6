# Helpers for the virtio-blk test scripts (sourced after lib.sh; copied to /lib/cxv/ with the
# modules scripts/blk-guest.sh fetched). busybox sh.

# Loads virtio_mmio, virtio_blk and ext4 with their dependencies, in modules.list order, unless
# the initramfs's /init already did (scripts/linux-guest.sh --modules), then waits up to 10 s for
# /dev/vda.
blk_modules() {
    local m
    if [ -f /lib/cxv/modules.list ]; then
        for m in $(cat /lib/cxv/modules.list); do
            grep -q "^$m " /proc/modules || insmod "/lib/cxv/$m.ko" || say "insmod $m failed"
        done
    fi
    for m in $(seq 1 100); do
        [ -b /dev/vda ] && return 0
        sleep 0.1
    done
    return 1
}

# Sectors of /dev/vda (512-byte units, as the device's capacity says).
blk_sectors() { cat /sys/block/vda/size; }
