#!/bin/sh
# Two Linux VMs on one cxvisor virtual switch (configs/vms/linux-net-a.toml, linux-net-b.toml), run
# as /test.sh in both. The VM's role comes from its eth0 MAC (the config's): ...:01 is 10.0.8.1,
# ...:02 is 10.0.8.2. Both bring eth0 up, wait for the other to answer ping, then move a file each
# way with busybox nc (the same deterministic bytes in both VMs: seq 1 N) and check its md5sum on
# the receiving side against the sender's, which both print. Kernel command line cxv_net_lines=N
# sets the file (default 300000 lines, 1988895 bytes); each transfer prints its time and rate.
CXV_TEST=linux-net
. /lib/cxv/lib.sh

addr=$(cat /sys/class/net/eth0/address 2>/dev/null)
case "$addr" in
*:01) me=1 peer=2 ;;
*:02) me=2 peer=1 ;;
*)
    check "an eth0 with a MAC ending in 01 or 02 (got '$addr')" false
    finish
    exit 1
    ;;
esac
lines=$(sed -n 's/.*cxv_net_lines=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$lines" ] || lines=300000
say "eth0 $addr: this VM is 10.0.8.$me, its peer 10.0.8.$peer"
ip addr add 10.0.8.$me/24 dev eth0
ip link set eth0 up
check "eth0 up (operstate $(cat /sys/class/net/eth0/operstate), carrier $(cat /sys/class/net/eth0/carrier))" \
    [ "$(cat /sys/class/net/eth0/carrier)" = 1 ]

# The peer boots at its own pace: up to ~120 s for its first answer.
i=0
while ! ping -c 1 -W 1 10.0.8.$peer >/dev/null 2>&1 && [ $i -lt 120 ]; do i=$((i + 1)); done
pings=$(ping -c 5 -W 2 10.0.8.$peer | grep 'packets received')
check "ping 10.0.8.$peer ($pings)" sh -c "echo '$pings' | grep -q ' 5 packets received'"

seq 1 "$lines" >/tmp/file
sum=$(md5sum </tmp/file | cut -d' ' -f1)
say "file: $(wc -c </tmp/file) bytes, md5 $sum"

now() { cut -d' ' -f1 /proc/uptime; }

# receive PORT: one connection's bytes into /tmp/got. busybox nc ends a connection once its stdin
# hits EOF (it shuts its sending half and the sender, reading EOF, quits): a fifo that never
# delivers keeps the listener's stdin open until the sender has closed.
receive() {
    rm -f /tmp/hold /tmp/got
    mkfifo /tmp/hold
    sleep 600 >/tmp/hold &
    holder=$!
    nc -l -p "$1" </tmp/hold >/tmp/got
    kill $holder 2>/dev/null
    got=$(md5sum </tmp/got | cut -d' ' -f1)
    say "received $(wc -c </tmp/got) bytes from 10.0.8.$peer, md5 $got"
    check "received md5 $got = the sent file's md5 $sum" [ "$got" = "$sum" ]
}

# send PORT: the file to the peer's listener; retried while it is not listening yet.
send() {
    t=0
    while [ $t -lt 120 ]; do
        t0=$(now)
        if nc 10.0.8.$peer "$1" </tmp/file 2>/dev/null; then
            t1=$(now)
            awk -v a="$t0" -v b="$t1" -v n="$(wc -c </tmp/file)" 'BEGIN {
                s = b - a; if (s <= 0) s = 0.01
                printf "cxv-linux: sent %d bytes md5 '"$sum"' in %.2f s: %.0f KiB/s\n", n, s, n / s / 1024 }'
            return 0
        fi
        t=$((t + 1))
        sleep 1
    done
    check "connected to 10.0.8.$peer port $1" false
}

if [ $me = 1 ]; then
    receive 5001
    send 5002
else
    send 5001
    receive 5002
fi
st=/sys/class/net/eth0/statistics
say "eth0: rx $(cat $st/rx_packets) packets, tx $(cat $st/tx_packets), rx dropped $(cat $st/rx_dropped), errors rx $(cat $st/rx_errors) tx $(cat $st/tx_errors)"
finish
