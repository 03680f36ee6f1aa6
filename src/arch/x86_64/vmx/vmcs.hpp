// The VMCS as data (Intel SDM vol. 3C, Order Number 326019-067, May 2018): the field encodings
// VMREAD and VMWRITE take (appendix B "Field Encoding in VMCS"), each checked at compile time against
// the structure of an encoding (24.11.2 "VMREAD, VMWRITE, and Encodings of VMCS Fields", its table:
// bit 0 access type, bits 9:1 index, bits 11:10 type, bit 12 reserved, bits 14:13 width, bits 31:15
// reserved), and the VMXON/VMCS regions (24.2 "Format of the VMCS Region", 24.11.5 "VMXON Region").
// Pure: no VMREAD here (the backend's accessors take a VmcsField); the host unit tests check the
// table and the region rules (tests/unit/arch/x86_vmx_vmcs_test.cpp).
#pragma once
#include "base/result.hpp"
#include "base/types.hpp"
#include "caps.hpp"

namespace arch::vmx {

// Bits 14:13 of an encoding.
enum class VmcsWidth : u8 { Bits16 = 0, Bits64 = 1, Bits32 = 2, Natural = 3 };
// Bits 11:10 of an encoding. ExitInfo is the read-only "VM-exit information" type.
enum class VmcsType : u8 { Control = 0, ExitInfo = 1, Guest = 2, Host = 3 };

// Every field cxvisor's VMX backend touches, once: name, encoding, width, type (appendix B tables
// B-1 to B-15). The enum, the table (for dumps and checks) and the compile-time checks below are all
// generated from this list, so an encoding cannot disagree with the width or type it is listed with.
#define CXV_VMCS_FIELDS(X)                                                                          \
    /* B.1.1 16-bit control */                                                                      \
    X(VPID, 0x0000, Bits16, Control)                                                                \
    /* B.1.2 16-bit guest state */                                                                  \
    X(GUEST_ES_SELECTOR, 0x0800, Bits16, Guest) X(GUEST_CS_SELECTOR, 0x0802, Bits16, Guest)           \
    X(GUEST_SS_SELECTOR, 0x0804, Bits16, Guest) X(GUEST_DS_SELECTOR, 0x0806, Bits16, Guest)           \
    X(GUEST_FS_SELECTOR, 0x0808, Bits16, Guest) X(GUEST_GS_SELECTOR, 0x080A, Bits16, Guest)           \
    X(GUEST_LDTR_SELECTOR, 0x080C, Bits16, Guest) X(GUEST_TR_SELECTOR, 0x080E, Bits16, Guest)         \
    /* B.1.3 16-bit host state */                                                                   \
    X(HOST_ES_SELECTOR, 0x0C00, Bits16, Host) X(HOST_CS_SELECTOR, 0x0C02, Bits16, Host)               \
    X(HOST_SS_SELECTOR, 0x0C04, Bits16, Host) X(HOST_DS_SELECTOR, 0x0C06, Bits16, Host)               \
    X(HOST_FS_SELECTOR, 0x0C08, Bits16, Host) X(HOST_GS_SELECTOR, 0x0C0A, Bits16, Host)               \
    X(HOST_TR_SELECTOR, 0x0C0C, Bits16, Host)                                                       \
    /* B.2.1 64-bit control */                                                                      \
    X(IO_BITMAP_A, 0x2000, Bits64, Control) X(IO_BITMAP_B, 0x2002, Bits64, Control)                   \
    X(MSR_BITMAP, 0x2004, Bits64, Control) X(EXIT_MSR_STORE_ADDR, 0x2006, Bits64, Control)            \
    X(EXIT_MSR_LOAD_ADDR, 0x2008, Bits64, Control) X(ENTRY_MSR_LOAD_ADDR, 0x200A, Bits64, Control)    \
    X(TSC_OFFSET, 0x2010, Bits64, Control) X(VIRTUAL_APIC_PAGE_ADDR, 0x2012, Bits64, Control)         \
    X(APIC_ACCESS_ADDR, 0x2014, Bits64, Control) X(EPT_POINTER, 0x201A, Bits64, Control)              \
    /* B.2.2 64-bit read-only data */                                                               \
    X(GUEST_PHYSICAL_ADDRESS, 0x2400, Bits64, ExitInfo)                                             \
    /* B.2.3 64-bit guest state */                                                                  \
    X(VMCS_LINK_POINTER, 0x2800, Bits64, Guest) X(GUEST_IA32_DEBUGCTL, 0x2802, Bits64, Guest)         \
    X(GUEST_IA32_PAT, 0x2804, Bits64, Guest) X(GUEST_IA32_EFER, 0x2806, Bits64, Guest)                \
    X(GUEST_PDPTE0, 0x280A, Bits64, Guest) X(GUEST_PDPTE1, 0x280C, Bits64, Guest)                     \
    X(GUEST_PDPTE2, 0x280E, Bits64, Guest) X(GUEST_PDPTE3, 0x2810, Bits64, Guest)                     \
    /* B.2.4 64-bit host state */                                                                   \
    X(HOST_IA32_PAT, 0x2C00, Bits64, Host) X(HOST_IA32_EFER, 0x2C02, Bits64, Host)                    \
    /* B.3.1 32-bit control */                                                                      \
    X(PIN_BASED_CONTROLS, 0x4000, Bits32, Control) X(PROC_BASED_CONTROLS, 0x4002, Bits32, Control)    \
    X(EXCEPTION_BITMAP, 0x4004, Bits32, Control) X(PAGE_FAULT_ERROR_MASK, 0x4006, Bits32, Control)    \
    X(PAGE_FAULT_ERROR_MATCH, 0x4008, Bits32, Control) X(CR3_TARGET_COUNT, 0x400A, Bits32, Control)   \
    X(EXIT_CONTROLS, 0x400C, Bits32, Control) X(EXIT_MSR_STORE_COUNT, 0x400E, Bits32, Control)        \
    X(EXIT_MSR_LOAD_COUNT, 0x4010, Bits32, Control) X(ENTRY_CONTROLS, 0x4012, Bits32, Control)        \
    X(ENTRY_MSR_LOAD_COUNT, 0x4014, Bits32, Control) X(ENTRY_INTERRUPTION_INFO, 0x4016, Bits32, Control) \
    X(ENTRY_EXCEPTION_ERROR_CODE, 0x4018, Bits32, Control)                                          \
    X(ENTRY_INSTRUCTION_LENGTH, 0x401A, Bits32, Control) X(TPR_THRESHOLD, 0x401C, Bits32, Control)    \
    X(SECONDARY_PROC_BASED_CONTROLS, 0x401E, Bits32, Control)                                       \
    /* B.3.2 32-bit read-only data */                                                               \
    X(VM_INSTRUCTION_ERROR, 0x4400, Bits32, ExitInfo) X(EXIT_REASON, 0x4402, Bits32, ExitInfo)        \
    X(EXIT_INTERRUPTION_INFO, 0x4404, Bits32, ExitInfo)                                             \
    X(EXIT_INTERRUPTION_ERROR_CODE, 0x4406, Bits32, ExitInfo)                                       \
    X(IDT_VECTORING_INFO, 0x4408, Bits32, ExitInfo) X(IDT_VECTORING_ERROR_CODE, 0x440A, Bits32, ExitInfo) \
    X(EXIT_INSTRUCTION_LENGTH, 0x440C, Bits32, ExitInfo)                                            \
    X(EXIT_INSTRUCTION_INFO, 0x440E, Bits32, ExitInfo)                                              \
    /* B.3.3 32-bit guest state */                                                                  \
    X(GUEST_ES_LIMIT, 0x4800, Bits32, Guest) X(GUEST_CS_LIMIT, 0x4802, Bits32, Guest)                 \
    X(GUEST_SS_LIMIT, 0x4804, Bits32, Guest) X(GUEST_DS_LIMIT, 0x4806, Bits32, Guest)                 \
    X(GUEST_FS_LIMIT, 0x4808, Bits32, Guest) X(GUEST_GS_LIMIT, 0x480A, Bits32, Guest)                 \
    X(GUEST_LDTR_LIMIT, 0x480C, Bits32, Guest) X(GUEST_TR_LIMIT, 0x480E, Bits32, Guest)               \
    X(GUEST_GDTR_LIMIT, 0x4810, Bits32, Guest) X(GUEST_IDTR_LIMIT, 0x4812, Bits32, Guest)             \
    X(GUEST_ES_ACCESS_RIGHTS, 0x4814, Bits32, Guest) X(GUEST_CS_ACCESS_RIGHTS, 0x4816, Bits32, Guest) \
    X(GUEST_SS_ACCESS_RIGHTS, 0x4818, Bits32, Guest) X(GUEST_DS_ACCESS_RIGHTS, 0x481A, Bits32, Guest) \
    X(GUEST_FS_ACCESS_RIGHTS, 0x481C, Bits32, Guest) X(GUEST_GS_ACCESS_RIGHTS, 0x481E, Bits32, Guest) \
    X(GUEST_LDTR_ACCESS_RIGHTS, 0x4820, Bits32, Guest) X(GUEST_TR_ACCESS_RIGHTS, 0x4822, Bits32, Guest) \
    X(GUEST_INTERRUPTIBILITY_STATE, 0x4824, Bits32, Guest) X(GUEST_ACTIVITY_STATE, 0x4826, Bits32, Guest) \
    X(GUEST_SYSENTER_CS, 0x482A, Bits32, Guest)                                                     \
    /* B.3.4 32-bit host state */                                                                   \
    X(HOST_IA32_SYSENTER_CS, 0x4C00, Bits32, Host)                                                  \
    /* B.4.1 natural-width control */                                                               \
    X(CR0_GUEST_HOST_MASK, 0x6000, Natural, Control) X(CR4_GUEST_HOST_MASK, 0x6002, Natural, Control) \
    X(CR0_READ_SHADOW, 0x6004, Natural, Control) X(CR4_READ_SHADOW, 0x6006, Natural, Control)         \
    /* B.4.2 natural-width read-only data */                                                        \
    X(EXIT_QUALIFICATION, 0x6400, Natural, ExitInfo) X(GUEST_LINEAR_ADDRESS, 0x640A, Natural, ExitInfo) \
    /* B.4.3 natural-width guest state */                                                           \
    X(GUEST_CR0, 0x6800, Natural, Guest) X(GUEST_CR3, 0x6802, Natural, Guest)                         \
    X(GUEST_CR4, 0x6804, Natural, Guest) X(GUEST_ES_BASE, 0x6806, Natural, Guest)                     \
    X(GUEST_CS_BASE, 0x6808, Natural, Guest) X(GUEST_SS_BASE, 0x680A, Natural, Guest)                 \
    X(GUEST_DS_BASE, 0x680C, Natural, Guest) X(GUEST_FS_BASE, 0x680E, Natural, Guest)                 \
    X(GUEST_GS_BASE, 0x6810, Natural, Guest) X(GUEST_LDTR_BASE, 0x6812, Natural, Guest)               \
    X(GUEST_TR_BASE, 0x6814, Natural, Guest) X(GUEST_GDTR_BASE, 0x6816, Natural, Guest)               \
    X(GUEST_IDTR_BASE, 0x6818, Natural, Guest) X(GUEST_DR7, 0x681A, Natural, Guest)                   \
    X(GUEST_RSP, 0x681C, Natural, Guest) X(GUEST_RIP, 0x681E, Natural, Guest)                         \
    X(GUEST_RFLAGS, 0x6820, Natural, Guest) X(GUEST_PENDING_DEBUG_EXCEPTIONS, 0x6822, Natural, Guest) \
    X(GUEST_SYSENTER_ESP, 0x6824, Natural, Guest) X(GUEST_SYSENTER_EIP, 0x6826, Natural, Guest)       \
    /* B.4.4 natural-width host state */                                                            \
    X(HOST_CR0, 0x6C00, Natural, Host) X(HOST_CR3, 0x6C02, Natural, Host)                             \
    X(HOST_CR4, 0x6C04, Natural, Host) X(HOST_FS_BASE, 0x6C06, Natural, Host)                         \
    X(HOST_GS_BASE, 0x6C08, Natural, Host) X(HOST_TR_BASE, 0x6C0A, Natural, Host)                     \
    X(HOST_GDTR_BASE, 0x6C0C, Natural, Host) X(HOST_IDTR_BASE, 0x6C0E, Natural, Host)                 \
    X(HOST_IA32_SYSENTER_ESP, 0x6C10, Natural, Host) X(HOST_IA32_SYSENTER_EIP, 0x6C12, Natural, Host) \
    X(HOST_RSP, 0x6C14, Natural, Host) X(HOST_RIP, 0x6C16, Natural, Host)

enum class VmcsField : u32 {
#define CXV_VMCS_ENUM(name, enc, width, type) name = enc,
    CXV_VMCS_FIELDS(CXV_VMCS_ENUM)
#undef CXV_VMCS_ENUM
};

struct VmcsFieldInfo {
    VmcsField field;
    VmcsWidth width;
    VmcsType type;
    const char* name;
};
inline constexpr VmcsFieldInfo VMCS_FIELDS[] = {
#define CXV_VMCS_INFO(name, enc, width, type) {VmcsField::name, VmcsWidth::width, VmcsType::type, #name},
    CXV_VMCS_FIELDS(CXV_VMCS_INFO)
#undef CXV_VMCS_INFO
};

// The parts of an encoding (24.11.2).
constexpr u32 encoding(VmcsField f) { return u32(f); }
constexpr bool encoding_high_access(u32 e) { return e & 1; }
constexpr u32 encoding_index(u32 e) { return (e >> 1) & 0x1FF; }
constexpr VmcsType encoding_type(u32 e) { return VmcsType((e >> 10) & 3); }
constexpr VmcsWidth encoding_width(u32 e) { return VmcsWidth((e >> 13) & 3); }
// A full-access encoding whose bits say `width` and `type`, with the reserved bits (12, 31:15) clear.
constexpr bool encoding_is(u32 e, VmcsWidth width, VmcsType type) {
    return !encoding_high_access(e) && (e & bit(12)) == 0 && (e >> 15) == 0 && encoding_width(e) == width &&
           encoding_type(e) == type;
}
// The "high" encoding of a 64-bit field (its bits 63:32, for VMREAD/VMWRITE outside 64-bit mode).
// Only 64-bit fields have one (24.11.2).
template <VmcsField F> constexpr u32 high_part() {
    static_assert(encoding_width(u32(F)) == VmcsWidth::Bits64, "only 64-bit VMCS fields have a high part");
    return u32(F) | 1;
}
// Bytes a field holds in 64-bit mode (natural width = 64 bits there).
constexpr u32 width_bytes(VmcsWidth w) { return w == VmcsWidth::Bits16 ? 2 : w == VmcsWidth::Bits32 ? 4 : 8; }

// Each listed field, checked by name: a typo in an encoding fails the build here, naming the field.
#define CXV_VMCS_CHECK(name, enc, width, type)                                                      \
    static_assert(encoding_is(enc, VmcsWidth::width, VmcsType::type),                              \
                  "VMCS field " #name ": encoding bits 0, 12, 14:13, 11:10 or 31:15 disagree with its width/type");
CXV_VMCS_FIELDS(CXV_VMCS_CHECK)
#undef CXV_VMCS_CHECK

constexpr bool vmcs_encodings_unique() {
    for (usize i = 0; i < sizeof VMCS_FIELDS / sizeof VMCS_FIELDS[0]; ++i)
        for (usize j = i + 1; j < sizeof VMCS_FIELDS / sizeof VMCS_FIELDS[0]; ++j)
            if (VMCS_FIELDS[i].field == VMCS_FIELDS[j].field) return false;
    return true;
}
static_assert(vmcs_encodings_unique(), "two VMCS fields share an encoding");

// The field's table entry (null for an encoding the table does not list), for dumps and messages.
constexpr const VmcsFieldInfo* vmcs_field_info(u32 enc) {
    for (const VmcsFieldInfo& f : VMCS_FIELDS)
        if (encoding(f.field) == enc) return &f;
    return nullptr;
}

// The first 32-bit word of a VMXON or VMCS region (24.2, Table 24-1): bits 30:0 the revision
// identifier from IA32_VMX_BASIC, bit 31 the shadow-VMCS indicator (0 for an ordinary VMCS, and
// always 0 for the VMXON region, 24.11.5). The next word is the VMX-abort indicator, which the CPU
// writes; the rest is the CPU's own.
constexpr u32 region_header(u32 revision, bool shadow) { return (revision & 0x7FFF'FFFF) | (shadow ? 0x8000'0000u : 0); }

// Prepares a VMXON or VMCS region at host-physical `pa` (mapped at `region`, `room` bytes of it
// available) for a CPU with `basic` (A.1): checks size, alignment, address width and memory type,
// zeroes the region and writes the header. Unsupported / InvalidArgument with *what saying which
// rule a region or CPU breaks:
// - the region is region_size bytes (at most 4 KiB) and 4 KiB aligned (24.11.5, 30.3 VMPTRLD);
// - with IA32_VMX_BASIC bit 48 it must lie below 4 GiB;
// - the CPU accesses it with the memory type of bits 53:50, which must be write-back: cxvisor
//   maps its RAM write-back (A.1: the other encodings are reserved or uncacheable on old CPUs).
Result<void> prepare_region(void* region, usize room, u64 pa, const VmxBasic& basic, const char** what);

} // namespace arch::vmx
