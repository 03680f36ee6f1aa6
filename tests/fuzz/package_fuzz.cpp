// libFuzzer target for the image's package checks (src/vmm/package.cpp): any byte string as a
// package. The checks must never crash or read outside the buffer (ASan), and every record they
// accept must satisfy the independent invariants of tests/unit/vm/package_invariant.hpp.
// Opt-in build: `make fuzz` (CMake -DCXV_FUZZ=ON with clang++-14), never part of `make test`.
#include "../unit/vm/package_invariant.hpp"
#include "vmm/package.hpp"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace {
constexpr u32 MAX_CPUS = 16; // what the image passes (kernel/percpu.hpp)
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Exactly sized and 16-byte aligned, as the image's package is aligned (2 MiB).
    std::unique_ptr<uint8_t[]> buf(new uint8_t[size ? size : 1]);
    if (size) std::memcpy(buf.get(), data, size);
    const char* why = nullptr;
    auto h = package_open(buf.get(), size, vm_package::Isa::Aarch64, &why);
    if (h.is_error()) return 0;
    for (u32 i = 0; i < h.value()->vm_count; ++i) {
        char text[PACKAGE_WHY_SIZE];
        if (package_check_vm(*h.value(), i, MAX_CPUS, text, sizeof text).is_error()) continue;
        std::string broken = package_invariant::check(buf.get(), size, i, MAX_CPUS);
        if (!broken.empty()) {
            std::fprintf(stderr, "record %u accepted but breaks an invariant: %s\n", i, broken.c_str());
            std::abort();
        }
    }
    return 0;
}
