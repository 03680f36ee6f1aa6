# The loongarch64 backend's sources (paths relative to src/), for src/CMakeLists.txt.
set(CXV_ARCH_SOURCES
  arch/loongarch64/boot.S
  arch/loongarch64/trap.cpp
  arch/loongarch64/intc.cpp
  arch/loongarch64/boot_info.cpp
  arch/loongarch64/mmu.cpp
  arch/loongarch64/host.cpp
  arch/loongarch64/vcpu.cpp
  arch/loongarch64/guest_entry.S
  arch/loongarch64/fp_context.S
  drivers/ns16550_console.cpp
  vintc/veiointc.cpp
)
# QEMU's LoongArch `virt` board, ELF loaded by -kernel without firmware.
set(CXV_DEFAULT_PLATFORM qemu-virt-loongarch64)
# No libgcc for loongarch64 on Debian (clang-19 would want compiler-rt's builtins, which the image
# does not need: nothing it does calls them).
set(CXV_ARCH_LIBS)
