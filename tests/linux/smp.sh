#!/bin/sh
# Linux SMP under cxvisor, run as /test.sh by the initramfs /init of a 2-vCPU guest
# (configs/vms/linux-smp.toml, riscv64/linux-smp.toml and friends): both CPUs online, the per-CPU
# timer (arm64: arch_timer; riscv64: riscv-timer, Sstc or SBI TIME) ticking on each CPU,
# IPIs counted, a workload on both CPUs at once. Prints one line per check and ends with
# "TEST linux-smp PASS" or "TEST linux-smp FAIL: ...".
CXV_TEST=linux-smp
. /lib/cxv/lib.sh

case "$(uname -m)" in
riscv64) timer=riscv-timer ;;
*) timer=arch_timer ;;
esac

online=$(cat /sys/devices/system/cpu/online)
check "both CPUs online (/sys/devices/system/cpu/online = $online, want 0-1)" [ "$online" = "0-1" ]

# The workload: one busy loop pinned to each CPU, and between them a pipe whose reader and writer
# sit on different CPUs (each write wakes the reader on the other CPU: IPIs).
taskset -c 0 sh -c 'while :; do :; done' &
hog0=$!
taskset -c 1 sh -c 'while :; do :; done' &
hog1=$!
sleep 1
timer1=$(irq_counts "$timer")
resched1=$(irq_counts '^ *IPI0:')
call1=$(irq_counts '^ *IPI1:')
busy1=$(cpu_ticks)
lines=$(taskset -c 0 seq 1 3000 | taskset -c 1 wc -l)
sleep 2
timer2=$(irq_counts "$timer")
resched2=$(irq_counts '^ *IPI0:')
call2=$(irq_counts '^ *IPI1:')
busy2=$(cpu_ticks)
cpu_hog0=$(on_cpu $hog0)
cpu_hog1=$(on_cpu $hog1)
kill $hog0 $hog1
wait $hog0 $hog1 2>/dev/null

say "$timer per CPU: $timer1 -> $timer2 (delta $(delta "$timer1" "$timer2"))"
check "$timer interrupts rise on every CPU (deltas $(delta "$timer1" "$timer2"))" \
    all_positive "$(delta "$timer1" "$timer2")"
say "IPI0 rescheduling per CPU: $resched1 -> $resched2; IPI1 function call per CPU: $call1 -> $call2"
check "rescheduling IPIs counted (total $(sum "$resched2"))" [ "$(sum "$resched2")" -gt 0 ]
check "function call IPIs counted (total $(sum "$call2"))" [ "$(sum "$call2")" -gt 0 ]
check "IPIs sent during the workload (rescheduling +$(sum "$(delta "$resched1" "$resched2")"), function call +$(sum "$(delta "$call1" "$call2")"))" \
    [ $(($(sum "$(delta "$resched1" "$resched2")") + $(sum "$(delta "$call1" "$call2")"))) -gt 0 ]
check "the pipe between CPU 0 and CPU 1 carried every line ($lines of 3000)" [ "$lines" = 3000 ]
check "hogs ran where pinned (CPU $cpu_hog0 and CPU $cpu_hog1, want 0 and 1)" [ "$cpu_hog0:$cpu_hog1" = "0:1" ]
say "busy ticks per CPU: $busy1 -> $busy2 (delta $(delta "$busy1" "$busy2"))"
check "both CPUs busy with the workload (user+system tick deltas $(delta "$busy1" "$busy2"))" \
    all_positive "$(delta "$busy1" "$busy2")"
finish
