// gicv-isolation: the GIC virtual CPU interface state must be per vCPU.
//
// With HCR_EL2.IMO/FMO set, a guest's ICC_* accesses at EL1 reach the virtual CPU interface
// (ICV_*), whose state lives in the physical CPU's ICH_VMCR_EL2 (priority mask, binary points,
// group enables) and ICH_AP<n>R<m>_EL2 (active priorities). cxvisor must switch them with the vCPU
// (arch/aarch64/vcpu.cpp load/put); otherwise two VMs sharing a CPU see each other's values.
//
// Meant for two VMs pinned to the same physical CPU (gicv-isolation-a/-b.toml, system test
// `gicv-isolation`). In each of ROUNDS rounds this guest writes ICC_PMR_EL1, ICC_BPR1_EL1,
// ICC_IGRPEN1_EL1 and ICC_AP1R0_EL1 with values of its VM id and the round (the two VMs never
// write the same values), then for ROUND_MS reads them back over and over. A round is shorter than
// cxvisor's 10 ms slice, so the other VM writes its own values in every slice it gets; a gap of
// more than GAP_MS in the counter means it did run here ("descheduled"). Every read must return
// this VM's values, and the VM must have been descheduled at least once: one that saw no gap in
// ROUNDS rounds (the other VM started late on a loaded host) goes on until it does, up to
// MAX_ROUNDS. No interrupt is ever pending, so the values have no other effect.
#include "rt.hpp"

namespace {
constexpr unsigned ROUNDS = 250, MAX_ROUNDS = 2500; // 1 s, at most 10 s
constexpr uint64_t ROUND_MS = 4, GAP_MS = 2;

struct Icv {
    uint64_t pmr, bpr1, igrpen1, ap1r0;
};

Icv values(uint64_t vm_id, unsigned round) {
    // At least 5 priority bits are implemented (ICH_VTR_EL2.PRIbits >= 4), so a PMR that is a
    // multiple of 8 reads back as written, and BPR1 values 3..7 are all valid. VM ids 37 and 38
    // give different values of every register in every round.
    return {((vm_id * 7 + round * 3) & 0x1F) << 3, 3 + (vm_id + round) % 5, (vm_id + round) & 1,
            1ull << ((vm_id * 5 + round) % 32)};
}

void write_icv(const Icv& v) {
    asm volatile("msr s3_0_c4_c6_0, %0\n"   // ICC_PMR_EL1
                 "msr s3_0_c12_c12_3, %1\n" // ICC_BPR1_EL1
                 "msr s3_0_c12_c12_7, %2\n" // ICC_IGRPEN1_EL1
                 "msr s3_0_c12_c9_0, %3\n"  // ICC_AP1R0_EL1
                 "isb" ::"r"(v.pmr),
                 "r"(v.bpr1), "r"(v.igrpen1), "r"(v.ap1r0)
                 : "memory");
}

Icv read_icv() {
    Icv v;
    asm volatile("mrs %0, s3_0_c4_c6_0\n mrs %1, s3_0_c12_c12_3\n mrs %2, s3_0_c12_c12_7\n mrs %3, s3_0_c12_c9_0"
                 : "=r"(v.pmr), "=r"(v.bpr1), "=r"(v.igrpen1), "=r"(v.ap1r0));
    return v;
}

bool same(const Icv& a, const Icv& b) {
    return a.pmr == b.pmr && a.bpr1 == b.bpr1 && a.igrpen1 == b.igrpen1 && a.ap1r0 == b.ap1r0;
}
} // namespace

void guest_main() {
    rt::test_start("gicv-isolation");
    rt::VmInfo vm = rt::vm_info();
    rt::check(vm.ok, "HC_VM_INFO answers (vm %lu)", vm.vm_id);
    const uint64_t freq = rt::counter_freq(), round_ticks = freq * ROUND_MS / 1000, gap = freq * GAP_MS / 1000;
    Icv first = values(vm.vm_id, 0);
    write_icv(first);
    Icv back = read_icv();
    rt::printf("wrote PMR %lx BPR1 %lx IGRPEN1 %lx AP1R0 %lx, read %lx %lx %lx %lx\n", first.pmr, first.bpr1,
               first.igrpen1, first.ap1r0, back.pmr, back.bpr1, back.igrpen1, back.ap1r0);
    rt::check(same(first, back), "ICC_PMR/BPR1/IGRPEN1/AP1R0_EL1 read back as written");

    uint64_t reads = 0, wrong = 0, descheduled = 0;
    unsigned r = 0;
    for (; r < ROUNDS || (descheduled == 0 && r < MAX_ROUNDS); ++r) {
        Icv want = values(vm.vm_id, r);
        write_icv(want);
        uint64_t start = rt::counter(), last = start;
        for (;;) {
            uint64_t now = rt::counter();
            if (now - last > gap) ++descheduled;
            last = now;
            Icv got = read_icv();
            ++reads;
            if (!same(got, want) && ++wrong <= 3)
                rt::printf("round %u: read PMR %lx BPR1 %lx IGRPEN1 %lx AP1R0 %lx, wrote %lx %lx %lx %lx\n", r, got.pmr,
                           got.bpr1, got.igrpen1, got.ap1r0, want.pmr, want.bpr1, want.igrpen1, want.ap1r0);
            if (now - start > round_ticks) break;
        }
    }
    // Leave the interface as reset left it (no active priority, group 1 off).
    write_icv({0, 0, 0, 0});
    rt::printf("%u rounds, %lu reads, descheduled %lu times\n", r, reads, descheduled);
    rt::check(descheduled > 0, "another vCPU ran on this CPU in between (descheduled %lu times)", descheduled);
    rt::check(wrong == 0, "every read returned this VM's own values (%lu of %lu did not)", wrong, reads);
}
