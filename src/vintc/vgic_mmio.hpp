// The vGIC's guest-visible register windows as devices on a VM's MMIO bus: the distributor
// (64 KiB at the config's gicd_base) and the contiguous redistributor region (RD_base + SGI_base
// per vCPU at gicr_base, IHI 0069H "The GIC Redistributor register map"). Accesses go to the
// model's register functions; a write that made interrupts deliverable to other vCPUs kicks them
// through the owner's callback (the VM), so nothing here knows about scheduling.
#pragma once
#include "devices/mmio_device.hpp"
#include "vintc/vgic.hpp"

namespace vgic {

using KickFn = void (*)(void* ctx, VcpuSet vcpus);

enum class Window : u8 { Distributor, Redistributors };

template <Window W>
class VgicWindow final : public MmioDevice {
public:
    VgicWindow(Vgic& g, GuestPhysAddr base, KickFn kick, void* ctx)
        : MmioDevice(W == Window::Distributor ? "vgic-distributor" : "vgic-redistributors", base,
                     W == Window::Distributor ? Vgic::DistSize : Vgic::redist_region_size(g.vcpu_count())),
          m_g(g), m_kick(kick), m_ctx(ctx) {}

    Result<u64> read(u64 offset, unsigned width) override {
        if constexpr (W == Window::Distributor) return m_g.dist_read(offset, width);
        else return m_g.redist_region_read(offset, width);
    }
    Result<void> write(u64 offset, unsigned width, u64 value) override {
        if constexpr (W == Window::Distributor) TRY(m_g.dist_write(offset, width, value));
        else TRY(m_g.redist_region_write(offset, width, value));
        if (VcpuSet k = m_g.take_kicks(); !k.empty()) m_kick(m_ctx, k);
        return {};
    }

private:
    Vgic& m_g;
    KickFn m_kick;
    void* m_ctx;
};

using DistWindow = VgicWindow<Window::Distributor>;
using RedistWindow = VgicWindow<Window::Redistributors>;

} // namespace vgic
