// The loongarch64 side of the host bring-up (kernel/host_platform.hpp) on QEMU's LoongArch virt
// board without firmware: the board's DTB (boot_info.hpp) for cores, console, PCH-PIC and fw_cfg,
// fw_cfg's etc/memmap for RAM, the 16550 console, CSR.CPUID as the CPU id, the image's ELF header
// for its size, cxvisor's paging (mmu.cpp), the interrupt controllers and timer (intc.cpp), the IPI
// mail buffers to start parked cores, and the GED's sleep register to power off.
#include "kernel/host_platform.hpp"
#include "arch.hpp"
#include "arch_vcpu.hpp"
#include "asm_offsets.hpp"
#include "base/format.hpp"
#include "boot_info.hpp"
#include "drivers/ns16550_console.hpp"
#include "intc.hpp"
#include "kernel/frames.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "lvz.hpp"
#include "mmu.hpp"
#include <stddef.h>

extern "C" u64 cxv_image_size;
extern "C" void cxv_la_core_start();

static_assert(offsetof(PerCpu, guest_regs) == PERCPU_GUEST_REGS && offsetof(PerCpu, host_sp) == PERCPU_HOST_SP &&
              offsetof(PerCpu, id) == PERCPU_ID && offsetof(PerCpu, stack_top) == PERCPU_STACK_TOP &&
              offsetof(PerCpu, hw_id) == PERCPU_HW_ID);
static_assert(sizeof(PerCpu) == PERCPU_SIZE && MAX_CPUS == PERCPU_COUNT);

namespace arch {

namespace {

// QEMU virt's board facts that its DTB does not state (QEMU 7.2 hw/loongarch/virt.c and
// include/hw/loongarch/virt.h): the console's PCH-PIC line (VIRT_UART_IRQ - PCH_PIC_IRQ_OFFSET)
// when the serial node has no `interrupts`, and the ACPI GED's register block
// (VIRT_GED_REG_ADDR), whose byte 0 is the sleep control register (ACPI 6.4, 4.8.3.7) that ACPI
// describes and the DTB does not.
constexpr u32 BOARD_UART_PIC_LINE = 2;
constexpr u64 BOARD_GED_SLEEP_CTL = 0x100E001C;
constexpr u8 SLP_TYP_S5 = 5, SLP_EN = 1u << 5;

LaPlatformInfo g_info; // for host_irq_init
u32 g_cpucfg2;

// fw_cfg over MMIO (QEMU docs/specs/fw_cfg.rst): a big-endian 16-bit selector at +8, then the
// item's bytes from the data register at +0, one per read. Read in direct address mode.
struct FwCfg {
    u64 base;
    void select(u16 key) const { *reinterpret_cast<volatile u16*>(base + 8) = u16(key >> 8 | key << 8); }
    u8 byte() const { return *reinterpret_cast<volatile u8*>(base); }
    u32 be32() const {
        u32 v = 0;
        for (int i = 0; i < 4; ++i) v = v << 8 | byte();
        return v;
    }
    // The directory (key 0x19): a big-endian count, then {be32 size, be16 key, be16, name[56]}.
    bool find(const char* name, u16* key, u32* size) const {
        select(0x19);
        const u32 n = be32();
        for (u32 i = 0; i < n; ++i) {
            const u32 sz = be32();
            const u16 k = u16(byte() << 8 | byte());
            byte(), byte();
            char file[56];
            for (char& c : file) c = char(byte());
            file[55] = 0;
            if (strcmp(file, name) == 0) {
                *key = k, *size = sz;
                return true;
            }
        }
        return false;
    }
};

Result<void> read_ram(const LaPlatformInfo& info, LaPlatformInfo& out, const char** what) {
    const FwCfg fw{info.fw_cfg.base.value()};
    u16 key;
    u32 size;
    u8 buf[LA_MEMMAP_ENTRY * 16];
    if (!fw.find("etc/memmap", &key, &size)) {
        *what = "RAM: no /memory in the DTB and no etc/memmap in fw_cfg";
        return Error::NotFound;
    }
    if (size > sizeof buf) {
        *what = "RAM: fw_cfg etc/memmap has more than 16 entries";
        return Error::BadFormat;
    }
    fw.select(key);
    for (u32 i = 0; i < size; ++i) buf[i] = fw.byte();
    if (auto r = la_memmap_ram(buf, size, out); r.is_error()) {
        *what = "RAM: fw_cfg etc/memmap";
        return r;
    }
    return {};
}

} // namespace

Result<void> host_discover(const Fdt& fdt, HostPlatform& out, const char** what) {
    g_info = TRY(read_la_platform(fdt, this_cpu_hw_id(), what));
    console_init(ns16550_console(g_info.uart.mmio.base.value(), 0, 1));
    // The DTB may describe RAM (a firmware that adds /memory); QEMU 7.2's does not: fw_cfg.
    DtHostReader reader{fdt, nullptr};
    if (reader.read_memory(g_info).is_error()) TRY(read_ram(g_info, g_info, what));
    TRY(reader.read_reserved(g_info));
    // Physical page 0 stays zero for good: an empty directory entry of cxvisor's tables is 0, and
    // the refill walk then reads page 0 (page_format.hpp).
    if (g_info.reserved_count == DtHostInfo::kMaxReserved) {
        *what = "reserved ranges (more than 15, page 0 included)";
        return Error::NoMemory;
    }
    g_info.reserved[g_info.reserved_count++] = {HostPhysAddr(0), FRAME_SIZE};

    // The stable counter's rate (LA Vol. 1 2.2.10.5, table 2-12): CPUCFG4 is the crystal's
    // frequency, CPUCFG5 [15:0] its multiplier and [31:16] its divisor.
    const u32 cc = la::cpucfg(4), cfg5 = la::cpucfg(5);
    const u32 mul = cfg5 & 0xFFFF, div = cfg5 >> 16;
    if (cc == 0 || mul == 0 || div == 0) {
        *what = "the stable counter's frequency (CPUCFG4/5)";
        return Error::BadFormat;
    }
    g_counter_hz = u64(cc) * mul / div;
    g_cpucfg2 = la::cpucfg(2);

    host_platform_take_dt(out, g_info);
    out.cpu_count = g_info.cpu_count;
    out.cpus_truncated = g_info.cpus_truncated;
    for (u32 i = 0; i < g_info.cpu_count; ++i) out.cpu_hw_id[i] = g_info.cpu_id[i];
    out.devices[out.device_count++] = g_info.pch_pic;
    out.devices[out.device_count++] = g_info.uart.mmio;
    out.devices[out.device_count++] = {HostPhysAddr(align_down(BOARD_GED_SLEEP_CTL, FRAME_SIZE)), FRAME_SIZE};
    out.timer_irq = IRQ_TIMER;
    out.vcpu_timer_irq = 0; // no guests yet
    out.console_irq = g_info.uart.has_pic_line ? g_info.uart.pic_line : BOARD_UART_PIC_LINE;
    out.kick_irq = IRQ_IPI;
    format(out.summary, sizeof out.summary, "EIOINTC + PCH-PIC at %lx, console at %lx, counter %lu MHz, %s",
           g_info.pch_pic.base.value(), g_info.uart.mmio.base.value(), g_counter_hz / 1'000'000,
           (g_cpucfg2 & CPUCFG2_LVZ) ? "LVZ" : "no LVZ");
    return {};
}

// CSR.CPUID (LA Vol. 1 chapter 7, "CPUID"): the core number the DTB's cpu reg and the IPI registers use.
u64 this_cpu_hw_id() { return la::csr_read<la::CSR_CPUID>() & 0x1FF; }

// The ELF header's p_memsz (boot.S): the memory footprint, BSS (and a VM package) included.
u64 boot_image_size() { return cxv_image_size; }

Result<void> host_mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count) {
    // Page 0 (reserved above) is zeroed here, while the core still runs in direct address mode.
    u64 zero_page = 0;
    asm volatile("" : "+r"(zero_page)); // an address, not a null pointer
    zero_and_clean(reinterpret_cast<void*>(zero_page), FRAME_SIZE);
    return mmu_init(p, extra, extra_count);
}

void host_cpu_early() { mmu_enable_secondary(); }

Result<void> host_irq_init(const HostPlatform&) {
    kprint("cxvisor: loongarch64: %s\n", lvz_boot_line(g_cpucfg2));
    return intc_init(g_info.pch_pic.base.value());
}

namespace {

// Waits (in wfi(), as the scheduler does) until ESTAT.IS[bit] is pending or `limit` passes.
bool wait_pending(u32 bit, u64 limit) {
    while (!(la::csr_read<la::CSR_ESTAT>() & (1u << bit))) {
        if (counter() >= limit) return false;
        wfi();
    }
    return true;
}

// Each core checks once that its constant timer and an IPI to itself really end an IDLE through
// ESTAT and ECFG (what cxvisor's timer queue and kicks rely on); the boot core says so, a core
// where either fails says which. Nothing else runs on the core yet: the interrupts are consumed
// here (TICLR, the IPI status), not dispatched.
void check_timer_and_ipi() {
    const u64 hz = counter_frequency(), start = counter(), limit = start + hz; // a loaded host: 1 s
    timer_set_deadline(start + hz / 1000);
    const bool timer = wait_pending(la::IS_TIMER, limit);
    const i64 late_us = i64((counter() - start) * 1'000'000 / hz) - 1000;
    timer_stop();
    send_ipi(this_cpu_hw_id());
    const bool ipi = wait_pending(la::IS_IPI, limit + hz);
    la::iocsr_write32(IOCSR_IPI_CLEAR, la::iocsr_read32(IOCSR_IPI_STATUS));
    if (!timer || !ipi)
        kprint("cxvisor: loongarch64: CPU %lu: timers and kicks do not work (constant timer %s, IPI %s)\n",
               this_cpu().id, timer ? "yes" : "no", ipi ? "yes" : "no");
    else if (this_cpu().id == 0)
        kprint("cxvisor: loongarch64: the constant timer interrupts (taken %ld us after a 1 ms deadline) and so do IPIs\n",
               late_us);
}

} // namespace

void host_cpu_init(const HostPlatform& p) {
    timer_stop(); // no deadline yet
    irq_cpu_init();
    irq_enable(p.timer_irq, true);
    irq_enable(p.kick_irq, true);
    check_timer_and_ipi();
    virt_cpu_init();
}

u32 dt_device_irq(const Fdt&, FdtNode) { return 0; }

// A parked core (boot.S park, or QEMU's own boot ROM) waits for mail buffer 0 and jumps there:
// to cxv_la_core_start, which takes the entry and its argument from buffers 2 and 1. Each 32-bit
// half goes in one MBUF_SEND (3A5000 manual 10.4: [63:32] data, [31] wait for completion, [25:16]
// the core, [4:2] which 32-bit word of its buffers); buffer 0 last, then the IPI that wakes it.
Result<void> start_cpu(u64 hw_id, u64 entry, u64 arg) {
    auto mail = [hw_id](u32 buffer, u64 data) {
        for (u32 half : {1u, 0u})
            la::iocsr_write64(IOCSR_MBUF_SEND,
                              u64(u32(data >> (32 * half))) << 32 | (1ull << 31) | hw_id << 16 | u64(buffer * 2 + half) << 2);
    };
    la::dbar(); // the PerCpu the core reads at arg before the mail that names it
    // QEMU 8 and later start a -kernel ELF's other cores in a boot ROM that clears mail buffer 0
    // when it begins, and a core whose thread has not run yet (a loaded host) clears a start sent
    // before that: the core then never leaves the ROM. So the start is sent again until the core
    // says it is up (`arg` is its PerCpu: vmm/main.cpp start_secondaries), for a bounded time;
    // the caller reports a core that never comes up. Sending it again is harmless: the same
    // values, and an IPI a started core treats as a kick.
    const PerCpu* cpu = reinterpret_cast<const PerCpu*>(arg);
    const u64 freq = counter_frequency(), end = counter() + freq / 5; // 200 ms
    do {
        mail(1, arg);
        mail(2, entry);
        mail(0, u64(cxv_la_core_start));
        send_ipi(hw_id);
        const u64 next = counter() + freq / 500; // 2 ms
        while (!cpu->online.load() && counter() < next) cpu_relax();
    } while (!cpu->online.load() && counter() < end);
    return {};
}

void system_off() {
    *reinterpret_cast<volatile u8*>(BOARD_GED_SLEEP_CTL) = u8(SLP_TYP_S5 << 2 | SLP_EN);
    // The write asks for the power-off; the machine may take a moment to act on it (QEMU's main
    // loop, not the CPU, carries it out): a second before saying it did not.
    const u64 end = counter() + counter_frequency();
    while (counter() < end) cpu_relax();
}

} // namespace arch
