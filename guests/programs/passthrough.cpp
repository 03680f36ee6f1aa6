// passthrough: a host device handed to the VM (devices.passthrough_devices). QEMU virt's PL031 RTC
// (host-physical 0x0901_0000) is mapped into the guest at RTC_GPA; cxvisor does not emulate a
// PL031, so every value read here comes from the real device through stage 2:
//   - PeriphID0-3 / PCellID0-3 (0xFE0..0xFFC) are the PL031's: 0x31 0x10 0x14 0x00 / 0x0D 0xF0 0x05
//     0xB1 (QEMU's pl031.c; PeriphID2 0x14 = revision 1, designer ARM's 0x4 low bits);
//   - RTCDR (0x000, seconds) advances by 1..3 across a 1.1 s wait of the guest's counter;
//   - a write reaches the device: RTCMR (0x004, match value; IMSC is 0, so no interrupt) reads
//     back what was written, and is restored;
//   - only the configured 4 KiB are mapped: the page after the RTC aborts, and in the remapped
//     build (passthrough-remap: RTC_GPA = 0x0A00_0000) so does the host address 0x0901_0000.
// One source, two programs: guests/CMakeLists.txt builds passthrough-remap with
// -DCXV_RTC_GPA=0x0A000000 (guests cannot read their config). Runs on bare QEMU too (the plain
// build: the RTC is at its own address there).
#include "rt.hpp"

#ifndef CXV_RTC_GPA
#define CXV_RTC_GPA 0x09010000
#endif

namespace {
constexpr uint64_t RTC_HPA = 0x09010000;
constexpr uint64_t RTC = CXV_RTC_GPA;
constexpr uint64_t RTCDR = RTC + 0x000, RTCMR = RTC + 0x004, RTCIMSC = RTC + 0x010;

// A read that reports an abort as a failed check instead of an unexpected exception.
bool read_reg(uint64_t addr, uint32_t& out) {
    rt::Probe p = rt::probe_read(addr, 4);
    out = static_cast<uint32_t>(p.value);
    if (p.taken)
        rt::printf("read %lx: exception ESR=%lx FAR=%lx (not mapped?)\n", addr, p.esr, p.far);
    return !p.taken;
}

} // namespace

void guest_main() {
    rt::test_start(RTC == RTC_HPA ? "passthrough" : "passthrough-remap");
    rt::printf("PL031 RTC: guest-physical %lx, host-physical %lx\n", RTC, RTC_HPA);

    static const uint8_t ids[8] = {0x31, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1};
    for (unsigned i = 0; i < 8; ++i) {
        uint32_t v = 0;
        bool ok = read_reg(RTC + 0xFE0 + 4 * i, v);
        rt::check(ok && v == ids[i], "%s%u (0x%03x) == 0x%02x (got 0x%x)", i < 4 ? "PeriphID" : "PCellID",
                  i & 3, 0xFE0 + 4 * i, ids[i], v);
    }

    uint32_t t0 = 0, t1 = 0;
    bool ok0 = read_reg(RTCDR, t0);
    const uint64_t c0 = rt::counter();
    rt::delay_us(1100000);
    bool ok1 = read_reg(RTCDR, t1);
    const uint64_t waited = rt::ticks_to_us(rt::counter() - c0);
    rt::printf("RTCDR %u, then %u after %lu us\n", t0, t1, waited);
    rt::check(ok0 && t0 > 1000000000u, "RTCDR holds a plausible time of day (%u s since 1970)", t0);
    rt::check(ok1 && t1 - t0 >= 1 && t1 - t0 <= 3, "RTCDR advanced by 1..3 s over 1.1 s (by %d)",
              static_cast<int>(t1 - t0));

    uint32_t imsc = 0, mr = 0, back = 0;
    bool ok = read_reg(RTCIMSC, imsc) && read_reg(RTCMR, mr);
    rt::check(ok && (imsc & 1) == 0, "RTCIMSC: match interrupt masked (0x%x)", imsc);
    if (ok && (imsc & 1) == 0) {
        const uint32_t probe = mr ^ 0x5A5AA5A5u;
        rt::write32(RTCMR, probe);
        ok = read_reg(RTCMR, back);
        rt::check(ok && back == probe, "RTCMR write reaches the device (wrote 0x%x, read 0x%x)", probe, back);
        rt::write32(RTCMR, mr);
    }

    rt::check_read_aborts(RTC + 0x1000, "the page after the passthrough range");
    if (RTC != RTC_HPA) rt::check_read_aborts(RTC_HPA, "the host address, not mapped 1:1");
}
