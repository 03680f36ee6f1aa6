// passthrough: a host device handed to the VM (devices.passthrough_devices). QEMU virt's PL031 RTC
// (host-physical 0x0901_0000) is mapped into the guest at RTC_GPA; cxvisor does not emulate a
// PL031, so every value read here comes from the real device through stage 2:
//   - PeriphID0-3 / PCellID0-3 (0xFE0..0xFFC) are the PL031's: 0x31 0x10 0x14 0x00 / 0x0D 0xF0 0x05
//     0xB1 (QEMU's pl031.c; PeriphID2 0x14 = revision 1, designer ARM's 0x4 low bits);
//   - RTCDR (0x000, seconds) advances across a 1.1 s wait of the guest's counter by as much as the
//     counter says: each RTCDR read is bracketed by two counter reads, so the time between the two
//     RTC samples is known to lie in [min, max], and RTCDR (whole seconds) must have advanced by
//     floor(min)..ceil(max). A guest descheduled around the reads gets a wider window, not a
//     failure; one read window longer than MAX_READ_WINDOW_US is retried to keep the check tight;
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

// RTCDR read between two counter reads: the device was sampled somewhere in [before, after].
struct RtcSample {
    uint32_t secs;
    uint64_t before, after;
    bool ok;
};

RtcSample sample_rtc() {
    RtcSample s{};
    s.before = rt::counter();
    s.ok = read_reg(RTCDR, s.secs);
    s.after = rt::counter();
    return s;
}

// QEMU's PL031 counts the host's clock, the guest counter QEMU's virtual clock; both run at real
// time, this covers the two being read at slightly different instants.
constexpr uint64_t CLOCK_SLACK_US = 2000;
constexpr uint64_t MAX_READ_WINDOW_US = 50000;
constexpr unsigned RTC_ATTEMPTS = 4;

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

    RtcSample s0{}, s1{};
    for (unsigned attempt = 1; attempt <= RTC_ATTEMPTS; ++attempt) {
        s0 = sample_rtc();
        rt::delay_us(1100000);
        s1 = sample_rtc();
        uint64_t window = rt::ticks_to_us(s0.after - s0.before) + rt::ticks_to_us(s1.after - s1.before);
        if (window <= MAX_READ_WINDOW_US || !s0.ok || !s1.ok) break;
        rt::printf("RTC reads took %lu us (descheduled?), measuring again\n", window);
    }
    // Time between the two RTC samples, from the counter: at least from the end of the first read
    // to the start of the second, at most from the start of the first to the end of the second.
    const uint64_t min_us = rt::ticks_to_us(s1.before - s0.after), max_us = rt::ticks_to_us(s1.after - s0.before);
    const uint64_t lo = (min_us > CLOCK_SLACK_US ? min_us - CLOCK_SLACK_US : 0) / 1000000;
    const uint64_t hi = (max_us + CLOCK_SLACK_US + 999999) / 1000000;
    const uint32_t t0 = s0.secs, t1 = s1.secs;
    rt::printf("RTCDR %u, then %u; %lu..%lu us apart by the counter\n", t0, t1, min_us, max_us);
    rt::check(s0.ok && t0 > 1000000000u, "RTCDR holds a plausible time of day (%u s since 1970)", t0);
    rt::check(lo >= 1, "the wait spans at least 1 s (%lu us)", min_us);
    rt::check(s1.ok && t1 - t0 >= lo && t1 - t0 <= hi, "RTCDR advanced by %d s, within the %lu..%lu s the counter allows",
              static_cast<int>(t1 - t0), lo, hi);

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
