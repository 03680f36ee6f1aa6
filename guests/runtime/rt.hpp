// cxvisor test-guest runtime: the few services every bare-metal test guest needs.
//
// A guest program provides `void guest_main()`; the runtime (<isa>/start.S) enters it on the boot
// vCPU with BSS zeroed and its exception vector set (aarch64: EL1, the stage-1 MMU on with an
// identity map; riscv64: VS-mode, satp bare). Returning from guest_main() is the same as calling
// rt::finish(). The generic part (rt.cpp) is built for every ISA; <isa>/ holds the ISA's part.
//
// Everything here may be called from any vCPU unless it says otherwise. Console output is
// serialised by one lock, so lines of different vCPUs never mix.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "abi/hypercall.hpp"

void guest_main();

namespace rt {

// The VM contract (configs/vms/*.toml and configs/vms/<isa>/*.toml must agree): RAM at RAM_BASE of
// RAM_SIZE bytes, the image at IMAGE_BASE, the console UART at UART_BASE (the ISA's arch.hpp). The
// guests do not parse the DTB for the RAM size: every config gives exactly 16 MiB, and this
// constant is that value.
inline constexpr uint64_t RAM_SIZE = 16ull << 20;
inline constexpr unsigned MAX_CPUS = 8;

// A cxvisor call's results: x0 the status (CXV_OK, CXV_NOT_SUPPORTED, ...), x1..x3 the values.
struct HcResult {
    int64_t x0;
    uint64_t x1, x2, x3;
};

} // namespace rt

// The ISA's part (guests/runtime/<isa>/arch.hpp): addresses, cpu_index(), counter(), cpu_relax(),
// and what only that ISA's programs use.
#include "arch.hpp"

namespace rt {

// Symbols of the linker script (guest.ld).
extern "C" char __image_start[], __image_end[];

// ---- console (the board's UART, polled: aarch64 PL011, riscv64 ns16550a) ----
void putc(char c);
void puts(const char* s); // no newline added
void printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// printf into buf (always NUL-terminated, cut at size - 1 characters).
void format(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
int try_getc(); // -1 when the receive FIFO is empty
int getc();     // polls until a character arrives

// ---- cxvisor hypercalls (src/abi/hypercall.hpp: HC_NR_*), through the ISA's conduit ----
// aarch64: HVC #0 with x0 = HC_BASE + nr (abi/smccc.hpp); riscv64: ECALL with a7 = CXV_SBI_EID,
// a6 = nr (abi/sbi.hpp). Arguments x1..x6 of the call go in x1..x6 / a0..a5; results: HcResult.
HcResult hypercall(uint64_t nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                   uint64_t a5 = 0, uint64_t a6 = 0);

// True when cxvisor's own calls work. False on a machine without cxvisor, e.g. bare QEMU.
bool hypercalls_available();

struct VmInfo {
    bool ok;          // HC_VM_INFO answered 0
    uint64_t vm_id;   // 0 when !ok
    uint64_t vcpu_id; // cpu_index() when !ok
    uint64_t resets;  // 0 when !ok
};
VmInfo vm_info();

// ---- vCPUs and power (aarch64: PSCI through HVC; riscv64: SBI HSM and SRST) ----
// Starts vCPU `cpu` (its index: MPIDR Aff0 / hart id), which enters the runtime and then calls
// fn(cpu) on its own stack; if fn returns, that vCPU stops itself. Returns the firmware status:
// CPU_START_OK, CPU_START_ALREADY (it runs), CPU_START_INVALID (no such vCPU), or another error.
int64_t start_cpu(unsigned cpu, void (*fn)(unsigned cpu));
// CPU_STATE_ON / CPU_STATE_OFF (or another firmware state) of vCPU `cpu`.
int64_t cpu_state(unsigned cpu);
[[noreturn]] void cpu_off();
[[noreturn]] void system_off();
[[noreturn]] void system_reset();
// The system-off / system-reset call itself, returning if the firmware returns (it must not).
void system_off_call();
void system_reset_call();

// ---- expected faults (the ISA's arch.hpp says what the fields are there) ----
// What the handler saw last on this CPU: syndrome, faulting address, faulting pc. `count` grows by
// one per exception taken while armed.
struct ExcRecord {
    uint64_t esr, far, elr, count;
};
// Arms this CPU: the next synchronous exception is recorded and the faulting instruction skipped
// instead of failing the test. Disarmed by that exception or by disarm_fault().
void expect_fault();
void disarm_fault();
const ExcRecord& last_exception();

// ---- fault probes (the ISA's arch.hpp says what the fields and "external abort" are there) ----
// One access with the fault handler armed. `taken` says whether an exception happened; esr/far
// are the ISA's syndrome and faulting address.
struct Probe {
    bool taken;
    uint64_t esr, far, value;
};
Probe probe_read(uint64_t addr, unsigned size);                  // size 1, 2, 4 or 8
Probe probe_write(uint64_t addr, unsigned size, uint64_t value); // size 1, 2, 4 or 8
// True if p is the abort cxvisor gives for an access to nothing (outside the VM's memory and devices).
bool is_external_abort(const Probe& p, uint64_t addr, bool write);

// ---- time ----
inline uint64_t ticks_to_us(uint64_t t) { return t * 1000000 / counter_freq(); }
void delay_us(uint64_t us);

// ---- the test protocol ----
// "TEST <name> START" ... "TEST <name> PASS" | "TEST <name> FAIL: <reason>", then SYSTEM_OFF.
void test_start(const char* name);
void test_start_quiet(const char* name); // names the test without printing START
bool check(bool ok, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned failures();
[[noreturn]] void finish(); // PASS if no check failed, else FAIL with the first failed check
[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
const char* test_name();
uint64_t boot_dtb(); // x0 (aarch64) / a1 (riscv64) at entry: the DTB address or 0
uint64_t boot_counter(); // counter() when the boot vCPU entered the runtime's C++ code
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
                cpu_relax();
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
