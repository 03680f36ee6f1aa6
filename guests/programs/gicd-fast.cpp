// gicd-fast: the guest-exit vector answers 32-bit reads of the emulated distributor's
// identification registers itself (boot.S low64_sync, vcpu.hpp ExitFast). Its answers must be
// exactly the full path's (Vm's MMIO bus -> Vgic::dist_read): the reference is the same register
// read with a post-indexed load, which reports ISV = 0 and so always takes the full path. Checked:
//   - GICD_TYPER into each of w0..w30 and wzr: the SRT register gets the answer zero-extended,
//     every other register keeps its value (reg-probe.S);
//   - GICD_IIDR, GICD_TYPER2, GICD_PIDR2 the same both ways, and the documented fields;
//   - what the vector must leave to the full path still behaves as the model says: GICD_CTLR and
//     IGROUPR<1> follow writes, a reserved word and PIDR0 read zero, 8-, 16- and 64-bit reads of
//     GICD_TYPER take an external abort, a write to GICD_TYPER is ignored.
// Built as gicd-fast-cost (CXV_GICD_FAST_COST) and run under QEMU -icount shift=0 (1 counter ns
// per instruction): a GICD_TYPER read must cost far less than an IGROUPR read, i.e. the vector
// really answers (the answers above would agree either way).
// Built as gicd-fast-none (CXV_GICD_FAST_NONE) for a VM without a vGIC (interrupt_mode
// "no_irq") beside gicd-fast on one physical CPU: the same address must keep taking an external
// abort (nothing there for it), whichever VM ran on the CPU before (PerCpu::exit_fast is the
// loaded vCPU's only).
#include "gic.hpp"
#include "reg-probe.hpp"

namespace gic = rt::gic;

namespace {

constexpr uint64_t GICD_TYPER2 = 0x000c, GICD_PIDR0 = 0xffe0, GICD_PIDR2 = 0xffe8, RESERVED = 0x0010;

#ifndef CXV_GICD_FAST_NONE
// Register n (0..30, 31 = wzr) loaded from `addr`: the SRT slot holds `want`, the base register
// the address, every other one its pattern.
bool probe_ok(unsigned n, uint64_t addr, uint64_t want) {
    uint64_t r[31];
    probe::LDR[n](addr, r);
    return probe::regs_ok("ldr w<n> of GICD_TYPER", n, r, addr, want);
}

void same_both_ways(const char* name, uint64_t off) {
    const uint64_t a = gic::gicd_base() + off;
    const uint32_t fast = rt::read32(a), full = read32_isv0(a);
    rt::check(fast == full, "%s: %x from ISV=1 (vector), %x from ISV=0 (full path)", name, fast, full);
}

#endif

#ifdef CXV_GICD_FAST_NONE
void run() {
    // No vGIC here: QEMU virt's distributor address is nothing in this VM.
    // Quiet until the end: its lines would cut into the other VM's on the console.
    const uint64_t a = gic::gicd_base() + gic::GICD_TYPER;
    unsigned aborts = 0;
    for (int i = 0; i < 300; ++i) {
        aborts += rt::is_external_abort(rt::probe_read(a, 4), a, false);
        rt::delay_us(100); // let the other VM run on this CPU in between
    }
    if (rt::check(aborts == 300, "GICD_TYPER of a VM without a vGIC: %u of 300 reads took an external abort", aborts))
        rt::printf("300 reads of %lx: external abort each time\n", a);
}
#else
void run() {
    const uint64_t d = gic::gicd_base();
    const uint32_t typer = read32_isv0(d + gic::GICD_TYPER);
    // The config's spi_count (64): ITLinesNumber 2 (96 INTIDs), IDbits 9 (10 bits), A3V.
    rt::check((typer & 0x1f) == 2 && ((typer >> 19) & 0x1f) == 9, "GICD_TYPER %x", typer);
    for (int round = 0; round < 3; ++round) // the first read of a run may be the vector's or not
        for (unsigned n = 0; n < 32; ++n)
            if (!probe_ok(n, d + gic::GICD_TYPER, typer)) return;
    rt::printf("TYPER %x into each of w0..w30, wzr: the rest kept\n", typer);
    same_both_ways("GICD_TYPER", gic::GICD_TYPER);
    same_both_ways("GICD_IIDR", gic::GICD_IIDR);
    same_both_ways("GICD_TYPER2", GICD_TYPER2);
    same_both_ways("GICD_PIDR2", GICD_PIDR2);
    const uint32_t pidr2 = rt::read32(d + GICD_PIDR2);
    rt::check(((pidr2 >> 4) & 0xf) == 3, "GICD_PIDR2.ArchRev %x: GICv3", pidr2);
    rt::check(rt::read32(d + GICD_TYPER2) == 0, "GICD_TYPER2 0");

    // Not the vector's: these follow the model.
    rt::write32(d + gic::GICD_CTLR, 0);
    const uint32_t ctlr0 = rt::read32(d + gic::GICD_CTLR);
    rt::write32(d + gic::GICD_CTLR, 3);
    const uint32_t ctlr3 = rt::read32(d + gic::GICD_CTLR);
    rt::check((ctlr0 & 3) == 0 && (ctlr3 & 3) == 3, "GICD_CTLR follows writes: %x, %x", ctlr0, ctlr3);
    rt::write32(d + 0x84, 0x5);
    rt::check(rt::read32(d + 0x84) == 0x5, "IGROUPR<1> follows writes");
    rt::write32(d + 0x84, 0);
    rt::check(rt::read32(d + RESERVED) == 0 && rt::read32(d + GICD_PIDR0) == 0, "reserved word and PIDR0 read 0");
    const unsigned sizes[] = {1, 2, 8};
    for (unsigned size : sizes) {
        rt::Probe p = rt::probe_read(d + gic::GICD_TYPER, size);
        rt::check(rt::is_external_abort(p, d + gic::GICD_TYPER, false), "%u-byte GICD_TYPER read: external abort", size);
    }
    rt::write32(d + gic::GICD_TYPER, ~typer);
    rt::check(rt::read32(d + gic::GICD_TYPER) == typer, "a write to GICD_TYPER is ignored");
    rt::printf("IIDR TYPER2 PIDR2 as the full path, the rest as the model\n");

#ifdef CXV_GICD_FAST_COST
    // Instructions per read, loop included (-icount shift=0: a counter tick is 1e9/CNTFRQ of them).
    constexpr uint64_t N = 200;
    auto cost = [&](uint64_t off) {
        const uint64_t t0 = rt::counter();
        for (uint64_t i = 0; i < N; ++i) (void)rt::read32(d + off);
        return (rt::counter() - t0) * 1000000000ull / rt::counter_freq() / N;
    };
    const uint64_t fast = cost(gic::GICD_TYPER), full = cost(0x84);
    rt::printf("instructions per read, loop included: GICD_TYPER %lu, IGROUPR<1> %lu\n", fast, full);
    rt::check(fast < 200 && full > 2 * fast, "GICD_TYPER answered in the exit vector (%lu vs %lu)", fast, full);
#endif
}
#endif

} // namespace

void guest_main() {
    rt::test_start("gicd-fast");
    run();
}
