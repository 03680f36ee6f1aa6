# The x86_64 backend's sources (paths relative to src/), for src/CMakeLists.txt.
set(CXV_ARCH_SOURCES
  arch/x86_64/boot.S
  arch/x86_64/trap.cpp
  arch/x86_64/apic.cpp
  arch/x86_64/boot_info.cpp
  arch/x86_64/mmu.cpp
  arch/x86_64/svm.cpp
  arch/x86_64/host.cpp
  arch/x86_64/vcpu.cpp
  arch/x86_64/svm_entry.S
  arch/x86_64/mmio_decode.cpp
  arch/x86_64/cpuid_view.cpp
  # The guests' local APICs (the ISA-neutral register model and its host timers).
  vintc/vlapic.cpp
  vintc/vlapic_vm.cpp
  drivers/ns16550_console.cpp
  # VMX (vmx/): the backend choice and the pure parts, built here so the freestanding compile checks them.
  arch/x86_64/vmx/bitmaps.cpp
  arch/x86_64/vmx/caps.cpp
  arch/x86_64/vmx/exit.cpp
  arch/x86_64/vmx/probe.cpp
  arch/x86_64/vmx/select.cpp
  arch/x86_64/vmx/vmcs.cpp
  # The VMX vCPU: VMXON, the VMCS per vCPU and VM entry (never run on hardware: docs/porting.md "VMX").
  arch/x86_64/vmx/hw.cpp
  arch/x86_64/vmx/vcpu_vmx.cpp
  arch/x86_64/vmx/vmx_entry.S
)
# QEMU's pc and q35 machines under SeaBIOS, loaded by Multiboot.
set(CXV_DEFAULT_PLATFORM qemu-pc)
# Multiboot and ACPI describe the machine, not a device tree: host.cpp has its own host_boot.
set(CXV_ARCH_BOOTS_WITHOUT_DTB ON)
