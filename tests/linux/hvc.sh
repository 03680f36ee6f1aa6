#!/bin/sh
# Run as /test.sh by configs/vms/linux-hvc.toml: Linux's console is hvc0 (console=hvc0) on
# cxvisor's virtio-console, found through the generated DT's virtio_mmio node; virtio_mmio and
# virtio_console are modules (Debian builds them so) that /init loads before this script. The
# kernel could not open /dev/console for /init (hvc0 did not exist yet), so this script takes
# /dev/hvc0 as its standard streams: everything below travels through the virtqueues, and the
# line typed at cxvisor's console arrives through the receive queue (the virtio-console is the
# VM's first console, so it has the input).
CXV_TEST=linux-hvc
i=0
while [ ! -e /dev/hvc0 ] && [ $i -lt 10 ]; do sleep 1; i=$((i + 1)); done
exec </dev/hvc0 >/dev/hvc0 2>&1
. /lib/cxv/lib.sh
say "stdio on /dev/hvc0"
check "hvc0 is the kernel's console" grep -q '^hvc0 ' /proc/consoles
check "virtio_console bound a virtio-mmio device" test -n "$(ls /sys/bus/virtio/drivers/virtio_console | grep '^virtio')"
check "the device is cxvisor's (vendor $(cat /sys/bus/virtio/devices/virtio0/vendor))" grep -qi '^0x0*565843$' /sys/bus/virtio/devices/virtio0/vendor
say "type a line"
read -r line
say "got [$line]"
check "the typed line arrived through hvc0" test "$line" = "typed on hvc0"
irqs=$(sum "$(irq_counts virtio0)")
say "virtio0 interrupts: $irqs"
check "the device interrupted (used buffers)" test "${irqs:-0}" -gt 0
finish
