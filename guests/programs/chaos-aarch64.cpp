// chaos, the aarch64 part (chaos.cpp and chaos.hpp hold what the ISAs share).
//
// A randomized containment test. From a fixed seed (xorshift64, printed at start; override
// with -DCXV_CHAOS_SEED=<n>, or CMake -DCXV_CHAOS_SEED=<n>) the guest performs CXV_CHAOS_OPS
// random hostile operations and checks each result against a model of what cxvisor and the
// architecture must do:
//
// - loads/stores (widths 1/2/4/8, aligned and misaligned, signed/unsigned, unsigned-offset,
//   unscaled, pre/post-indexed (ISV = 0: cxvisor decodes them), unprivileged, register-offset,
//   acquire/release, prefetch) at EL1 and at EL0, generated as instruction words at run time with
//   random registers, to: the gaps around RAM, host devices and host RAM the VM does not own,
//   random IPAs up to the CPU's PA size and beyond it, the emulated PL011 (a model of its registers
//   predicts accept/abort and every value read), and three extra RAM regions of chaos.toml with
//   restricted stage-2 permissions (read-only, no-exec, write-only). Addresses are reached through
//   the identity map or through per-CPU 1 GiB "windows" (Device or Normal) of the guest's own
//   stage-1 tables, so any IPA can be hit with either memory type.
//   Expected: the access works and returns the model's value, or the guest gets a synchronous
//   external abort (EC 0x24/0x25, DFSC 0x10, FAR = the VA, WnR right), an alignment fault or a
//   stage-1 fault of its own; no register changes except the loaded one and the written-back base;
//   nothing at all changes when the access faults.
// - instruction fetches (BLR) into the same places: instruction abort / PC alignment / OK;
// - stage-1 table walks whose next-level table lies outside RAM (S1PTW faults at stage 2);
// - MRS of random encodings (op0 = 2/3) and MSR to registers that cannot break the guest
//   (debug, PMU, physical timer, GIC CPU interface), SYS (DC/IC/TLBI/AT, set/way) with random
//   operands, all generated into an executable page at run time and run with the fault handler
//   armed. Trapped debug registers read as cxvisor documents: RAZ, OSLSR_EL1 = 0x8 | OSLK << 1
//   with OSLK as last written to OSLAR_EL1, MDSCR_EL1 as last written. Registers cxvisor switches
//   with the vCPU (CONTEXTIDR, TPIDR*, CNTKCTL, FPCR, MDSCR, and the GIC virtual CPU interface:
//   ICC_PMR/BPR1/IGRPEN1_EL1) must keep what was written however often the vCPU was descheduled;
// - HVC and SMC (random immediates) with random function ids: cxvisor's range, PSCI ranges
//   (never SYSTEM_OFF/RESET/RESET2, never CPU_OFF or CPU_SUSPEND without a timer armed), SMCCC
//   ids, random ids, random arguments; results checked (x0 per id, x4-x17 preserved: SMCCC 1.1;
//   SMC32 forms use only the low 32 bits of each argument);
// - PSCI CPU_ON of vCPU 1: as a second chaos worker, with an entry that turns itself off at once,
//   with an entry outside the VM's memory (INVALID_ADDRESS), on itself (ALREADY_ON), on invalid
//   MPIDRs; near the end once with a garbage entry inside the VM (the seed chooses: zeroed RAM, a
//   misaligned PC, a WFI-forever stub, the read-only or the no-execute region), after which vCPU 1
//   faults or sleeps forever (the guest's own problem);
// - WFI or PSCI CPU_SUSPEND (entered as standby: returns SUCCESS) with the virtual timer armed a
//   few ms ahead (CVAL or TVAL) or already expired, WFE, SEVL, YIELD;
// - the exit-path hardening surfaces: random reads of the ID space (op0 = 3, op1 = 0, CRn = 0,
//   CRm = 1..7), which must return exactly what the first read returned (the model) and be a value
//   cxvisor's sanitising table produces (arch/aarch64/idregs.hpp), UNDEF at EL0; PMU registers,
//   which must UNDEF for reads and writes (PMUVer = 0); set/way DC ops, which must complete (KVM's
//   and cxvisor's emulation); SMCCC_ARCH_FEATURES of random and Spectre-workaround ids and the
//   WORKAROUND_1/_3 calls, answered as the first query (and CSV2/MIDR) say.
// - a reserved region (map_type 2, flags 1: read-only, not executable) over 2 MiB of QEMU virt's
//   empty platform-bus window, where nothing answers (rsv_base(): one slot per chaos VM id). It is
//   a target of the loads/stores/fetches above (every width and form, ISV = 0 ones included), of
//   the stage-1 walks, and of AT and DC by VA (op_rsv_sys). The model, measured on QEMU 7.2:
//   * loads: stage 2 permits them, so they reach the bus and the memory system aborts them: a
//     synchronous external abort taken to EL1 by the hardware (cxvisor never sees it), ESR ISS =
//     IL | DFSC 0x10 (ISV = 0, EA = 0, FnV = 0), FAR = the VA; the target register and a
//     pre/post-index base stay unchanged. QEMU surprise: for a misaligned load FAR is the VA
//     rounded down to the access size (the aligned access QEMU attempted), not the VA;
//   * stores, DC ZVA: stage 2 has no write permission: cxvisor injects ESR ISS = IL | WnR | 0x10
//     (CM = 0), FAR = the VA (DC ZVA: within the zeroed block; QEMU gives the VA itself); no
//     write-back of the base. QEMU surprise: DC ZVA on Device memory is performed (the
//     architecture gives an alignment fault, also allowed);
//   * instruction fetches: no X at stage 2: cxvisor's instruction abort (EC 0x21, IFSC 0x10);
//   * stage-1 tables placed there: the walk's read of the level-2 descriptor is aborted by the
//     memory system: DFSC 0x16 (external abort on the walk, level 2) taken to EL1 by the hardware,
//     FAR = the VA, WnR as the access; AT S1E1R/W, S1E0R/W get it as an exception too (not in
//     PAR_EL1; PAR_EL1 unchanged) with CM = 1 and WnR = 1. Since cxvisor's own abort for a walk
//     into unmapped IPA space has DFSC 0x10, a startup check proves the region is mapped;
//   * AT on a VA whose leaf is in the region: stage 1 only, no access: PAR_EL1.F = 0, PA = the
//     IPA, ATTR as the guest's descriptor (0xFF Normal, 0x04 Device); through the EL1-only identity
//     map S1E0R/W give the guest's own permission fault (F = 1, FST 0x0D);
//   * DC CIVAC/CVAC/CVAU: complete (stage 2 permits reads). QEMU surprise: it performs no access
//     and no translation for them, so on a VA whose tables lie in the region they complete too,
//     and DC IVAC completes although stage 2 gives no write permission (hardware: a permission
//     fault, cxvisor's abort); neither is checked here.
//   No surprise was cxvisor's: no stop, no panic, every injected ESR as above.
//
// Faults are counted, never printed one by one; a progress line every CXV_CHAOS_PROGRESS ops and a
// summary at the end, then PASS. Any unexpected outcome is an UNEXPECTED line naming the vCPU and
// the op index (with the seed, enough to reproduce it: vCPU 0's stream does not depend on timing),
// the instruction word and what happened; the test then FAILs.
//
// Variant chaos-crash (CXV_CHAOS_CRASH=1): a shorter run that ends with one MMIO instruction
// cxvisor cannot emulate (the seed, or CXV_CHAOS_CRASH_KIND, chooses: LDP, STP, LDXR, STR q, LDR q,
// LD1, a post-indexed load with Rt == Rn, DC ZVA through a Normal window). cxvisor must stop the
// VM; "still running" after it is a FAIL. (Page tables on the UART only get an abort.)
//
// The config (chaos.toml, chaos-2.toml, chaos-crash.toml, chaos-s1..s6.toml) must give 2 vCPUs and,
// besides the usual 16 MiB of RAM, the regions RO/NX/WO below and the reserved region at rsv_base().
// Both vCPUs print through one UART, whose registers only vCPU 0 writes (the worker reads), so the
// model stays exact.
#include "arch/aarch64/idregs.hpp"
#include "arch/aarch64/spectre.hpp"
#include "chaos.hpp"
#include "rt.hpp"

using namespace cxv_abi;

// ---------------------------------------------------------------- assembly helpers
// chaos_vectors: like the runtime's table, but every exception goes to chaos_exception(), which
// handles the chaos cases and hands everything else to the runtime's rt_exception().
// chaos_call(in, out, fn): x0..x17 = in[0..17], BLR fn, out[0..17] = x0..x17.
// chaos_run_el0(in, out, fn): the same at EL0t (SP_EL0 = in[18], out[18] = SP_EL0 after); the EL0
// trampoline BLRs fn and returns with SVC #0, which chaos_exception() turns into a return here.
// chaos_fetch(va): BLR va; an instruction abort returns through x30.
asm(R"(
    .section .text.chaos_vectors, "ax"
    .balign 2048
    .global chaos_vectors
chaos_vectors:
    .irp kind, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .org    chaos_vectors + \kind * 0x80
    sub     sp, sp, #272
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       chaos_exc_common
    .endr
    .org    chaos_vectors + 0x800
chaos_exc_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x30, x2, [sp, #240]
    str     x3, [sp, #256]
    mov     x0, sp
    bl      chaos_exception
    ldp     x30, x2, [sp, #240]
    ldr     x3, [sp, #256]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #272
    eret

    .section .text.chaos_helpers, "ax"
    .balign 4
    .global chaos_call
chaos_call:
    stp     x29, x30, [sp, #-48]!
    mov     x29, sp
    stp     x19, x20, [sp, #16]
    str     x21, [sp, #32]
    mov     x19, x0
    mov     x20, x1
    mov     x21, x2
    ldp     x0, x1, [x19, #0]
    ldp     x2, x3, [x19, #16]
    ldp     x4, x5, [x19, #32]
    ldp     x6, x7, [x19, #48]
    ldp     x8, x9, [x19, #64]
    ldp     x10, x11, [x19, #80]
    ldp     x12, x13, [x19, #96]
    ldp     x14, x15, [x19, #112]
    ldp     x16, x17, [x19, #128]
    blr     x21
    stp     x0, x1, [x20, #0]
    stp     x2, x3, [x20, #16]
    stp     x4, x5, [x20, #32]
    stp     x6, x7, [x20, #48]
    stp     x8, x9, [x20, #64]
    stp     x10, x11, [x20, #80]
    stp     x12, x13, [x20, #96]
    stp     x14, x15, [x20, #112]
    stp     x16, x17, [x20, #128]
    ldr     x21, [sp, #32]
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #48
    ret

    .global chaos_run_el0
chaos_run_el0:
    stp     x29, x30, [sp, #-96]!
    mov     x29, sp
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    mov     x19, x1
    mov     x20, x0
    mov     x21, x2
    mrs     x3, tpidr_el1
    adrp    x4, chaos_el0_resume
    add     x4, x4, :lo12:chaos_el0_resume
    adr     x5, 1f
    str     x5, [x4, x3, lsl #3]
    adrp    x4, chaos_el0_tramp
    add     x4, x4, :lo12:chaos_el0_tramp
    msr     elr_el1, x4
    mov     x4, #0x3c0
    msr     spsr_el1, x4
    ldr     x4, [x20, #144]
    msr     sp_el0, x4
    ldp     x0, x1, [x20, #0]
    ldp     x2, x3, [x20, #16]
    ldp     x4, x5, [x20, #32]
    ldp     x6, x7, [x20, #48]
    ldp     x8, x9, [x20, #64]
    ldp     x10, x11, [x20, #80]
    ldp     x12, x13, [x20, #96]
    ldp     x14, x15, [x20, #112]
    ldp     x16, x17, [x20, #128]
    eret
1:  stp     x0, x1, [x19, #0]
    stp     x2, x3, [x19, #16]
    stp     x4, x5, [x19, #32]
    stp     x6, x7, [x19, #48]
    stp     x8, x9, [x19, #64]
    stp     x10, x11, [x19, #80]
    stp     x12, x13, [x19, #96]
    stp     x14, x15, [x19, #112]
    stp     x16, x17, [x19, #128]
    mrs     x3, sp_el0
    str     x3, [x19, #144]
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #96
    ret

    .global chaos_el0_tramp
chaos_el0_tramp:                    // EL0: run the stub, then back to EL1 by SVC
    blr     x21
    svc     #0
    b       .

    .global chaos_fetch
chaos_fetch:
    stp     x29, x30, [sp, #-16]!
    blr     x0
    ldp     x29, x30, [sp], #16
    ret

    .global chaos_ret_gadget
    .balign 16
chaos_ret_gadget:                   // a fetch target in RAM that works
    ret

    // Entries for PSCI CPU_ON of vCPU 1 (MMU off, VBAR_EL1 = 0): one turns itself off at once,
    // one sleeps in WFI forever (no timer armed, nothing can wake it).
    .global chaos_off_stub
    .balign 16
chaos_off_stub:
    movz    x0, #0x0002
    movk    x0, #0x8400, lsl #16    // PSCI CPU_OFF
    hvc     #0
    b       .
    .global chaos_wfi_stub
    .balign 16
chaos_wfi_stub:
    wfi
    b       chaos_wfi_stub
)");

extern "C" {
extern char chaos_vectors[], chaos_el0_tramp[], chaos_ret_gadget[], chaos_off_stub[], chaos_wfi_stub[];
void chaos_call(const uint64_t* in, uint64_t* out, const void* fn);
void chaos_run_el0(const uint64_t* in, uint64_t* out, const void* fn);
void chaos_fetch(uint64_t va);
uint64_t chaos_el0_resume[rt::MAX_CPUS];
struct ChaosFrame {
    uint64_t x[31];
    uint64_t elr, spsr;
};
void rt_exception(ChaosFrame* f, uint64_t kind); // the runtime's handler (rt.cpp), same frame layout
void chaos_exception(ChaosFrame* f, uint64_t kind);
}

namespace {

// ---------------------------------------------------------------- the VM's layout (chaos*.toml)
constexpr uint64_t GIB = 1ull << 30;
constexpr uint64_t RAM_LO = rt::RAM_BASE, RAM_HI = rt::RAM_BASE + rt::RAM_SIZE;
constexpr uint64_t UART = rt::UART_BASE;
constexpr uint64_t XREG_SIZE = 0x200000;
constexpr uint64_t RO_BASE = 0x42000000; // flags 1: read only
constexpr uint64_t NX_BASE = 0x42400000; // flags 3: read/write, no execute
constexpr uint64_t WO_BASE = 0x42800000; // flags 2: write only
constexpr unsigned WORKER_CPU = 1;
constexpr uint64_t ESR_IL = 1ull << 25;
constexpr uint32_t ISB_WORD = 0xD5033FDF;
// The reserved region (map_type 2, flags 1: read-only) over 2 MiB of QEMU virt's empty platform-bus
// window: every chaos config has its own slot, by VM id (chaos*.toml), so any two can run together.
constexpr uint64_t RSV_WINDOW = 0x0C000000;
uint64_t g_rsv_base;
uint64_t rsv_base(uint64_t vm_id) {
    if (vm_id >= 33 && vm_id <= 35) return RSV_WINDOW + (vm_id - 33) * XREG_SIZE; // chaos, chaos-crash, chaos-2
    if (vm_id >= 60 && vm_id <= 65) return RSV_WINDOW + (vm_id - 57) * XREG_SIZE; // chaos-s1..s6
    return 0;
}

using chaos::Rng;

// ---------------------------------------------------------------- outcomes
enum : uint32_t {
    O_OK = 1,        // no exception
    O_SEA = 2,       // synchronous external data abort (cxvisor's)
    O_ALIGN = 4,     // alignment fault (DFSC 0x21)
    O_S1 = 8,        // the guest's own stage-1 fault (translation, address size, permission, AF)
    O_SPALIGN = 16,  // SP alignment fault (EC 0x26)
    O_UNDEF = 32,    // EC 0x00
    O_PCALIGN = 64,  // PC alignment fault (EC 0x22)
    O_IABT = 128,    // synchronous external instruction abort (IFSC 0x10)
    O_TRAP = 256,    // EC 0x18 taken to EL1 (EL0 access trapped by an EL1 control)
    O_OTHER = 512,
};
constexpr unsigned N_OUTCOMES = 10;
const char* const outcome_names[N_OUTCOMES] = {"no exception",       "external abort",     "alignment fault",
                                               "stage-1 fault",      "SP alignment fault", "UNDEF",
                                               "PC alignment fault", "instruction abort",  "EC 0x18 trap",
                                               "other exception"};
const char* outcome_name(uint32_t o) { return outcome_names[__builtin_ctz(o)]; }
uint32_t outcome_of(bool taken, uint64_t esr) {
    if (!taken) return O_OK;
    uint32_t ec = rt::esr_ec(esr), fsc = uint32_t(esr) & 0x3f;
    switch (ec) {
    case 0x00: return O_UNDEF;
    case 0x18: return O_TRAP;
    case 0x22: return O_PCALIGN;
    case 0x26: return O_SPALIGN;
    case 0x24:
    case 0x25:
        if (fsc == 0x10 || (fsc >= 0x14 && fsc <= 0x17)) return O_SEA;
        if (fsc == 0x21) return O_ALIGN;
        if (fsc <= 0x0F) return O_S1;
        return O_OTHER;
    case 0x20:
    case 0x21:
        if (fsc == 0x10 || (fsc >= 0x14 && fsc <= 0x17)) return O_IABT;
        if (fsc <= 0x0F) return O_S1;
        return O_OTHER;
    default: return O_OTHER;
    }
}

// ---------------------------------------------------------------- per-CPU exception state
struct CpuExc {
    volatile bool armed; // EL1: next synchronous exception is recorded and skipped
    volatile bool fetch; // EL1: next synchronous exception returns through x30 (a BLR probe)
    volatile bool el0;   // an EL0 excursion is running
    volatile uint64_t esr, far, count;
};
CpuExc g_exc[rt::MAX_CPUS];

// ---------------------------------------------------------------- statistics
enum Kind { K_MEM, K_MEM_EL0, K_FETCH, K_WALK, K_MRS, K_MSR, K_SYS, K_HVC, K_PSCI, K_WFI, K_HINT, K_STATE, K_COUNT };
const char* const kind_names[K_COUNT] = {"mem",  "mem-el0", "fetch", "walk", "mrs",  "msr",
                                         "sys",  "hvc/smc", "psci",  "wfi",  "hint", "state"};
enum RsvOp { R_LOAD, R_STORE, R_FETCH, R_WALK, R_AT, R_DC, R_COUNT }; // operations on the reserved region
const char* const rsv_names[R_COUNT] = {"loads", "stores", "fetches", "walks", "AT", "DC"};
struct Stats {
    uint64_t ops[K_COUNT];
    uint64_t outcomes[N_OUTCOMES]; // by the bit of O_*
    uint64_t rsv[R_COUNT];
    void count(uint32_t o) { ++outcomes[__builtin_ctz(o)]; }
    uint64_t n(uint32_t o) const { return outcomes[__builtin_ctz(o)]; }
    void add(const Stats& o) {
        for (int i = 0; i < K_COUNT; ++i) ops[i] += o.ops[i];
        for (unsigned i = 0; i < N_OUTCOMES; ++i) outcomes[i] += o.outcomes[i];
        for (int i = 0; i < R_COUNT; ++i) rsv[i] += o.rsv[i];
    }
};

// ---------------------------------------------------------------- shared state
// Stage-1 tables: the runtime's identity map of the low 4 GiB (L1[0..3]) plus, per CPU, four
// 1 GiB windows: Device (EL0 accessible), Normal (EL0 accessible), Normal executable (EL1 only),
// and a table descriptor whose next-level table lies wherever the test wants.
enum Win { W_DEV, W_NORM, W_FETCH, W_WALK, W_COUNT };
alignas(4096) uint64_t g_l1[512];
alignas(4096) uint32_t g_stub[rt::MAX_CPUS][1024];        // generated code, one page per CPU
alignas(4096) volatile uint8_t g_scratch[rt::MAX_CPUS][8192]; // RAM the random stores may hit

uint64_t g_seed = CXV_CHAOS_SEED;
unsigned g_pa_bits = 40;
uint64_t g_vm_id;
// Model of the hardening surfaces, taken on vCPU 0 before anything else runs (guest_main).
uint64_t g_id_model[arch::idregs::SLOTS];
int64_t g_wa1, g_wa3; // SMCCC_ARCH_FEATURES(WORKAROUND_1 / _3)
Stats g_worker_stats;
volatile unsigned g_worker_runs, g_worker_done;
volatile unsigned g_worker_failures;
volatile uint64_t g_worker_ops = 400;
bool g_dr_dirty;           // random bytes went to UART DR since the last newline
bool g_garbage_started;
unsigned g_garbage_kind;

// PL011 model (cxvisor's Pl011, DDI0183 register map). Only vCPU 0 writes the registers.
struct UartModel {
    uint32_t ilpr, ibrd, fbrd, lcr_h, cr, ifls, imsc, dmacr;
} g_uart;

constexpr uint8_t UART_IDS[8] = {0x11, 0x10, 0x34, 0x00, 0x0D, 0xF0, 0x05, 0xB1};

// Registers the guest owns and cxvisor switches with the vCPU: after a write, a later read must
// return the same value however often the vCPU was descheduled in between.
struct Shadowed {
    const char* name;
    uint32_t enc; // op0:op1:CRn:CRm:op2 packed as in MRS bits [20:5]
    uint64_t mask;
};
constexpr uint32_t sysreg(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2) {
    return ((op0 - 2) << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}
uint32_t mrs_word(uint32_t enc, unsigned rt) { return 0xD5300000 | (enc << 5) | rt; }
const Shadowed SHADOWED[] = {
    {"CONTEXTIDR_EL1", sysreg(3, 0, 13, 0, 1), 0xFFFFFFFFull},
    {"TPIDR_EL0", sysreg(3, 3, 13, 0, 2), ~0ull},
    {"TPIDRRO_EL0", sysreg(3, 3, 13, 0, 3), ~0ull},
    {"CNTKCTL_EL1", sysreg(3, 0, 14, 1, 0), 0x3FFull},
    {"FPCR", sysreg(3, 3, 4, 4, 0), 0x07C00000ull},
    {"MDSCR_EL1", sysreg(2, 0, 0, 2, 2), ~0ull}, // cxvisor: kept per vCPU, reads what was written
    // GIC virtual CPU interface (ICV_*, held in ICH_VMCR_EL2, switched with the vCPU)
    {"ICC_PMR_EL1", sysreg(3, 0, 4, 6, 0), 0xFFull},
    {"ICC_BPR1_EL1", sysreg(3, 0, 12, 12, 3), 0x7ull},
    {"ICC_IGRPEN1_EL1", sysreg(3, 0, 12, 12, 7), 0x1ull},
};
constexpr unsigned N_SHADOWED = sizeof SHADOWED / sizeof SHADOWED[0];
constexpr unsigned SH_MDSCR = 5;
constexpr uint32_t OSLAR = sysreg(2, 0, 1, 0, 4), OSLSR = sysreg(2, 0, 1, 1, 4);

struct Ctx {
    unsigned cpu;
    bool worker;
    Rng rng;
    uint64_t op;
    Stats st;
    uint64_t shadow[N_SHADOWED];
    bool shadow_valid[N_SHADOWED];
    uint64_t oslk; // OSLAR_EL1.OSLK as last written (cxvisor keeps it per vCPU, clear at CPU_ON)
    unsigned failures;
};

// ---------------------------------------------------------------- small helpers
inline void dsb_ish() { asm volatile("dsb ish" ::: "memory"); }
inline void isb() { asm volatile("isb" ::: "memory"); }

uint64_t win_va(unsigned cpu, Win w) { return uint64_t(4 + cpu * W_COUNT + w) * GIB; }

void set_l1(unsigned idx, uint64_t desc) {
    // Break-before-make (D8.14.1): invalid, TLBI (broadcast by HCR_EL2.FB), then the new entry.
    g_l1[idx] = 0;
    asm volatile("dsb ishst\n tlbi vaae1is, %0\n dsb ish\n isb" ::"r"((uint64_t(idx) * GIB) >> 12) : "memory");
    g_l1[idx] = desc;
    asm volatile("dsb ishst\n isb" ::: "memory");
}

constexpr uint64_t D_BLOCK = 1, D_TABLE = 3, D_DEV = 1 << 2, D_NORM = (2 << 2) | (3 << 8), D_AP_EL0 = 1 << 6,
                   D_AF = 1 << 10, D_PXN = 1ull << 53, D_UXN = 1ull << 54;

// Maps window w of this CPU to the 1 GiB block around ipa; returns the VA of ipa.
uint64_t map_window(unsigned cpu, Win w, uint64_t ipa) {
    uint64_t base = ipa & ~(GIB - 1);
    uint64_t d = base | D_BLOCK | D_AF;
    if (w == W_DEV) d |= D_DEV | D_AP_EL0 | D_PXN | D_UXN;
    else if (w == W_NORM) d |= D_NORM | D_AP_EL0 | D_PXN | D_UXN;
    else d |= D_NORM | D_UXN; // W_FETCH: EL1 executable, not EL0 accessible
    unsigned idx = 4 + cpu * W_COUNT + w;
    if (g_l1[idx] != d) set_l1(idx, d);
    return win_va(cpu, w) + (ipa - base);
}

void setup_cpu() {
    // TCR_EL1 as the runtime's (start.S) but IPS = 0b101 (48 bits; the CPU clamps it to its PA
    // size), so window outputs above the PA size give the guest's own address size faults.
    const uint64_t tcr = 25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (5ull << 32);
    asm volatile("dsb ish\n msr ttbr0_el1, %0\n msr tcr_el1, %1\n isb\n tlbi vmalle1\n dsb nsh\n isb" ::"r"(g_l1),
                 "r"(tcr)
                 : "memory");
    asm volatile("msr vbar_el1, %0\n isb" ::"r"(chaos_vectors));
    uint64_t cpacr;
    asm volatile("mrs %0, cpacr_el1" : "=r"(cpacr));
    asm volatile("msr cpacr_el1, %0\n isb" ::"r"(cpacr | (3ull << 20))); // FP/SIMD on (FPCR writes)
}

// Writes n instruction words + RET into this CPU's stub page and makes them executable
// (D7.5.x: DC CVAU, DSB, IC IVAU, DSB, ISB).
void install(unsigned cpu, const uint32_t* words, unsigned n) {
    uint32_t* p = g_stub[cpu];
    for (unsigned i = 0; i < n; ++i) p[i] = words[i];
    p[n] = 0xD65F03C0; // ret
    for (unsigned i = 0; i <= n; i += 16) asm volatile("dc cvau, %0" ::"r"(p + i) : "memory");
    dsb_ish();
    for (unsigned i = 0; i <= n; i += 16) asm volatile("ic ivau, %0" ::"r"(p + i) : "memory");
    dsb_ish();
    isb();
}

struct Run {
    bool taken;
    uint32_t got; // outcome (O_*)
    uint64_t esr, far;
    uint64_t out[19];
};

// Runs words (+ RET) on this CPU at EL1 or EL0 with x0..x17 (and SP_EL0) = in, the fault handler
// armed: an exception is recorded and the instruction skipped.
Run run(unsigned cpu, const uint32_t* words, unsigned n, const uint64_t* in, bool el0) {
    install(cpu, words, n);
    CpuExc& e = g_exc[cpu];
    Run r{};
    uint64_t before = e.count;
    asm volatile("" ::: "memory");
    if (el0) {
        e.el0 = true;
        chaos_run_el0(in, r.out, g_stub[cpu]);
        e.el0 = false;
    } else {
        e.armed = true;
        chaos_call(in, r.out, g_stub[cpu]);
        e.armed = false;
    }
    asm volatile("" ::: "memory");
    r.taken = e.count != before;
    if (r.taken) {
        r.esr = e.esr;
        r.far = e.far;
    }
    r.got = outcome_of(r.taken, r.esr);
    return r;
}
// The same for one instruction of an operation, whose outcome goes into the statistics.
Run exec(Ctx& c, uint32_t word, const uint64_t* in, bool el0) {
    Run r = run(c.cpu, &word, 1, in, el0);
    c.st.count(r.got);
    return r;
}

void random_regs(Rng& r, uint64_t* in) {
    for (int i = 0; i < 18; ++i) in[i] = r.next();
    in[18] = 0x40000000 + (r.below(0x1000) << 4); // SP_EL0 at EL0, aligned (never used)
}

// True if x0..x17 came back as they went in, except x<skip> (pass 32 to skip none).
bool regs_kept(Ctx& c, const char* what, uint32_t word, const uint64_t* in, const Run& res, unsigned skip = 32) {
    for (unsigned i = 0; i < 18; ++i)
        if (i != skip && res.out[i] != in[i]) {
            UNEXPECTED(c, "%s insn %08x (%s): x%u changed (%lx -> %lx)", what, word, outcome_name(res.got), i, in[i],
                       res.out[i]);
            return false;
        }
    return true;
}

// ---------------------------------------------------------------- address classes
enum Cls { C_RAM, C_RO, C_NX, C_WO, C_RSV, C_UART, C_NONE, C_HIGH };
Cls classify(uint64_t ipa) {
    if (g_pa_bits < 64 && ipa >= (1ull << g_pa_bits)) return C_HIGH;
    if (ipa >= RAM_LO && ipa < RAM_HI) return C_RAM;
    if (ipa >= RO_BASE && ipa < RO_BASE + XREG_SIZE) return C_RO;
    if (ipa >= NX_BASE && ipa < NX_BASE + XREG_SIZE) return C_NX;
    if (ipa >= WO_BASE && ipa < WO_BASE + XREG_SIZE) return C_WO;
    if (ipa >= g_rsv_base && ipa < g_rsv_base + XREG_SIZE) return C_RSV;
    if (ipa >= UART && ipa < UART + 0x1000) return C_UART;
    return C_NONE;
}
// Each vCPU writes only its own half of NX and WO, so values stay predictable.
uint64_t own_half(unsigned cpu, uint64_t base) { return base + (cpu ? XREG_SIZE / 2 : 0); }

uint64_t pick_ipa(Ctx& c) {
    Rng& r = c.rng;
    const uint64_t pa_top = 1ull << g_pa_bits;
    switch (r.below(16)) {
    case 0: return RAM_LO - 0x100000 + r.below(0x100000);                  // below RAM
    case 1: return RAM_HI + r.below(RO_BASE - RAM_HI);                      // above RAM
    case 2:
    case 3: return UART + r.below(0x1000);                                  // the PL011
    case 4: return r.chance(50) ? UART - 0x10000 + r.below(0x10000)        // around it (incl.
                                : UART + 0x1000 + r.below(0x2F000);         //  the host's RTC)
    case 5: {
        static const uint64_t host[][2] = {{0x0, 0x08000000},          // flash
                                           {0x08000000, 0x00200000},   // GIC distributor, ITS
                                           {0x080A0000, 0x00F60000},   // GIC redistributors
                                           {0x0A000000, 0x00004000},   // virtio-mmio
                                           {0x10000000, 0x2EFF0000},   // PCIe MMIO, ECAM
                                           {0x4000000000ull, 0x40000000}}; // high GICR/ECAM
        unsigned i = unsigned(r.below(6));
        return host[i][0] + r.below(host[i][1]);
    }
    case 6: return RAM_HI + r.below(0x80000000 - RAM_HI);                   // host RAM (cxvisor's, others')
    case 7: {
        const uint64_t xr[4] = {RO_BASE, NX_BASE, WO_BASE, g_rsv_base};
        return xr[r.chance(40) ? 3 : r.below(3)] + r.below(XREG_SIZE);     // restricted regions
    }
    case 8: return RAM_LO + r.below(rt::RAM_SIZE);                          // own RAM
    case 9:
    case 10: return r.below(pa_top);                                         // anywhere below the PA size
    case 11: return pa_top + r.below((1ull << 48) - pa_top);                // above it
    case 12: {
        const uint64_t edges[] = {RAM_LO, RAM_HI, UART, UART + 0x1000, RO_BASE, RO_BASE + XREG_SIZE,
                                  NX_BASE, NX_BASE + XREG_SIZE, WO_BASE, WO_BASE + XREG_SIZE,
                                  0x80000000, 0x100000000ull, g_rsv_base, g_rsv_base + XREG_SIZE};
        return edges[r.below(sizeof edges / 8)] - 8 + r.below(16);
    }
    case 13: return pa_top - 0x1000 + r.below(0x2000);                     // the top of the IPA space
    case 14: return r.below(0x100000000ull);                               // anywhere in the low 4 GiB
    default: return UART + 0xFE0 + r.below(0x20);                           // UART ID registers
    }
}

// ---------------------------------------------------------------- PL011 model
// true if cxvisor's PL011 accepts the access; for reads *val/*known give the value.
bool uart_model(uint64_t off, unsigned w, bool write, uint64_t wval, uint64_t* val, bool* known, bool apply) {
    if (w > 4 || (off & 3) || off >= 0x1000) return false;
    uint32_t* reg = nullptr;
    uint32_t mask = 0;
    *known = true;
    *val = 0;
    switch (off) {
    case 0x00: // DR: reads pop the (empty) receive FIFO
    case 0x04: // RSR/ECR: no overrun without input
    case 0x44: // ICR: write-only
        return true;
    case 0x18: *val = 0x90; return true; // FR: TXFE | RXFE
    case 0x3C:
    case 0x40: *known = false; return true; // RIS/MIS: the TX latch follows DR writes
    case 0x20: reg = &g_uart.ilpr, mask = 0xFF; break;
    case 0x24: reg = &g_uart.ibrd, mask = 0xFFFF; break;
    case 0x28: reg = &g_uart.fbrd, mask = 0x3F; break;
    case 0x2C: reg = &g_uart.lcr_h, mask = 0xFF; break;
    case 0x30: reg = &g_uart.cr, mask = 0xFF87; break;
    case 0x34: reg = &g_uart.ifls, mask = 0x3F; break;
    case 0x38: reg = &g_uart.imsc, mask = 0x7FF; break;
    case 0x48: reg = &g_uart.dmacr, mask = 0x7; break;
    default:
        if (off >= 0xFE0) {
            *val = UART_IDS[(off - 0xFE0) / 4];
            return true;
        }
        return false;
    }
    if (write) {
        uint64_t v = w == 8 ? wval : wval & ((1ull << (8 * w)) - 1);
        if (apply) *reg = uint32_t(v) & mask;
    } else {
        *val = *reg;
    }
    return true;
}

// ---------------------------------------------------------------- memory operations
enum Form { F_UIMM, F_UNSCALED, F_POST, F_PRE, F_UNPRIV, F_REG, F_ACQREL };
const char* const form_names[] = {"uimm", "unscaled", "post", "pre", "unpriv", "reg", "acqrel"};
enum Map { M_IDENT, M_DEV, M_NORM };

uint64_t width_mask(unsigned w) { return w == 8 ? ~0ull : (1ull << (8 * w)) - 1; }

// The register value an OK load leaves, from the raw little-endian memory value.
uint64_t load_result(uint64_t raw, unsigned size, unsigned opc) {
    unsigned w = 1u << size;
    uint64_t v = raw & width_mask(w);
    if (opc == 1) return v; // zero-extended (W or X)
    uint64_t sign = 1ull << (8 * w - 1);
    uint64_t sx = (v ^ sign) - sign; // sign-extended to 64 bits
    return opc == 2 ? sx : (sx & 0xFFFFFFFFull);
}

// Expected outcome set of one page-local data access.
uint32_t page_expect(Cls cls, uint64_t ipa, unsigned w, bool write) {
    switch (cls) {
    case C_RAM: return O_OK;
    case C_RO: return write ? O_SEA : O_OK;
    case C_NX: return O_OK;
    case C_WO: return write ? O_OK : O_SEA;
    case C_UART: {
        uint64_t v;
        bool k;
        return uart_model(ipa - UART, w, write, 0, &v, &k, false) ? O_OK : O_SEA;
    }
    case C_RSV: return O_SEA;
    case C_HIGH: return O_S1;
    default: return O_SEA;
    }
}

uint64_t read_ident(uint64_t ipa, unsigned w) {
    uint64_t v = 0;
    for (unsigned i = 0; i < w; ++i) v |= uint64_t(*reinterpret_cast<volatile uint8_t*>(ipa + i)) << (8 * i);
    return v;
}

void op_mem(Ctx& c, bool el0) {
    Rng& r = c.rng;
    unsigned size = unsigned(r.below(4)), w = 1u << size;
    unsigned fr = unsigned(r.below(100));
    Form form = fr < 25 ? F_UIMM : fr < 38 ? F_UNSCALED : fr < 52 ? F_POST : fr < 66 ? F_PRE : fr < 71 ? F_UNPRIV
              : fr < 88 ? F_REG : F_ACQREL;
    bool write = r.chance(45);
    unsigned opc = write ? 0 : 1;
    bool prfm = false;
    if (!write && form != F_ACQREL) {
        unsigned k = unsigned(r.below(10));
        if (size <= 1 && k >= 6) opc = k >= 8 ? 3 : 2;
        else if (size == 2 && k >= 7) opc = 2;
        else if (size == 3 && k == 9 && (form == F_UIMM || form == F_UNSCALED || form == F_REG)) opc = 2, prfm = true;
    }

    uint64_t ipa = pick_ipa(c);
    if (ipa >= (1ull << 48)) ipa &= (1ull << 48) - 1;
    if (r.chance(72)) ipa &= ~uint64_t(w - 1);
    // Stores never touch our own RAM (except this CPU's scratch), nor the other CPU's half of NX/WO.
    if (write) {
        if (ipa + w > RAM_LO && ipa < RAM_HI) {
            uint64_t s = reinterpret_cast<uint64_t>(&g_scratch[c.cpu][0]);
            ipa = s + (ipa & 0xFFF) + 64;
        }
        static const uint64_t halves[2] = {NX_BASE, WO_BASE};
        for (uint64_t base : halves)
            if (ipa + w > base && ipa < base + XREG_SIZE) ipa = own_half(c.cpu, base) + (ipa & 0xFFFF);
        if (c.worker && ipa + w > UART && ipa < UART + 0x1000) write = false, opc = 1; // model: vCPU 0 only
        if (!c.worker && ipa + w > UART && ipa < UART + 8 && r.chance(90)) ipa += 0x24; // keep DR rare
    }
    // A window holds one 1 GiB block: keep the access inside it.
    if ((ipa & (GIB - 1)) + w > GIB) ipa -= w;

    // How the guest reaches it.
    Map map;
    if (!el0 && ipa + w <= (4ull << 30) && r.chance(45)) map = M_IDENT;
    else map = r.chance(55) ? M_DEV : M_NORM;
    uint64_t va = map == M_IDENT ? ipa : map_window(c.cpu, map == M_DEV ? W_DEV : W_NORM, ipa);
    bool device = map == M_DEV || (map == M_IDENT && (ipa < GIB || ipa >= 2 * GIB));

    // Registers: Rt (31 = XZR), Rn (31 = SP: EL0 only), Rm; all distinct.
    unsigned rt = r.chance(8) ? 31 : unsigned(r.below(18));
    unsigned rn, rm;
    do rn = unsigned(r.below(18)); while (rn == rt);
    do rm = unsigned(r.below(18)); while (rm == rt || rm == rn);
    if (el0 && form != F_REG && r.chance(20)) rn = 31;

    uint64_t in[19];
    random_regs(r, in);
    int64_t imm = 0;
    uint64_t base = va, rmval = 0;
    uint32_t word = 0;
    unsigned option = 0, s_bit = 0;
    switch (form) {
    case F_UIMM: {
        uint64_t imm12 = r.below(4096);
        if (r.chance(50)) imm12 &= 0x3F;
        imm = int64_t(imm12 << size);
        base = va - uint64_t(imm);
        word = 0x39000000 | (size << 30) | (opc << 22) | uint32_t(imm12 << 10);
        break;
    }
    case F_UNSCALED:
    case F_UNPRIV:
    case F_POST:
    case F_PRE: {
        imm = r.range(-256, 255);
        unsigned op = form == F_UNSCALED ? 0 : form == F_POST ? 1 : form == F_UNPRIV ? 2 : 3;
        base = form == F_POST ? va : va - uint64_t(imm);
        word = 0x38000000 | (size << 30) | (opc << 22) | ((uint32_t(imm) & 0x1FF) << 12) | (op << 10);
        break;
    }
    case F_REG: {
        static const unsigned opts[4] = {2, 3, 6, 7}; // UXTW, LSL, SXTW, SXTX
        option = opts[r.below(4)];
        s_bit = unsigned(r.below(2));
        unsigned sh = s_bit ? size : 0;
        int64_t off = r.range(-4096, 4096);
        if (option == 2 && off < 0) off = -off;                 // UXTW: a 32-bit unsigned index
        uint64_t ext = uint64_t(off);
        rmval = option == 2 || option == 6 ? (uint64_t(uint32_t(off)) | (r.next() << 32)) : ext; // upper bits ignored for W
        base = va - (ext << sh);
        word = 0x38200800 | (size << 30) | (opc << 22) | (rm << 16) | (option << 13) | (s_bit << 12);
        break;
    }
    case F_ACQREL:
        word = (write ? 0x089FFC00 : 0x08DFFC00) | (size << 30);
        break;
    }
    word |= (rn << 5) | rt;
    if (rn == 31) in[18] = base;
    else in[rn] = base;
    if (form == F_REG) in[rm] = rmval;
    uint64_t wval = rt == 31 ? 0 : in[rt];
    if (write && rt != 31 && classify(ipa) == C_UART && (ipa & 0xFFF) < 4) {
        // DR: a printable character (the rest of the register value is ignored by the device)
        in[rt] = (in[rt] & ~0xFFull) | (0x21 + r.below(94));
        wval = in[rt];
    }

    // The model.
    uint32_t expect;
    Cls c0 = classify(ipa), c1 = classify(ipa + w - 1);
    bool cross = ((ipa ^ (ipa + w - 1)) >> 12) != 0;
    bool el0_access = el0 || form == F_UNPRIV;
    bool misaligned = (ipa & (w - 1)) != 0;
    if (map == M_IDENT && el0_access) expect = O_S1;                      // AP = 0b00: EL1 only
    else if (form == F_ACQREL && misaligned) expect = O_ALIGN | O_SEA | O_S1;
    else if (prfm) expect = O_OK;
    else if (c0 == C_HIGH || c1 == C_HIGH) expect = O_S1;
    else {
        uint32_t e0 = page_expect(c0, ipa, w, write);
        uint32_t e1 = cross ? page_expect(c1, (ipa + w - 1) & ~0xFFFull, w, write) : e0;
        if (c0 == C_UART || c1 == C_UART) e0 = cross ? O_SEA : e0;
        expect = (e0 == O_OK && e1 == O_OK) ? O_OK : O_SEA;
        // Misaligned accesses to Device memory fault on hardware (Arm ARM B2.5.2); QEMU 7.2 performs
        // them, so whatever the target gives is allowed too.
        if (device && misaligned) expect |= O_ALIGN;
    }
    // SP-based at EL0 with SP not 16-byte aligned: SP alignment fault (SCTLR_EL1.SA0 = 1), which
    // QEMU does not implement.
    if (rn == 31 && (base & 15)) expect |= O_SPALIGN;

    // Value the load must return, if known.
    bool value_known = false;
    uint64_t raw = 0;
    bool check_store = false;
    if (!write && !prfm && !cross) {
        if (c0 == C_UART) {
            uart_model(ipa - UART, w, false, 0, &raw, &value_known, false);
            // vCPU 0 writes the UART's registers concurrently: the worker checks only constant ones
            uint64_t off = ipa & 0xFFC;
            if (c.worker && off >= 0x20 && off < 0x4C) value_known = false;
        }
        else if (c0 == C_RO) value_known = true, raw = 0; // never written: fresh zeroed RAM
        else if (c0 == C_NX && ipa >= own_half(c.cpu, NX_BASE) && ipa + w <= own_half(c.cpu, NX_BASE) + XREG_SIZE / 2)
            value_known = true, raw = read_ident(ipa, w);
    }
    if (write && !cross && (c0 == C_NX || (c0 == C_RAM))) check_store = true;

    Run res = exec(c, word, in, el0);
    uint32_t got = res.got;
    if (!prfm && (c0 == C_RSV || c1 == C_RSV)) ++c.st.rsv[write ? R_STORE : R_LOAD];

    const char* what = write ? "store" : prfm ? "prfm" : "load";
    bool bad = false;
    if (!(got & expect)) {
        UNEXPECTED(c, "%s %08x %s w%u ipa %lx va %lx map %d el%d: %s ESR %lx FAR %lx, want %x", what, word,
                   form_names[form], w, ipa, va, int(map), el0 ? 0 : 1, outcome_name(got), res.esr, res.far, expect);
        return;
    }
    if (res.taken && (got & (O_SEA | O_ALIGN | O_S1))) {
        uint32_t ec = rt::esr_ec(res.esr);
        if (ec != (el0 ? 0x24u : 0x25u)) bad = true;
        bool wnr = (res.esr >> 6) & 1, fnv = (res.esr >> 10) & 1;
        uint64_t eva = form == F_POST ? base : va;
        // A load the memory system aborts (the reserved region): QEMU reports the address of the
        // naturally aligned access it attempted, so a misaligned load's FAR may lie below the VA.
        bool rsv_load = !write && (c0 == C_RSV || c1 == C_RSV);
        uint64_t far_lo = rsv_load ? eva & ~uint64_t(w - 1) : eva;
        if (got == O_SEA && (wnr != write || (!fnv && (res.far < far_lo || res.far >= eva + w)))) bad = true;
        // Wholly inside the reserved region, a load's abort is the memory system's and a store's is
        // cxvisor's (no write permission at stage 2); both: DFSC 0x10, no ISS (ISV = 0), FnV = 0.
        if (got == O_SEA && c0 == C_RSV && c1 == C_RSV && (res.esr & 0x3FFFFFF) != (ESR_IL | (write ? 0x50u : 0x10u)))
            bad = true;
        if (got == O_SEA && c0 == C_RSV && c1 == C_RSV && !misaligned && res.far != eva) bad = true;
        if (bad) {
            UNEXPECTED(c, "%s insn %08lx ipa %lx va %lx el%lu: ESR %lx FAR %lx (wrong EC, WnR or FAR)",
                       what, (uint64_t)word, ipa, va, (uint64_t)(el0 ? 0 : 1), res.esr, res.far);
            return;
        }
    }
    // Registers.
    uint64_t exp[19];
    for (int i = 0; i < 19; ++i) exp[i] = in[i];
    bool rt_known = true;
    if (!res.taken) {
        if (form == F_POST || form == F_PRE) {
            if (rn == 31) exp[18] = base + uint64_t(imm);
            else exp[rn] = base + uint64_t(imm);
        }
        if (!write && !prfm && rt != 31) {
            if (value_known) exp[rt] = load_result(raw, size, opc);
            else rt_known = false;
        }
    }
    for (unsigned i = 0; i < (el0 ? 19u : 18u); ++i) {
        if (i == rt && !rt_known) continue;
        if (res.out[i] != exp[i]) {
            UNEXPECTED(c, "%s insn %08lx (%s w%lu) ipa %lx va %lx el%lu: %s, but x%lu = %lx, expected %lx",
                       what, (uint64_t)word, form_names[form], (uint64_t)w,
                       ipa, va, (uint64_t)(el0 ? 0 : 1), outcome_name(got), (uint64_t)i,
                       res.out[i], exp[i]);
            return;
        }
    }
    if (!res.taken && write) {
        if (c0 == C_UART) {
            uint64_t v;
            bool k;
            uart_model(ipa - UART, w, true, wval, &v, &k, true);
            if ((ipa & 0xFFF) < 4) g_dr_dirty = true;
        }
        if (check_store) {
            uint64_t got_mem = read_ident(ipa, w);
            if (got_mem != (wval & width_mask(w)))
                UNEXPECTED(c, "store insn %08lx ipa %lx va %lx: memory holds %lx, stored %lx", (uint64_t)word, ipa, va,
                           got_mem, wval & width_mask(w));
        }
    }
}

// ---------------------------------------------------------------- instruction fetches
void op_fetch(Ctx& c) {
    Rng& r = c.rng;
    uint64_t ipa;
    uint32_t expect;
    unsigned k = unsigned(r.below(10));
    if (k == 0) {
        ipa = reinterpret_cast<uint64_t>(chaos_ret_gadget); // our own code: works
    } else {
        do ipa = pick_ipa(c) & ((1ull << 48) - 1);
        while (classify(ipa) == C_RAM);
        ipa &= ~3ull;
        if (k == 1) ipa |= 1 + r.below(3);
    }
    Cls cls = classify(ipa);
    if (cls == C_RAM) expect = O_OK;
    else if (cls == C_HIGH) expect = O_S1;
    else expect = O_IABT;
    // A misaligned PC faults before the fetch on hardware; QEMU translates first.
    if (ipa & 3) expect |= O_PCALIGN;
    uint64_t va = map_window(c.cpu, W_FETCH, ipa);
    CpuExc& e = g_exc[c.cpu];
    uint64_t before = e.count;
    e.fetch = true;
    chaos_fetch(va);
    e.fetch = false;
    bool taken = e.count != before;
    uint32_t got = outcome_of(taken, e.esr);
    c.st.count(got);
    if (cls == C_RSV) ++c.st.rsv[R_FETCH];
    if (!(got & expect)) {
        UNEXPECTED(c, "fetch ipa %lx va %lx: %s (ESR %lx FAR %lx)", ipa, va, outcome_name(got),
                   taken ? e.esr : 0, taken ? e.far : 0);
        return;
    }
    if (got == O_IABT && (rt::esr_ec(e.esr) != 0x21 || e.far != va))
        UNEXPECTED(c, "fetch ipa %lx va %lx: instruction abort with ESR %lx FAR %lx (expected EC 0x21, FAR = VA)", ipa,
                   va, e.esr, e.far);
}

// ---------------------------------------------------------------- stage-1 walks outside RAM
void op_walk(Ctx& c) {
    Rng& r = c.rng;
    uint64_t t;
    Cls cls;
    do {
        t = pick_ipa(c) & ((1ull << 48) - 1) & ~0xFFFull;
        cls = classify(t);
    } while (cls == C_RAM || cls == C_NX);
    if (r.chance(20)) t = g_rsv_base + (r.below(XREG_SIZE) & ~0xFFFull), cls = C_RSV;
    unsigned idx = 4 + c.cpu * W_COUNT + W_WALK;
    set_l1(idx, t | D_TABLE);
    uint64_t va = win_va(c.cpu, W_WALK) + (r.below(GIB) & ~7ull);
    // Read-only RAM holds zeroed tables (a stage-1 translation fault); write-only RAM, the UART and
    // unbacked addresses cannot be walked (an external abort).
    uint32_t expect = cls == C_RO ? O_S1 : cls == C_HIGH ? O_S1 : O_SEA;
    uint64_t in[19];
    random_regs(r, in);
    unsigned rn = unsigned(r.below(18)), rt;
    do rt = unsigned(r.below(18)); while (rt == rn);
    in[rn] = va;
    uint32_t word;
    bool at = r.chance(25);
    if (at) {
        word = 0xD5087800 | (r.below(4) << 5) | rn; // AT S1E1R/S1E1W/S1E0R/S1E0W, Xn
        expect |= O_OK;                             // a fault may also just land in PAR_EL1
    } else {
        word = 0xB9400000 | (rn << 5) | rt; // ldr wt, [xn]
    }
    if (cls == C_RSV) {
        // Tables in the reserved region: stage 2 lets the walk read them, the memory system aborts
        // the read of the level-2 descriptor: a synchronous external abort on the walk (DFSC 0x16),
        // taken to EL1 by the hardware, FAR = the VA. An AT gets it as an exception too (not in
        // PAR_EL1), with CM = 1 and WnR = 1 (ESR_ELx.ISS: always 1 for AT); PAR_EL1 keeps its value.
        expect = O_SEA;
        bool store = !at && r.chance(30);
        if (store) word = 0xB9000000 | (rn << 5) | rt; // str wt, [xn]
        uint32_t words[3] = {word, ISB_WORD, mrs_word(sysreg(3, 0, 7, 4, 0), rt)};
        Run res = run(c.cpu, words, at ? 3 : 1, in, false);
        c.st.count(res.got);
        ++c.st.rsv[R_WALK];
        uint64_t want = ESR_IL | (at ? 0x156u : store ? 0x56u : 0x16u);
        if (res.got != O_SEA || rt::esr_ec(res.esr) != 0x25 || (res.esr & 0x3FFFFFF) != want || res.far != va) {
            UNEXPECTED(c, "walk via table at ipa %lx (reserved), insn %08lx va %lx: %s ESR %lx FAR %lx, want ISS %lx",
                       t, (uint64_t)word, va, outcome_name(res.got), res.esr, res.far, want);
            return;
        }
        regs_kept(c, "walk", word, in, res, at ? rt : 32);
        return;
    }
    Run res = exec(c, word, in, false);
    uint32_t got = res.got;
    if (!(got & expect)) {
        UNEXPECTED(c, "walk via table at ipa %lx, insn %08lx va %lx: %s (ESR %lx FAR %lx)", t, (uint64_t)word, va,
                   outcome_name(got), res.esr, res.far);
        return;
    }
    regs_kept(c, "walk", word, in, res);
}

// ---------------------------------------------------------------- system registers
uint32_t msr_word(uint32_t enc, unsigned rt) { return 0xD5100000 | (enc << 5) | rt; }
unsigned enc_op0(uint32_t e) { return ((e >> 14) & 1) + 2; }
unsigned enc_op1(uint32_t e) { return (e >> 11) & 7; }
void enc_name(uint32_t e, char* buf) { // S<op0>_<op1>_C<n>_C<m>_<op2>
    unsigned v[5] = {enc_op0(e), enc_op1(e), (e >> 7) & 15, (e >> 3) & 15, e & 7};
    char* p = buf;
    *p++ = 'S';
    for (int i = 0; i < 5; ++i) {
        if (i) *p++ = '_';
        if (i == 2 || i == 3) *p++ = 'C';
        if (v[i] >= 10) *p++ = char('0' + v[i] / 10);
        *p++ = char('0' + v[i] % 10);
    }
    *p = 0;
}

// Reads a system register at EL1 with the fault handler armed. Returns false on an exception.
bool read_sysreg(Ctx& c, uint32_t enc, uint64_t* v) {
    uint32_t word = mrs_word(enc, 0);
    uint64_t in[19] = {};
    Run res = run(c.cpu, &word, 1, in, false);
    *v = res.out[0];
    return !res.taken;
}

// ID space: op0 = 3, op1 = 0, CRn = 0, CRm = 1..7 (HCR_EL2.TID3, answered from cxvisor's table).
bool is_id_space(uint32_t e) {
    return arch::idregs::in_id_space(enc_op0(e), enc_op1(e), (e >> 7) & 15, (e >> 3) & 15);
}
unsigned id_slot(uint32_t e) { return arch::idregs::slot((e >> 3) & 15, e & 7); }
// PMUv3 registers: op1 = 3, CRn = 9, CRm = 12..14; op1 = 3, CRn = 14, CRm = 8..15 (event counters
// and types, PMCCFILTR); PMINTENSET/CLR_EL1 (op1 = 0, CRn = 9, CRm = 14, op2 = 1/2). With PMUVer = 0
// and MDCR_EL2.TPM all of them UNDEF (unallocated ones UNDEF anyway).
bool is_pmu(uint32_t e) {
    unsigned op0 = enc_op0(e), op1 = enc_op1(e), crn = (e >> 7) & 15, crm = (e >> 3) & 15, op2 = e & 7;
    if (op0 != 3) return false;
    if (op1 == 3 && crn == 9 && crm >= 12 && crm <= 14) return true;
    if (op1 == 3 && crn == 14 && crm >= 8) return true;
    return op1 == 0 && crn == 9 && crm == 14 && (op2 == 1 || op2 == 2);
}

uint32_t random_read_enc(Rng& r) {
    if (r.chance(15)) return sysreg(3, 0, 0, 1 + unsigned(r.below(7)), unsigned(r.below(8))); // ID space
    static const uint32_t interesting[] = {
        sysreg(2, 0, 0, 2, 2),   sysreg(2, 0, 1, 1, 4),   sysreg(2, 0, 1, 0, 0),   sysreg(2, 0, 0, 0, 4),
        sysreg(2, 0, 0, 0, 5),   sysreg(2, 0, 0, 0, 6),   sysreg(2, 0, 0, 0, 7),   sysreg(2, 0, 7, 14, 6),
        sysreg(2, 0, 1, 3, 4),   sysreg(2, 3, 0, 1, 0),   sysreg(2, 3, 0, 4, 0),   sysreg(2, 3, 0, 5, 0),
        sysreg(3, 3, 9, 12, 0),  sysreg(3, 3, 9, 13, 0),  sysreg(3, 3, 9, 12, 6),  sysreg(3, 3, 14, 8, 0),
        sysreg(3, 3, 14, 15, 7), sysreg(3, 0, 9, 14, 1),  sysreg(3, 3, 14, 2, 0),  sysreg(3, 3, 14, 2, 1),
        sysreg(3, 3, 14, 2, 2),  sysreg(3, 3, 14, 0, 1),  sysreg(3, 3, 14, 0, 2),  sysreg(3, 0, 1, 0, 1),
        sysreg(3, 0, 12, 12, 0), sysreg(3, 0, 12, 8, 0),  sysreg(3, 0, 12, 12, 5), sysreg(3, 0, 4, 6, 0),
        sysreg(3, 1, 15, 2, 0),  sysreg(3, 1, 11, 0, 2),  sysreg(3, 0, 0, 0, 5),   sysreg(3, 0, 0, 7, 0),
        sysreg(3, 4, 1, 1, 0),   sysreg(3, 6, 1, 1, 0),   sysreg(3, 0, 4, 1, 0),   sysreg(3, 4, 4, 1, 0),
        sysreg(3, 0, 12, 0, 0),  sysreg(3, 3, 13, 0, 2),  sysreg(3, 0, 0, 0, 6),   sysreg(3, 0, 0, 5, 0),
    };
    if (r.chance(35)) return interesting[r.below(sizeof interesting / 4)];
    unsigned op0 = r.chance(30) ? 2 : 3;
    return sysreg(op0, unsigned(r.below(8)), unsigned(r.below(16)), unsigned(r.below(16)), unsigned(r.below(8)));
}

void op_mrs(Ctx& c, bool el0) {
    Rng& r = c.rng;
    uint32_t enc = random_read_enc(r);
    unsigned rt = r.chance(8) ? 31 : unsigned(r.below(18));
    uint32_t word = mrs_word(enc, rt);
    uint64_t in[19];
    random_regs(r, in);
    Run res = exec(c, word, in, el0);
    uint32_t got = res.got;
    char name[32];
    enc_name(enc, name);
    uint32_t expect = el0 ? (O_OK | O_UNDEF | O_TRAP) : (O_OK | O_UNDEF);
    if (!(got & expect)) {
        UNEXPECTED(c, "mrs %s (insn %08lx) at el%lu: %s (ESR %lx)", name, (uint64_t)word,
                   (uint64_t)(el0 ? 0 : 1), outcome_name(got), res.esr);
        return;
    }
    if (!regs_kept(c, el0 ? "mrs at el0" : "mrs", word, in, res, res.taken ? 32 : rt)) return;
    if (is_pmu(enc) && got != O_UNDEF) {
        UNEXPECTED(c, "mrs %s (PMU, advertised absent) at el%lu: %s, expected UNDEF", name, (uint64_t)(el0 ? 0 : 1),
                   outcome_name(got));
        return;
    }
    if (is_id_space(enc)) {
        if (el0 ? !(got & (O_UNDEF | O_TRAP)) : got != O_OK) {
            UNEXPECTED(c, "mrs %s (ID space) at el%lu: %s", name, (uint64_t)(el0 ? 0 : 1), outcome_name(got));
            return;
        }
        const unsigned s = id_slot(enc);
        if (!el0 && rt != 31 && (res.out[rt] != g_id_model[s] || !arch::idregs::is_sanitised(s, res.out[rt])))
            UNEXPECTED(c, "mrs %s (ID space) = %lx, model %lx", name, res.out[rt], g_id_model[s]);
        return;
    }
    // Trapped debug registers (op0 = 2, op1 = 0) read as cxvisor documents.
    if (!el0 && !res.taken && rt != 31 && enc_op0(enc) == 2 && enc_op1(enc) == 0) {
        uint64_t want = 0;
        bool known = true;
        if (enc == SHADOWED[SH_MDSCR].enc) {
            known = c.shadow_valid[SH_MDSCR];
            want = c.shadow[SH_MDSCR];
        } else if (enc == OSLSR) {
            want = 0x8 | (c.oslk << 1); // OS lock implemented (OSLM = 0b10), OSLK as last written
        }
        if (known && res.out[rt] != want)
            UNEXPECTED(c, "mrs %s (debug, emulated by cxvisor) = %lx, expected %lx", name,
                       res.out[rt], want);
    }
}

uint32_t random_write_enc(Rng& r, bool* shadowed_idx_valid, unsigned* shadowed_idx) {
    *shadowed_idx_valid = false;
    unsigned k = unsigned(r.below(100));
    if (k < 30) { // debug registers
        unsigned op1 = r.chance(80) ? 0 : (r.chance(50) ? 3 : (r.chance(50) ? 1 : 4));
        if (r.chance(50)) // breakpoints/watchpoints (DBGBVR/BCR/WVR/WCR n)
            return sysreg(2, 0, 0, unsigned(r.below(16)), 4 + unsigned(r.below(4)));
        static const uint32_t dbg[] = {OSLAR, sysreg(2, 0, 1, 3, 4), sysreg(2, 0, 1, 4, 4),
                                       sysreg(2, 0, 0, 2, 0), sysreg(2, 0, 7, 8, 6), sysreg(2, 0, 7, 9, 6),
                                       sysreg(2, 0, 0, 0, 2), sysreg(2, 0, 0, 3, 2), sysreg(2, 0, 0, 6, 2)};
        if (op1 == 0 && r.chance(60)) return dbg[r.below(sizeof dbg / 4)];
        return sysreg(2, op1, unsigned(r.below(16)), unsigned(r.below(16)), unsigned(r.below(8)));
    }
    if (k < 50) { // PMU
        switch (r.below(3)) {
        case 0: return sysreg(3, 3, 9, 12 + unsigned(r.below(3)), unsigned(r.below(8)));
        case 1: return sysreg(3, 0, 9, 14, 1 + unsigned(r.below(2)));
        default: return sysreg(3, 3, 14, 8 + unsigned(r.below(8)), unsigned(r.below(8)));
        }
    }
    if (k < 58) return sysreg(3, 3, 14, 2, unsigned(r.below(3))); // CNTP_TVAL/CTL/CVAL_EL0
    if (k < 70) {                                                  // GIC CPU interface
        static const uint32_t gic[] = {sysreg(3, 0, 12, 11, 5), sysreg(3, 0, 12, 11, 6), sysreg(3, 0, 12, 11, 7),
                                       sysreg(3, 0, 12, 8, 3),  sysreg(3, 0, 12, 12, 7), sysreg(3, 0, 12, 12, 6),
                                       sysreg(3, 0, 12, 12, 1), sysreg(3, 0, 12, 8, 1),  sysreg(3, 0, 12, 11, 1),
                                       sysreg(3, 0, 12, 9, 0),  sysreg(3, 0, 12, 8, 4)};
        return gic[r.below(sizeof gic / 4)];
    }
    unsigned i = unsigned(r.below(N_SHADOWED));
    *shadowed_idx_valid = true;
    *shadowed_idx = i;
    return SHADOWED[i].enc;
}

void op_msr(Ctx& c) {
    Rng& r = c.rng;
    bool sh;
    unsigned si = 0;
    uint32_t enc = random_write_enc(r, &sh, &si);
    for (unsigned i = 0; i < N_SHADOWED && !sh; ++i) // a random encoding may name one too
        if (enc == SHADOWED[i].enc) sh = true, si = i;
    unsigned rt = r.chance(5) ? 31 : unsigned(r.below(18));
    uint32_t word = msr_word(enc, rt);
    uint64_t in[19];
    random_regs(r, in);
    if (sh && rt != 31) in[rt] &= SHADOWED[si].mask;
    Run res = exec(c, word, in, false);
    uint32_t got = res.got;
    char name[32];
    enc_name(enc, name);
    if (!(got & (O_OK | O_UNDEF))) {
        UNEXPECTED(c, "msr %s (insn %08lx): %s (ESR %lx)", name, (uint64_t)word,
                   outcome_name(got), res.esr);
        return;
    }
    if (!regs_kept(c, "msr", word, in, res)) return;
    if (is_pmu(enc) && got != O_UNDEF) {
        UNEXPECTED(c, "msr %s (PMU, advertised absent): %s, expected UNDEF", name, outcome_name(got));
        return;
    }
    if (enc == OSLAR && !res.taken) c.oslk = (rt == 31 ? 0 : in[rt]) & 1;
    if (sh && !res.taken) {
        uint64_t v;
        if (read_sysreg(c, enc, &v)) {
            uint64_t wrote = rt == 31 ? 0 : in[rt];
            if (si == SH_MDSCR && v != wrote)
                UNEXPECTED(c, "MDSCR_EL1 wrote %lx, read back %lx at once", wrote, v);
            c.shadow[si] = v;
            c.shadow_valid[si] = true;
        }
    }
}

// Every shadowed register must still hold its value (the vCPU may have been switched out many
// times since the write).
void op_state(Ctx& c) {
    for (unsigned i = 0; i < N_SHADOWED; ++i) {
        if (!c.shadow_valid[i]) continue;
        uint64_t v;
        if (!read_sysreg(c, SHADOWED[i].enc, &v)) {
            UNEXPECTED(c, "%s: read UNDEF after a successful write", SHADOWED[i].name);
            continue;
        }
        if (v == c.shadow[i]) continue;
        UNEXPECTED(c, "%s changed behind our back: %lx -> %lx", SHADOWED[i].name, c.shadow[i], v);
        c.shadow[i] = v;
    }
}

// ---------------------------------------------------------------- SYS on the reserved region
// AT on a VA whose leaf lies in the region: stage 1 only, no access: PAR_EL1 gives the IPA and the
// attributes of the guest's own descriptor (or its own permission fault: the identity map is EL1
// only). DC CIVAC/CVAC/CVAU: complete (stage 2 permits reads; QEMU performs no access). DC ZVA: a
// write, which stage 2 forbids: cxvisor's abort, ESR as for a store (DFSC 0x10, WnR = 1, CM = 0),
// FAR within the zeroed block (QEMU: the VA given). On Device memory hardware gives an alignment
// fault for DC ZVA; QEMU 7.2 does not check the memory type.
void op_rsv_sys(Ctx& c) {
    Rng& r = c.rng;
    uint64_t in[19];
    random_regs(r, in);
    unsigned rt = unsigned(r.below(18)), rd;
    do rd = unsigned(r.below(18)); while (rd == rt);
    uint64_t ipa = g_rsv_base + r.below(XREG_SIZE);
    unsigned m = unsigned(r.below(3)); // identity (Device, EL1 only), Device window, Normal window
    uint64_t va = m == 0 ? ipa : map_window(c.cpu, m == 1 ? W_DEV : W_NORM, ipa);
    in[rt] = va;
    unsigned k = unsigned(r.below(10));
    if (k < 4) { // AT S1E1R/S1E1W/S1E0R/S1E0W, ISB, MRS Xd, PAR_EL1
        unsigned op2 = unsigned(r.below(4));
        uint32_t words[3] = {0xD5087800 | (op2 << 5) | rt, ISB_WORD, mrs_word(sysreg(3, 0, 7, 4, 0), rd)};
        Run res = run(c.cpu, words, 3, in, false);
        c.st.count(res.got);
        ++c.st.rsv[R_AT];
        uint64_t par = res.out[rd];
        bool ok;
        if (m == 0 && op2 >= 2) ok = (par & 0x3FF) == 0x1B; // F = 1, FST 0x0D: permission fault, level 1
        else
            ok = (par & 1) == 0 && (par & 0xFFFFFFFFF000ull) == (ipa & ~0xFFFull) &&
                 (par >> 56) == (m == 2 ? 0xFFu : 0x04u); // MAIR attributes 2 (Normal WB), 1 (Device-nGnRE)
        if (res.taken || !ok) {
            UNEXPECTED(c, "AT op2 %u on reserved ipa %lx va %lx (map %u): %s ESR %lx, PAR %lx", op2, ipa, va, m,
                       outcome_name(res.got), res.esr, par);
            return;
        }
        regs_kept(c, "at (reserved)", words[0], in, res, rd);
        return;
    }
    uint32_t word;
    if (k < 7) {
        static const uint32_t ops[] = {0xD50B7E20, 0xD50B7A20, 0xD50B7B20}; // DC CIVAC, CVAC, CVAU
        word = ops[r.below(3)] | rt;
    } else {
        word = 0xD50B7420 | rt; // DC ZVA
    }
    Run res = exec(c, word, in, false);
    ++c.st.rsv[R_DC];
    bool zva = k >= 7;
    uint64_t dczid;
    asm volatile("mrs %0, dczid_el0" : "=r"(dczid));
    uint64_t block = 4ull << (dczid & 0xF), blk = va & ~(block - 1);
    bool ok = zva ? ((res.got == O_SEA && rt::esr_ec(res.esr) == 0x25 && (res.esr & 0x3FFFFFF) == (ESR_IL | 0x50) &&
                      res.far >= blk && res.far < blk + block) ||
                     (m != 2 && res.got == O_ALIGN))
                  : res.got == O_OK;
    if (!ok) {
        UNEXPECTED(c, "%s on reserved ipa %lx va %lx (map %u): %s ESR %lx FAR %lx", zva ? "DC ZVA" : "DC by VA", ipa, va,
                   m, outcome_name(res.got), res.esr, res.far);
        return;
    }
    regs_kept(c, "dc (reserved)", word, in, res);
}

// ---------------------------------------------------------------- SYS: cache, TLB, AT, set/way
void op_sys(Ctx& c) {
    Rng& r = c.rng;
    if (r.chance(25)) return op_rsv_sys(c);
    uint64_t in[19];
    random_regs(r, in);
    unsigned rt = unsigned(r.below(18));
    uint32_t word;
    unsigned k = unsigned(r.below(8));
    uint64_t ipa = pick_ipa(c) & ((1ull << 48) - 1);
    if (classify(ipa) == C_RAM || classify(ipa) == C_UART) ipa = reinterpret_cast<uint64_t>(&g_scratch[c.cpu][128]);
    if (classify(ipa) == C_NX) ipa = own_half(c.cpu, NX_BASE) + (ipa & 0xFFFF); // DC ZVA writes
    uint64_t va = r.chance(50) && ipa < (4ull << 30) ? ipa : map_window(c.cpu, r.chance(50) ? W_NORM : W_DEV, ipa);
    in[rt] = va;
    switch (k) {
    case 0: word = 0xD50B7420; break;                                         // DC ZVA
    case 1: {                                                                  // DC IVAC/CVAC/CVAU/CIVAC, IC IVAU
        static const uint32_t ops[] = {0xD5087620, 0xD50B7A20, 0xD50B7B20, 0xD50B7E20, 0xD50B7520};
        word = ops[r.below(5)];
        break;
    }
    case 2: {                                                                  // DC ISW/CSW/CISW: any value
        static const uint32_t ops[] = {0xD5087640, 0xD5087A40, 0xD5087E40};
        word = ops[r.below(3)];
        in[rt] = r.next();
        break;
    }
    case 3: word = 0xD5087800 | uint32_t(r.below(4) << 5); break;            // AT S1E1R/W, S1E0R/W
    case 4: {                                                                  // TLBI (EL1 and EL2/EL3 forms)
        static const unsigned op1s[] = {0, 0, 0, 4, 6};
        word = 0xD5088000 | (op1s[r.below(5)] << 16) | uint32_t(r.below(16) << 8) | uint32_t(r.below(8) << 5);
        in[rt] = r.next();
        break;
    }
    case 5: word = r.chance(50) ? 0xD508751F : 0xD508711F; break;            // IC IALLU / IALLUIS
    default:                                                                   // anything in op0 = 1
        word = 0xD5080000 | uint32_t(r.below(8) << 16) | uint32_t(r.below(16) << 12) | uint32_t(r.below(16) << 8) |
               uint32_t(r.below(8) << 5);
        in[rt] = r.next();
        // never DC ZVA/IVAC (they would write/discard our own RAM) nor WFx-like hints: keep to SYS
        {
            uint32_t op = (word >> 5) & 0x3FFF;
            uint32_t zva = (3 << 11) | (7 << 7) | (4 << 3) | 1, ivac = (0 << 11) | (7 << 7) | (6 << 3) | 1;
            if (op == zva || op == ivac) word = 0xD508751F;
        }
        break;
    }
    if (k != 5) word |= rt;
    Run res = exec(c, word, in, false);
    uint32_t got = res.got;
    if (k == 2 && got != O_OK) { // set/way: trapped (HCR_EL2.TSW) and performed as DC CISW
        UNEXPECTED(c, "set/way op %08lx with x%lu = %lx: %s", (uint64_t)word, (uint64_t)rt, in[rt], outcome_name(got));
        return;
    }
    if (!(got & (O_OK | O_UNDEF | O_SEA | O_ALIGN | O_S1))) {
        UNEXPECTED(c, "sys insn %08lx with x%lu = %lx: %s (ESR %lx FAR %lx)", (uint64_t)word, (uint64_t)rt, in[rt],
                   outcome_name(got), res.esr, res.far);
        return;
    }
    regs_kept(c, "sys", word, in, res);
}

// ---------------------------------------------------------------- HVC / SMC
bool forbidden_fid(uint32_t f) {
    switch (f) {
    case PSCI_SYSTEM_OFF:
    case PSCI_SYSTEM_RESET:
    case 0x84000012: case 0xC4000012: // SYSTEM_RESET2
    case 0x84000001: case 0xC4000001: // CPU_SUSPEND: only with a timer armed (op_wfi)
    case 0x8400000B:                   // CPU_FREEZE
    case 0x8400000C: case 0xC400000C: // CPU_DEFAULT_SUSPEND
    case 0x8400000E: case 0xC400000E: // SYSTEM_SUSPEND
    case PSCI_CPU_OFF:                 // vCPU 0 must stay; the worker turns off by returning
        return true;
    default: return false;
    }
}

void op_hvc(Ctx& c) {
    Rng& r = c.rng;
    uint64_t in[19];
    random_regs(r, in);
    for (int i = 1; i < 7; ++i)
        if (r.chance(30)) in[i] = r.below(4);
    uint32_t fid;
    do {
        switch (r.below(10)) {
        case 0: case 1: case 2: fid = uint32_t(HC_BASE + (r.chance(60) ? r.below(8) : r.below(0x10000))); break;
        case 3: case 4: case 5: fid = uint32_t((r.chance(50) ? 0x84000000 : 0xC4000000) + r.below(0x20)); break;
        case 6: fid = uint32_t(0x80000000 + (r.chance(50) ? r.below(4) : r.below(0x10000))); break;
        case 7: { // the Spectre workaround ids and their discovery
            static const uint32_t ids[] = {uint32_t(arch::spectre::SMCCC_ARCH_FEATURES),
                                           uint32_t(arch::spectre::SMCCC_ARCH_FEATURES),
                                           uint32_t(arch::spectre::SMCCC_ARCH_WORKAROUND_1),
                                           uint32_t(arch::spectre::SMCCC_ARCH_WORKAROUND_2),
                                           uint32_t(arch::spectre::SMCCC_ARCH_WORKAROUND_3)};
            fid = ids[r.below(5)];
            break;
        }
        default: fid = uint32_t(r.next()); break;
        }
    } while (forbidden_fid(fid));
    in[0] = (r.chance(20) ? (r.next() << 32) : 0) | fid; // upper half ignored (SMCCC: W0)
    if (fid == arch::spectre::SMCCC_ARCH_FEATURES && r.chance(70)) { // a query worth asking
        static const uint32_t q[] = {0x80000000, 0x80000001, 0x80000002, 0x80008000, 0x80007FFF, 0x80003FFF};
        in[1] = (r.chance(20) ? (r.next() << 32) : 0) | q[r.below(6)]; // SMCCC: only W1 counts
    }
    bool cpu_on = fid == PSCI_CPU_ON_32 || fid == PSCI_CPU_ON_64;
    if (cpu_on) in[1] = (2 + r.below(254)) | (r.chance(50) ? r.below(256) << 8 : 0); // never a valid vCPU
    // PUTC: a printable character, from vCPU 0 only (the worker's would land inside vCPU 0's lines)
    if (fid == HC_BASE + 4 && c.worker) fid = uint32_t(HC_BASE + 1), in[0] = fid;
    if (fid == HC_BASE + 4) in[1] = (in[1] & ~0xFFull) | uint64_t(0x21 + r.below(94));
    // HC_TEST_RESULT: only ever "pass" (0): any other value is a FAIL that cxvisor keeps for the
    // run's exit status, and this guest fails only when its model says so.
    if (fid == HC_TEST_RESULT) in[1] = 0;
    bool smc = r.chance(30);
    uint32_t imm = r.chance(85) ? 0 : uint32_t(r.below(0x10000));
    uint32_t word = (smc ? 0xD4000003 : 0xD4000002) | (imm << 5);
    Run res = exec(c, word, in, false);
    uint32_t got = res.got;
    const char* conduit = smc ? "smc" : "hvc";
    if (res.taken) {
        UNEXPECTED(c, "%s #%lx fid %lx: %s (ESR %lx)", conduit, (uint64_t)imm, (uint64_t)fid,
                   outcome_name(got), res.esr);
        return;
    }
    if (fid == HC_BASE + 4) g_dr_dirty = true;
    // Expected x0..x3 (bit set in `fixed` = must equal exp[i]).
    uint64_t exp[4] = {in[0], in[1], in[2], in[3]};
    unsigned fixed = 1;
    int64_t x0;
    switch (fid) {
    case HC_BASE + 0: exp[1] = exp[2] = exp[3] = 0, fixed = 15, x0 = (VERSION_MAJOR << 16) | VERSION_MINOR; break;
    case HC_BASE + 1: fixed = 15, x0 = 0; break;
    case HC_BASE + 2:
        exp[1] = in[1] + in[2] + in[3] + in[4] + in[5] + in[6], exp[2] = in[1] ^ in[2], exp[3] = ~in[1];
        fixed = 15, x0 = 0;
        break;
    case HC_BASE + 3: exp[1] = g_vm_id, exp[2] = c.cpu, exp[3] = 0, fixed = 15, x0 = 0; break;
    case HC_BASE + 4: fixed = 1, x0 = 0; break;
    // HC_IRQ_LINE: the chaos VMs run with interrupt_mode "no_irq", so there is no SPI to drive.
    case HC_BASE + 5: fixed = 15, x0 = CXV_INVALID; break;
    // HC_DOORBELL: the chaos VMs declare no shared-memory region, so every region index is
    // INVALID (x1..x3 come back as they were).
    case HC_DOORBELL: fixed = 15, x0 = CXV_INVALID; break;
    case HC_TEST_RESULT: fixed = 15, x0 = 0; break; // x1..x3 come back as they were
    case PSCI_VERSION: x0 = 0x10001; break;
    case SMCCC_VERSION: x0 = 0x10001; break; // 1.1
    case PSCI_MIGRATE_INFO_TYPE: x0 = 2; break;
    case PSCI_FEATURES: {
        uint32_t q = uint32_t(in[1]);
        bool known = q == PSCI_VERSION || q == PSCI_CPU_OFF || q == PSCI_CPU_ON_32 || q == PSCI_CPU_ON_64 ||
                     q == PSCI_AFFINITY_INFO_32 || q == PSCI_AFFINITY_INFO_64 || q == PSCI_SYSTEM_OFF ||
                     q == PSCI_SYSTEM_RESET || q == PSCI_FEATURES || q == PSCI_MIGRATE_INFO_TYPE ||
                     q == PSCI_CPU_SUSPEND_32 || q == PSCI_CPU_SUSPEND_64 || q == SMCCC_VERSION;
        x0 = known ? 0 : -1;
        break;
    }
    case PSCI_CPU_ON_32:
    case PSCI_CPU_ON_64: x0 = PSCI_INVALID_PARAMETERS; break;
    case arch::spectre::SMCCC_ARCH_FEATURES:
        switch (uint32_t(in[1])) {
        case arch::spectre::SMCCC_VERSION:
        case arch::spectre::SMCCC_ARCH_FEATURES: x0 = 0; break;
        case arch::spectre::SMCCC_ARCH_WORKAROUND_1: x0 = g_wa1; break;
        case arch::spectre::SMCCC_ARCH_WORKAROUND_3: x0 = g_wa3; break;
        default: x0 = -1; break;
        }
        break;
    case arch::spectre::SMCCC_ARCH_WORKAROUND_1: x0 = g_wa1 == -1 ? -1 : 0; break;
    case arch::spectre::SMCCC_ARCH_WORKAROUND_3: x0 = g_wa3 == -1 ? -1 : 0; break;
    case PSCI_AFFINITY_INFO_32:
    case PSCI_AFFINITY_INFO_64: {
        // SMC32 form: only the low 32 bits of each argument count (SMCCC 2.6)
        uint64_t mask = fid == PSCI_AFFINITY_INFO_32 ? 0xFFFFFFFFull : ~0ull;
        uint64_t mpidr = in[1] & mask;
        if ((in[2] & mask) != 0 || (mpidr & 0xFF00FFFF00ull) || (mpidr & 0xFF) >= 2) x0 = PSCI_INVALID_PARAMETERS;
        else if ((mpidr & 0xFF) == 0) x0 = 0; // vCPU 0 is on
        else fixed = 0, x0 = 0;               // vCPU 1: on, off or pending
        break;
    }
    default:
        if (fid >= HC_BASE && fid < HC_BASE + 0x10000) fixed = 1;
        x0 = -1; // NOT_SUPPORTED
        break;
    }
    exp[0] = uint64_t(x0);
    for (unsigned i = 0; i < 18; ++i) {
        bool must = i >= 4 || (fixed >> i & 1);
        if (must && res.out[i] != (i < 4 ? exp[i] : in[i])) {
            UNEXPECTED(c, "%s #%lx fid %lx (x1 %lx x2 %lx): x%lu = %lx, expected %lx", conduit,
                       (uint64_t)imm, (uint64_t)fid, in[1], in[2], (uint64_t)i, res.out[i], i < 4 ? exp[i] : in[i]);
            return;
        }
    }
}

// ---------------------------------------------------------------- WFI / hints
uint64_t cntv_ctl() {
    uint64_t v;
    asm volatile("isb\n mrs %0, cntv_ctl_el0" : "=r"(v));
    return v;
}

void op_wfi(Ctx& c) {
    Rng& r = c.rng;
    const uint64_t freq = rt::counter_freq();
    unsigned k = unsigned(r.below(5));
    uint64_t start = rt::counter();
    uint64_t delta = freq * (200 + r.below(2800)) / 1000000; // 0.2 .. 3 ms
    // Form 3: PSCI CPU_SUSPEND with any power state; cxvisor enters every state as standby (like
    // WFI) and returns SUCCESS when the timer wakes the vCPU.
    uint64_t suspend_fid = r.chance(50) ? PSCI_CPU_SUSPEND_32 : PSCI_CPU_SUSPEND_64;
    uint64_t power_state = r.next() & 0xFFFFFFFF, suspend_entry = r.next(), suspend_ctx = r.next();
    if (k == 0 || k == 3) asm volatile("msr cntv_cval_el0, %0\n msr cntv_ctl_el0, %1\n isb" ::"r"(start + delta), "r"(1ull));
    else if (k == 1) asm volatile("msr cntv_tval_el0, %0\n msr cntv_ctl_el0, %1\n isb" ::"r"(delta), "r"(1ull));
    else if (k == 2) {
        delta = 0; // already expired: WFI completes at once
        asm volatile("msr cntv_cval_el0, %0\n msr cntv_ctl_el0, %1\n isb" ::"r"(start - r.below(1000)), "r"(1ull));
    } else {
        asm volatile("sevl\n wfe\n yield\n wfe" ::: "memory"); // the event register was set by SEVL
        c.st.count(O_OK);
        return;
    }
    unsigned wfis = 0;
    bool fired = false;
    uint64_t now = start;
    int64_t suspend_ret = 0;
    while (!fired && wfis < 1000) {
        if (k == 3) {
            int64_t x0 = rt::hvc_call(suspend_fid, power_state, suspend_entry, suspend_ctx).x0;
            if (x0 != PSCI_SUCCESS) suspend_ret = x0;
        } else {
            asm volatile("dsb sy\n wfi" ::: "memory");
        }
        ++wfis;
        fired = cntv_ctl() & 4;
        now = rt::counter();
        if (now - start > freq / 5) break; // 200 ms: the timer never woke us
    }
    asm volatile("msr cntv_ctl_el0, xzr\n isb");
    c.st.count(O_OK);
    if (suspend_ret != PSCI_SUCCESS)
        UNEXPECTED(c, "CPU_SUSPEND(%lx) power state %lx returned %ld", suspend_fid, power_state, suspend_ret);
    if (!fired || now - start < delta)
        UNEXPECTED(c, "wfi (form %lu, %lu us): %s after %lu WFI and %lu us", (uint64_t)k, rt::ticks_to_us(delta),
                   (fired ? "woke early" : "timer never fired"), (uint64_t)wfis,
                   rt::ticks_to_us(now - start));
}

void op_hint(Ctx& c) {
    Rng& r = c.rng;
    unsigned n;
    bool el0 = r.chance(30);
    do n = unsigned(r.below(128));
    while (n == 3 || (el0 && n == 2)); // WFI: only with a timer armed (op_wfi); WFE traps at EL0
    uint32_t words[2] = {0xD503201F | (n << 5), 0xD503201F};
    unsigned cnt = 1;
    if (n == 2) words[0] = 0xD50320BF, words[1] = 0xD503205F, cnt = 2; // WFE after SEVL: never sleeps
    uint64_t in[19];
    random_regs(r, in);
    Run res = run(c.cpu, words, cnt, in, el0);
    uint32_t got = res.got;
    c.st.count(got);
    if (res.taken && got != O_UNDEF)
        UNEXPECTED(c, "hint #%lu: %s (ESR %lx)", (uint64_t)n, outcome_name(got), res.esr);
}

// ---------------------------------------------------------------- PSCI power operations (vCPU 0)
void worker_main(unsigned cpu);

int64_t cpu_on(uint64_t fid, uint64_t mpidr, uint64_t entry, uint64_t ctx) {
    return rt::hvc_call(fid, mpidr, entry, ctx).x0;
}

// What cxvisor's CPU_ON must answer (DEN0022 5.6; cxvisor checks the target, then the entry
// address, then the target's state). An SMC32 call uses only the low 32 bits of each argument.
// Any memory region of the VM is a valid entry, the reserved one too (an SMC32 entry's low half
// lands there now and then: soak seed 0x86c1564ca964f4ec).
bool in_vm_memory(uint64_t gpa) {
    Cls k = classify(gpa);
    return k == C_RAM || k == C_RO || k == C_NX || k == C_WO || k == C_RSV;
}
int64_t cpu_on_expect(uint64_t fid, uint64_t mpidr, uint64_t entry, bool target_off) {
    if (fid == PSCI_CPU_ON_32) mpidr &= 0xFFFFFFFF, entry &= 0xFFFFFFFF;
    if ((mpidr & 0xFF00FFFF00ull) || (mpidr & 0xFF) >= 2) return PSCI_INVALID_PARAMETERS;
    if (!in_vm_memory(entry)) return PSCI_INVALID_ADDRESS;
    return target_off ? PSCI_SUCCESS : PSCI_ALREADY_ON;
}

void op_psci(Ctx& c) {
    Rng& r = c.rng;
    uint64_t fid = r.chance(50) ? PSCI_CPU_ON_64 : PSCI_CPU_ON_32;
    int64_t ret;
    switch (r.below(6)) {
    case 0: { // vCPU 1 as a worker
        g_worker_ops = 100 + r.below(400);
        unsigned runs = g_worker_runs;
        g_worker_runs = runs + 1; // read by the new worker for its seed
        ret = rt::start_cpu(WORKER_CPU, worker_main);
        if (ret != PSCI_SUCCESS) g_worker_runs = runs;
        if (ret != PSCI_SUCCESS && ret != PSCI_ALREADY_ON && ret != PSCI_ON_PENDING)
            UNEXPECTED(c, "CPU_ON vcpu 1 (worker): %ld", ret);
        break;
    }
    case 1: { // vCPU 1 turning itself off at once (MMU off); MPIDR bits [31:24] are no affinity
        uint64_t mpidr = 1 | (1ull << 31) | (r.chance(50) ? (r.below(256) << 24) : 0);
        ret = cpu_on(fid, mpidr, reinterpret_cast<uint64_t>(chaos_off_stub), r.next());
        if (ret != PSCI_SUCCESS && ret != PSCI_ALREADY_ON && ret != PSCI_ON_PENDING)
            UNEXPECTED(c, "CPU_ON vcpu 1 (off stub): %ld", ret);
        break;
    }
    case 2: { // vCPU 1 with an entry outside the VM's memory: refused whatever its state
        uint64_t entry = r.chance(50) ? r.next() : UART + (r.below(0x1000) & ~3ull);
        if (in_vm_memory(fid == PSCI_CPU_ON_32 ? entry & 0xFFFFFFFF : entry)) entry = RAM_LO - 4;
        ret = cpu_on(fid, 1, entry, r.next());
        if (ret != PSCI_INVALID_ADDRESS && ret != PSCI_ALREADY_ON && ret != PSCI_ON_PENDING)
            UNEXPECTED(c, "CPU_ON vcpu 1 entry %lx: %ld, expected INVALID_ADDRESS", entry, ret);
        break;
    }
    case 3: { // ourselves, or no such vCPU (Aff3 only: the SMC32 form sees MPIDR 0, i.e. vCPU 0)
        uint64_t mpidr = 0, entry = r.chance(50) ? reinterpret_cast<uint64_t>(chaos_off_stub) : r.next();
        switch (r.below(4)) {
        case 0: break;
        case 1: mpidr = 2 + r.below(254); break;
        case 2: mpidr = (r.below(255) + 1) << (8 * (1 + r.below(2))); break;
        default: mpidr = (r.below(255) + 1) << 32; break;
        }
        ret = cpu_on(fid, mpidr, entry, r.next());
        int64_t want = cpu_on_expect(fid, mpidr, entry, false);
        // vCPU 0 is on: an entry outside memory may be answered either way (PSCI orders no checks)
        bool ok = ret == want || (want == PSCI_INVALID_ADDRESS && ret == PSCI_ALREADY_ON);
        if (!ok) UNEXPECTED(c, "CPU_ON(%lx) mpidr %lx entry %lx: %ld, expected %ld", fid, mpidr, entry, ret, want);
        break;
    }
    default: { // AFFINITY_INFO
        unsigned t = unsigned(r.below(3));
        ret = rt::affinity_info(t);
        if (t == 0 && ret != 0) UNEXPECTED(c, "AFFINITY_INFO(0) = %ld, expected ON", ret);
        if (t == 1 && (ret < 0 || ret > 2)) UNEXPECTED(c, "AFFINITY_INFO(1) = %ld", ret);
        if (t == 2 && ret != PSCI_INVALID_PARAMETERS) UNEXPECTED(c, "AFFINITY_INFO(2) = %ld", ret);
        break;
    }
    }
    c.st.count(O_OK);
}

// Once, near the end: vCPU 1 gets a garbage entry point inside the VM's memory and a garbage
// context. It then faults forever (its VBAR_EL1 is 0, its MMU off) or sleeps forever; cxvisor must
// contain it and stop it at SYSTEM_OFF. First, an entry outside the VM must be refused and leave
// vCPU 1 off.
const char* const garbage_names[] = {"zeroed RAM (UDF)", "a misaligned PC", "a WFI-forever stub (no timer)",
                                     "the read-only region (no X)", "the no-execute region"};
constexpr unsigned N_GARBAGE = sizeof garbage_names / sizeof garbage_names[0];
void start_garbage(Ctx& c) {
    Rng& r = c.rng;
    uint64_t t0 = rt::counter();
    while (rt::affinity_info(WORKER_CPU) != 1) { // OFF
        if (rt::counter() - t0 > rt::counter_freq() * 3) {
            UNEXPECTED(c, "vcpu 1 did not turn off within 3 s (AFFINITY_INFO %ld)", rt::affinity_info(WORKER_CPU));
            return;
        }
        rt::delay_us(200);
    }
    static const uint64_t outside[] = {RAM_LO - 0x1000, UART, RAM_HI, 0x80000000, 0xFFFFFFFFFFFFF000ull};
    uint64_t bad = outside[r.below(5)] + (r.below(0x1000) & ~3ull);
    int64_t ret = cpu_on(PSCI_CPU_ON_64, 1, bad, r.next());
    if (ret != PSCI_INVALID_ADDRESS || rt::affinity_info(WORKER_CPU) != 1)
        UNEXPECTED(c, "CPU_ON vcpu 1 entry %lx (outside the VM): %ld, AFFINITY_INFO %ld; expected INVALID_ADDRESS, OFF",
                   bad, ret, rt::affinity_info(WORKER_CPU));

    uint64_t img_end = (reinterpret_cast<uint64_t>(rt::__image_end) + 0xFFFF) & ~0xFFFFull;
    uint64_t entry;
    switch (g_garbage_kind) {
    case 0: entry = img_end + (r.below((RAM_HI - img_end) / 2) & ~3ull); break; // beyond our image (DTB is below)
    case 1: entry = img_end + 2; break;
    case 2: entry = reinterpret_cast<uint64_t>(chaos_wfi_stub); break;
    case 3: entry = RO_BASE + (r.below(XREG_SIZE) & ~3ull); break;
    default: entry = NX_BASE + (r.below(XREG_SIZE) & ~3ull); break;
    }
    rt::Range dtb = rt::dtb_range();
    if (entry >= dtb.lo && entry < dtb.hi) entry = RAM_HI - 0x1000;
    uint64_t ctx = r.next();
    ret = cpu_on(PSCI_CPU_ON_64, 1, entry, ctx);
    rt::printf("garbage CPU_ON vcpu 1: %s, entry %lx context %lx -> %ld\n", garbage_names[g_garbage_kind], entry, ctx,
               ret);
    if (ret != PSCI_SUCCESS) UNEXPECTED(c, "garbage CPU_ON returned %ld", ret);
    g_garbage_started = true;
}

// ---------------------------------------------------------------- the op mix
void one_op(Ctx& c) {
    Rng& r = c.rng;
    unsigned k = unsigned(r.below(1000));
    Kind kind;
    if (k < 380) kind = K_MEM;
    else if (k < 480) kind = K_MEM_EL0;
    else if (k < 530) kind = K_FETCH;
    else if (k < 560) kind = K_WALK;
    else if (k < 680) kind = K_MRS;
    else if (k < 760) kind = K_MSR;
    else if (k < 800) kind = K_SYS;
    else if (k < 900) kind = K_HVC;
    else if (k < 920) kind = K_PSCI;
    else if (k < 945) kind = K_WFI;
    else if (k < 970) kind = K_HINT;
    else kind = K_STATE;
    if (kind == K_PSCI && (c.worker || g_garbage_started)) kind = K_STATE;
    ++c.st.ops[kind];
    switch (kind) {
    case K_MEM: op_mem(c, false); break;
    case K_MEM_EL0: op_mem(c, true); break;
    case K_FETCH: op_fetch(c); break;
    case K_WALK: op_walk(c); break;
    case K_MRS: op_mrs(c, r.chance(15)); break;
    case K_MSR: op_msr(c); break;
    case K_SYS: op_sys(c); break;
    case K_HVC: op_hvc(c); break;
    case K_PSCI: op_psci(c); break;
    case K_WFI: op_wfi(c); break;
    case K_HINT: op_hint(c); break;
    default: op_state(c); break;
    }
}

// Two lines (cxvisor's console splits lines longer than its line buffer).
[[maybe_unused]] void print_stats(const char* what, const Stats& s) {
    chaos::print_counts(what, "ops", kind_names, s.ops, K_COUNT, "");
    chaos::print_counts(what, "outcomes", outcome_names, s.outcomes, N_OUTCOMES, ",");
    chaos::print_counts(what, "reserved region", rsv_names, s.rsv, R_COUNT, "");
}

Ctx g_ctx[rt::MAX_CPUS];

void init_ctx(Ctx& c, unsigned cpu, bool worker, uint64_t seed) {
    c = Ctx{};
    c.cpu = cpu;
    c.worker = worker;
    c.rng = Rng::seeded(seed);
}

void worker_main(unsigned cpu) {
    setup_cpu();
    Ctx& c = g_ctx[cpu];
    unsigned run = g_worker_runs - 1;
    init_ctx(c, cpu, true, g_seed ^ (0xD1B54A32D192ED03ull * (run + 1)));
    uint64_t n = g_worker_ops;
    for (c.op = 0; c.op < n; ++c.op) one_op(c);
    op_state(c);
    g_worker_stats.add(c.st);
    __atomic_add_fetch(&g_worker_failures, c.failures, __ATOMIC_RELAXED);
    rt::printf("worker vcpu %u run %u: %lu ops, %u unexpected\n", cpu, run, n, c.failures);
    __atomic_add_fetch(&g_worker_done, 1, __ATOMIC_RELEASE);
}

// ---------------------------------------------------------------- the crash variant
#if CXV_CHAOS_CRASH
[[noreturn]] void crash(Ctx& c) {
    static const char* const names[] = {"ldp x1, x2 from the UART", "stp x1, x2 to the UART",
                                        "ldxr from the UART",       "str q0 to the UART",
                                        "ldr q0 from the UART",     "ld1 {v0.16b} from the UART",
                                        "post-indexed ldr with Rt == Rn on the UART",
                                        "dc zva on the UART (Normal window)"};
    unsigned kind = CXV_CHAOS_CRASH_KIND >= 0 ? unsigned(CXV_CHAOS_CRASH_KIND) % 8 : unsigned(g_seed % 8);
    uint64_t in[19] = {};
    in[4] = UART + 0x18; // FR
    uint32_t word;
    switch (kind) {
    case 0: word = 0xA9400881; break; // ldp x1, x2, [x4]
    case 1: word = 0xA9000881; break; // stp x1, x2, [x4]
    case 2: word = 0xC85F7C81; break; // ldxr x1, [x4]
    case 3: word = 0x3D800080; break; // str q0, [x4] (an STXR without a monitor need not access memory)
    case 4: word = 0x3DC00080; break; // ldr q0, [x4]
    case 5: in[4] = UART; word = 0x4C407080; break; // ld1 {v0.16b}, [x4]
    case 6: word = 0xB8404484; break; // ldr w4, [x4], #4
    default: in[4] = map_window(c.cpu, W_NORM, UART); word = 0xD50B7424; break; // dc zva, x4
    }
    rt::printf("crash: %s (insn %08x, x4 = %lx); cxvisor must stop this VM now\n", names[kind], word, in[4]);
    Run res = run(c.cpu, &word, 1, in, false);
    rt::printf("still running after the crash instruction: %s, ESR %lx, x1 %lx\n", outcome_name(res.got), res.esr,
               res.out[1]);
    rt::fail("cxvisor did not stop the VM on an unemulatable MMIO instruction");
}
#endif

} // namespace

// Synchronous exceptions of the probes: from the EL0 excursion (its closing SVC returns to
// chaos_run_el0; anything else is recorded and skipped), from a BLR probe (recorded, back to the
// caller through x30), from an armed EL1 stub (recorded and skipped). Anything else is the
// runtime's: an unexpected exception fails the test.
extern "C" void chaos_exception(ChaosFrame* f, uint64_t kind) {
    unsigned cpu = rt::cpu_index();
    CpuExc& c = g_exc[cpu];
    bool sync = (kind & 3) == 0, from_el0 = sync && kind >= 8 && c.el0, from_el1 = sync && kind >= 4 && kind < 8;
    uint64_t esr, far;
    asm volatile("mrs %0, esr_el1" : "=r"(esr));
    asm volatile("mrs %0, far_el1" : "=r"(far));
    if (from_el0 && rt::esr_ec(esr) == 0x15) { // SVC: back to chaos_run_el0 at EL1h
        f->elr = chaos_el0_resume[cpu];
        f->spsr = 0x3C5;
        return;
    }
    if (!from_el0 && !(from_el1 && (c.fetch || c.armed))) return rt_exception(f, kind);
    c.esr = esr;
    c.far = far;
    c.count = c.count + 1;
    if (from_el1 && c.fetch) {
        c.fetch = false;
        f->elr = f->x[30];
        return;
    }
    c.armed = false;
    f->elr += 4;
}

void chaos::arch_main() {
    uint64_t mmfr0;
    asm volatile("mrs %0, id_aa64mmfr0_el1" : "=r"(mmfr0));
    static const unsigned pa[] = {32, 36, 40, 42, 44, 48, 52};
    g_pa_bits = pa[(mmfr0 & 0xF) < 7 ? (mmfr0 & 0xF) : 5];
    rt::VmInfo vm = rt::vm_info();
    g_vm_id = vm.vm_id;
    g_rsv_base = rsv_base(vm.vm_id);
    const uint64_t n_ops = CXV_CHAOS_OPS;
    g_garbage_kind = unsigned((g_seed >> 8) % N_GARBAGE);
    rt::printf("seed %lx, %lu operations, vm %lu, PA size %u bits, garbage CPU_ON: %s\n", g_seed, n_ops, vm.vm_id,
               g_pa_bits, garbage_names[g_garbage_kind]);
    rt::check(vm.ok, "HC_VM_INFO answers");
    rt::check(g_rsv_base != 0, "vm %lu has a reserved-region slot (chaos.cpp rsv_base)", vm.vm_id);
    // Stage-1 tables: the runtime's identity map of the low 4 GiB, windows added on demand.
    g_l1[0] = 0x00000000 | D_BLOCK | D_DEV | D_AF | D_PXN | D_UXN;
    g_l1[1] = 0x40000000 | D_BLOCK | D_NORM | D_AF;
    g_l1[2] = 0x80000000 | D_BLOCK | D_DEV | D_AF | D_PXN | D_UXN;
    g_l1[3] = 0xC0000000 | D_BLOCK | D_DEV | D_AF | D_PXN | D_UXN;
    setup_cpu();

    // The reserved region is there: a walk of tables in it gets the memory system's abort (DFSC
    // 0x16), not cxvisor's (DFSC 0x10, as when nothing is mapped at stage 2).
    {
        set_l1(4 + W_WALK, g_rsv_base | D_TABLE);
        uint32_t word = 0xB9400041; // ldr w1, [x2]
        uint64_t in[19] = {};
        in[2] = win_va(0, W_WALK);
        Run res = run(0, &word, 1, in, false);
        rt::check(res.taken && res.esr == 0x96000016 && res.far == in[2],
                  "reserved region at %lx: a walk of tables there gets an external abort on the walk (ESR %lx FAR %lx)",
                  g_rsv_base, res.esr, res.far);
    }

    // The models of the hardening surfaces: the ID space as first read (it must be a view
    // cxvisor's table produces, and never change), the Spectre answers as first given (they must
    // fit what CSV2 and MIDR say; arch/aarch64/spectre.hpp).
    {
        namespace idr = arch::idregs;
        namespace sp = arch::spectre;
        unsigned bad = 0;
        for (unsigned s = 0; s < idr::SLOTS; ++s) {
            uint32_t word = mrs_word(sysreg(3, 0, 0, s / 8 + 1, s % 8), 0);
            uint64_t in[19] = {};
            Run res = run(0, &word, 1, in, false);
            g_id_model[s] = res.out[0];
            if (res.taken || !idr::is_sanitised(s, g_id_model[s])) ++bad;
        }
        rt::check(bad == 0, "ID space: every register readable and a sanitised view (%u are not)", bad);
        g_wa1 = rt::hvc_call(sp::SMCCC_ARCH_FEATURES, sp::SMCCC_ARCH_WORKAROUND_1).x0;
        g_wa3 = rt::hvc_call(sp::SMCCC_ARCH_FEATURES, sp::SMCCC_ARCH_WORKAROUND_3).x0;
        uint64_t midr;
        asm volatile("mrs %0, midr_el1" : "=r"(midr));
        const uint64_t pfr0 = g_id_model[idr::AA64PFR0];
        const bool v2_safe = sp::csv2(pfr0) >= 1 || sp::contains(sp::V2_SAFE, sp::midr_part(midr));
        rt::check((v2_safe ? g_wa1 == 1 : (g_wa1 == 0 || g_wa1 == -1)) && (g_wa1 != -1 || g_wa3 == -1),
                  "SMCCC_ARCH_FEATURES: WORKAROUND_1 %ld, WORKAROUND_3 %ld fit CSV2 %u / MIDR %lx", g_wa1, g_wa3,
                  sp::csv2(pfr0), midr);
    }

    // The PL011 model starts from what the device holds now.
    g_uart = {rt::read32(UART + 0x20), rt::read32(UART + 0x24), rt::read32(UART + 0x28), rt::read32(UART + 0x2C),
              rt::read32(UART + 0x30), rt::read32(UART + 0x34), rt::read32(UART + 0x38), rt::read32(UART + 0x48)};

    Ctx& c = g_ctx[0];
    init_ctx(c, 0, false, g_seed);
    g_worker_ops = 600;
    g_worker_runs = 1;
    if (rt::start_cpu(WORKER_CPU, worker_main) != PSCI_SUCCESS) g_worker_runs = 0;

    const uint64_t garbage_at = n_ops * 85 / 100;
    uint64_t t0 = rt::counter();
    for (c.op = 0; c.op < n_ops; ++c.op) {
        if (c.op == garbage_at) start_garbage(c);
        one_op(c);
        if ((c.op + 1) % CXV_CHAOS_PROGRESS == 0) {
            if (g_dr_dirty) rt::write32(UART, '\n'), g_dr_dirty = false;
            rt::printf("progress %lu/%lu: %lu external aborts, %lu instruction aborts, %lu UNDEFs, %lu unexpected, "
                       "%lu ms\n",
                       c.op + 1, n_ops, c.st.n(O_SEA), c.st.n(O_IABT), c.st.n(O_UNDEF), (uint64_t)c.failures,
                       rt::ticks_to_us(rt::counter() - t0) / 1000);
        }
    }
    if (g_dr_dirty) rt::write32(UART, '\n'), g_dr_dirty = false;
#if CXV_CHAOS_CRASH
    crash(c);
#else
    op_state(c);
    uint64_t elapsed_ms = rt::ticks_to_us(rt::counter() - t0) / 1000;
    print_stats("vcpu 0", c.st);
    print_stats("worker", g_worker_stats);
    Stats all = c.st;
    all.add(g_worker_stats);
    rt::printf("summary: %lu ops on vcpu 0 in %lu ms, %u worker runs (%u finished), %lu external aborts, %lu "
               "instruction aborts, %lu UNDEFs taken in total\n",
               n_ops, elapsed_ms, g_worker_runs, g_worker_done, all.n(O_SEA), all.n(O_IABT), all.n(O_UNDEF));
    chaos::print_first_unexpected();
    rt::check(c.failures == 0, "vcpu 0: every operation behaved as the model says (%u unexpected)", c.failures);
    rt::check(g_worker_failures == 0, "worker: every operation behaved as the model says (%u unexpected)",
              g_worker_failures);
    rt::check(g_worker_done >= 1, "worker vcpu 1 ran at least once (%u runs finished)", g_worker_done);
    rt::check(all.n(O_SEA) > 100 && all.n(O_UNDEF) > 100 && all.n(O_IABT) > 10,
              "faults were exercised (%lu aborts, %lu UNDEFs)", all.n(O_SEA), all.n(O_UNDEF));
    bool rsv_all = true;
    for (int i = 0; i < R_COUNT; ++i) rsv_all = rsv_all && all.rsv[i] > 0;
    rt::check(rsv_all, "the reserved region saw loads, stores, fetches, walks, AT and DC (%lu %lu %lu %lu %lu %lu)",
              all.rsv[R_LOAD], all.rsv[R_STORE], all.rsv[R_FETCH], all.rsv[R_WALK], all.rsv[R_AT], all.rsv[R_DC]);
    int64_t a1 = rt::affinity_info(WORKER_CPU);
    rt::check(!g_garbage_started || a1 == 0, "vcpu 1 with the garbage entry is still on (AFFINITY_INFO %ld)", a1);
#endif
}
