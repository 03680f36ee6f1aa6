# QEMU `virt` (loongarch64), direct ELF boot without firmware: only the link layout and where the
# board puts its DTB are the board's (linker.ld); everything else comes from the DTB and fw_cfg.
set(CXV_PLATFORM_SOURCES)
