# QEMU `virt` (aarch64): only the link layout is the board's; everything else comes from the DTB.
set(CXV_PLATFORM_SOURCES)
