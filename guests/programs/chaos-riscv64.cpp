// chaos, the riscv64 part (chaos.cpp and chaos.hpp hold what the ISAs share). The guest runs in
// VS-mode with satp bare; every operation is generated as instruction words at run time into a
// per-vCPU code page, run with random registers, and checked against a model:
//
// - loads and stores of every width and signedness (LB/LH/LW/LD/LBU/LHU/LWU, SB/SH/SW/SD), their
//   compressed forms (C.LW/C.LD/C.SW/C.SD with x8..x15, C.LWSP/C.LDSP/C.SWSP/C.SDSP with sp as the
//   base, so sp points anywhere), floating-point loads/stores and atomics (AMO, LR/SC), aligned
//   and misaligned, to: the gaps around RAM, QEMU virt's host devices (CLINT, PLIC, virtio, RTC,
//   PCIe, flash) and host RAM the VM does not own, random guest-physical addresses up to Sv39x4's
//   41 bits and beyond (up to 2^50, Sv48x4's limit, and past it), the emulated ns16550a (a model of its registers predicts accept/abort and
//   the values read), and three extra regions of chaos.toml with restricted G-stage permissions
//   (read-only, no-execute, write-only, which riscv cannot encode: no access at all).
//   Expected: the access works and returns the model's value, or the guest gets the access fault
//   cxvisor injects (load 5, store/AMO 7; stval = the address) or, misaligned, the hardware's or
//   firmware's misaligned trap (4/6); no register changes but the loaded one; nothing changes when
//   the access faults. Floating-point and atomic accesses never go to the UART (cxvisor cannot
//   emulate them there: that is chaos-crash).
// - instruction fetches (JALR) into those places: instruction access fault (1), stval = target;
// - CSR reads of random numbers: hypervisor (0x6xx, 0xExx), VS (0x2xx) and machine CSRs must give
//   the guest an illegal-instruction exception (cxvisor turns the virtual-instruction trap into
//   one, RISC-V Privileged Spec 20211203, 8.6.1), with stval = the instruction or 0; writes to those
//   and to the read-only counters likewise; sie and stimecmp, which cxvisor switches with the
//   vCPU, must keep what was written (or what SBI set_timer wrote) however often the vCPU was
//   descheduled;
// - random SYSTEM-opcode instructions (SFENCE.VMA, HFENCE.*, HLV/HSV, MRET, SRET/WFI lookalikes,
//   EBREAK): completed, illegal instruction or breakpoint, never anything else;
// - ECALL with random EIDs/FIDs/arguments: every SBI v2.0 extension cxvisor has (BASE, TIME, IPI,
//   RFENCE, HSM, SRST, DBCN), the legacy ones and cxvisor's own (CXV_SBI_EID), and random ids;
//   results checked per the SBI spec's error codes and cxvisor's documented answers, every other
//   register preserved (never SRST shutdown/reset, legacy shutdown, hart_stop, a retentive suspend
//   without a timer, or hart_start of a stopped hart at a random address);
// - WFI and SBI HSM retentive suspend with the timer (stimecmp) a few ms ahead or already expired,
//   PAUSE, FENCE, FENCE.I;
// - SBI HSM from vCPU 0: hart_start of vCPU 1 as a second chaos worker (600 operations, then it
//   stops itself), again while it runs (ALREADY_AVAILABLE), get_status.
//
// chaos-crash (CXV_CHAOS_CRASH=1) ends with one MMIO instruction cxvisor cannot emulate on the
// UART (the seed or CXV_CHAOS_CRASH_KIND 0..5 chooses: AMOADD.W, LR.W, AMOSWAP.D, FLW, FSD, C.FLD);
// cxvisor must stop the VM. The config must give 2 vCPUs and the regions below.
#include "chaos.hpp"
#include "rt.hpp"

using namespace cxv_abi;
using chaos::Rng;

// ---------------------------------------------------------------- assembly helpers
// chaos_call(in, out, fn): x2 (sp) and x5..x31 = in[], jump to fn with ra = the way back; then
// out[] = x2, x5..x31. gp (x3) holds this vCPU's ChaosCpu block meanwhile, tp (x4) its index
// (neither is ever random). chaos_vector: every trap swaps sp with sscratch (this vCPU's trap
// stack), so a trap with sp pointing at a device or nowhere is still handled; chaos_trap() decides.
asm(R"(
    .section .text.chaos, "ax"
    .balign 4
    .global chaos_call
chaos_call:
    addi    sp, sp, -112
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    sd      s2, 24(sp)
    sd      s3, 32(sp)
    sd      s4, 40(sp)
    sd      s5, 48(sp)
    sd      s6, 56(sp)
    sd      s7, 64(sp)
    sd      s8, 72(sp)
    sd      s9, 80(sp)
    sd      s10, 88(sp)
    sd      s11, 96(sp)
    sd      gp, 104(sp)
    la      t0, chaos_cpu
    slli    t1, tp, 5
    add     gp, t0, t1
    sd      sp, 0(gp)
    sd      a1, 8(gp)
    mv      ra, a2
    ld      sp, 16(a0)
    .irp n, 5,6,7,8,9,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld      x\n, (\n * 8)(a0)
    .endr
    ld      a0, 80(a0)
    jalr    ra, 0(ra)
    ld      ra, 8(gp)
    sd      sp, 16(ra)
    .irp n, 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd      x\n, (\n * 8)(ra)
    .endr
    ld      sp, 0(gp)
    ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    ld      s2, 24(sp)
    ld      s3, 32(sp)
    ld      s4, 40(sp)
    ld      s5, 48(sp)
    ld      s6, 56(sp)
    ld      s7, 64(sp)
    ld      s8, 72(sp)
    ld      s9, 80(sp)
    ld      s10, 88(sp)
    ld      s11, 96(sp)
    ld      gp, 104(sp)
    addi    sp, sp, 112
    ret

    .balign 4
    .global chaos_vector
chaos_vector:
    csrrw   sp, sscratch, sp
    addi    sp, sp, -264
    .irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd      x\n, (\n * 8)(sp)
    .endr
    csrr    t0, sscratch
    sd      t0, 16(sp)
    csrr    t0, sepc
    sd      t0, 256(sp)
    mv      a0, sp
    call    chaos_trap
    ld      t0, 256(sp)
    csrw    sepc, t0
    .irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld      x\n, (\n * 8)(sp)
    .endr
    addi    sp, sp, 264
    csrrw   sp, sscratch, sp
    sret
)");

namespace {

struct ChaosFrame {
    uint64_t x[32]; // x[2] = the interrupted sp
    uint64_t sepc;
};

} // namespace

extern "C" {
uint64_t chaos_cpu[rt::MAX_CPUS][4]; // chaos_call: saved sp, out pointer
extern char chaos_vector[];
void chaos_call(const uint64_t* in, uint64_t* out, const void* fn);
void chaos_trap(ChaosFrame* f);
}

namespace {

// ---------------------------------------------------------------- the VM's layout (configs/vms/riscv64/chaos*.toml)
constexpr uint64_t RAM_LO = rt::RAM_BASE, RAM_HI = rt::RAM_BASE + rt::RAM_SIZE;
constexpr uint64_t UART = rt::UART_BASE;
constexpr uint64_t XREG_SIZE = 0x200000;
constexpr uint64_t RO_BASE = 0x82000000; // flags 1: read only
constexpr uint64_t NX_BASE = 0x82400000; // flags 3: read/write, no execute
constexpr uint64_t WO_BASE = 0x82800000; // flags 2: write only (riscv: no access, see above)
constexpr unsigned WORKER_CPU = 1;
// Sv39x4's guest-physical space (Priv 20211203, 8.5.1). cxvisor may use Sv48x4 instead (its boot
// line says which; the guest cannot read hgatp): either way nothing of this VM lies above 2^41, so
// an access there faults, in the hardware (Sv39x4: the upper GPA bits must be 0) or in cxvisor
// (Sv48x4: not mapped), and the guest gets the same access fault.
constexpr unsigned GPA_BITS = 41;
constexpr uint32_t RET_WORD = 0x00008067;  // jalr x0, 0(ra)
constexpr uint32_t C_NOP = 0x0001;

// Exception codes (Priv 20211203, 4.1.9 scause).
enum : uint64_t {
    EX_IMISALIGN = 0, EX_IACCESS = 1, EX_ILLEGAL = 2, EX_BREAK = 3, EX_LMISALIGN = 4, EX_LACCESS = 5,
    EX_SMISALIGN = 6, EX_SACCESS = 7, EX_IPAGE = 12, EX_LPAGE = 13, EX_SPAGE = 15,
};

// ---------------------------------------------------------------- outcomes
enum : uint32_t {
    O_OK = 1,       // no exception
    O_LACCESS = 2,  // load access fault (cxvisor's abort)
    O_SACCESS = 4,  // store/AMO access fault (cxvisor's abort)
    O_IACCESS = 8,  // instruction access fault
    O_MISALIGN = 16, // load/store/AMO address misaligned
    O_ILLEGAL = 32, // illegal instruction
    O_BREAK = 64,   // breakpoint
    O_OTHER = 128,
};
constexpr unsigned N_OUTCOMES = 8;
const char* const outcome_names[N_OUTCOMES] = {"no exception",      "load access fault",  "store access fault",
                                               "fetch access fault", "misaligned",         "illegal instruction",
                                               "breakpoint",         "other exception"};
// The index of the one bit set in an outcome (a loop: the runtime has no libgcc for __ctzdi2).
unsigned bit_index(uint32_t o) {
    unsigned i = 0;
    while (o > 1) o >>= 1, ++i;
    return i;
}
const char* outcome_name(uint32_t o) { return outcome_names[bit_index(o)]; }
uint32_t outcome_of(bool taken, uint64_t cause) {
    if (!taken) return O_OK;
    switch (cause) {
    case EX_LACCESS: return O_LACCESS;
    case EX_SACCESS: return O_SACCESS;
    case EX_IACCESS: return O_IACCESS;
    case EX_LMISALIGN:
    case EX_SMISALIGN: return O_MISALIGN;
    case EX_ILLEGAL: return O_ILLEGAL;
    case EX_BREAK: return O_BREAK;
    default: return O_OTHER;
    }
}

// ---------------------------------------------------------------- per-vCPU trap state
struct CpuExc {
    volatile bool armed; // the next exception inside the code page is recorded and skipped
    volatile bool fetch; // the next exception returns to ra (a JALR probe without link)
    volatile uint64_t cause, tval, epc, count;
};
CpuExc g_exc[rt::MAX_CPUS];
alignas(16) uint8_t g_trap_stack[rt::MAX_CPUS][8192];

// ---------------------------------------------------------------- statistics
enum Kind { K_MEM, K_FETCH, K_CSR, K_SYS, K_ECALL, K_HSM, K_WFI, K_HINT, K_STATE, K_COUNT };
const char* const kind_names[K_COUNT] = {"mem", "fetch", "csr", "system", "ecall", "hsm", "wfi", "hint", "state"};
struct Stats {
    uint64_t ops[K_COUNT];
    uint64_t outcomes[N_OUTCOMES];
    void count(uint32_t o) { ++outcomes[bit_index(o)]; }
    uint64_t n(uint32_t o) const { return outcomes[bit_index(o)]; }
    void add(const Stats& o) {
        for (int i = 0; i < K_COUNT; ++i) ops[i] += o.ops[i];
        for (unsigned i = 0; i < N_OUTCOMES; ++i) outcomes[i] += o.outcomes[i];
    }
};

// ---------------------------------------------------------------- shared state
alignas(4096) uint32_t g_stub[rt::MAX_CPUS][1024];             // generated code, one page per vCPU
alignas(4096) volatile uint8_t g_scratch[rt::MAX_CPUS][8192];  // RAM the random stores may hit
const char g_printable[] = "chaos-riscv64 dbcn buffer: every byte here is printable.";

uint64_t g_seed = CXV_CHAOS_SEED;
uint64_t g_vm_id;
Stats g_worker_stats;
volatile unsigned g_worker_runs, g_worker_done, g_worker_failures;
bool g_thr_dirty; // random bytes went to THR since the last newline

// ns16550a model (cxvisor's Uart16550: byte registers at offsets 0..7, everything else aborts).
// Only vCPU 0 writes the registers; LCR never gets DLAB, MCR never loopback (the console needs both).
struct UartModel {
    uint8_t ier, lcr, mcr, scr;
} g_uart;

struct Ctx {
    unsigned cpu;
    bool worker;
    uint64_t op;
    Rng rng;
    Stats st;
    unsigned failures;
    // sie and stimecmp as last written (cxvisor switches them with the vCPU)
    uint64_t sie, stimecmp;
};
Ctx g_ctx[rt::MAX_CPUS];

// ---------------------------------------------------------------- small helpers
uint64_t read_sie() {
    uint64_t v;
    asm volatile("csrr %0, sie" : "=r"(v));
    return v;
}
uint64_t read_stimecmp() {
    uint64_t v;
    asm volatile("csrr %0, 0x14d" : "=r"(v)); // stimecmp (Sstc)
    return v;
}
void write_sie(uint64_t v) { asm volatile("csrw sie, %0" ::"r"(v)); }
void write_stimecmp(uint64_t v) { asm volatile("csrw 0x14d, %0" ::"r"(v)); }

void setup_cpu(unsigned cpu) {
    asm volatile("csrw sscratch, %0" ::"r"(&g_trap_stack[cpu][sizeof g_trap_stack[cpu]]));
    asm volatile("csrw stvec, %0" ::"r"(chaos_vector));
    write_sie(0);
    write_stimecmp(~0ull);
}

struct Run {
    bool taken;
    uint32_t got;
    uint64_t cause, tval;
    uint64_t out[32];
};

// Runs `n` halfwords or words (+ RET) on this vCPU with x2, x5..x31 = in, the trap handler armed.
Run run(unsigned cpu, const uint32_t* words, unsigned n, const uint64_t* in, bool fetch_probe = false) {
    uint32_t* p = g_stub[cpu];
    for (unsigned i = 0; i < n; ++i) p[i] = words[i];
    p[n] = RET_WORD;
    asm volatile("fence.i" ::: "memory");
    CpuExc& e = g_exc[cpu];
    Run r{};
    uint64_t before = e.count;
    asm volatile("" ::: "memory");
    if (fetch_probe) e.fetch = true;
    else e.armed = true;
    chaos_call(in, r.out, p);
    e.armed = false;
    e.fetch = false;
    asm volatile("" ::: "memory");
    r.taken = e.count != before;
    if (r.taken) r.cause = e.cause, r.tval = e.tval;
    r.got = outcome_of(r.taken, r.cause);
    return r;
}
Run exec(Ctx& c, const uint32_t* words, unsigned n, const uint64_t* in) {
    Run r = run(c.cpu, words, n, in);
    c.st.count(r.got);
    return r;
}

// Registers a random operation may use: t0..t6, s0..s11, a0..a7 (never ra, gp, tp; sp only as
// the compressed SP forms' base).
unsigned random_reg(Rng& r) { return 5 + unsigned(r.below(27)); }
void random_regs(Rng& r, uint64_t* in) {
    for (int i = 0; i < 32; ++i) in[i] = r.next();
    in[0] = in[1] = in[3] = in[4] = 0;
    in[2] = reinterpret_cast<uint64_t>(&g_trap_stack[rt::cpu_index()][4096]); // a harmless sp
}


// True if x2, x5..x31 came back as they went in, except x<skip> (32: none).
bool regs_kept(Ctx& c, const char* what, uint32_t word, const uint64_t* in, const Run& res, unsigned skip = 32) {
    for (unsigned i = 2; i < 32; ++i)
        if (i != 3 && i != 4 && i != skip && res.out[i] != in[i]) {
            UNEXPECTED(c, "%s insn %08x (%s): x%u changed (%lx -> %lx)", what, word, outcome_name(res.got), i, in[i],
                       res.out[i]);
            return false;
        }
    return true;
}

// ---------------------------------------------------------------- address classes
enum Cls { C_RAM, C_RO, C_NX, C_WO, C_UART, C_NONE, C_HIGH };
const char* const cls_names[] = {"RAM", "RO region", "NX region", "WO region", "UART", "nothing", "above the GPA space"};
Cls classify(uint64_t a) {
    if (a >> GPA_BITS) return C_HIGH;
    if (a >= RAM_LO && a < RAM_HI) return C_RAM;
    if (a >= RO_BASE && a < RO_BASE + XREG_SIZE) return C_RO;
    if (a >= NX_BASE && a < NX_BASE + XREG_SIZE) return C_NX;
    if (a >= WO_BASE && a < WO_BASE + XREG_SIZE) return C_WO;
    if (a >= UART && a < UART + 0x1000) return C_UART;
    return C_NONE;
}
bool in_vm_memory(uint64_t a) {
    Cls k = classify(a);
    return k == C_RAM || k == C_RO || k == C_NX || k == C_WO;
}
// Each vCPU writes only its own half of NX, so values stay predictable.
uint64_t own_half(unsigned cpu, uint64_t base) { return base + (cpu ? XREG_SIZE / 2 : 0); }

uint64_t pick_addr(Ctx& c) {
    Rng& r = c.rng;
    switch (r.below(14)) {
    case 0: return RAM_LO - 0x100000 + r.below(0x100000);            // below RAM
    case 1: return RAM_HI + r.below(RO_BASE - RAM_HI);                // between RAM and the regions
    case 2:
    case 3: return UART + r.below(16);                                 // the 16550's registers
    case 4: return UART + r.below(0x1000);                             // its window
    case 5: {
        static const uint64_t host[][2] = {{0x00000000, 0x00012000},  // boot ROM, test device
                                           {0x00100000, 0x00001000},  // test/reset (sifive,test)
                                           {0x00101000, 0x00001000},  // RTC (goldfish)
                                           {0x02000000, 0x00010000},  // CLINT
                                           {0x0C000000, 0x00600000},  // PLIC
                                           {0x10001000, 0x00008000},  // virtio-mmio
                                           {0x20000000, 0x04000000},  // flash
                                           {0x30000000, 0x50000000}}; // PCIe ECAM, MMIO
        unsigned i = unsigned(r.below(8));
        return host[i][0] + r.below(host[i][1]);
    }
    case 6: return RAM_HI + r.below(0x40000000);                       // host RAM (cxvisor's, others')
    case 7: {
        const uint64_t xr[3] = {RO_BASE, NX_BASE, WO_BASE};
        return xr[r.below(3)] + r.below(XREG_SIZE);
    }
    case 8: return reinterpret_cast<uint64_t>(&g_scratch[c.cpu][0]) + r.below(8192 - 8); // own RAM
    case 9: return r.below(1ull << GPA_BITS);                          // anywhere in the GPA space
    case 10: return (1ull << GPA_BITS) + r.below(1ull << 50);          // above it
    case 11: {
        const uint64_t edges[] = {RAM_LO, RAM_HI, UART, UART + 8, UART + 0x1000, RO_BASE, RO_BASE + XREG_SIZE,
                                  NX_BASE, NX_BASE + XREG_SIZE, WO_BASE, WO_BASE + XREG_SIZE, 1ull << GPA_BITS};
        return edges[r.below(sizeof edges / 8)] - 8 + r.below(16);
    }
    case 12: return r.next();                                           // any 64-bit address
    default: return r.below(0x100000000ull);                           // the low 4 GiB
    }
}

// ---------------------------------------------------------------- the 16550 model
// true if cxvisor's 16550 accepts the access (one byte at offsets 0..7); reads: *val/*known.
bool uart_model(uint64_t off, unsigned w, bool write, uint64_t wval, uint64_t* val, bool* known, bool apply) {
    *known = false;
    if (w != 1 || off > 7) return false;
    if (write) {
        if (!apply) return true;
        uint8_t v = uint8_t(wval);
        switch (off) {
        case 1: g_uart.ier = v & 0x0F; break;
        case 3: g_uart.lcr = v; break;
        case 4: g_uart.mcr = v & 0x1F; break;
        case 7: g_uart.scr = v; break;
        default: break; // THR (a character), FCR, LSR/MSR (ignored)
        }
        return true;
    }
    switch (off) {
    case 1: *val = g_uart.ier, *known = true; break;
    case 3: *val = g_uart.lcr, *known = true; break;
    case 4: *val = g_uart.mcr, *known = true; break;
    case 7: *val = g_uart.scr, *known = true; break;
    default: break; // RBR, IIR, LSR (DR may be set by input), MSR: state the model does not follow
    }
    return true;
}
// The value a vCPU 0 store to the UART carries (no DLAB, no loopback, THR printable).
uint64_t uart_store_value(Rng& r, uint64_t off, uint64_t v) {
    switch (off) {
    case 0: g_thr_dirty = true; return (v & ~0xFFull) | (0x21 + r.below(94));
    case 3: return v & ~0x80ull;
    case 4: return v & ~0x10ull;
    default: return v;
    }
}

// ---------------------------------------------------------------- memory operations
uint64_t width_mask(unsigned w) { return w == 8 ? ~0ull : (1ull << (8 * w)) - 1; }
uint64_t sext(uint64_t v, unsigned w) {
    if (w == 8) return v;
    unsigned s = 64 - 8 * w;
    return uint64_t(int64_t(v << s) >> s);
}
uint64_t read_mem(uint64_t a, unsigned w) { // RAM the guest may read directly (RAM, RO, NX)
    uint64_t v = 0;
    for (unsigned i = 0; i < w; ++i) v |= uint64_t(*reinterpret_cast<volatile uint8_t*>(a + i)) << (8 * i);
    return v;
}

enum Form { F_INT, F_COMP, F_COMP_SP, F_FP, F_AMO, F_LR, F_SC };

void op_mem(Ctx& c) {
    Rng& r = c.rng;
    uint64_t in[32];
    random_regs(r, in);
    uint64_t addr = pick_addr(c);
    Cls cls = classify(addr);
    const bool write = r.chance(45);
    // The form: the worker and every vCPU on the UART stay with what cxvisor emulates there.
    Form form;
    unsigned k = unsigned(r.below(100));
    if (k < 50) form = F_INT;
    else if (k < 65) form = F_COMP;
    else if (k < 75) form = F_COMP_SP;
    else if (k < 85) form = F_FP;
    else if (k < 93) form = F_AMO;
    else form = write ? F_SC : F_LR;
    if (cls == C_UART && form >= F_FP) form = F_INT;
    if ((cls == C_NX || cls == C_RAM) && form >= F_AMO) form = F_INT; // atomics' values are not modelled
    if (cls == C_UART && c.worker && write) return;                   // only vCPU 0 writes the UART
    unsigned w;
    bool sign = false;
    uint32_t word = 0;
    unsigned rd = 0, rs1 = 0, rs2 = 0;
    uint64_t base_val = addr;
    switch (form) {
    case F_INT: {
        unsigned f3 = unsigned(r.below(write ? 4 : 7));
        w = 1u << (f3 & 3);
        sign = !write && f3 < 3;
        int64_t imm = r.chance(50) ? 0 : r.range(-2048, 2047);
        rs1 = random_reg(r);
        base_val = addr - uint64_t(imm);
        uint32_t im = uint32_t(imm) & 0xFFF;
        if (write) {
            rs2 = random_reg(r);
            word = ((im >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((im & 31) << 7) | 0x23;
        } else {
            rd = random_reg(r);
            word = (im << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x03;
        }
        break;
    }
    case F_COMP: { // C.LW/C.LD/C.SW/C.SD: registers x8..x15, unsigned scaled offsets
        bool dbl = r.chance(50);
        w = dbl ? 8 : 4;
        sign = !write && !dbl;
        unsigned b = unsigned(r.below(8)), d = unsigned(r.below(8));
        rs1 = 8 + b;
        uint32_t off = r.chance(50) ? 0 : uint32_t(r.below(dbl ? 32 : 32)) * w;
        uint32_t enc = dbl ? (((off >> 3) & 7) << 10) | (((off >> 6) & 3) << 5)
                           : (((off >> 3) & 7) << 10) | (((off >> 2) & 1) << 6) | (((off >> 6) & 1) << 5);
        base_val = addr - off;
        uint32_t f3 = (write ? 6 : 2) + (dbl ? 1 : 0);
        word = (f3 << 13) | enc | (b << 7) | (d << 2) | C_NOP << 16;
        if (write) rs2 = 8 + d;
        else rd = 8 + d;
        break;
    }
    case F_COMP_SP: { // C.LWSP/C.LDSP/C.SWSP/C.SDSP with offset 0: sp = the address
        bool dbl = r.chance(50);
        w = dbl ? 8 : 4;
        sign = !write && !dbl;
        rs1 = 2;
        uint32_t f3 = (write ? 6 : 2) + (dbl ? 1 : 0);
        if (write) {
            rs2 = random_reg(r);
            word = (f3 << 13) | (rs2 << 2) | 2 | C_NOP << 16;
        } else {
            rd = random_reg(r);
            word = (f3 << 13) | (rd << 7) | 2 | C_NOP << 16;
        }
        break;
    }
    case F_FP: { // FLW/FLD/FSW/FSD, f-registers not modelled
        bool dbl = r.chance(50);
        w = dbl ? 8 : 4;
        rs1 = random_reg(r);
        unsigned f = unsigned(r.below(32));
        word = write ? (f << 20) | (rs1 << 15) | ((dbl ? 3u : 2u) << 12) | 0x27
                     : (rs1 << 15) | ((dbl ? 3u : 2u) << 12) | (f << 7) | 0x07;
        break;
    }
    default: { // AMO*.W/D (funct5 random among the defined ones), LR, SC
        bool dbl = r.chance(50);
        w = dbl ? 8 : 4;
        rs1 = random_reg(r);
        rd = random_reg(r);
        rs2 = form == F_LR ? 0 : random_reg(r);
        static const uint32_t amo5[] = {0x00, 0x01, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C};
        uint32_t f5 = form == F_LR ? 0x02 : form == F_SC ? 0x03 : amo5[r.below(9)];
        word = (f5 << 27) | (uint32_t(r.below(4)) << 25) | (rs2 << 20) | (rs1 << 15) | ((dbl ? 3u : 2u) << 12) |
               (rd << 7) | 0x2F;
        break;
    }
    }
    // RAM targets stay aligned and inside this vCPU's scratch (or the readable regions).
    if (cls == C_RAM) addr = reinterpret_cast<uint64_t>(&g_scratch[c.cpu][0]) + (r.below(8192 - 8) & ~uint64_t(w - 1));
    if (cls == C_NX) addr = own_half(c.cpu, NX_BASE) + (r.below(XREG_SIZE / 2 - 8) & ~uint64_t(w - 1));
    if (cls == C_RO) addr &= ~uint64_t(w - 1);
    // Recompute the base for the final address (the offset is part of the encoding).
    {
        int64_t off = 0;
        if (form == F_INT) off = int64_t(int32_t(write ? (((word >> 25) << 5) | ((word >> 7) & 31)) << 20 : word) >> 20);
        else if (form == F_COMP) {
            uint32_t h = word & 0xFFFF;
            bool dbl = (h >> 13) & 1;
            off = dbl ? int64_t(((h >> 10) & 7) << 3 | ((h >> 5) & 3) << 6)
                      : int64_t(((h >> 10) & 7) << 3 | ((h >> 6) & 1) << 2 | ((h >> 5) & 1) << 6);
        }
        base_val = addr - uint64_t(off);
    }
    if (form == F_FP || form == F_AMO || form == F_LR || form == F_SC) base_val = addr;
    in[rs1] = base_val;
    if (cls == C_UART && write && rs2 && rs2 != rs1) in[rs2] = uart_store_value(r, addr - UART, in[rs2]);
    if (write && rs2 == rs1) return; // the stored value would be the base: not modelled

    const bool misaligned = (addr & (w - 1)) != 0;
    const uint64_t before = (cls == C_RAM || cls == C_NX || cls == C_RO) ? read_mem(addr, w) : 0;
    const uint64_t wval = write ? (form == F_FP ? 0 : in[rs2]) : 0;
    Run res = exec(c, &word, 1, in);

    // What may happen.
    uint32_t allowed = 0;
    const uint32_t fault = write || form == F_AMO || form == F_SC ? O_SACCESS : O_LACCESS;
    switch (cls) {
    case C_RAM:
    case C_NX: allowed = O_OK; break;
    case C_RO: allowed = write || form == F_AMO || form == F_SC ? fault : O_OK; break;
    case C_UART: {
        uint64_t v;
        bool known;
        allowed = uart_model(addr - UART, w, write, wval, &v, &known, false) ? O_OK : fault;
        break;
    }
    default: allowed = fault; break; // WO (no G-stage encoding), unmapped, above the GPA space
    }
    if (form == F_LR || form == F_SC || form == F_AMO) allowed |= O_LACCESS | O_SACCESS;
    // SC without a reservation may fail without accessing memory (Unprivileged Spec 20191213,
    // 8.2): rd gets a non-zero code, no exception (QEMU does exactly that).
    if (form == F_SC) allowed |= O_OK;
    if (misaligned) allowed |= O_MISALIGN | O_LACCESS | O_SACCESS;
    const char* what = write ? "store" : "load";
    if (!(res.got & allowed)) {
        UNEXPECTED(c, "%s w%u to %lx (%s) insn %08x: %s (cause %lu tval %lx)", what, w, addr, cls_names[cls], word,
                   outcome_name(res.got), res.cause, res.tval);
        return;
    }
    if (res.taken) {
        if (res.got & (O_LACCESS | O_SACCESS | O_MISALIGN)) {
            // stval: the faulting address (or, misaligned, an address inside the access).
            bool ok = res.tval == addr || (misaligned && res.tval >= addr && res.tval < addr + w) ||
                      (res.tval & ~0xFFFull) == ((addr + w - 1) & ~0xFFFull);
            if (!ok) UNEXPECTED(c, "%s w%u to %lx (%s) insn %08x: %s with stval %lx", what, w, addr, cls_names[cls],
                                word, outcome_name(res.got), res.tval);
        }
        regs_kept(c, what, word, in, res); // nothing changes when the access faults
        if (cls == C_RAM || cls == C_NX) {
            if (read_mem(addr, w) != before) UNEXPECTED(c, "%s to %lx faulted but memory changed", what, addr);
        }
        return;
    }
    // Completed: the model's value and only the destination register changed.
    if (form == F_FP) {
        regs_kept(c, what, word, in, res);
        return;
    }
    if (form == F_AMO || form == F_LR || form == F_SC) {
        regs_kept(c, what, word, in, res, rd);
        return;
    }
    if (write) {
        regs_kept(c, what, word, in, res);
        if (cls == C_RAM || cls == C_NX) {
            uint64_t now = read_mem(addr, w);
            if (now != (wval & width_mask(w)))
                UNEXPECTED(c, "store w%u to %lx: memory %lx, stored %lx", w, addr, now, wval & width_mask(w));
        }
        if (cls == C_UART) {
            uint64_t v;
            bool known;
            uart_model(addr - UART, w, true, wval, &v, &known, true);
        }
        return;
    }
    regs_kept(c, what, word, in, res, rd);
    uint64_t expect = 0;
    bool known = true;
    if (cls == C_UART) {
        uart_model(addr - UART, w, false, 0, &expect, &known, false);
    } else {
        expect = before;
    }
    if (known) {
        expect = sign ? sext(expect, w) : expect;
        if (rd != 0 && res.out[rd] != expect)
            UNEXPECTED(c, "load w%u%s from %lx (%s) insn %08x: x%u = %lx, expected %lx", w, sign ? "s" : "", addr,
                       cls_names[cls], word, rd, res.out[rd], expect);
    } else if (rd != 0 && !sign && (res.out[rd] & ~width_mask(w))) {
        UNEXPECTED(c, "load w%u from %lx (%s): x%u = %lx has bits above the access", w, addr, cls_names[cls], rd,
                   res.out[rd]);
    }
}

// ---------------------------------------------------------------- instruction fetches
void op_fetch(Ctx& c) {
    Rng& r = c.rng;
    uint64_t in[32];
    random_regs(r, in);
    uint64_t target;
    Cls cls;
    do {
        target = pick_addr(c) & ~1ull;
        cls = classify(target);
    } while (cls == C_RAM);
    in[5] = target;
    uint32_t word = 0x00028067; // jalr x0, 0(t0): no link, ra still leads back
    Run res = run(c.cpu, &word, 1, in, true);
    c.st.count(res.got);
    if (res.got != O_IACCESS || res.tval != target)
        UNEXPECTED(c, "fetch from %lx (%s): %s (cause %lu, tval %lx)", target, cls_names[cls], outcome_name(res.got),
                   res.cause, res.tval);
    regs_kept(c, "fetch", word, in, res);
}

// ---------------------------------------------------------------- CSRs
// Where a CSR number lies (Priv 20211203, 2.2 Table 2.1-2.5): bits [9:8] the lowest privilege
// that may access it (0 U, 1 S, 2 H/VS, 3 M), [11:10] = 3 read-only.
bool csr_must_trap(uint32_t n) {
    unsigned priv = (n >> 8) & 3;
    return priv >= 2; // hypervisor, VS and machine CSRs: illegal in VS-mode (after cxvisor's virtual-instruction trap)
}
constexpr uint32_t CSR_SIE = 0x104, CSR_STIMECMP = 0x14D;

uint32_t csr_word(uint32_t csr, unsigned f3, unsigned rs1, unsigned rd) {
    return (csr << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x73;
}

void op_csr(Ctx& c) {
    Rng& r = c.rng;
    uint64_t in[32];
    random_regs(r, in);
    unsigned rd = random_reg(r), rs1 = random_reg(r);
    unsigned k = unsigned(r.below(10));
    if (k < 5) { // read a random CSR
        uint32_t n = r.chance(50) ? uint32_t(r.below(4096)) : uint32_t(0x200 + r.below(0x600));
        if (n == 0x015) n = 0x016; // seed (Zkr) wants a write
        uint32_t word = csr_word(n, 2, 0, rd); // csrrs rd, n, x0
        Run res = exec(c, &word, 1, in);
        if (csr_must_trap(n) && res.got != O_ILLEGAL)
            UNEXPECTED(c, "csrr of CSR %x: %s, expected illegal instruction", n, outcome_name(res.got));
        else if (!(res.got & (O_OK | O_ILLEGAL)))
            UNEXPECTED(c, "csrr of CSR %x: %s", n, outcome_name(res.got));
        if (res.got == O_ILLEGAL && res.tval != word && res.tval != 0)
            UNEXPECTED(c, "csrr of CSR %x: illegal instruction with stval %lx (insn %08x)", n, res.tval, word);
        regs_kept(c, "csrr", word, in, res, res.taken ? 32 : rd);
        if (!res.taken && n == CSR_SIE && (res.out[rd] & 0x222) != c.sie)
            UNEXPECTED(c, "sie reads %lx, last written %lx", res.out[rd], c.sie);
        if (!res.taken && n == CSR_STIMECMP && res.out[rd] != c.stimecmp)
            UNEXPECTED(c, "stimecmp reads %lx, last written %lx", res.out[rd], c.stimecmp);
        return;
    }
    if (k < 8) { // write a CSR the guest may not have, or a read-only one: must trap, change nothing
        uint32_t n;
        switch (r.below(4)) {
        case 0: n = uint32_t(0x600 + r.below(0x100)); break; // hypervisor
        case 1: n = uint32_t(0x200 + r.below(0x100)); break; // VS
        case 2: n = uint32_t(0x300 + r.below(0x100)); break; // machine
        default: n = uint32_t(0xC00 + r.below(0x20)); break;  // counters (read-only)
        }
        unsigned f3 = 1 + unsigned(r.below(3)); // csrrw / csrrs / csrrc with a register
        if (f3 != 1 && in[rs1] == 0) in[rs1] = 1;  // csrrs/csrrc with a zero source do not write
        uint32_t word = csr_word(n, f3, rs1, rd);
        Run res = exec(c, &word, 1, in);
        if (res.got != O_ILLEGAL)
            UNEXPECTED(c, "write (csrr%c) of CSR %x: %s, expected illegal instruction", "?wsc"[f3], n,
                       outcome_name(res.got));
        regs_kept(c, "csr write", word, in, res);
        return;
    }
    // sie or stimecmp: written now, checked by later reads (cxvisor must switch them with the vCPU)
    bool is_sie = r.chance(50);
    uint64_t v = is_sie ? (r.next() & 0x222) : (r.chance(50) ? r.next() : rt::counter() + r.below(1000000));
    in[rs1] = v;
    uint32_t word = csr_word(is_sie ? CSR_SIE : CSR_STIMECMP, 1, rs1, rd);
    Run res = exec(c, &word, 1, in);
    if (res.taken) {
        UNEXPECTED(c, "csrw %s: %s", is_sie ? "sie" : "stimecmp", outcome_name(res.got));
        return;
    }
    uint64_t old = is_sie ? c.sie : c.stimecmp;
    if (rd && (is_sie ? (res.out[rd] & 0x222) : res.out[rd]) != old)
        UNEXPECTED(c, "csrrw %s returned %lx, last written %lx", is_sie ? "sie" : "stimecmp", res.out[rd], old);
    regs_kept(c, "csrrw", word, in, res, rd);
    if (is_sie) c.sie = v;
    else c.stimecmp = v;
}

// Random SYSTEM-opcode instructions with funct3 0 (privileged) or 4 (hypervisor loads/stores),
// only defined encodings: SFENCE.VMA, HFENCE.VVMA/GVMA, HLV/HLVX/HSV (rd, rs2 as the H chapter
// of the privileged spec 20211203, 8.6, has them). A reserved encoding, or MRET, is an illegal
// instruction, and illegal instructions trap to M-mode first (OpenSBI leaves medeleg's bit 2
// clear to emulate CSRs): for one with funct3 0 or 4, OpenSBI's system_opcode_insn prints
// "Invalid opcode for CSR read/write instruction" on the UART cxvisor's console shares, without
// a newline and interleaved with cxvisor's output character by character, before it hands the
// trap to the guest (hedeleg) or cxvisor. Those lines broke expected console lines (make soak
// ARCH=riscv64: about one run in fifteen), and cxvisor never sees such an instruction while the
// guest owns illegal instructions. Illegal instructions stay covered by op_csr (bad CSRs).
bool defined_sys(uint32_t f3, uint32_t f7, unsigned rs2, unsigned rd) {
    if (f3 == 0) return rd == 0 && (f7 == 0x09 || f7 == 0x11 || f7 == 0x31);
    if (f7 < 0x30 || f7 > 0x37) return false;
    if (f7 & 1) return rd == 0; // HSV.B/H/W/D
    // HLV.B/H/W/D (rs2 0), HLV.BU/HU/WU (rs2 1, not for D), HLVX.HU/WU (rs2 3, H and W).
    return rs2 == 0 || (rs2 == 1 && f7 != 0x36) || (rs2 == 3 && (f7 == 0x32 || f7 == 0x34));
}

void op_sys(Ctx& c) {
    Rng& r = c.rng;
    uint64_t in[32];
    random_regs(r, in);
    uint32_t word;
    for (;;) {
        uint32_t f3 = r.chance(60) ? 0 : 4;
        uint32_t hi;
        switch (r.below(3)) {
        case 0: hi = 0x09; break; // sfence.vma
        case 1: hi = r.chance(50) ? 0x11 : 0x31; break; // hfence.vvma / hfence.gvma
        default: hi = uint32_t(0x30 + r.below(8)); break; // hlv/hlvx/hsv
        }
        unsigned rs2 = unsigned(r.below(32)), rs1 = random_reg(r), rd = r.chance(50) ? 0 : random_reg(r);
        if (r.chance(30)) rs1 = 0;
        word = (hi << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x73;
        if (!defined_sys(f3, hi, rs2, rd)) continue; // (so never ECALL, SRET, WFI: ops of their own)
        break;
    }
    // HSV/HLV addresses: never RAM the test uses (the instructions trap in VS-mode anyway).
    for (unsigned i = 5; i < 32; ++i) in[i] |= 1ull << 63;
    Run res = exec(c, &word, 1, in);
    uint32_t allowed = O_OK | O_ILLEGAL;
    uint32_t f7 = word >> 25, f3 = (word >> 12) & 7;
    if ((f3 == 0 && (f7 == 0x11 || f7 == 0x31)) || (f3 == 4 && f7 >= 0x30 && f7 < 0x38)) allowed = O_ILLEGAL;
    if (!(res.got & allowed)) {
        UNEXPECTED(c, "system insn %08x: %s (cause %lu tval %lx)", word, outcome_name(res.got), res.cause, res.tval);
        return;
    }
    // stval: the instruction or 0 (Priv 20211203, 4.1.9). cxvisor reads the instruction itself
    // for a virtual-instruction trap (QEMU 7.2 leaves a stale stval for HLV/HSV).
    if (res.got == O_ILLEGAL && res.tval != word && res.tval != 0)
        UNEXPECTED(c, "system insn %08x: illegal instruction with stval %lx", word, res.tval);
    unsigned rd = (word >> 7) & 31;
    regs_kept(c, "system", word, in, res, res.taken ? 32 : rd);
}

// ---------------------------------------------------------------- ECALL
struct SbiExpect {
    unsigned fixed; // bit i: a<i> must equal exp[i]; a<i> outside `written` must be kept
    unsigned written;
    uint64_t exp[4];
};

bool known_extension(uint64_t eid) {
    switch (eid) {
    case 0x00: case 0x01: case 0x02: case 0x08:
    case SBI_EXT_BASE: case SBI_EXT_TIME: case SBI_EXT_IPI: case SBI_EXT_RFENCE: case SBI_EXT_HSM:
    case SBI_EXT_SRST: case SBI_EXT_DBCN: case CXV_SBI_EID: return true;
    default: return false;
    }
}

// The hart list (SBI v2.0, 3.1): valid if every hart it names exists (2 harts here).
bool harts_valid(uint64_t mask, uint64_t base) {
    if (base == ~0ull) return true;
    for (unsigned i = 0; i < 64; ++i)
        if (mask >> i & 1 && (base >= 2 || base + i >= 2)) return false;
    return true;
}

void op_ecall(Ctx& c) {
    Rng& r = c.rng;
    uint64_t in[32];
    random_regs(r, in);
    for (int i = 10; i < 16; ++i)
        if (r.chance(40)) in[i] = r.below(4);
    static const uint64_t eids[] = {SBI_EXT_BASE, SBI_EXT_TIME, SBI_EXT_IPI, SBI_EXT_RFENCE, SBI_EXT_HSM,
                                    SBI_EXT_SRST, SBI_EXT_DBCN, CXV_SBI_EID, CXV_SBI_EID, SBI_EXT_BASE};
    uint64_t eid;
    switch (r.below(10)) {
    case 0: case 1: case 2: case 3: case 4: case 5: eid = eids[r.below(10)]; break;
    case 6: eid = r.below(16); break; // legacy
    case 7: eid = uint32_t(r.next()); break;
    case 8: eid = r.next(); break;
    default: eid = 0x0A000000 + r.below(0x01000000); break; // vendor-looking
    }
    uint64_t fid = r.chance(80) ? r.below(10) : r.next();
    uint64_t* a = &in[10];
    // What must not happen here: the VM ending, vCPU 0 stopping, sleeping without a wake-up,
    // starting a stopped hart at a random address, a worker writing the console.
    if (eid == 0x08) eid = 0x09;
    if (eid == 0x01 && c.worker) eid = 0x02;
    if (eid == SBI_EXT_SRST && fid == SBI_SRST_SYSTEM_RESET) {
        if (r.chance(50)) a[1] = 2 + r.below(0xE0000000 - 2); // a reserved reason: INVALID_PARAM
        else a[0] = 3 + r.below(0xFFFFFFF0ull);                // a reserved or vendor type
    }
    if (eid == SBI_EXT_HSM) {
        if (fid == SBI_HSM_HART_STOP) fid = SBI_HSM_HART_GET_STATUS;
        if (fid == SBI_HSM_HART_SUSPEND && uint32_t(a[0]) == 0) a[0] |= 1 + r.below(0xFFFFFFFE);
        if (fid == SBI_HSM_HART_START) {
            switch (r.below(3)) {
            case 0: a[0] = c.cpu; break;       // itself: ALREADY_AVAILABLE / INVALID_ADDRESS
            case 1: a[0] = 2 + r.below(64); break;
            default: a[0] = r.next() | (1ull << 40); break;
            }
            if (r.chance(50)) a[1] = RAM_LO + r.below(rt::RAM_SIZE);
        }
    }
    if (eid == SBI_EXT_DBCN && fid == SBI_DBCN_WRITE_BYTE) {
        if (c.worker) fid = SBI_DBCN_READ;
        else a[0] = 0x21 + r.below(94), g_thr_dirty = true;
    }
    if (eid == SBI_EXT_DBCN && fid == SBI_DBCN_WRITE) {
        if (r.chance(50)) a[2] = 0;
        if (!c.worker && r.chance(50)) {
            a[1] = reinterpret_cast<uint64_t>(g_printable) + r.below(sizeof g_printable - 1);
            g_thr_dirty = true;
        } else {
            do a[1] = pick_addr(c);
            while (classify(a[1]) == C_RAM || classify(a[1]) == C_RO || classify(a[1]) == C_NX);
        }
        if (r.chance(20)) a[0] = 0;
    }
    if (eid == CXV_SBI_EID) {
        if (fid == HC_NR_PUTC && c.worker) fid = HC_NR_NOP;
        if (fid == HC_NR_PUTC) a[0] = (a[0] & ~0xFFull) | (0x21 + r.below(94)), g_thr_dirty = true;
        if (fid == HC_NR_TEST_RESULT) a[0] = 0; // only ever "pass"
    }
    in[17] = eid;
    in[16] = fid;

    // The model.
    SbiExpect e{};
    e.fixed = 1;
    e.written = 3; // SBI: a0 = error, a1 = value
    int64_t err = SBI_ERR_NOT_SUPPORTED;
    uint64_t val = 0;
    bool val_fixed = true;
    bool timer_set = false;
    switch (eid) {
    case SBI_EXT_BASE:
        switch (fid) {
        case SBI_BASE_GET_SPEC_VERSION: err = 0, val = SBI_SPEC_VERSION_2_0; break;
        case SBI_BASE_GET_IMPL_ID: err = 0, val = SBI_IMPL_ID_CXVISOR; break;
        case SBI_BASE_GET_IMPL_VERSION: err = 0, val_fixed = false; break;
        case SBI_BASE_PROBE_EXTENSION: err = 0, val = known_extension(a[0]) ? 1 : 0; break;
        case SBI_BASE_GET_MVENDORID: case SBI_BASE_GET_MARCHID: case SBI_BASE_GET_MIMPID: err = 0, val_fixed = false; break;
        default: break;
        }
        break;
    case SBI_EXT_TIME:
        if (fid == SBI_TIME_SET_TIMER) err = 0, timer_set = true;
        break;
    case SBI_EXT_IPI:
        if (fid == SBI_IPI_SEND_IPI) err = harts_valid(a[0], a[1]) ? SBI_SUCCESS : SBI_ERR_INVALID_PARAM;
        break;
    case SBI_EXT_RFENCE:
        if (fid <= SBI_RFENCE_SFENCE_VMA_ASID) err = harts_valid(a[0], a[1]) ? SBI_SUCCESS : SBI_ERR_INVALID_PARAM;
        break;
    case SBI_EXT_HSM:
        switch (fid) {
        case SBI_HSM_HART_START:
            if (a[0] >= 2) err = SBI_ERR_INVALID_PARAM;
            else err = in_vm_memory(a[1]) ? SBI_ERR_ALREADY_AVAILABLE : SBI_ERR_INVALID_ADDRESS;
            break;
        case SBI_HSM_HART_GET_STATUS:
            if (a[0] >= 2) err = SBI_ERR_INVALID_PARAM;
            else if (a[0] == c.cpu || a[0] == 0) err = 0, val = SBI_HSM_STARTED;
            else err = 0, val_fixed = false;
            break;
        case SBI_HSM_HART_SUSPEND: {
            uint32_t t = uint32_t(a[0]);
            bool reserved = (t >= 1 && t <= 0x0FFFFFFF) || (t >= 0x80000001 && t <= 0x8FFFFFFF);
            err = reserved ? SBI_ERR_INVALID_PARAM : SBI_ERR_NOT_SUPPORTED;
            break;
        }
        default: break;
        }
        break;
    case SBI_EXT_SRST:
        if (fid == SBI_SRST_SYSTEM_RESET) {
            uint32_t type = uint32_t(a[0]), reason = uint32_t(a[1]);
            if (reason > 1 && reason < 0xE0000000) err = SBI_ERR_INVALID_PARAM;
            else err = type >= 0xF0000000 ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM;
        }
        break;
    case SBI_EXT_DBCN:
        if (fid == SBI_DBCN_WRITE_BYTE) err = 0;
        else if (fid == SBI_DBCN_WRITE) {
            if (a[2] != 0) err = SBI_ERR_INVALID_PARAM;
            else if (a[0] == 0) err = 0, val = 0;
            else if (classify(a[1]) == C_RAM) {
                // cxvisor's partial write (Vm::console_write): up to the end of the buffer's page,
                // 128 bytes at most; the caller asks again for the rest.
                const uint64_t to_page_end = 4096 - (a[1] & 4095);
                err = 0, val = a[0] < to_page_end ? a[0] : to_page_end;
                if (val > 128) val = 128;
            }
            else err = SBI_ERR_INVALID_PARAM;
        }
        break;
    case CXV_SBI_EID: {
        e.written = 15;
        e.fixed = 15;
        e.exp[1] = a[0], e.exp[2] = a[1], e.exp[3] = a[2];
        switch (fid) {
        case HC_NR_VERSION: e.exp[0] = (VERSION_MAJOR << 16) | VERSION_MINOR, e.exp[1] = e.exp[2] = e.exp[3] = 0; break;
        case HC_NR_NOP: case HC_NR_PUTC: case HC_NR_TEST_RESULT: e.exp[0] = 0; break;
        case HC_NR_ECHO:
            e.exp[0] = 0, e.exp[1] = a[0] + a[1] + a[2] + a[3] + a[4] + a[5], e.exp[2] = a[0] ^ a[1], e.exp[3] = ~a[0];
            break;
        case HC_NR_VM_INFO: e.exp[0] = 0, e.exp[1] = g_vm_id, e.exp[2] = c.cpu, e.exp[3] = 0; break;
        case HC_NR_IRQ_LINE: case HC_NR_DOORBELL: e.exp[0] = uint64_t(CXV_INVALID); break; // no_irq, no shm
        default: e.exp[0] = uint64_t(CXV_NOT_SUPPORTED); break;
        }
        break;
    }
    case 0x00: e.written = 1, e.exp[0] = 0, timer_set = true; break; // legacy set_timer
    case 0x01: e.written = 1, e.exp[0] = 0; break;                   // legacy putchar
    case 0x02: e.written = 1, e.exp[0] = uint64_t(-1); break;        // legacy getchar: nothing
    default:
        if (eid < 0x10) e.written = 1, e.exp[0] = uint64_t(SBI_ERR_NOT_SUPPORTED); // legacy: a0 only
        break;
    }
    if (eid == 0x01) a[0] = 0x21 + r.below(94), g_thr_dirty = true; // legacy putchar: printable
    if (eid != CXV_SBI_EID && !(eid <= 0x0F)) {
        e.exp[0] = uint64_t(err);
        e.exp[1] = val;
        e.fixed = val_fixed ? 3 : 1;
    }
    uint32_t word = 0x00000073;
    Run res = exec(c, &word, 1, in);
    if (res.taken) {
        UNEXPECTED(c, "ecall eid %lx fid %lx: %s (cause %lu)", eid, fid, outcome_name(res.got), res.cause);
        return;
    }
    for (unsigned i = 2; i < 32; ++i) {
        if (i == 3 || i == 4) continue;
        bool is_a = i >= 10 && i < 14;
        unsigned ai = i - 10;
        if (is_a && (e.written >> ai & 1)) {
            if ((e.fixed >> ai & 1) && res.out[i] != e.exp[ai]) {
                UNEXPECTED(c, "ecall eid %lx fid %lx (a0 %lx a1 %lx a2 %lx): a%u = %lx, expected %lx", eid, fid, a[0], a[1],
                           a[2], ai, res.out[i], e.exp[ai]);
                return;
            }
        } else if (res.out[i] != in[i]) {
            UNEXPECTED(c, "ecall eid %lx fid %lx: x%u changed (%lx -> %lx)", eid, fid, i, in[i], res.out[i]);
            return;
        }
    }
    if (timer_set) c.stimecmp = a[0];
}

// ---------------------------------------------------------------- HSM (vCPU 0): the worker
void worker_main(unsigned cpu);
extern "C" char rt_secondary_entry[];

void op_hsm(Ctx& c) {
    unsigned runs = g_worker_runs, done = __atomic_load_n(&g_worker_done, __ATOMIC_ACQUIRE);
    int64_t st = rt::cpu_state(WORKER_CPU);
    if (done == runs && st == SBI_HSM_STOPPED) {
        g_worker_runs = runs + 1;
        int64_t r = rt::start_cpu(WORKER_CPU, worker_main);
        if (r != SBI_SUCCESS) {
            g_worker_runs = runs;
            UNEXPECTED(c, "HSM hart_start of the stopped vCPU 1: %ld", r);
        }
        return;
    }
    if (done < runs && st != SBI_HSM_STOPPED) {
        // It runs (or is about to stop): starting it again is ALREADY_AVAILABLE, or SUCCESS if it
        // stopped in between (then it runs the entry again: the runtime's with no new work).
        // The worker reads g_worker_runs when it starts: count the run first, take it back if
        // nothing started.
        g_worker_runs = runs + 1;
        rt::SbiRet r = rt::sbi_call(SBI_EXT_HSM, SBI_HSM_HART_START, WORKER_CPU,
                                    reinterpret_cast<uint64_t>(rt_secondary_entry), WORKER_CPU);
        if (r.error != SBI_SUCCESS) g_worker_runs = runs;
        if (r.error != SBI_ERR_ALREADY_AVAILABLE && r.error != SBI_SUCCESS)
            UNEXPECTED(c, "HSM hart_start of the running vCPU 1: %ld", r.error);
    }
    if (st < SBI_HSM_STARTED || st > SBI_HSM_START_PENDING + 1)
        UNEXPECTED(c, "HSM get_status of vCPU 1: %ld", st);
}

// ---------------------------------------------------------------- WFI / hints
void op_wfi(Ctx& c) {
    Rng& r = c.rng;
    uint64_t now = rt::counter();
    unsigned k = unsigned(r.below(3));
    uint64_t deadline = k == 2 ? now - r.below(1000) : now + 1000 + r.below(20000); // 0.1-2 ms at 10 MHz
    write_stimecmp(deadline);
    write_sie(c.sie | 0x20); // STIE: the timer ends the wait; SIE stays 0, so nothing is taken
    uint64_t t0 = rt::counter();
    if (k == 1) {
        rt::SbiRet s = rt::sbi_call(SBI_EXT_HSM, SBI_HSM_HART_SUSPEND, SBI_HSM_SUSPEND_RETENTIVE, 0, 0);
        if (s.error != SBI_SUCCESS) UNEXPECTED(c, "HSM retentive suspend with a timer: %ld", s.error);
    } else {
        // The timer fires (or was due): WFI returns. Another interrupt enabled in sie may end it earlier.
        asm volatile("wfi" ::: "memory");
    }
    uint64_t waited = rt::counter() - t0;
    // 5 s: far beyond any deadline here, even on a loaded host.
    if (waited > 50'000'000) UNEXPECTED(c, "wfi with a timer %lu ticks ahead took %lu ticks", deadline - now, waited);
    write_stimecmp(c.stimecmp);
    write_sie(c.sie);
}

void op_hint(Ctx& c) {
    static const uint32_t words[] = {0x0100000f, 0x0ff0000f, 0x0000100f, 0x8330000f}; // pause, fence, fence.i, fence.tso
    uint64_t in[32];
    random_regs(c.rng, in);
    uint32_t word = words[c.rng.below(4)];
    Run res = exec(c, &word, 1, in);
    if (res.taken) UNEXPECTED(c, "hint %08x: %s", word, outcome_name(res.got));
    regs_kept(c, "hint", word, in, res);
}

// sie and stimecmp still hold what was last written.
void op_state(Ctx& c) {
    uint64_t sie = read_sie() & 0x222, cmp = read_stimecmp();
    if (sie != c.sie) UNEXPECTED(c, "sie is %lx, last written %lx", sie, c.sie);
    if (cmp != c.stimecmp) UNEXPECTED(c, "stimecmp is %lx, last written %lx", cmp, c.stimecmp);
}

// ---------------------------------------------------------------- the op mix
void one_op(Ctx& c) {
    unsigned k = unsigned(c.rng.below(1000));
    Kind kind;
    if (k < 450) kind = K_MEM;
    else if (k < 500) kind = K_FETCH;
    else if (k < 640) kind = K_CSR;
    else if (k < 700) kind = K_SYS;
    else if (k < 880) kind = K_ECALL;
    else if (k < 900) kind = K_HSM;
    else if (k < 925) kind = K_WFI;
    else if (k < 960) kind = K_HINT;
    else kind = K_STATE;
    if (kind == K_HSM && c.worker) kind = K_STATE;
    ++c.st.ops[kind];
    switch (kind) {
    case K_MEM: op_mem(c); break;
    case K_FETCH: op_fetch(c); break;
    case K_CSR: op_csr(c); break;
    case K_SYS: op_sys(c); break;
    case K_ECALL: op_ecall(c); break;
    case K_HSM: op_hsm(c); break;
    case K_WFI: op_wfi(c); break;
    case K_HINT: op_hint(c); break;
    default: op_state(c); break;
    }
}

[[maybe_unused]] void print_stats(const char* what, const Stats& s) {
    chaos::print_counts(what, "ops", kind_names, s.ops, K_COUNT, "");
    chaos::print_counts(what, "outcomes", outcome_names, s.outcomes, N_OUTCOMES, ",");
}

void init_ctx(Ctx& c, unsigned cpu, bool worker, uint64_t seed) {
    c = Ctx{};
    c.cpu = cpu;
    c.worker = worker;
    c.rng = Rng::seeded(seed);
    c.sie = 0;
    c.stimecmp = ~0ull;
}

void worker_main(unsigned cpu) {
    setup_cpu(cpu);
    Ctx& c = g_ctx[cpu];
    unsigned run = g_worker_runs - 1;
    init_ctx(c, cpu, true, g_seed ^ (0xD1B54A32D192ED03ull * (run + 1)));
    const uint64_t n = 600;
    for (c.op = 0; c.op < n; ++c.op) one_op(c);
    op_state(c);
    g_worker_stats.add(c.st);
    __atomic_add_fetch(&g_worker_failures, c.failures, __ATOMIC_RELAXED);
    rt::printf("worker vcpu %u run %u: %lu ops, %u unexpected\n", cpu, run, n, c.failures);
    write_sie(0);
    write_stimecmp(~0ull);
    __atomic_add_fetch(&g_worker_done, 1, __ATOMIC_RELEASE);
}

#if CXV_CHAOS_CRASH
[[noreturn]] void crash(Ctx& c) {
    // (Not SC: without a reservation it fails without any access, so it never reaches the device.)
    static const char* const names[] = {"amoadd.w on the UART", "lr.w on the UART", "amoswap.d on the UART",
                                        "flw from the UART",    "fsd to the UART",  "c.fld from the UART"};
    unsigned kind = CXV_CHAOS_CRASH_KIND >= 0 ? unsigned(CXV_CHAOS_CRASH_KIND) % 6 : unsigned(g_seed % 6);
    uint64_t in[32] = {};
    in[2] = reinterpret_cast<uint64_t>(&g_trap_stack[c.cpu][4096]);
    in[8] = UART + 4; // MCR (s0): every form below names s0 as its base
    uint32_t word;
    switch (kind) {
    case 0: word = 0x0094262F; break;                // amoadd.w a2, s1, (s0)
    case 1: word = 0x1004262F; break;                // lr.w a2, (s0)
    case 2: in[8] = UART; word = 0x0894362F; break;  // amoswap.d a2, s1, (s0)
    case 3: word = 0x00042007; break;                // flw f0, 0(s0)
    case 4: in[8] = UART; word = 0x00043027; break;  // fsd f0, 0(s0)
    default: in[8] = UART; word = 0x2000 | C_NOP << 16; break; // c.fld f8, 0(s0)
    }
    rt::printf("crash: %s (insn %08x, s0 = %lx); cxvisor must stop this VM now\n", names[kind], word, in[8]);
    Run res = run(c.cpu, &word, 1, in);
    rt::printf("still running after the crash instruction: %s, cause %lu\n", outcome_name(res.got), res.cause);
    rt::fail("cxvisor did not stop the VM on an unemulatable MMIO instruction");
}
#endif

} // namespace

// Exceptions of the probes: armed, inside the code page: recorded and skipped (2 or 4 bytes, by
// the instruction's low bits, Unprivileged Spec 20191213, 1.5); a JALR probe: recorded, back to
// ra. Anything else fails the test (the runtime's report, with this frame's registers).
extern "C" void chaos_trap(ChaosFrame* f) {
    unsigned cpu = rt::cpu_index();
    CpuExc& e = g_exc[cpu];
    uint64_t scause, stval;
    asm volatile("csrr %0, scause" : "=r"(scause));
    asm volatile("csrr %0, stval" : "=r"(stval));
    const uint64_t page = reinterpret_cast<uint64_t>(g_stub[cpu]);
    if (int64_t(scause) >= 0 && e.fetch) {
        e.cause = scause;
        e.tval = stval;
        e.epc = f->sepc;
        e.count = e.count + 1;
        e.fetch = false;
        f->sepc = f->x[1];
        return;
    }
    if (int64_t(scause) >= 0 && e.armed && f->sepc >= page && f->sepc < page + 4096) {
        e.cause = scause;
        e.tval = stval;
        e.epc = f->sepc;
        e.count = e.count + 1;
        uint16_t h = *reinterpret_cast<volatile uint16_t*>(f->sepc);
        f->sepc += (h & 3) == 3 ? 4 : 2;
        return;
    }
    rt::printf("vcpu %u: unexpected trap (scause %lx): sepc=%lx stval=%lx ra=%lx sp=%lx\n", cpu, scause, f->sepc, stval,
               f->x[1], f->x[2]);
    rt::fail("unexpected trap scause=%lx sepc=%lx stval=%lx", scause, f->sepc, stval);
}

void chaos::arch_main() {
    rt::VmInfo vm = rt::vm_info();
    g_vm_id = vm.vm_id;
    const uint64_t n_ops = CXV_CHAOS_OPS;
    rt::printf("seed %lx, %lu operations, vm %lu, riscv64 (VS-mode)\n", g_seed, n_ops, vm.vm_id);
    rt::check(vm.ok, "HC_VM_INFO answers");
    setup_cpu(0);
    g_uart = {rt::read8(UART + 1), rt::read8(UART + 3), rt::read8(UART + 4), rt::read8(UART + 7)};
    g_uart.ier &= 0x0F;
    g_uart.mcr &= 0x1F;

    // A hypervisor store right after a WFI is an illegal instruction with its own bits in stval.
    // QEMU 7.2 reports the HSV's virtual-instruction trap with the WFI's bits in stval; cxvisor
    // once believed them, skipped the HSV as a WFI and halted the vCPU (found by this guest).
    {
        const uint32_t words[2] = {0x10500073,                                 // wfi (the timer is due)
                                   0x6a000073 | (6 << 20) | (5 << 15) | (4 << 12)}; // hsv.w t1, (t0)
        uint64_t in[32] = {};
        in[2] = reinterpret_cast<uint64_t>(&g_trap_stack[0][4096]);
        in[5] = reinterpret_cast<uint64_t>(&g_scratch[0][0]);
        write_stimecmp(0);
        write_sie(0x20);
        Run res = run(0, words, 2, in);
        write_stimecmp(~0ull);
        write_sie(0);
        rt::check(res.taken && res.cause == EX_ILLEGAL && res.tval == words[1],
                  "hsv.w after wfi: illegal instruction with its own bits in stval (%s, cause %lu, stval %lx)",
                  outcome_name(res.got), res.cause, res.tval);
    }

    Ctx& c = g_ctx[0];
    init_ctx(c, 0, false, g_seed);
    g_worker_runs = 1;
    if (rt::start_cpu(WORKER_CPU, worker_main) != SBI_SUCCESS) g_worker_runs = 0;

    uint64_t t0 = rt::counter();
    for (c.op = 0; c.op < n_ops; ++c.op) {
        one_op(c);
        if ((c.op + 1) % CXV_CHAOS_PROGRESS == 0) {
            if (g_thr_dirty) rt::write8(UART, '\n'), g_thr_dirty = false;
            rt::printf("progress %lu/%lu: %lu access faults, %lu fetch faults, %lu illegal, %lu unexpected, %lu ms\n",
                       c.op + 1, n_ops, c.st.n(O_LACCESS) + c.st.n(O_SACCESS), c.st.n(O_IACCESS), c.st.n(O_ILLEGAL),
                       uint64_t(c.failures), rt::ticks_to_us(rt::counter() - t0) / 1000);
        }
    }
    if (g_thr_dirty) rt::write8(UART, '\n'), g_thr_dirty = false;
#if CXV_CHAOS_CRASH
    crash(c);
#else
    op_state(c);
    // Let the last worker run finish (it has at most 600 operations left).
    uint64_t wait0 = rt::counter();
    while (__atomic_load_n(&g_worker_done, __ATOMIC_ACQUIRE) < g_worker_runs &&
           rt::counter() - wait0 < 30 * rt::TIMEBASE_HZ)
        rt::cpu_relax();
    uint64_t elapsed_ms = rt::ticks_to_us(rt::counter() - t0) / 1000;
    print_stats("vcpu 0", c.st);
    print_stats("worker", g_worker_stats);
    Stats all = c.st;
    all.add(g_worker_stats);
    rt::printf("summary: %lu ops on vcpu 0 in %lu ms, %u worker runs (%u finished), %lu access faults, %lu fetch "
               "faults, %lu illegal instructions taken in total\n",
               n_ops, elapsed_ms, g_worker_runs, g_worker_done, all.n(O_LACCESS) + all.n(O_SACCESS), all.n(O_IACCESS),
               all.n(O_ILLEGAL));
    chaos::print_first_unexpected();
    rt::check(c.failures == 0, "vcpu 0: every operation behaved as the model says (%u unexpected)", c.failures);
    rt::check(g_worker_failures == 0, "worker: every operation behaved as the model says (%u unexpected)",
              g_worker_failures);
    rt::check(g_worker_done >= 1 && g_worker_done == g_worker_runs, "worker vcpu 1 ran and finished (%u of %u runs)",
              g_worker_done, g_worker_runs);
    rt::check(all.n(O_LACCESS) + all.n(O_SACCESS) > 100 && all.n(O_ILLEGAL) > 100 && all.n(O_IACCESS) > 10,
              "faults were exercised (%lu access faults, %lu illegal, %lu fetch faults)",
              all.n(O_LACCESS) + all.n(O_SACCESS), all.n(O_ILLEGAL), all.n(O_IACCESS));
#endif
}
