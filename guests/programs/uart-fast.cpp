// uart-fast: the guest-exit vector answers the emulated PL011's FR reads and takes its DR writes
// itself (boot.S low64_sync, devices/uart_fast.hpp). Everything must look exactly as through the
// full path: the reference is the same access as a post-indexed load or store, which reports
// ISV = 0 and so always takes the full path. Checked:
//   - FR into each of w0..w30 and wzr (reg-probe.S), 16- and 8-bit FR reads: the full path's value,
//     every other register kept;
//   - a DR write from each of x0..x30 (reg-probe.S), and as strh and str w: the character is the
//     register's low byte, no register changes (the host checks the line it prints);
//   - fast and full-path DR writes alternating: the line keeps their order (the device drains the
//     vector's ring before it handles an access itself);
//   - 150 characters with no other exit in between: more than the ring holds, none lost or moved;
//   - after ICR.TXIC a write sets RIS.TXRIS again (the vector leaves that write to the full path);
//   - two vCPUs writing one line in strict turns (2-vCPU VM): the ring is the VM's, its order the
//     guest's.
// Built as uart-fast-cost (CXV_UART_FAST_COST, one vCPU) and run under QEMU -icount shift=0: FR
// reads and DR writes must cost far less than the same accesses through the full path, i.e. the
// vector really answers (the answers above would agree either way).
#include "reg-probe.hpp"

namespace {

constexpr uint64_t DR = rt::UART_BASE + 0x000, FR = rt::UART_BASE + 0x018, RIS = rt::UART_BASE + 0x03c,
                   ICR = rt::UART_BASE + 0x044;
constexpr uint32_t TXIS = 1u << 5;

void fr_reads() {
    const uint32_t fr = read32_isv0(FR);
    rt::check(fr == 0x90, "FR %x from the full path: TXFE | RXFE", fr);
    uint64_t r[31];
    for (int round = 0; round < 2; ++round)
        for (unsigned n = 0; n < 32; ++n) {
            probe::LDR[n](FR, r);
            if (!probe::regs_ok("ldr w<n> of FR", n, r, FR, n == 31 ? 0x5000 + 31 : fr)) return;
        }
    const uint16_t h = *reinterpret_cast<volatile uint16_t*>(FR);
    const uint8_t b = *reinterpret_cast<volatile uint8_t*>(FR);
    rt::check(h == fr && b == fr, "16- and 8-bit FR reads: %x %x, expected %x", h, b, fr);
    rt::printf("FR %x into each of w0..w30, wzr, and as 16/8-bit reads: the rest kept\n", fr);
}

void dr_writes() {
    static const char CH[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234";
    rt::puts("DR from x0..x30: ");
    uint64_t r[31];
    bool ok = true;
    for (unsigned n = 0; n < 31 && ok; ++n) {
        const uint64_t v = 0x7700 | uint8_t(CH[n]); // only the low byte is data
        probe::STR[n](DR, v, r);
        ok = probe::regs_ok("strb w<n> to DR", n, r, DR, v);
    }
    rt::puts("\nsizes: ");
    str_probe_h5(DR, 0xAB00 | 'H', r);
    ok = ok && probe::regs_ok("strh w5 to DR", 5, r, DR, 0xAB00 | 'H');
    str_probe_w5(DR, 0x12345600 | 'W', r);
    ok = ok && probe::regs_ok("str w5 to DR", 5, r, DR, 0x12345600 | 'W');
    rt::puts("\nmixed: ");
    for (unsigned i = 0; i < 13; ++i) {
        rt::write32(DR, 'a' + i);   // ISV = 1: the vector
        write8_isv0(DR, 'A' + i);   // ISV = 0: the full path
    }
    rt::puts("\nburst: ");
    for (unsigned i = 0; i < 150; ++i) rt::putc(char('0' + i % 10));
    rt::putc('\n');
}

void txris() {
    rt::puts("txris: ");
    rt::write32(ICR, TXIS);
    const bool cleared = (rt::read32(RIS) & TXIS) == 0;
    rt::putc('x');
    const bool set = (rt::read32(RIS) & TXIS) != 0;
    rt::puts(" ok\n");
    rt::check(cleared && set, "RIS.TXRIS: %s by ICR.TXIC, %s by the next DR write", cleared ? "cleared" : "not cleared",
              set ? "set" : "not set");
}

#ifndef CXV_UART_FAST_COST
volatile unsigned g_turn = 0;
constexpr unsigned TURNS = 30;

void turn_taker(unsigned) {
    for (unsigned i = 0; i < TURNS; ++i) {
        while (g_turn != 1) rt::cpu_relax();
        rt::write32(DR, 'b');
        asm volatile("dmb sy" ::: "memory"); // the DR write before the turn goes back
        g_turn = 0;
    }
}

void two_vcpus() {
    if (!rt::check(rt::start_cpu(1, turn_taker) == rt::CPU_START_OK, "vCPU 1 started")) return;
    rt::puts("two vcpus: ");
    for (unsigned i = 0; i < TURNS; ++i) {
        while (g_turn != 0) rt::cpu_relax();
        rt::write32(DR, 'a');
        asm volatile("dmb sy" ::: "memory");
        g_turn = 1;
    }
    while (g_turn != 0) rt::cpu_relax();
    rt::putc('\n');
}
#else
void cost() {
    // Instructions per access, loop included (-icount shift=0: a counter tick is 1e9/CNTFRQ of them).
    constexpr uint64_t N = 100;
    auto per = [&](auto access) {
        const uint64_t t0 = rt::counter();
        for (uint64_t i = 0; i < N; ++i) access();
        return (rt::counter() - t0) * 1000000000ull / rt::counter_freq() / N;
    };
    const uint64_t fr_fast = per([] { (void)rt::read32(FR); }), fr_full = per([] { (void)read32_isv0(FR); });
    rt::puts("cost line: ");
    const uint64_t dr_fast = per([] { rt::write32(DR, 'f'); });
    const uint64_t dr_full = per([] { write8_isv0(DR, 's'); });
    rt::putc('\n');
    rt::printf("instructions per access, loop included: FR read %lu (full path %lu), DR write %lu (full path %lu)\n",
               fr_fast, fr_full, dr_fast, dr_full);
    rt::check(fr_fast < 200 && fr_full > 2 * fr_fast, "FR reads answered in the exit vector (%lu vs %lu)", fr_fast,
              fr_full);
    rt::check(dr_fast < 200 && dr_full > 2 * dr_fast, "DR writes taken in the exit vector (%lu vs %lu)", dr_fast,
              dr_full);
}
#endif

} // namespace

void guest_main() {
    rt::test_start("uart-fast");
    fr_reads();
    dr_writes();
    txris();
#ifndef CXV_UART_FAST_COST
    two_vcpus();
#else
    cost();
#endif
    rt::finish();
}
