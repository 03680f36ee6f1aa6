#!/bin/sh
# Run as /test.sh by configs/vms/linux-ticker.toml: a numbered line every second for 40 s of the
# guest's time, then TEST linux-ticker PASS. Beside another VM that is powered off or reset, its
# lines after that event show the VM kept running; the system tests order them with BEFORE.
CXV_TEST=linux-ticker
. /lib/cxv/lib.sh
i=1
while [ $i -le 40 ]; do
    say "tick $i of 40"
    sleep 1
    i=$((i + 1))
done
finish
