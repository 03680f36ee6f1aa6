// idregs: the ID registers cxvisor shows a guest, checked against what actually works.
//
// Reads every register of the ID space (op0 = 3, op1 = 0, CRn = 0, CRm = 1..7: ID_AA64*, the
// AArch32 views ID_PFR*/ID_DFR*/ID_ISAR*/ID_MMFR*/MVFR*, and the reserved encodings, which must
// read as zero), MIDR/MPIDR/REVIDR/AIDR, CTR and CLIDR, and prints them. Then:
// - every ID-space value is one cxvisor's table can produce (arch/aarch64/idregs.hpp: a fixed
//   point of sanitise()), and reads are stable;
// - what is advertised absent really is absent: PMU (PMUVer = 0, AArch32 PerfMon = 0: PMCR_EL0,
//   PMUSERENR_EL0 - which Linux's __cpu_setup writes when it sees a PMU - UNDEF), SVE, RAS error
//   records, LOR, AMU, SPE, TRBE, trace; debug shows at most the minimum (2 breakpoints and 2
//   watchpoints, RAZ/WI);
// - what is advertised present works: FP/AdvSIMD, the GIC system registers, HVC/SMC (EL2/EL3);
// - writes to ID registers UNDEF (they are read-only: unallocated MSR encodings);
// - SMCCC (DEN0028): SMCCC_VERSION 1.1, ARCH_FEATURES answers for VERSION, ARCH_FEATURES,
//   WORKAROUND_1/_2/_3 consistent with ID_AA64PFR0_EL1.CSV2 and MIDR, and the workaround calls
//   return what the features query promised.
#include "arch/aarch64/idregs.hpp"
#include "arch/aarch64/spectre.hpp"
#include "rt.hpp"

namespace idr = arch::idregs;
namespace sp = arch::spectre;

namespace {

uint64_t read_slot(unsigned s) {
#define ID_CASE(crm, op2)                                                                          \
    case idr::slot(crm, op2): asm volatile("mrs %0, S3_0_C0_C" #crm "_" #op2 : "=r"(v)); break;
#define ID_ROW(crm) ID_CASE(crm, 0) ID_CASE(crm, 1) ID_CASE(crm, 2) ID_CASE(crm, 3) ID_CASE(crm, 4) \
    ID_CASE(crm, 5) ID_CASE(crm, 6) ID_CASE(crm, 7)
    uint64_t v = ~0ull;
    switch (s) { ID_ROW(1) ID_ROW(2) ID_ROW(3) ID_ROW(4) ID_ROW(5) ID_ROW(6) ID_ROW(7) }
    return v;
#undef ID_ROW
#undef ID_CASE
}

// One MRS/MSR with the fault handler armed: true if it raised UNDEF (EC 0x00).
#define TRY_MRS(enc, out)                                                                          \
    ({                                                                                             \
        uint64_t _b = rt::last_exception().count, _v = 0;                                         \
        rt::expect_fault();                                                                        \
        asm volatile("mrs %0, " enc : "+r"(_v)::"memory");                                       \
        rt::disarm_fault();                                                                        \
        (out) = _v;                                                                                \
        rt::last_exception().count != _b ? int(rt::esr_ec(rt::last_exception().esr)) : -1;        \
    })
#define TRY_MSR(enc, val)                                                                          \
    ({                                                                                             \
        uint64_t _b = rt::last_exception().count;                                                 \
        rt::expect_fault();                                                                        \
        asm volatile("msr " enc ", %0" ::"r"(uint64_t(val)) : "memory");                         \
        rt::disarm_fault();                                                                        \
        rt::last_exception().count != _b ? int(rt::esr_ec(rt::last_exception().esr)) : -1;        \
    })

// -1: no exception; else the EC of the one taken.
void check_undef_read(const char* name, int ec) {
    rt::check(ec == int(rt::EC_UNKNOWN), "mrs %s -> UNDEF (%s)", name,
              ec < 0 ? "no exception" : ec == 0 ? "EC 0x00" : "another exception");
}
void check_undef_write(const char* name, int ec) {
    rt::check(ec == int(rt::EC_UNKNOWN), "msr %s -> UNDEF (%s)", name,
              ec < 0 ? "no exception" : ec == 0 ? "EC 0x00" : "another exception");
}

} // namespace

void guest_main() {
    rt::test_start("idregs");
    uint64_t id[idr::SLOTS];
    for (unsigned s = 0; s < idr::SLOTS; ++s) id[s] = read_slot(s);
    unsigned bad = 0, unstable = 0;
    for (unsigned s = 0; s < idr::SLOTS; ++s) {
        const idr::RegInfo* r = idr::reg_info(s);
        if (r) rt::printf("%-18s = %016lx\n", r->name, id[s]);
        if (!idr::is_sanitised(s, id[s])) {
            ++bad;
            rt::printf("  slot %u (S3_0_C0_C%u_%u) = %lx is not what cxvisor's table gives (%lx)\n", s, s / 8 + 1,
                       s % 8, id[s], idr::sanitise(s, id[s], idr::Limits{15}));
        }
        if (read_slot(s) != id[s]) ++unstable;
    }
    uint64_t midr, mpidr, revidr, aidr, ctr, clidr;
    asm volatile("mrs %0, midr_el1" : "=r"(midr));
    asm volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
    asm volatile("mrs %0, revidr_el1" : "=r"(revidr));
    asm volatile("mrs %0, aidr_el1" : "=r"(aidr));
    asm volatile("mrs %0, ctr_el0" : "=r"(ctr));
    asm volatile("mrs %0, clidr_el1" : "=r"(clidr));
    rt::printf("MIDR_EL1 = %lx MPIDR_EL1 = %lx REVIDR_EL1 = %lx AIDR_EL1 = %lx CTR_EL0 = %lx CLIDR_EL1 = %lx\n", midr,
               mpidr, revidr, aidr, ctr, clidr);
    rt::check(bad == 0, "every ID-space register is what the sanitising table gives (%u are not)", bad);
    rt::check(unstable == 0, "ID registers read the same twice (%u differ)", unstable);
    rt::check(mpidr == (0x80000000ull | rt::cpu_index()), "MPIDR_EL1: Aff0 = vCPU index, U = 0, MT = 0");

    const uint64_t pfr0 = id[idr::AA64PFR0], pfr1 = id[idr::AA64PFR1], dfr0 = id[idr::AA64DFR0];
    const uint64_t mmfr1 = id[idr::AA64MMFR1];
    // PMU: hidden, and really UNDEF. Linux's __cpu_setup writes PMUSERENR_EL0 only when
    // ID_AA64DFR0_EL1.PMUVer says there is a PMU: with a PMU shown here it would take UNDEF.
    const unsigned pmuver = idr::field(dfr0, 8);
    rt::check(pmuver == 0, "ID_AA64DFR0_EL1.PMUVer = %u: no PMU advertised (its registers UNDEF)", pmuver);
    rt::check(idr::field(id[idr::ID_DFR0], 24) == 0, "ID_DFR0_EL1.PerfMon = 0");
    uint64_t v;
    check_undef_read("PMCR_EL0", TRY_MRS("pmcr_el0", v));
    check_undef_write("PMUSERENR_EL0", TRY_MSR("pmuserenr_el0", 0));
    check_undef_read("PMCCNTR_EL0", TRY_MRS("pmccntr_el0", v));
    // Everything else advertised absent.
    rt::check(idr::field(pfr0, 32) == 0, "ID_AA64PFR0_EL1.SVE = 0");
    check_undef_read("ZCR_EL1", TRY_MRS("S3_0_C1_C2_0", v));
    rt::check(idr::field(pfr0, 28) == 0 && idr::field(id[idr::ID_PFR0], 28) == 0, "RAS = 0 (AArch64 and AArch32)");
    check_undef_read("ERRIDR_EL1", TRY_MRS("S3_0_C5_C3_0", v));
    check_undef_read("ERRSELR_EL1", TRY_MRS("S3_0_C5_C3_1", v));
    rt::check(idr::field(mmfr1, 16) == 0, "ID_AA64MMFR1_EL1.LO = 0");
    check_undef_read("LORID_EL1", TRY_MRS("S3_0_C10_C4_7", v));
    rt::check(idr::field(pfr0, 44) == 0, "ID_AA64PFR0_EL1.AMU = 0");
    check_undef_read("AMCR_EL0", TRY_MRS("S3_3_C13_C2_0", v));
    rt::check(idr::field(dfr0, 32) == 0, "ID_AA64DFR0_EL1.PMSVer = 0 (no SPE)");
    check_undef_read("PMSIDR_EL1", TRY_MRS("S3_0_C9_C9_7", v));
    rt::check(idr::field(dfr0, 44) == 0, "ID_AA64DFR0_EL1.TraceBuffer = 0");
    check_undef_read("TRBIDR_EL1", TRY_MRS("S3_0_C9_C11_7", v));
    rt::check(idr::field(dfr0, 4) == 0, "ID_AA64DFR0_EL1.TraceVer = 0");
    check_undef_read("TRCIDR0", TRY_MRS("S2_1_C0_C8_7", v));
    rt::check(idr::field(pfr1, 8) == 0 && idr::field(pfr1, 24) == 0, "ID_AA64PFR1_EL1.MTE = 0, SME = 0");
    // Debug: the minimum, emulated RAZ/WI.
    rt::check(idr::field(dfr0, 0) == 6 && idr::field(dfr0, 12) <= 1 && idr::field(dfr0, 20) <= 1,
              "debug: DebugVer 6, at most 2 breakpoints and 2 watchpoints");
    rt::check(TRY_MSR("dbgbcr0_el1", 0x1E7) < 0 && TRY_MRS("dbgbcr0_el1", v) < 0 && v == 0,
              "DBGBCR0_EL1 is RAZ/WI (read %lx)", v);
    // Advertised present: works.
    if (idr::field(pfr0, 16) != 0xF) {
        uint64_t cpacr;
        asm volatile("mrs %0, cpacr_el1" : "=r"(cpacr));
        asm volatile("msr cpacr_el1, %0\n isb" ::"r"(cpacr | (3ull << 20)) : "memory"); // FPEN: no EL1/EL0 trap
        int ec = TRY_MRS("fpcr", v);
        asm volatile("msr cpacr_el1, %0\n isb" ::"r"(cpacr) : "memory");
        rt::check(ec < 0, "FP advertised: FPCR readable once CPACR_EL1.FPEN allows it");
    }
    if (idr::field(pfr0, 24) >= 1) {
        int ec = TRY_MRS("S3_0_C12_C12_5", v); // ICC_SRE_EL1
        rt::check(ec < 0 && (v & 1), "GIC system registers advertised: ICC_SRE_EL1.SRE = 1 (%lx)", v);
    }
    rt::check(idr::field(pfr0, 8) != 0 && rt::psci_version() == 0x10001, "EL2 advertised: HVC reaches it");
    // Writes to ID registers: unallocated MSR encodings, UNDEF at EL1.
    check_undef_write("ID_AA64PFR0_EL1", TRY_MSR("S3_0_C0_C4_0", 0));
    check_undef_write("ID_AA64DFR0_EL1", TRY_MSR("S3_0_C0_C5_0", 0x1106));

    // SMCCC (DEN0028): discovery and the Spectre workarounds.
    rt::check(rt::psci_features(uint32_t(sp::SMCCC_VERSION)) == 0, "PSCI_FEATURES(SMCCC_VERSION) = SUCCESS");
    rt::check(rt::hvc_call(sp::SMCCC_VERSION).x0 == 0x10001, "SMCCC_VERSION = 1.1");
    auto features = [](uint32_t f) { return rt::hvc_call(sp::SMCCC_ARCH_FEATURES, f).x0; };
    rt::check(features(sp::SMCCC_VERSION) == 0 && features(sp::SMCCC_ARCH_FEATURES) == 0,
              "ARCH_FEATURES(SMCCC_VERSION / ARCH_FEATURES) = SUCCESS");
    rt::check(features(sp::SMCCC_ARCH_WORKAROUND_2) == -1 && features(0x8000ABCD) == -1 && features(0xC6000001) == -1,
              "ARCH_FEATURES of WORKAROUND_2 and unknown ids = NOT_SUPPORTED");
    const int64_t wa1 = features(sp::SMCCC_ARCH_WORKAROUND_1), wa3 = features(sp::SMCCC_ARCH_WORKAROUND_3);
    const bool v2_safe = sp::csv2(pfr0) >= 1 || sp::contains(sp::V2_SAFE, sp::midr_part(midr));
    rt::printf("SMCCC_ARCH_FEATURES: WORKAROUND_1 %ld, WORKAROUND_3 %ld (CSV2 %u, MIDR part %x)\n", wa1, wa3,
               sp::csv2(pfr0), sp::midr_part(midr));
    rt::check(v2_safe ? wa1 == 1 : (wa1 == 0 || wa1 == -1), "WORKAROUND_1 answer fits CSV2 and MIDR (%ld)", wa1);
    rt::check(wa1 != -1 || wa3 == -1, "no WORKAROUND_3 while Spectre-v2 stays open (%ld)", wa3);
    rt::check(wa3 == 1 || wa3 == 0 || wa3 == -1, "WORKAROUND_3 answer is a defined code (%ld)", wa3);
    const int64_t r1 = rt::hvc_call(sp::SMCCC_ARCH_WORKAROUND_1).x0, r3 = rt::hvc_call(sp::SMCCC_ARCH_WORKAROUND_3).x0;
    rt::check(r1 == (wa1 == -1 ? -1 : 0) && r3 == (wa3 == -1 ? -1 : 0),
              "the workaround calls return what the features query promised (%ld, %ld)", r1, r3);
}
