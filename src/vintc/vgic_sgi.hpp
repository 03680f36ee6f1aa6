// SGI generation requests: the fields of a trapped ICC_SGI1R_EL1 / ICC_SGI0R_EL1 / ICC_ASGI1R_EL1
// write (IHI 0069H, register description "ICC_SGI1R_EL1"; the three share one layout) and the set
// of vCPUs they name. Pure functions: the arch trap handler decodes the system-register write, the
// Vgic raises the SGI on each target.
#pragma once
#include "vintc/vgic_types.hpp"

namespace vgic {

struct SgiRequest {
    u8 intid = 0;        // INTID[27:24]
    bool irm = false;    // IRM[40]: 1 = every PE except the sender
    u8 rs = 0;           // RS[47:44]: target Aff0 = RS * 16 + bit
    u16 target_list = 0; // TargetList[15:0]
    u8 aff1 = 0, aff2 = 0, aff3 = 0; // Aff1[23:16], Aff2[39:32], Aff3[55:48]
};

constexpr SgiRequest decode_sgi1r(u64 v) {
    SgiRequest r;
    r.target_list = static_cast<u16>(bits(v, 15, 0));
    r.aff1 = static_cast<u8>(bits(v, 23, 16));
    r.intid = static_cast<u8>(bits(v, 27, 24));
    r.aff2 = static_cast<u8>(bits(v, 39, 32));
    r.irm = bits(v, 40, 40) != 0;
    r.rs = static_cast<u8>(bits(v, 47, 44));
    r.aff3 = static_cast<u8>(bits(v, 55, 48));
    return r;
}

// The vCPUs an SGI request names, given each vCPU's MPIDR (`mpidr[0..count)`), sent by `sender`.
// IRM=1: all vCPUs but the sender. Otherwise each TargetList bit b names the PE with affinity
// Aff3.Aff2.Aff1.(RS*16+b); names that match no vCPU are ignored, as the GIC ignores PEs that do
// not exist. The lookup is by affinity, not by index, so any MPIDR layout works.
VcpuSet sgi_targets(const SgiRequest& req, u16 sender, const u64* mpidr, u32 count);

} // namespace vgic
