// isolation: run in two or more VMs at once (isolation-a/-b). Each VM checks that its RAM starts
// zeroed (never another VM's or cxvisor's old data), fills all RAM outside its own image with a
// pattern derived from its VM id and the address, re-verifies it over several rounds while the
// other VMs do the same, and probes addresses outside its RAM, each of which must abort.
// RAM size is rt::RAM_SIZE (16 MiB), the value every config gives; the DTB is not parsed for it.
#include "rt.hpp"

// The ISA's part (isolation-<isa>.cpp): addresses below the VM's RAM where the host machine (QEMU
// virt) has devices or memory the VM was not given; each must abort.
extern const uint64_t g_host_probes[];
extern const unsigned g_host_probe_count;

namespace {
constexpr unsigned ROUNDS = 4;

rt::Range g_ranges[4];
unsigned g_nranges;

void add_range(uint64_t lo, uint64_t hi) {
    if (lo < hi) g_ranges[g_nranges++] = {lo, hi};
}

// RAM minus [image_start, image_end) minus the DTB cxvisor may have placed in RAM.
void build_ranges() {
    const uint64_t img_lo = reinterpret_cast<uint64_t>(rt::__image_start);
    const uint64_t img_hi = (reinterpret_cast<uint64_t>(rt::__image_end) + 4095) & ~4095ull;
    const rt::Range dtb = rt::dtb_range();
    const rt::Range ram[2] = {{rt::RAM_BASE, img_lo}, {img_hi, rt::RAM_BASE + rt::RAM_SIZE}};
    for (const rt::Range& r : ram) {
        if (dtb.hi > dtb.lo && dtb.lo < r.hi && dtb.hi > r.lo) {
            add_range(r.lo, dtb.lo > r.lo ? dtb.lo : r.lo);
            add_range(dtb.hi < r.hi ? dtb.hi : r.hi, r.hi);
        } else {
            add_range(r.lo, r.hi);
        }
    }
}

// Returns the number of words that differ from `expect(addr)`; reports the first one.
template <typename F> uint64_t scan(F expect, uint64_t& words) {
    uint64_t bad = 0;
    for (unsigned i = 0; i < g_nranges; ++i)
        for (uint64_t a = g_ranges[i].lo; a < g_ranges[i].hi; a += 8) {
            volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(a);
            uint64_t v = *p, e = expect(a);
            ++words;
            if (v != e && bad++ == 0) rt::printf("first mismatch at %lx: %lx, expected %lx\n", a, v, e);
        }
    return bad;
}

uint64_t g_probes, g_aborts;
void probe(uint64_t addr) {
    rt::Probe p = rt::probe_read(addr, 4);
    ++g_probes;
    if (rt::is_external_abort(p, addr, false)) ++g_aborts;
    else if (g_probes - g_aborts <= 4)
        rt::printf("probe %lx: %s (ESR %lx FAR %lx value %lx)\n", addr,
                   p.taken ? "wrong exception" : "no abort", p.esr, p.far, p.value);
}
} // namespace

void guest_main() {
    rt::test_start("isolation");
    rt::VmInfo vm = rt::vm_info();
    const uint64_t id = vm.ok ? vm.vm_id : 0;
    rt::printf("vm %lu: RAM %lx..%lx, image %p..%p\n", id, rt::RAM_BASE, rt::RAM_BASE + rt::RAM_SIZE,
               rt::__image_start, rt::__image_end);
    build_ranges();
    const auto pattern = [id](uint64_t a) { return (id << 56) ^ a; };

    // Round 0: RAM reads zero, then gets the pattern (one pass: check and fill).
    uint64_t words = 0;
    uint64_t dirty = 0;
    for (unsigned i = 0; i < g_nranges; ++i)
        for (uint64_t a = g_ranges[i].lo; a < g_ranges[i].hi; a += 8) {
            volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(a);
            if (*p != 0 && dirty++ == 0) rt::printf("RAM not clear at %lx: %lx\n", a, *p);
            *p = pattern(a);
            ++words;
        }
    rt::printf("filled %lu words in %u ranges\n", words, g_nranges);
    rt::check(dirty == 0, "RAM outside the image reads zero at boot (%lu words not)", dirty);

    uint64_t bad = 0, verified = 0;
    for (unsigned round = 1; round <= ROUNDS; ++round) {
        rt::delay_us(20000); // let the other VMs run in between
        uint64_t n = 0;
        uint64_t b = scan(pattern, n);
        verified += n;
        bad += b;
        rt::printf("round %u: verified %lu words, %lu wrong\n", round, n, b);
    }
    rt::check(bad == 0, "pattern intact over %u rounds (%lu words verified)", ROUNDS, verified);

    for (uint64_t a = rt::RAM_BASE + rt::RAM_SIZE; a < 0x100000000ull; a += 16ull << 20) probe(a);
    for (unsigned i = 0; i < g_host_probe_count; ++i) probe(g_host_probes[i]);
    rt::printf("probed %lu addresses outside RAM, %lu aborted\n", g_probes, g_aborts);
    rt::check(g_aborts == g_probes, "every probe outside RAM aborts (rt::is_external_abort)");
}
