# The aarch64 backend's sources (paths relative to src/), for src/CMakeLists.txt.
set(CXV_ARCH_SOURCES
  arch/aarch64/boot.S
  arch/aarch64/cpu.cpp
  arch/aarch64/host.cpp
  arch/aarch64/gicv3.cpp
  arch/aarch64/mmu.cpp
  arch/aarch64/vcpu.cpp
  arch/aarch64/mmio_decode.cpp
  arch/aarch64/dt_platform.cpp
  arch/aarch64/vgic_hw.cpp
)
# QEMU's `virt` board, which the system tests run on.
set(CXV_DEFAULT_PLATFORM qemu-virt)
