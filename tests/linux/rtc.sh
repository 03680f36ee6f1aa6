#!/bin/sh
# Run as /test.sh by configs/vms/linux-dt.toml: QEMU virt's PL031 RTC and PL061 GPIO are passed
# through with their host device-tree nodes copied into the generated tree (dt_node) and their
# SPIs forwarded (hardware-linked in the VM's vGIC). Linux's own drivers bind to them; an RTC
# alarm raises the real SPI 2 (INTID 34), which cxvisor forwards: the count of "rtc-pl031" in
# /proc/interrupts rises. A second alarm rises it again, so the guest's deactivation reached the
# physical interrupt (a forwarded SPI left active would never fire twice).
CXV_TEST=linux-rtc
. /lib/cxv/lib.sh

check "the rtc-pl031 driver registered rtc0" test -e /sys/class/rtc/rtc0
check "the pl061 driver registered a GPIO chip" test -e /sys/bus/amba/drivers/pl061_gpio/9030000.pl061
rtc_irqs() { awk '/rtc-pl031/ { s = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; else break; print s; exit }' /proc/interrupts; }
before=$(rtc_irqs)
say "rtc-pl031 interrupts before the alarms: ${before:-none}"
for round in 1 2; do
    echo 0 > /sys/class/rtc/rtc0/wakealarm
    echo +2 > /sys/class/rtc/rtc0/wakealarm
    sleep 4
    now=$(rtc_irqs)
    say "rtc-pl031 interrupts after alarm $round: ${now:-none}"
    check "alarm $round raised the forwarded SPI (count ${before:-none} -> ${now:-none})" \
        test -n "$now" -a -n "$before" -a "${now:-0}" -gt "${before:-0}"
    before=$now
done
grep -E "rtc-pl031|pl061" /proc/interrupts
finish
