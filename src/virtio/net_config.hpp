// The cfg words of a virtio-net device in the VM package (vm_package.hpp: cfg[0] = MAC, first byte
// in bits 47..40; cfg[1] = network number). Header-only: the package check (vmm/package.cpp, also
// built into host tests and the fuzzer) and the device factory apply the same rules.
#pragma once
#include "abi/vm_package.hpp"
#include "base/types.hpp"

namespace virtio {

inline constexpr u32 kNetCfgWords = 2;

// Null when the words are usable, else why not (no values: callers print them).
constexpr const char* net_cfg_problem(const vm_package::EmuDevice& d) {
    if (d.cfg_count < kNetCfgWords) return "needs 2 cfg words (mac, network)";
    const u64 mac = d.cfg[0];
    if (mac >> 48) return "MAC has bits above bit 47";
    if (mac == 0) return "MAC is zero";
    // The I/G bit (bit 0 of the first byte): a group address cannot be a station's own.
    if ((mac >> 40) & 1) return "MAC is a multicast address";
    if (d.cfg[1] >= vm_package::MAX_NETWORKS) return "network number out of range";
    return nullptr;
}

} // namespace virtio
