#include "vcpu.hpp"
#include "arch_vcpu.hpp"
#include "lvz_csr.hpp"  // compiled into the image, used by the LVZ backend to come
#include "lvz_exit.hpp" // likewise (its static_asserts)
#include "kernel/log.hpp"

namespace arch {

void vcpu_backend_reached(const char* call) {
    panic("%s: Vcpu::%s reached, but no VM may be created without the backend (vmm/main.cpp)", vcpu_backend_missing(),
          call);
}

// LVZ's host-mode set-up (GCFG, GTLBC, GINTC) comes with the backend: without it nothing enters a
// guest, so there is nothing to configure per core.
void virt_cpu_init() {}

} // namespace arch
