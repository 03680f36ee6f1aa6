# The riscv64 backend's sources (paths relative to src/), for src/CMakeLists.txt.
set(CXV_ARCH_SOURCES
  arch/riscv64/boot.S
  arch/riscv64/atomic_sub_word.cpp
  arch/riscv64/firmware.cpp
  arch/riscv64/libgcc_bits.cpp
  arch/riscv64/trap.cpp
  arch/riscv64/plic.cpp
  arch/riscv64/mmu.cpp
  arch/riscv64/dt_platform.cpp
  arch/riscv64/host.cpp
  arch/riscv64/guest_entry.S
  arch/riscv64/vcpu.cpp
  arch/riscv64/mmio_decode.cpp
  arch/riscv64/sbi.cpp
  drivers/ns16550_console.cpp
)
# QEMU's riscv64 `virt` board under OpenSBI, which the system tests run on.
set(CXV_DEFAULT_PLATFORM qemu-virt-riscv64)
# Debian's riscv64 libgcc is lp64d only and cannot be linked into the lp64 image: the helpers it
# would supply are in libgcc_bits.cpp and atomic_sub_word.cpp.
set(CXV_ARCH_LIBS)
