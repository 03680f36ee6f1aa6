// chaos, the loongarch64 part (chaos.cpp, chaos.hpp): vCPU 0 runs CXV_CHAOS_OPS random operations a
// guest kernel could do to a hypervisor, each with the outcome the model below gives, and counts
// every difference (UNEXPECTED). Manual: LA Vol. 1 v1.10 (6.2.1 table 6-6 for the exception codes).
//   load/store     a 1-, 2-, 4- or 8-byte access (aligned) outside the VM's RAM and devices, below
//                  4 GiB: cxvisor's abort, ADEM (Ecode 0x8, EsubCode 1) with BADV = the address
//   break/syscall  BREAK n / SYSCALL n: BRK (0xC) / SYS (0xB), the guest's own exceptions
//   ine            an unallocated encoding (0x00000000): INE (0xD)
//   hyp_csr        CSRRD of an LVZ host-mode CSR (GSTAT, GCFG, GINTC, GCNTC: 0x50..0x53): it exits
//                  to cxvisor (GSPR), which answers as a CPU without LVZ: 0, no exception
//                  (programs/fault-loongarch64.cpp)
//   cpucfg         a random CPUCFG word (0..0x3f): emulated by cxvisor (GSPR), no exception, and the
//                  same answer twice (its view is a function of the word)
//   hvcl_nr        HVCL 0 with a number cxvisor does not know: a0 = CXV_NOT_SUPPORTED (-1)
//   hvcl_code      HVCL with a code other than 0 (1, 0x100, 0x7fff): refused the same way
// Not here: IOCSR accesses and IDLE (the IPI and timer models: smp, wfi), TLB instructions (the
// guest's own TLB under LVZ), SMP.
#include "chaos.hpp"
#include "rt.hpp"

using namespace cxv_abi;

namespace chaos {
namespace {

using Ctx = OneVcpuCtx;

enum Op : unsigned { LOAD, STORE, BREAK, SYSCALL, INE, HYP_CSR, CPUCFG, HVCL_NR, HVCL_CODE, N_OPS };
const char* const OP_NAMES[N_OPS] = {"load", "store", "break", "syscall", "ine", "hyp_csr", "cpucfg", "hvcl_nr", "hvcl_code"};

struct Outcome {
    bool taken;
    uint64_t esr, badv;
};
uint64_t arm() {
    const uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    return before;
}
Outcome done(uint64_t before) {
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    return e.count != before ? Outcome{true, e.esr, e.far} : Outcome{false, 0, 0};
}

void expect_exc(Ctx& c, const char* what, Outcome o, uint64_t esr) {
    if (!o.taken) UNEXPECTED(c, "%s: no exception (expected esr %lx)", what, esr);
    else if (o.esr != esr) UNEXPECTED(c, "%s: esr %lx BADV %lx (expected esr %lx)", what, o.esr, o.badv, esr);
}

// An address below 4 GiB where the VM has nothing: not its RAM (0..16 MiB), not its 16550's page,
// not the GED page (whose stores are the VM's power-off and reset).
uint64_t outside_address(Rng& r, unsigned size) {
    for (;;) {
        const uint64_t a = (rt::RAM_SIZE + r.below((1ull << 32) - rt::RAM_SIZE)) & ~uint64_t(size - 1);
        const uint64_t page = a & ~0xfffull;
        if (page != rt::UART_BASE && page != (rt::GED_SLEEP_CTL & ~0xfffull)) return a;
    }
}

int64_t hvcl_code(unsigned which) {
    register uint64_t a0 asm("$a0") = HC_NR_VERSION;
    switch (which) {
    case 0: asm volatile("hvcl 1" : "+r"(a0)::"$a1", "$a2", "$a3", "memory"); break;
    case 1: asm volatile("hvcl 0x100" : "+r"(a0)::"$a1", "$a2", "$a3", "memory"); break;
    default: asm volatile("hvcl 0x7fff" : "+r"(a0)::"$a1", "$a2", "$a3", "memory"); break;
    }
    return int64_t(a0);
}

void do_op(Ctx& c, Rng& r, Op op) {
    switch (op) {
    case LOAD:
    case STORE: {
        const unsigned size = 1u << r.below(4);
        const uint64_t a = outside_address(r, size);
        const rt::Probe p = op == STORE ? rt::probe_write(a, size, r.next()) : rt::probe_read(a, size);
        if (!rt::is_external_abort(p, a, op == STORE))
            UNEXPECTED(c, "%u-byte %s %lx: %s esr %lx BADV %lx (expected ADEM at the address)", size,
                       op == STORE ? "store to" : "load from", a, p.taken ? "exception" : "no exception", p.esr, p.far);
        return;
    }
    case BREAK: {
        const uint64_t b = arm();
        asm volatile("break 7" ::: "memory");
        expect_exc(c, "break 7", done(b), rt::esr_code(0xC));
        return;
    }
    case SYSCALL: {
        const uint64_t b = arm();
        asm volatile("syscall 3" ::: "memory");
        expect_exc(c, "syscall 3", done(b), rt::esr_code(0xB));
        return;
    }
    case INE: {
        const uint64_t b = arm();
        asm volatile(".word 0x00000000" ::: "memory");
        expect_exc(c, "the word 0", done(b), rt::esr_code(rt::ECODE_INE));
        return;
    }
    case HYP_CSR: {
        const unsigned which = unsigned(r.below(4));
        uint64_t v = r.next() | 1; // never 0 unless the instruction writes it
        const uint64_t b = arm();
        switch (which) {
        case 0: asm volatile("csrrd %0, 0x50" : "+r"(v)::"memory"); break;
        case 1: asm volatile("csrrd %0, 0x51" : "+r"(v)::"memory"); break;
        case 2: asm volatile("csrrd %0, 0x52" : "+r"(v)::"memory"); break;
        default: asm volatile("csrrd %0, 0x53" : "+r"(v)::"memory"); break;
        }
        const Outcome o = done(b);
        if (o.taken) UNEXPECTED(c, "csrrd 0x%x: exception esr %lx (expected none)", 0x50 + which, o.esr);
        else if (v != 0) UNEXPECTED(c, "csrrd 0x%x: %lx (expected 0)", 0x50 + which, v);
        return;
    }
    case CPUCFG: {
        const uint32_t word = uint32_t(r.below(0x40));
        const uint64_t b = arm();
        const uint32_t x = rt::cpucfg(word), y = rt::cpucfg(word);
        const Outcome o = done(b);
        if (o.taken) UNEXPECTED(c, "cpucfg %x: exception esr %lx", word, o.esr);
        else if (x != y) UNEXPECTED(c, "cpucfg %x: %x then %x", word, x, y);
        return;
    }
    case HVCL_NR: {
        const uint64_t nr = 8 + r.below(1ull << 40);
        const rt::HcResult h = rt::hypercall(nr, r.next(), r.next());
        if (h.x0 != CXV_NOT_SUPPORTED) UNEXPECTED(c, "hvcl 0, number %lx: %ld (expected -1)", nr, h.x0);
        return;
    }
    case HVCL_CODE: {
        const unsigned which = unsigned(r.below(3));
        const int64_t v = hvcl_code(which);
        if (v != CXV_NOT_SUPPORTED) UNEXPECTED(c, "hvcl code #%u: %ld (expected -1)", which, v);
        return;
    }
    case N_OPS: break;
    }
}

} // namespace

void arch_main() {
    run_on_one_vcpu<N_OPS>(OP_NAMES, [](Ctx& c, Rng& r, unsigned kind) { do_op(c, r, Op(kind)); });
}

} // namespace chaos
