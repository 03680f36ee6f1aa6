// The x86 instructions guests use to reach device registers, decoded from their bytes for MMIO
// emulation on a nested page fault: QEMU's SVM has no decode assists and no nRIP (AMD64 APM vol.
// 2 rev. 3.42, 15.33 "Decode Assists"; x86-svm-notes.md 9), so cxvisor reads the instruction at
// the guest's RIP and decodes it itself. Encodings from APM vol. 3 rev. 3.36: 1.2 "Instruction
// Prefixes", 1.4 "ModRM and SIB Bytes", 1.8 "REX Prefix"; MOV (88, 89, 8A, 8B, C6 /0, C7 /0) and
// MOVZX/MOVSX (0F B6, 0F B7, 0F BE, 0F BF). Everything else is Error::Unsupported: cxvisor stops
// the VM rather than guess. Pure functions: unit-tested on the host (tests/unit/arch).
#pragma once
#include "addrspace/addr.hpp"
#include "arch_mmio.hpp"
#include "base/result.hpp"

namespace arch {

struct X86Decoded {
    MmioInsn insn;
    u8 width = 0;      // bytes of the memory access: 1, 2, 4 or 8
    bool is_write = false;
};

// `bytes` holds `count` bytes from the instruction's first byte (at most 15 are ever read).
// long_mode: 64-bit code (CS.L = 1; REX prefixes exist); else 32-bit (CS.D = 1) or 16-bit code
// (default_16) gives the default operand size.
Result<X86Decoded> x86_decode_mov(const u8* bytes, usize count, bool long_mode, bool default_16 = false);

// The guest's translation of a linear address, as the CPU's walk does it (APM vol. 2, 5.3 "Long-Mode
// Page Translation"; paging off: linear = physical), reading the guest's tables through `mem`
// (guest-physical). Only paging off and 4-level long mode are walked; 32-bit paging and PAE
// without long mode are Unsupported. NotMapped: a non-present entry on the way.
// Reads guest-physical memory (the vCPU passes the generic GuestMemoryReader through; a plain
// pair here so that the decoder and its tests need no vCPU headers).
struct GuestPhysRead {
    Result<void> (*read)(void* ctx, GuestPhysAddr gpa, void* out, usize size);
    void* ctx;
};
struct GuestPaging {
    bool paging = false; // CR0.PG
    bool long_mode = false; // EFER.LMA
    u64 cr3 = 0;
    // CR4.LA57: 5-level paging, the root a PML5. A guest can set it wherever the CPU has LA57 (its
    // CPUID view hides the bit, but neither SVM nor VMX's CR4 fixed bits stop the write), so the
    // walk must follow it.
    bool la57 = false;
};
Result<u64> x86_guest_translate(const GuestPaging& p, u64 linear, GuestPhysRead mem);
// Reads up to `size` bytes of instruction at `linear` (a page crossing translates both pages);
// returns how many were read: fewer only when the second page does not translate.
Result<usize> x86_fetch_instruction(const GuestPaging& p, u64 linear, u8* out, usize size, GuestPhysRead mem);

} // namespace arch
