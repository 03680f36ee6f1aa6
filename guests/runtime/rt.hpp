// cxvisor test-guest runtime: the few services every bare-metal test guest needs.
//
// A guest program provides `void guest_main()`; the runtime (start.S) enters it on the boot vCPU at
// EL1 with the stage-1 MMU on (identity map, see start.S), BSS zeroed and VBAR_EL1 set. Returning
// from guest_main() is the same as calling rt::finish().
//
// Everything here may be called from any vCPU unless it says otherwise. Console output is
// serialised by one lock, so lines of different vCPUs never mix.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "abi/smccc.hpp"

void guest_main();

namespace rt {

// The VM contract (configs/vms/*.toml must agree): RAM at 0x4000_0000 of RAM_SIZE bytes, image at
// 0x4008_0000, an emulated PL011 at 0x0900_0000. The guests do not parse the DTB for the RAM size:
// every config gives exactly 16 MiB, and this constant is that value.
inline constexpr uint64_t RAM_BASE = 0x40000000;
inline constexpr uint64_t RAM_SIZE = 16ull << 20;
inline constexpr uint64_t UART_BASE = 0x09000000;
inline constexpr unsigned MAX_CPUS = 8;

// Symbols of the linker script (guest.ld).
extern "C" char __image_start[], __image_end[];

// ---- console (PL011, polled) ----
void putc(char c);
void puts(const char* s); // no newline added
void printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// printf into buf (always NUL-terminated, cut at size - 1 characters).
void format(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
int try_getc(); // -1 when the receive FIFO is empty
int getc();     // polls FR.RXFE until a character arrives

// ---- SMCCC / hypercalls (hvc #0) ----
struct HvcResult {
    int64_t x0;
    uint64_t x1, x2, x3;
};

inline HvcResult hvc_call(uint64_t id, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                          uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0) {
    register uint64_t x0 asm("x0") = id;
    register uint64_t x1 asm("x1") = a1;
    register uint64_t x2 asm("x2") = a2;
    register uint64_t x3 asm("x3") = a3;
    register uint64_t x4 asm("x4") = a4;
    register uint64_t x5 asm("x5") = a5;
    register uint64_t x6 asm("x6") = a6;
    // SMCCC 1.0 lets the callee corrupt x4..x17; 1.1+ preserves them. Assume the older rule.
    asm volatile("hvc #0"
                 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6)
                 :
                 : "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
                   "memory");
    return {static_cast<int64_t>(x0), x1, x2, x3};
}

// True when cxvisor's own calls work (HC_VERSION does not raise UNDEF). False on a machine without
// cxvisor, e.g. bare QEMU, whose HVC handles only PSCI.
bool hypercalls_available();

struct VmInfo {
    bool ok;          // HC_VM_INFO answered 0
    uint64_t vm_id;   // 0 when !ok
    uint64_t vcpu_id; // cpu_index() when !ok
    uint64_t resets;  // 0 when !ok
};
VmInfo vm_info();

// ---- PSCI (conduit hvc). Target MPIDR: Aff0 = vCPU index. ----
int64_t psci_version();
int64_t psci_features(uint32_t function_id);
int64_t affinity_info(unsigned cpu);
// CPU_ON for vCPU `cpu`, which starts in the runtime and then calls fn(cpu) on its own stack.
// Returns the PSCI status. If fn returns, that vCPU calls CPU_OFF.
int64_t start_cpu(unsigned cpu, void (*fn)(unsigned cpu));
int64_t cpu_on_raw(uint64_t mpidr, uint64_t entry, uint64_t context_id);
[[noreturn]] void cpu_off();
[[noreturn]] void system_off();
[[noreturn]] void system_reset();

// ---- per-CPU and time ----
inline unsigned cpu_index() {
    uint64_t v;
    asm volatile("mrs %0, tpidr_el1" : "=r"(v));
    return static_cast<unsigned>(v);
}
inline uint64_t counter() { // CNTVCT_EL0; the ISB keeps the read from being hoisted
    uint64_t v;
    asm volatile("isb\n mrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}
inline uint64_t counter_freq() {
    uint64_t v;
    asm volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}
inline uint64_t ticks_to_us(uint64_t t) { return t * 1000000 / counter_freq(); }
void delay_us(uint64_t us);

// ---- exceptions ----
// What the handler saw last on this CPU. `count` grows by one per exception taken.
struct ExcRecord {
    uint64_t esr, far, elr, count;
};
inline uint32_t esr_ec(uint64_t esr) { return static_cast<uint32_t>(esr >> 26) & 0x3f; }
inline uint32_t esr_dfsc(uint64_t esr) { return static_cast<uint32_t>(esr) & 0x3f; }
inline constexpr uint32_t EC_UNKNOWN = 0x00;
inline constexpr uint32_t EC_DABT_CUR = 0x25;
inline constexpr uint32_t DFSC_SEA = 0x10; // synchronous external abort, not on a table walk

// Arms this CPU: the next synchronous exception is recorded and the faulting instruction skipped
// (ELR += 4) instead of failing the test. Disarmed by that exception or by disarm_fault().
void expect_fault();
void disarm_fault();
const ExcRecord& last_exception();

// One access with the fault handler armed. `taken` says whether an exception happened.
struct Probe {
    bool taken;
    uint64_t esr, far, value;
};
Probe probe_read(uint64_t addr, unsigned size);                  // size 1, 2, 4 or 8
Probe probe_write(uint64_t addr, unsigned size, uint64_t value); // size 1, 2, 4 or 8
// True if p is a synchronous external data abort at the current EL (EC 0x25, DFSC 0x10), with
// FAR == addr when ESR.FnV says FAR is valid, and WnR matching `write`.
bool is_external_abort(const Probe& p, uint64_t addr, bool write);
// A test check: a 4-byte read of `addr` (described by `what`) must raise an external abort.
void check_read_aborts(uint64_t addr, const char* what);

// ---- the test protocol ----
// "TEST <name> START" ... "TEST <name> PASS" | "TEST <name> FAIL: <reason>", then SYSTEM_OFF.
void test_start(const char* name);
void test_start_quiet(const char* name); // names the test without printing START
bool check(bool ok, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned failures();
[[noreturn]] void finish(); // PASS if no check failed, else FAIL with the first failed check
[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
const char* test_name();
uint64_t boot_dtb(); // x0 at entry (DTB address or 0)
uint64_t boot_counter(); // CNTVCT_EL0 when the boot vCPU entered the runtime's C++ code
struct Range {
    uint64_t lo, hi; // [lo, hi)
};
// The 4 KiB-rounded extent of the DTB cxvisor passed in x0, if it lies in RAM and has the FDT
// magic; {0, 0} otherwise. Tests that scribble over RAM stay out of it.
Range dtb_range();

// ---- SMP ----
class Spinlock {
public:
    void lock() {
        while (__atomic_exchange_n(&m_locked, 1u, __ATOMIC_ACQUIRE) != 0)
            while (__atomic_load_n(&m_locked, __ATOMIC_RELAXED) != 0)
                asm volatile("yield");
    }
    void unlock() { __atomic_store_n(&m_locked, 0u, __ATOMIC_RELEASE); }

private:
    uint32_t m_locked = 0;
};

// ---- MMIO ----
inline uint32_t read32(uint64_t a) { return *reinterpret_cast<volatile uint32_t*>(a); }
inline void write32(uint64_t a, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(a) = v; }
inline uint8_t read8(uint64_t a) { return *reinterpret_cast<volatile uint8_t*>(a); }
inline void write8(uint64_t a, uint8_t v) { *reinterpret_cast<volatile uint8_t*>(a) = v; }
inline uint64_t read64(uint64_t a) { return *reinterpret_cast<volatile uint64_t*>(a); }
inline void write64(uint64_t a, uint64_t v) { *reinterpret_cast<volatile uint64_t*>(a) = v; }

} // namespace rt
