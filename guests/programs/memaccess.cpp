// memaccess: an MMIO access without a valid syndrome (ISS.ISV = 0), executed from each kind of
// memory region, so cxvisor must fetch the instruction from there to emulate it:
//   - lazily allocated RAM (map_type 0): isv0_access as linked into this image;
//   - identity RAM (map_type 1, 2 MiB at 0x7800_0000): a copy of it;
//   - a reserved region (map_type 2) of Normal memory: QEMU virt's second flash bank at
//     0x0400_0000 (pflash unit 1, contents built from guests/flash/memaccess-flash.S), R+X;
//   - a reserved region with DEVICE: the same flash bank's next 2 MiB at 0x0420_0000, R+X+DEVICE
//     (cxvisor reads the instruction with a Device mapping, one aligned 4-byte word).
// isv0_access (programs/memaccess-isv0.inc) stores a value to the PL011's IBRD with a post-indexed
// STR and reads it back with a pre-indexed LDR; each check wants the value back, the base register
// written back twice (+4, -4), the marker, and IBRD holding the value (the UART access happened).
// Before cxvisor had its host window it read the flash through an unmapped EL2 address: PANIC.
// Config: configs/vms/memaccess.toml; system test `memaccess-regions`.
#include "rt.hpp"

extern "C" char isv0_access[], isv0_access_end[];

namespace {
constexpr uint64_t IBRD = rt::UART_BASE + 0x24; // 16 bits, reads back what is written
constexpr uint64_t IDENT = 0x78000000;
constexpr uint64_t FLASH_NORMAL = 0x04000000, FLASH_DEVICE = 0x04200000;
constexpr uint64_t MARKER = 0xF1A5;

// Stage-1 block descriptors for a level-2 table (2 MiB each), the same attributes as start.S's
// level-1 blocks: Device-nGnRE execute-never (AttrIndx 1), and Normal WB executable (AttrIndx 2).
constexpr uint64_t L2_DEVICE = (1ull << 0) | (1ull << 2) | (1ull << 10) | (3ull << 53);
constexpr uint64_t L2_NORMAL_X = (1ull << 0) | (2ull << 2) | (3ull << 8) | (1ull << 10);

alignas(4096) uint64_t g_l2[512];

// The runtime maps the first GiB (where the UART and the flash are) as one Device, execute-never
// block. Replace it by a table that keeps the Device mapping except for the two flash windows,
// which become executable. Break-before-make (D8.16 "Using break-before-make"): invalid, TLBI,
// then the table; nothing between touches the first GiB (no printing).
void install_first_gib_table() {
    uint64_t ttbr;
    asm volatile("mrs %0, ttbr0_el1" : "=r"(ttbr));
    volatile uint64_t* l1 = reinterpret_cast<volatile uint64_t*>(ttbr & 0x0000FFFFFFFFF000ull);
    asm volatile("dsb ishst" ::: "memory");
    l1[0] = 0;
    asm volatile("dsb ishst\n tlbi vmalle1\n dsb ish\n isb" ::: "memory");
    l1[0] = reinterpret_cast<uint64_t>(g_l2) | 3; // table descriptor
    asm volatile("dsb ishst\n isb" ::: "memory");
}

[[maybe_unused]] void map_flash_executable() {
    for (uint64_t i = 0; i < 512; ++i) g_l2[i] = (i << 21) | L2_DEVICE;
    g_l2[FLASH_NORMAL >> 21] = FLASH_NORMAL | L2_NORMAL_X;
    g_l2[FLASH_DEVICE >> 21] = FLASH_DEVICE | L2_NORMAL_X;
    install_first_gib_table();
}

struct Out {
    uint64_t x0, x1, x2;
};
Out call_at(uint64_t fn, uint64_t reg, uint32_t value) {
    register uint64_t x0 asm("x0") = reg;
    register uint64_t x1 asm("x1") = value;
    register uint64_t x2 asm("x2");
    asm volatile("blr %3" : "+r"(x0), "+r"(x1), "=r"(x2) : "r"(fn) : "x9", "x30", "memory");
    return {x0, x1, x2};
}

void exercise(const char* where, uint64_t fn, uint32_t value) {
    rt::write32(IBRD, 0);
    Out o = call_at(fn, IBRD, value);
    uint32_t now = rt::read32(IBRD);
    // Short enough for one console line: x0 == value, x1 == IBRD, x2 == marker, IBRD == value.
    rt::check(o.x0 == value && o.x1 == IBRD && o.x2 == MARKER && now == value,
              "ISV=0 from %s: x0=%lx x1=%lx x2=%lx IBRD=%x", where, o.x0, o.x1, o.x2, now);
}

// Identity RAM: copy the code there and make it visible to instruction fetches (D7.5.2: clean the
// data cache to the point of unification, invalidate the instruction cache).
void copy_code_to_identity_ram() {
    const uint64_t n = uint64_t(isv0_access_end - isv0_access);
    for (uint64_t i = 0; i < n; i += 4)
        rt::write32(IDENT + i, *reinterpret_cast<const uint32_t*>(isv0_access + i));
    for (uint64_t a = IDENT; a < IDENT + n; a += 16) asm volatile("dc cvau, %0" ::"r"(a) : "memory");
    asm volatile("dsb ish\n ic iallu\n dsb ish\n isb" ::: "memory");
}

[[maybe_unused]] bool same_code(uint64_t at) {
    const uint64_t n = uint64_t(isv0_access_end - isv0_access);
    for (uint64_t i = 0; i < n; i += 4)
        if (rt::read32(at + i) != *reinterpret_cast<const uint32_t*>(isv0_access + i)) return false;
    return true;
}
} // namespace

#ifdef CXV_MEMACCESS_HOLE
// memaccess-hole: make cxvisor read the instruction from a hole in the physical address map. The
// guest's own fetch cannot go there (it would abort), but cxvisor translates the PC afresh (AT
// S1E1R) while the CPU may still use a cached translation: VA HOLE_VA first maps the code copy in
// identity RAM and runs it once (the TLB now holds VA -> that RAM), then its stage-1 entry is
// pointed at the reserved region over QEMU virt's empty platform-bus window WITHOUT a TLBI
// (architecturally the old translation may stay in use: D8.16 "TLB maintenance requirements").
// QEMU keeps it, so the access traps and cxvisor's fetch for decoding reads the hole. The memory
// system answers with an external abort at EL2: before the guarded host-window copy, PANIC; now
// the instruction is unreadable and the VM is stopped with a line that says so.
constexpr uint64_t HOLE_VA = 0x0C000000, HOLE_PA = 0x0C000000;

void hole_main() {
    rt::test_start("memaccess-hole");
    copy_code_to_identity_ram();
    for (uint64_t i = 0; i < 512; ++i) g_l2[i] = (i << 21) | L2_DEVICE;
    g_l2[HOLE_VA >> 21] = IDENT | L2_NORMAL_X;
    install_first_gib_table();
    exercise("identity RAM through VA c000000", HOLE_VA, 0x5555);
    rt::printf("memaccess-hole: retargeting VA %lx to the hole at %lx without TLBI\n", HOLE_VA, HOLE_PA);
    call_at(HOLE_VA, IBRD, 0x6666); // warm the translation again after printing
    g_l2[HOLE_VA >> 21] = HOLE_PA | L2_NORMAL_X;
    asm volatile("dsb ishst\n isb" ::: "memory");
    call_at(HOLE_VA, IBRD, 0x7777);
    rt::printf("memaccess-hole: still running after the access (the VM should have been stopped)\n");
    rt::finish();
}
#endif

void guest_main() {
#ifdef CXV_MEMACCESS_HOLE
    hole_main();
#else
    rt::test_start("memaccess");

    exercise("lazy RAM (type 0)", uint64_t(isv0_access), 0x1111);

    copy_code_to_identity_ram();
    exercise("identity RAM (type 1)", IDENT, 0x2222);

    map_flash_executable();
    bool normal_ok = rt::check(same_code(FLASH_NORMAL), "flash at %lx holds isv0_access (pflash unit 1 given?)",
                               FLASH_NORMAL);
    bool device_ok = rt::check(same_code(FLASH_DEVICE), "flash at %lx holds isv0_access", FLASH_DEVICE);
    if (normal_ok) exercise("flash, Normal (type 2)", FLASH_NORMAL, 0x3333);
    if (device_ok) exercise("flash, DEVICE (type 2)", FLASH_DEVICE, 0x4444);
    rt::finish();
#endif
}
