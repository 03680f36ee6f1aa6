// Decoding a guest's trapped access from a riscv64 guest-page fault (scause 20/21/23): the
// faulting guest-physical address, what htinst says about the access, and the trapping load or
// store itself when htinst does not say (QEMU 7.2 always leaves htinst 0; real harts may too).
// All functions are pure: any CPU, no locks; the host unit tests check them
// (tests/unit/arch/rv_mmio_decode_test.cpp).
//
// RISC-V Privileged Spec 20211203: 8.6.3 "Transformed Instruction or Pseudoinstruction for mtinst
// or htinst", 8.2.8 htval, 8.6.4 "Trap Cause Codes" (guest-page faults). RISC-V Unprivileged Spec
// 20191213: 2.6 "Load and Store Instructions" (RV32I), 5.3 (RV64I LWU/LD/SD), 16.3 "Load and Store
// Instructions" of the "C" extension and 16.8 "RVC Instruction Set Listings".
#pragma once
#include "base/types.hpp"

namespace arch::rv {

// scause values of the traps a guest's accesses cause in HS-mode (Priv 8.6.4, Table 8.7).
inline constexpr u64 CauseInstGuestPageFault = 20;
inline constexpr u64 CauseLoadGuestPageFault = 21;
inline constexpr u64 CauseVirtualInstruction = 22;
inline constexpr u64 CauseStoreGuestPageFault = 23;

// The guest-physical address of a guest-page fault (Priv 20211203, 8.2.8 htval): htval holds it
// shifted right by 2, the two low bits are those of the guest-virtual address in stval. But htval
// "is written with either zero or the guest physical address that faulted", and is WARL: a hart
// may leave it 0 for any fault (QEMU fills it; real harts need not), so 0 does not mean GPA 0.
// Then the GPA is known only where the hardware did no VS-stage translation: vsatp.MODE = Bare
// (8.2.12 vsatp, 4.1.11 satp MODE) makes the guest-virtual address in stval (hstatus.GVA = 1:
// stval holds one, 8.2.1) the guest-physical one; for a GPA of 0-3 that is exactly right too.
// Under VS-stage translation the GPA (of the access, or of the guest page-table entry the walk
// read) could only come from walking the guest's tables in software, which cxvisor does not do:
// `known` is false and the caller stops the VM (re-executing would fault the same way for ever).
struct FaultGpa {
    bool known = false;
    u64 gpa = 0;
};
inline constexpr u64 VSATP_MODE_SHIFT = 60; // RV64 vsatp/satp MODE [63:60], 0 = Bare
constexpr FaultGpa fault_gpa(u64 htval, u64 stval, bool gva, u64 vsatp) {
    if (htval != 0) return {true, htval << 2 | (stval & 3)};
    if (gva && (vsatp >> VSATP_MODE_SHIFT) == 0) return {true, stval};
    return {};
}

// Bytes of the instruction whose first 16-bit parcel is `lo`: 2 for compressed (bits[1:0] != 11),
// 4 for the base 32-bit encoding, 0 for the longer encodings (bits[4:2] = 111), which no load or
// store uses (Unprivileged 1.5 "Base Instruction-Length Encoding").
constexpr u32 insn_length(u16 lo) { return (lo & 3) != 3 ? 2 : (lo & 0x1c) != 0x1c ? 4 : 0; }

// One decoded guest load or store to emulate.
struct RvAccess {
    bool is_write = false;
    u8 width = 0;             // bytes: 1, 2, 4, 8
    bool sign_extend = false; // LB/LH/LW (and C.LW/C.LWSP): sign-extend the value to 64 bits
    u8 reg = 0;               // x register: a load's rd, a store's rs2; x0 reads 0, a load to it is discarded
    u8 length = 4;            // bytes of the instruction: 2 for compressed forms
};

// What the decoder made of an instruction word or an htinst value.
struct RvDecode {
    enum class Kind : u8 {
        Access,     // a load or store: `access`
        Stage1Walk, // htinst pseudoinstruction: the hart was walking the guest's own (VS-stage)
                    // page tables; walk_write: it was updating A/D bits
        Fetch,      // htinst gives no transformed instruction: fetch the instruction at sepc
        Rejected,   // not something cxvisor emulates: `reason` says what it is
    };
    Kind kind = Kind::Rejected;
    RvAccess access{};
    bool walk_write = false;
    const char* reason = nullptr;
};

// Decodes a trapping instruction: `insn` holds 4 bytes read at sepc (only the low 16 bits matter
// for a compressed instruction). Loads and stores of RV64I (LB/LH/LW/LD/LBU/LHU/LWU, SB/SH/SW/SD)
// and of C (C.LW/C.LD/C.SW/C.SD with their 3-bit registers x8-x15, C.LWSP/C.LDSP/C.SWSP/C.SDSP);
// everything else (floating-point loads/stores, AMOs and LR/SC, Zcb, longer encodings) is
// Rejected with a reason, so the caller can stop the VM naming the word.
RvDecode decode_load_store(u32 insn);

// Interprets htinst at a guest-page fault (Priv 8.6.3): 0 (or a custom value, bit 0 clear and not
// a pseudoinstruction) → Fetch; a transformed load/store (bit 0 set; bit 1 clear: the original was
// compressed, 2 bytes; the immediate is zero and rs1 holds the misalignment offset, which the GPA
// in htval already includes) → Access; the pseudoinstructions 0x2000/0x3000 (VS-stage PTE read,
// 32/64-bit) and 0x2020/0x3020 (PTE write for A/D) → Stage1Walk.
RvDecode decode_htinst(u64 htinst);

} // namespace arch::rv
