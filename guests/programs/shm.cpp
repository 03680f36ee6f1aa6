// shm: inter-VM shared memory and the HC_DOORBELL hypercall (docs/virtio.md, "Shared memory"), as three
// programs from this source (CXV_SHM_ROLE), their VM ids CXV_SHM_FIRST_ID + 0, 1, 2 (aarch64: 230;
// riscv64: 142, configs/vms/riscv64/shm-*.toml):
//   shm-ping (shm-ping.toml): region "pp" at 0x5000_0000, rung on line 48, may ring pong;
//   shm-pong (shm-pong.toml): the same region at 0x6000_0000, rung on line 49, may ring ping;
//   shm-intruder (shm-intruder.toml): no region.
// The two gpas differ on purpose: the VMs share host memory, not addresses. The doorbell lines are
// the VM's interrupt controller's: GIC SPIs 48/49 on aarch64, PLIC sources 48/49 on riscv64.
//
// Ping and pong: pong sets up its interrupts and says so in the region (ready); ping fills the
// region's data pages with a pattern, then for ROUNDS rounds writes the round number (ping_seq),
// rings pong and waits in WFI for pong's ring and pong_seq == round; pong waits for a ring, checks
// ping_seq is the next round (and, once, the pattern), copies it to pong_seq and rings back.
// Each counts the rings its handler took; both must equal ROUNDS. Refusals checked: ringing itself
// or a VM its region does not name (DENIED), a region index it does not have (INVALID). Pong ends
// with done = 1 and SYSTEM_OFF; ping then rings it until the answer is PEER_DOWN (pong stopped).
// Ping prints the mean round trip in counter ticks as a BENCH line (bench/run.py, -icount).
//
// The intruder: HC_DOORBELL to ping and pong through region 0 (it has none) is INVALID, and
// reads and writes at both VMs' region addresses abort (nothing is mapped there in this VM).
//
// The interrupt controller, the watchdog timer and the barrier before a ring are the ISA's
// (shm-<isa>.cpp, below: namespace shm_isa).
#include "rt.hpp"

using namespace cxv_abi;

#ifndef CXV_SHM_ROLE
#define CXV_SHM_ROLE 0
#endif
#ifndef CXV_SHM_FIRST_ID
#define CXV_SHM_FIRST_ID 230 // ping's VM id; pong and the intruder have the next two
#endif

// The ISA's part (shm-<isa>.cpp). All calls on the one vCPU of the VM.
namespace shm_isa {
// The doorbell `line` (an edge, HC_DOORBELL raises one per ring) calls on_ring, the watchdog timer
// on_watchdog, each in interrupt context; both are taken only while unmasked (unmask()).
void setup(uint32_t line, void (*on_ring)(), void (*on_watchdog)());
void mask();
void unmask();
void wait(); // one WFI: it ends on a pending interrupt even while masked; taken at the unmask
void watchdog_arm(uint64_t deadline); // counter() value at which on_watchdog runs
void watchdog_stop();
void before_ring(); // the region's writes are visible to the other CPUs before the ring
} // namespace shm_isa

namespace {
constexpr int PING = 0, PONG = 1, INTRUDER = 2;
constexpr uint64_t PING_ID = CXV_SHM_FIRST_ID, PONG_ID = PING_ID + 1, INTRUDER_ID = PING_ID + 2;
constexpr uint64_t PING_GPA = 0x5000'0000, PONG_GPA = 0x6000'0000, SHM_SIZE = 0x1'0000;
constexpr uint32_t PING_LINE = 48, PONG_LINE = 49;
constexpr uint64_t ROUNDS = 500;
constexpr uint64_t READY = 0x7265'6164'79; // "ready"
constexpr uint64_t WAIT_MS = 5000;         // one wait: far more than a round trip ever takes

// The first page of the region; the other 15 pages carry ping's pattern. Each word is written by
// one side only, on its own cache line.
struct Control {
    uint64_t ping_seq, pad0[7];
    uint64_t pong_seq, pad1[7];
    uint64_t pong_ready, pad2[7];
    uint64_t pong_done, pad3[7];
};

uint64_t load(const uint64_t& w) { return __atomic_load_n(&w, __ATOMIC_ACQUIRE); }
void store(uint64_t& w, uint64_t v) { __atomic_store_n(&w, v, __ATOMIC_RELEASE); }
uint64_t pattern(uint64_t offset) { return offset * 0x9E37'79B9'7F4A'7C15ull ^ 0x5348'4D00; }

volatile uint64_t g_rings;   // doorbells this VM's handler took
volatile bool g_timed_out;   // the watchdog timer fired during a wait

void on_ring() { g_rings = g_rings + 1; }
void on_watchdog() {
    shm_isa::watchdog_stop();
    g_timed_out = true;
}
uint64_t ms_to_ticks(uint64_t ms) { return ms * rt::counter_freq() / 1000; }

int64_t ring(uint64_t peer, uint64_t region) {
    shm_isa::before_ring();
    return rt::hypercall(HC_NR_DOORBELL, peer, region).x0;
}

// Sleeps in WFI until cond() holds or WAIT_MS pass (a lost doorbell fails the test, not hangs it).
template <typename F> bool wait_for(F cond) {
    g_timed_out = false;
    shm_isa::watchdog_arm(rt::counter() + ms_to_ticks(WAIT_MS));
    shm_isa::mask();
    while (!cond() && !g_timed_out) {
        shm_isa::wait(); // wakes on a pending interrupt even while masked; taken at the unmask
        shm_isa::unmask();
        shm_isa::mask();
    }
    shm_isa::unmask();
    shm_isa::watchdog_stop();
    return cond();
}

// For what no doorbell announces (pong ready, pong done): polls, with the CPU left to the other
// VMs between looks. WFI would sleep until the watchdog when the peer runs on this same CPU.
template <typename F> bool poll_for(F cond) {
    const uint64_t end = rt::counter() + ms_to_ticks(WAIT_MS);
    while (!cond() && rt::counter() < end) rt::delay_us(100);
    return cond();
}

const char* status_name(int64_t s) {
    switch (s) {
    case CXV_OK: return "OK";
    case CXV_NOT_SUPPORTED: return "NOT_SUPPORTED";
    case CXV_INVALID: return "INVALID";
    case CXV_DENIED: return "DENIED";
    case CXV_PEER_DOWN: return "PEER_DOWN";
    }
    return "?";
}
void expect_status(int64_t got, int64_t want, const char* what) {
    rt::printf("%s: %s\n", what, status_name(got));
    rt::check(got == want, "%s: %s (%ld), expected %s", what, status_name(got), got, status_name(want));
}

// Ping's and pong's start: the interrupts, then what every VM with the region must be refused.
Control& begin(uint64_t gpa, uint32_t line, uint64_t self, uint64_t peer, uint64_t missing_region) {
    shm_isa::setup(line, on_ring, on_watchdog);
    shm_isa::unmask();
    expect_status(ring(self, 0), CXV_DENIED, "ring itself");
    char intruder[64];
    rt::format(intruder, sizeof intruder, "ring vm %lu (not a peer)", INTRUDER_ID);
    expect_status(ring(INTRUDER_ID, 0), CXV_DENIED, intruder);
    char what[64];
    rt::format(what, sizeof what, "ring through region %lu (there is none)", missing_region);
    expect_status(ring(peer, missing_region), CXV_INVALID, what);
    return *reinterpret_cast<Control*>(gpa);
}

void ping() {
    Control& c = begin(PING_GPA, PING_LINE, PING_ID, PONG_ID, 1);
    if (!rt::check(poll_for([&] { return load(c.pong_ready) == READY; }), "pong is ready within %lu ms", WAIT_MS))
        return;
    for (uint64_t off = 0x1000; off < SHM_SIZE; off += 8) *reinterpret_cast<volatile uint64_t*>(PING_GPA + off) = pattern(off);
    uint64_t total = 0;
    for (uint64_t round = 1; round <= ROUNDS; ++round) {
        const uint64_t t0 = rt::counter();
        store(c.ping_seq, round);
        // Per-round checks print only when they fail: a line per round would make the UART the
        // measured cost.
        if (const int64_t r = ring(PONG_ID, 0); r != CXV_OK)
            return (void)rt::check(false, "round %lu: ring pong: %s", round, status_name(r));
        if (!wait_for([&] { return load(c.pong_seq) == round && g_rings >= round; }))
            return (void)rt::check(false, "round %lu: pong answered (pong_seq %lu, %lu rings)", round, load(c.pong_seq),
                                   g_rings);
        total += rt::counter() - t0;
        if (round % 100 == 0) rt::printf("ping: round %lu: pong_seq %lu\n", round, load(c.pong_seq));
    }
    rt::printf("ping: %lu round trips, %lu rings taken\n", ROUNDS, g_rings);
    rt::check(g_rings == ROUNDS, "one ring taken per round (%lu for %lu rounds)", g_rings, ROUNDS);
    rt::printf("BENCH shm_roundtrip %lu %lu\n", total * 1000 / ROUNDS, rt::counter_freq());
    // Pong powers off after its last answer: the doorbell then says so.
    if (!rt::check(poll_for([&] { return load(c.pong_done) == 1; }), "pong says done")) return;
    int64_t r = CXV_OK;
    const uint64_t end = rt::counter() + ms_to_ticks(WAIT_MS);
    while ((r = ring(PONG_ID, 0)) == CXV_OK && rt::counter() < end) rt::delay_us(1000);
    expect_status(r, CXV_PEER_DOWN, "ring pong after its SYSTEM_OFF");
}

void pong() {
    Control& c = begin(PONG_GPA, PONG_LINE, PONG_ID, PING_ID, 7);
    rt::check(load(c.ping_seq) == 0 && *reinterpret_cast<volatile uint64_t*>(PONG_GPA + 0x1000) == 0,
              "the region starts zeroed");
    store(c.pong_ready, READY);
    for (uint64_t round = 1; round <= ROUNDS; ++round) {
        if (!wait_for([&] { return g_rings >= round && load(c.ping_seq) >= round; }))
            return (void)rt::check(false, "round %lu: ping rang (%lu rings, ping_seq %lu)", round, g_rings,
                                   load(c.ping_seq));
        const uint64_t seq = load(c.ping_seq);
        if (seq != round) return (void)rt::check(false, "round %lu: ping_seq %lu", round, seq);
        if (round == 1) {
            uint64_t bad = 0;
            for (uint64_t off = 0x1000; off < SHM_SIZE; off += 8)
                bad += *reinterpret_cast<volatile uint64_t*>(PONG_GPA + off) != pattern(off);
            rt::printf("pong: ping's pattern at %lx: %lu of %lu words differ\n", PONG_GPA, bad, (SHM_SIZE - 0x1000) / 8);
            rt::check(bad == 0, "pong sees ping's writes (%lu words differ)", bad);
        }
        store(c.pong_seq, seq);
        if (const int64_t r = ring(PING_ID, 0); r != CXV_OK)
            return (void)rt::check(false, "round %lu: ring ping: %s", round, status_name(r));
        if (round % 100 == 0) rt::printf("pong: round %lu answered\n", round);
    }
    rt::printf("pong: %lu round trips, %lu rings taken\n", ROUNDS, g_rings);
    rt::check(g_rings == ROUNDS, "one ring taken per round (%lu for %lu rounds)", g_rings, ROUNDS);
    store(c.pong_done, 1);
}

void intruder() {
    expect_status(ring(PING_ID, 0), CXV_INVALID, "ring ping through region 0 (this VM has none)");
    expect_status(ring(PONG_ID, 0), CXV_INVALID, "ring pong through region 0 (this VM has none)");
    const uint64_t gpas[] = {PING_GPA, PONG_GPA, PING_GPA + SHM_SIZE - 8};
    for (uint64_t gpa : gpas) {
        rt::Probe rd = rt::probe_read(gpa, 8);
        rt::Probe wr = rt::probe_write(gpa, 8, 0xBAD);
        rt::printf("intruder: read at %lx: %s, write: %s\n", gpa, rd.taken ? "aborted" : "no abort",
                   wr.taken ? "aborted" : "no abort");
        rt::check(rt::is_external_abort(rd, gpa, false) && rt::is_external_abort(wr, gpa, true),
                  "reads and writes at %lx abort", gpa);
    }
}
} // namespace

void guest_main() {
    constexpr const char* names[] = {"shm-ping", "shm-pong", "shm-intruder"};
    rt::test_start(names[CXV_SHM_ROLE]);
    if (!rt::check(rt::hypercalls_available(), "cxvisor's hypercalls answer")) return;
    if (CXV_SHM_ROLE == PING) ping();
    else if (CXV_SHM_ROLE == PONG) pong();
    else intruder();
}
