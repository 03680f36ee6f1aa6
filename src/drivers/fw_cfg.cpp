#include "drivers/fw_cfg.hpp"
#include "arch.hpp"
#include "base/string.hpp"
#include "fdt/dma_capable.hpp"
#include "kernel/spinlock.hpp"

namespace fw_cfg {
namespace {

// Register offsets of the MMIO form and the DMA interface (fw_cfg.rst, "Register Locations",
// "Guest-side DMA Interface").
constexpr u64 kDmaAddress = 16;
constexpr u64 kWindow = 0x18;
constexpr u32 kDmaSignatureHi = 0x51454d55, kDmaSignatureLo = 0x20434647; // "QEMU CFG"
constexpr u32 kCtlError = 1u << 0, kCtlRead = 1u << 1, kCtlSkip = 1u << 2, kCtlSelect = 1u << 3;
constexpr u16 kKeyId = 0x0001, kKeyFileDir = 0x0019; // the feature bitmap; the file directory
constexpr u32 kIdDma = 1u << 1;
// QEMU completes a transfer before the write that starts it returns; a device that leaves the
// control word busy this many reads later is treated as failed rather than waited on forever.
constexpr u32 kPollLimit = 1u << 20;

// Byte swaps by shifts: __builtin_bswap* becomes a libgcc call on ISAs without a byte-swap
// instruction (riscv64 without Zbb), and the image links no libgcc.
constexpr u32 bswap32(u32 v) { return v >> 24 | (v >> 8 & 0xFF00) | (v << 8 & 0xFF'0000) | v << 24; }
constexpr u64 bswap64(u64 v) { return u64(bswap32(u32(v))) << 32 | bswap32(u32(v >> 32)); }
constexpr u16 bswap16(u16 v) { return u16(v >> 8 | v << 8); }

struct alignas(16) DmaAccess {
    u32 control; // big-endian, as are the others
    u32 length;
    u64 address;
};
struct DirEntry { // FWCfgFile
    u32 size;     // big-endian
    u16 select;   // big-endian
    u16 reserved;
    char name[56];
};
static_assert(sizeof(DirEntry) == 64);

DmaAccess g_dma;
DirEntry g_entry;
u32 g_word;
uptr g_base; // the register window (identity-mapped once cxvisor's MMU is on)
Spinlock g_lock;

void write32(uptr a, u32 v) { *reinterpret_cast<volatile u32*>(a) = v; }
u32 read32(uptr a) { return *reinterpret_cast<volatile const u32*>(a); }

// One DMA operation; the caller holds g_lock, or runs alone at boot.
Result<void> transfer(u32 control, u32 length, u64 address) {
    volatile DmaAccess& d = g_dma;
    d.control = bswap32(control);
    d.length = bswap32(length);
    d.address = bswap64(address);
    arch::dma_barrier(); // the descriptor before the write that hands it to the device
    const u64 pa = u64(&g_dma);
    write32(g_base + kDmaAddress, bswap32(u32(pa >> 32)));
    write32(g_base + kDmaAddress + 4, bswap32(u32(pa)));
    for (u32 i = 0; i < kPollLimit; ++i) {
        const u32 c = bswap32(d.control);
        if (c & kCtlError) return Error::DeviceError;
        if (c == 0) {
            arch::dma_barrier(); // what the device wrote, before the caller reads it
            return {};
        }
        arch::cpu_relax();
    }
    return Error::DeviceError;
}

// Reads `len` bytes of item `key` from `offset` into `dst`.
Result<void> read_item(u16 key, u64 offset, u64 dst, u32 len) {
    if (offset > 0xFFFF'FFFFu) return Error::OutOfRange; // items are at most 4 GiB (a 32-bit size)
    TRY(transfer(u32(key) << 16 | kCtlSelect | kCtlSkip, u32(offset), 0));
    return transfer(kCtlRead, len, dst);
}

} // namespace

Probe probe(const Fdt& fdt) {
    auto n = fdt.find_compatible("qemu,fw-cfg-mmio");
    if (n.is_error() || !fdt.is_enabled(n.value())) return {};
    auto reg = fdt.reg(n.value());
    if (reg.is_error() || reg.value().count() == 0) return {};
    const FdtRange r = reg.value()[0];
    auto base = fdt.translate(n.value(), r.base);
    if (base.is_error() || r.size < kWindow) return {};
    return {true, {HostPhysAddr(base.value()), r.size}, dt_dma_coherent(fdt, n.value(), arch::DMA_COHERENT_BY_DEFAULT)};
}

Result<File> open(const Probe& p, const char* name) {
    if (!p.found) return Error::NotFound;
    if (!p.dma_coherent) return Error::Unsupported;
    g_base = uptr(p.mmio.base.value());
    // Reading the DMA address register gives the signature when the interface is there.
    if (bswap32(read32(g_base + kDmaAddress)) != kDmaSignatureHi ||
        bswap32(read32(g_base + kDmaAddress + 4)) != kDmaSignatureLo)
        return Error::Unsupported;
    TRY(read_item(kKeyId, 0, u64(&g_word), 4));
    if (!(g_word & kIdDma)) return Error::Unsupported; // the bitmap is little-endian
    TRY(read_item(kKeyFileDir, 0, u64(&g_word), 4));
    const u32 count = bswap32(g_word);
    for (u32 i = 0; i < count; ++i) {
        TRY(read_item(kKeyFileDir, 4 + u64(i) * sizeof(DirEntry), u64(&g_entry), sizeof(DirEntry)));
        g_entry.name[sizeof g_entry.name - 1] = 0;
        if (strcmp(g_entry.name, name) == 0)
            return File(bswap16(g_entry.select), bswap32(g_entry.size));
    }
    return Error::NotFound;
}

Result<void> File::read_at_boot(u64 offset, HostPhysAddr dst, usize len) {
    if (offset > m_size || len > m_size - offset) return Error::OutOfRange;
    // One operation moves at most 4 GiB - 1 (a 32-bit length); images are far smaller, but a
    // caller may ask for more.
    for (usize done = 0; done < len;) {
        const u32 chunk = len - done < 0x8000'0000u ? u32(len - done) : 0x8000'0000u;
        TRY(read_item(m_key, offset + done, dst.value() + done, chunk));
        done += chunk;
    }
    return {};
}

Result<void> File::read(u64 offset, HostPhysAddr dst, usize len) {
    SpinlockGuard guard(g_lock);
    return read_at_boot(offset, dst, len);
}

} // namespace fw_cfg
