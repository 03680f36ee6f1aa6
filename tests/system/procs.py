"""Process-table helpers for the test and bench scripts (Linux /proc): finding what a run left.

Zombies are not counted as alive: a killed process whose parent has exited waits for init to reap
it, and some container inits never do.
"""
import os


def processes():
    """Yields (pid, state, pgrp, argv) of every process that is alive (not a zombie)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp ...
        if fields[0] not in ("Z", "X"):
            yield int(d), fields[0], int(fields[2]), argv


def group_members(pgid):
    """Pids of the live processes in process group pgid."""
    return [pid for pid, _, pgrp, _ in processes() if pgrp == pgid]
