// Multiboot and ACPI parsers (boot_info.hpp). Every read goes through PhysReader with its length
// checked first, and every length a table states is checked against its header before its
// entries are read: a malformed table is refused with a message, never read past its end.
#include "boot_info.hpp"

namespace arch {

namespace {

u16 le16(const u8* p) { return u16(p[0] | p[1] << 8); }
u32 le32(const u8* p) { return u32(p[0]) | u32(p[1]) << 8 | u32(p[2]) << 16 | u32(p[3]) << 24; }
u64 le64(const u8* p) { return u64(le32(p)) | u64(le32(p + 4)) << 32; }

bool sums_to_zero(const u8* p, u64 n) {
    u8 s = 0;
    for (u64 i = 0; i < n; ++i) s = u8(s + p[i]);
    return s == 0;
}

// Multiboot 0.6.96, 3.3: the fields this reads.
constexpr u32 MBI_FLAG_CMDLINE = 1u << 2, MBI_FLAG_MMAP = 1u << 6;
constexpr u64 MBI_CMDLINE = 16, MBI_MMAP_LENGTH = 44, MBI_MMAP_ADDR = 48, MBI_SIZE = 52;
constexpr u32 MMAP_TYPE_RAM = 1;
constexpr u64 PAGE = 4096; // RAM is handed to the 4 KiB frame allocator

} // namespace

Result<MultibootInfo> multiboot_parse(PhysReader mem, u64 info, const char** what) {
    const u8* mbi = info ? mem.at(info, MBI_SIZE) : nullptr;
    if (!mbi) {
        *what = "no Multiboot information (cxvisor must be started by a Multiboot loader, e.g. QEMU -kernel)";
        return Error::BadFormat;
    }
    const u32 flags = le32(mbi);
    if (!(flags & MBI_FLAG_MMAP)) {
        *what = "the Multiboot information has no memory map (flags bit 6)";
        return Error::BadFormat;
    }
    MultibootInfo out;
    if (flags & MBI_FLAG_CMDLINE) out.cmdline = le32(mbi + MBI_CMDLINE);
    const u64 length = le32(mbi + MBI_MMAP_LENGTH), addr = le32(mbi + MBI_MMAP_ADDR);
    const u8* map = mem.at(addr, length);
    if (!map) {
        *what = "the Multiboot memory map lies outside readable memory";
        return Error::BadFormat;
    }
    // Entries: u32 size (of what follows it), u64 base, u64 length, u32 type (3.3, "mmap_*").
    for (u64 off = 0; off < length;) {
        if (length - off < 4 || le32(map + off) < 20 || length - off - 4 < le32(map + off)) {
            *what = "a Multiboot memory map entry runs past the map's end";
            return Error::BadFormat;
        }
        const u8* e = map + off + 4;
        off += 4 + le32(map + off);
        if (le32(e + 16) != MMAP_TYPE_RAM) continue;
        u64 base = le64(e), end = base + le64(e + 8);
        if (end < base) end = ~u64(0); // wraps: clamp
        if (base < LOW_MEMORY_END) base = LOW_MEMORY_END;
        base = align_up(base, PAGE);
        end = align_down(end, PAGE);
        if (end <= base) continue;
        if (out.ram_count == MultibootInfo::kMaxRam) {
            out.ram_truncated = true;
            continue;
        }
        out.ram[out.ram_count++] = {HostPhysAddr(base), end - base};
    }
    if (!out.ram_count) {
        *what = "the Multiboot memory map lists no usable RAM above 1 MiB";
        return Error::BadFormat;
    }
    return out;
}

namespace {

// RSDP (5.2.5.3): "RSD PTR ", checksum over the first 20 bytes; revision >= 2 adds the length,
// the XSDT address and an extended checksum over all 36 bytes.
bool rsdp_valid(const u8* p) {
    for (u32 i = 0; i < 8; ++i)
        if (p[i] != u8("RSD PTR "[i])) return false;
    if (!sums_to_zero(p, 20)) return false;
    return p[15] < 2 || sums_to_zero(p, 36);
}

Result<u64> scan(PhysReader mem, u64 base, u64 len) {
    const u8* p = mem.at(base, len);
    if (!p) return Error::NotFound;
    for (u64 off = 0; off + 36 <= len; off += 16)
        if (rsdp_valid(p + off)) return base + off;
    return Error::NotFound;
}

// One system description table (5.2.6 "System Description Table Header"): its whole length
// readable and its checksum zero. Null otherwise.
const u8* table_at(PhysReader mem, u64 pa, u32* length) {
    const u8* h = mem.at(pa, 36);
    if (!h) return nullptr;
    const u32 len = le32(h + 4);
    if (len < 36) return nullptr;
    const u8* t = mem.at(pa, len);
    if (!t || !sums_to_zero(t, len)) return nullptr;
    *length = len;
    return t;
}

bool signature_is(const u8* t, const char* sig) {
    return t[0] == u8(sig[0]) && t[1] == u8(sig[1]) && t[2] == u8(sig[2]) && t[3] == u8(sig[3]);
}

Result<void> parse_madt(const u8* t, u32 len, AcpiInfo& out, const char** what) {
    if (len < 44) {
        *what = "the MADT is shorter than its fixed fields";
        return Error::BadFormat;
    }
    out.lapic_base = le32(t + 36);
    for (u32 off = 44; off < len;) {
        const u8 type = t[off];
        const u32 elen = len - off >= 2 ? t[off + 1] : 0;
        if (elen < 2 || elen > len - off) {
            *what = "a MADT entry runs past the table's end";
            return Error::BadFormat;
        }
        const u8* e = t + off;
        off += elen;
        auto add_cpu = [&](u32 apic_id, u32 flags, bool x2) {
            if (!(flags & 3)) return; // neither enabled nor online capable (5.2.12.2, table 5.23)
            for (u32 i = 0; i < out.cpu_count; ++i)
                if (out.cpus[i].apic_id == apic_id) return; // listed as both LAPIC and x2APIC
            if (out.cpu_count == AcpiInfo::kMaxCpus) {
                out.cpus_truncated = true;
                return;
            }
            out.cpus[out.cpu_count++] = {apic_id, x2};
        };
        switch (type) {
        case 0: // Processor Local APIC (5.2.12.2)
            if (elen >= 8) add_cpu(e[3], le32(e + 4), false);
            break;
        case 1: // I/O APIC (5.2.12.3)
            if (elen >= 12 && out.ioapic_count < AcpiInfo::kMaxIoApics)
                out.ioapics[out.ioapic_count++] = {e[2], le32(e + 4), le32(e + 8)};
            break;
        case 2: // Interrupt Source Override (5.2.12.5), bus 0 = ISA
            if (elen >= 10 && e[2] == 0 && out.override_count < AcpiInfo::kMaxOverrides)
                out.overrides[out.override_count++] = {e[3], le32(e + 4), le16(e + 8)};
            break;
        case 5: // Local APIC Address Override (5.2.12.8)
            if (elen >= 12) out.lapic_base = le64(e + 4);
            break;
        case 9: // Processor Local x2APIC (5.2.12.12)
            if (elen >= 16) add_cpu(le32(e + 4), le32(e + 8), true);
            break;
        default: break; // NMI sources, GIC entries, ...: nothing cxvisor uses
        }
    }
    if (!out.cpu_count) {
        *what = "the MADT lists no enabled processor";
        return Error::BadFormat;
    }
    if (!out.ioapic_count) {
        *what = "the MADT lists no I/O APIC";
        return Error::BadFormat;
    }
    return {};
}

// \_S5 in the DSDT's AML (ACPI 6.5, 20.2 "AML Grammar"): NameOp "_S5_" PackageOp PkgLength
// NumElements, then SLP_TYPa as a ByteConst (0x0A nn), ZeroOp (0x00), OneOp (0x01) or a bare
// byte. The name can sit behind a scope prefix ('\\' or '^'), which the search for "_S5_" skips.
void find_s5(const u8* t, u32 len, AcpiInfo& out) {
    for (u32 i = 36; i + 4 + 1 + 1 + 1 + 2 <= len; ++i) {
        if (!(t[i] == '_' && t[i + 1] == 'S' && t[i + 2] == '5' && t[i + 3] == '_')) continue;
        if (i == 0 || (t[i - 1] != 0x08 && !(t[i - 1] == '\\' && i >= 2 && t[i - 2] == 0x08))) continue; // NameOp
        u32 p = i + 4;
        if (t[p++] != 0x12) continue; // PackageOp
        p += 1 + (t[p] >> 6);        // PkgLength: bits 7:6 of the lead byte = following bytes
        p += 1;                      // NumElements
        if (p >= len) return;
        if (t[p] == 0x0A) {
            if (p + 1 >= len) return;
            out.s5_slp_typ = t[p + 1];
        } else if (t[p] == 0x00 || t[p] == 0x01) {
            out.s5_slp_typ = t[p];
        } else {
            continue;
        }
        out.s5_found = true;
        return;
    }
}

void parse_fadt(PhysReader mem, const u8* t, u32 len, AcpiInfo& out) {
    if (len >= 68) out.pm1a_cnt = u16(le32(t + 64)); // PM1a_CNT_BLK (5.2.9, table 5.9)
    u64 dsdt = len >= 44 ? le32(t + 40) : 0;
    if (len >= 148 && le64(t + 140)) dsdt = le64(t + 140); // X_DSDT
    u32 dlen = 0;
    if (const u8* d = dsdt ? table_at(mem, dsdt, &dlen) : nullptr; d && signature_is(d, "DSDT")) find_s5(d, dlen, out);
}

} // namespace

Result<u64> acpi_find_rsdp(PhysReader mem) {
    // 5.2.5.1: the first KiB of the EBDA, whose segment is the word at 0x40E, then the BIOS
    // read-only area 0xE0000-0xFFFFF.
    if (const u8* bda = mem.at(0x40E, 2)) {
        const u64 ebda = u64(le16(bda)) << 4;
        if (ebda >= 0x400 && ebda < LOW_MEMORY_END)
            if (auto r = scan(mem, ebda, 1024); r.is_ok()) return r;
    }
    return scan(mem, 0xE0000, 0x20000);
}

Result<AcpiInfo> acpi_parse(PhysReader mem, u64 rsdp_pa, const char** what) {
    const u8* rsdp = mem.at(rsdp_pa, 36);
    if (!rsdp || !rsdp_valid(rsdp)) {
        *what = "the ACPI RSDP is not valid";
        return Error::BadFormat;
    }
    const bool xsdt = rsdp[15] >= 2 && le64(rsdp + 24);
    u32 len = 0;
    const u8* root = table_at(mem, xsdt ? le64(rsdp + 24) : le32(rsdp + 16), &len);
    if (!root || !signature_is(root, xsdt ? "XSDT" : "RSDT")) {
        *what = xsdt ? "the ACPI XSDT is not valid" : "the ACPI RSDT is not valid";
        return Error::BadFormat;
    }
    AcpiInfo out;
    bool madt = false;
    const u32 entry = xsdt ? 8 : 4;
    for (u32 off = 36; off + entry <= len; off += entry) {
        const u64 pa = xsdt ? le64(root + off) : le32(root + off);
        u32 tlen = 0;
        const u8* t = table_at(mem, pa, &tlen);
        if (!t) continue; // a table we cannot read is one we do not use
        if (signature_is(t, "APIC") && !madt) {
            TRY(parse_madt(t, tlen, out, what));
            madt = true;
        } else if (signature_is(t, "FACP")) {
            parse_fadt(mem, t, tlen, out);
        }
    }
    if (!madt) {
        *what = "the ACPI tables have no valid MADT (APIC)";
        return Error::NotFound;
    }
    return out;
}

GsiRoute acpi_isa_irq(const AcpiInfo& info, u8 irq) {
    for (u32 i = 0; i < info.override_count; ++i) {
        const auto& o = info.overrides[i];
        if (o.irq != irq) continue;
        // MPS INTI flags: polarity bits 1:0 (01 high, 11 low), trigger bits 3:2 (01 edge, 11
        // level); 00 "conforms to the bus" = ISA: edge, active high.
        return {o.gsi, ((o.flags >> 2) & 3) == 3, (o.flags & 3) == 3};
    }
    return {irq, false, false};
}

} // namespace arch
