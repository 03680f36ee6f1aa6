# QEMU `virt` (riscv64) under OpenSBI: only the link layout is the board's; everything else comes
# from the DTB.
set(CXV_PLATFORM_SOURCES)
