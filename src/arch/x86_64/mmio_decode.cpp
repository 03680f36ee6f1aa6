// x86 MOV decoder and guest page walk for MMIO emulation (mmio_decode.hpp). APM vol. 3 rev. 3.36
// and vol. 2 rev. 3.42 sections as cited there.
#include "mmio_decode.hpp"
#include "page_format.hpp"

namespace arch {

Result<X86Decoded> x86_decode_mov(const u8* b, usize n, bool long_mode, bool default_16) {
    if (n > 15) n = 15; // 1.1 "Instruction Encoding Overview": at most 15 bytes
    usize i = 0;
    bool opsize = false; // 66: the other operand size (1.2.2)
    bool addrsize = false; // 67: the other address size (1.2.3)
    u8 rex = 0;
    // Legacy prefixes in any order (1.2): operand size, address size (the address is the NPF's
    // GPA, so its size does not matter, only its length), segment overrides (likewise), LOCK.
    // REP/REPNE change MOV's meaning on no form here but make other opcodes (string moves);
    // they are refused with them.
    for (; i < n; ++i) {
        const u8 p = b[i];
        if (p == 0x66) opsize = true;
        else if (p == 0x67) addrsize = true;
        else if (p == 0x2E || p == 0x36 || p == 0x3E || p == 0x26 || p == 0x64 || p == 0x65 || p == 0xF0) continue;
        else break;
    }
    // REX (1.8): only in 64-bit mode, and only right before the opcode.
    if (long_mode && i < n && (b[i] & 0xF0) == 0x40) rex = b[i++];
    if (i >= n) return Error::OutOfRange;
    const bool rex_w = rex & 8, rex_r = rex & 4, rex_x = rex & 2, rex_b = rex & 1;
    (void)rex_x;
    X86Decoded d;
    // The operand size of a non-byte form (1.2.2, table 1-2): REX.W 8; else 66 flips the default
    // (4 in 32- and 64-bit code, 2 in 16-bit code).
    const u8 full = rex_w ? 8 : (default_16 != opsize) ? 2 : 4;
    u8 op = b[i++];
    bool two_byte = false;
    if (op == 0x0F) {
        if (i >= n) return Error::OutOfRange;
        op = b[i++];
        two_byte = true;
    }
    bool byte_reg = false; // the register operand is a byte register
    if (!two_byte && op >= 0xA0 && op <= 0xA3) {
        // MOV AL/rAX, moffs (A0, A1) and MOV moffs, AL/rAX (A2, A3) (vol. 3 "MOV"): no ModRM, the
        // register is the accumulator, an absolute offset of the address size follows (8 bytes
        // in 64-bit mode, 4 in 32-bit code, 2 in 16-bit code; 67 selects 4, 2 and 4 instead).
        // Compilers use it for a load or store at a constant address above 2 GiB, such as the
        // local APIC's registers at 0xFEE0_0000.
        const bool store = op >= 0xA2, byte = (op & 1) == 0;
        d.insn.op = store ? MmioInsn::Op::StoreReg : MmioInsn::Op::Load;
        d.width = byte ? 1 : full;
        d.insn.dest_width = store ? 0 : d.width;
        d.insn.reg = 0; // AL / AX / EAX / RAX (REX.B does not apply: 1.8.2)
        d.is_write = store;
        const usize offs = long_mode ? (addrsize ? 4 : 8) : (default_16 != addrsize) ? 2 : 4;
        if (i + offs > n) return Error::OutOfRange;
        d.insn.length = u8(i + offs);
        return d;
    }
    if (!two_byte) {
        switch (op) {
        case 0x88: d.insn.op = MmioInsn::Op::StoreReg, d.width = 1, byte_reg = true; break;
        case 0x89: d.insn.op = MmioInsn::Op::StoreReg, d.width = full; break;
        case 0x8A: d.insn.op = MmioInsn::Op::Load, d.width = 1, byte_reg = true, d.insn.dest_width = 1; break;
        case 0x8B: d.insn.op = MmioInsn::Op::Load, d.width = full, d.insn.dest_width = full; break;
        case 0xC6: d.insn.op = MmioInsn::Op::StoreImm, d.width = 1; break;
        case 0xC7: d.insn.op = MmioInsn::Op::StoreImm, d.width = full; break;
        default: return Error::Unsupported;
        }
    } else {
        switch (op) {
        case 0xB6: d.insn.op = MmioInsn::Op::Load, d.width = 1; break;
        case 0xB7: d.insn.op = MmioInsn::Op::Load, d.width = 2; break;
        case 0xBE: d.insn.op = MmioInsn::Op::LoadSx, d.width = 1; break;
        case 0xBF: d.insn.op = MmioInsn::Op::LoadSx, d.width = 2; break;
        default: return Error::Unsupported;
        }
        d.insn.dest_width = full;
    }
    d.is_write = d.insn.op == MmioInsn::Op::StoreReg || d.insn.op == MmioInsn::Op::StoreImm;
    // ModRM (1.4.1): mod 7:6, reg 5:3, r/m 2:0.
    if (i >= n) return Error::OutOfRange;
    const u8 modrm = b[i++];
    const u8 mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (mod == 3) return Error::Unsupported; // a register operand: no memory access to emulate
    if (d.insn.op == MmioInsn::Op::StoreImm && reg != 0) return Error::Unsupported; // C6/C7 /0 only
    // Addressing bytes (1.4.2, tables 1-11/1-12; 16-bit addressing has its own table 1-10).
    // The address size matters only for the length of the addressing bytes: 16-bit addressing
    // (16-bit code, or 32-bit code with 67) has no SIB and a 16-bit displacement.
    const bool addr16 = !long_mode && (default_16 != addrsize);
    usize disp = 0;
    if (addr16) {
        disp = mod == 1 ? 1 : mod == 2 ? 2 : (mod == 0 && rm == 6) ? 2 : 0;
    } else {
        if (rm == 4) { // SIB follows
            if (i >= n) return Error::OutOfRange;
            const u8 sib = b[i++];
            if (mod == 0 && (sib & 7) == 5) disp = 4; // no base: disp32
        }
        if (mod == 1) disp = 1;
        else if (mod == 2) disp = 4;
        else if (mod == 0 && rm == 5) disp = 4; // disp32, RIP-relative in 64-bit mode
    }
    i += disp;
    if (d.insn.op == MmioInsn::Op::StoreImm) {
        // imm8 for C6, imm16 with a 16-bit operand, else imm32 (sign-extended for REX.W: 1.5).
        const usize isz = d.width == 1 ? 1 : d.width == 2 ? 2 : 4;
        if (i + isz > n) return Error::OutOfRange;
        u64 v = 0;
        for (usize k = 0; k < isz; ++k) v |= u64(b[i + k]) << (8 * k);
        if (d.width == 8 && (v & 0x8000'0000)) v |= 0xFFFF'FFFF'0000'0000ull;
        d.insn.imm = v;
        i += isz;
    }
    if (i > n) return Error::OutOfRange;
    d.insn.reg = u8(reg | (rex_r ? 8 : 0));
    // A byte register numbered 4..7 without any REX prefix is AH, CH, DH, BH (1.8.1 table 1-21).
    d.insn.high_byte = byte_reg && !rex && reg >= 4;
    if (d.insn.high_byte) d.insn.reg = u8(reg - 4);
    d.insn.length = u8(i);
    (void)rex_b; // r/m's register extension names the address register: the GPA is known already
    return d;
}

namespace {

constexpr u64 PTE_P = 1, PTE_PS = 1 << 7;
constexpr u64 ADDR_MASK = 0x000F'FFFF'FFFF'F000ull;

} // namespace

Result<u64> x86_guest_translate(const GuestPaging& p, u64 linear, GuestPhysRead mem) {
    if (!p.paging) return linear;
    if (!p.long_mode) return Error::Unsupported; // 32-bit and PAE paging are not walked
    // 5.3.3 "4-Kbyte Page Translation": PML4 (47:39), PDPT (38:30), PD (29:21), PT (20:12), and with
    // CR4.LA57 a PML5 (56:48) above them (5.3, 5-level paging; Intel SDM vol. 3A 4.5); PS in a PDPT
    // entry maps 1 GiB (5.3.5), in a PD entry 2 MiB (5.3.4). The CPU refuses a non-canonical
    // address (5.3.1) before it walks, so such an address has no translation here either.
    const X86Paging paging{p.la57 ? 5u : 4u};
    if (!paging.canonical(linear)) return Error::NotMapped;
    u64 table = p.cr3 & ADDR_MASK;
    const u32 last = paging.levels - 1; // the page table
    for (u32 level = 0; level <= last; ++level) {
        const u32 shift = 12 + 9 * (last - level);
        u64 e = 0;
        if (auto r = mem.read(mem.ctx, GuestPhysAddr(table + ((linear >> shift) & 511) * 8), &e, 8); r.is_error())
            return r.error();
        if (!(e & PTE_P)) return Error::NotMapped;
        if (level == last || ((level == last - 1 || level == last - 2) && (e & PTE_PS))) {
            const u64 page_mask = (u64(1) << shift) - 1;
            return ((e & ADDR_MASK) & ~page_mask) | (linear & page_mask);
        }
        table = e & ADDR_MASK;
    }
    return Error::NotMapped; // not reached: the page table level always returns
}

Result<usize> x86_fetch_instruction(const GuestPaging& p, u64 linear, u8* out, usize size, GuestPhysRead mem) {
    usize done = 0;
    while (done < size) {
        const u64 at = linear + done;
        const usize in_page = usize(4096 - (at & 4095));
        const usize chunk = size - done < in_page ? size - done : in_page;
        auto gpa = x86_guest_translate(p, at, mem);
        if (gpa.is_error()) {
            if (done) return done; // the instruction may end before the next page
            return gpa.error();
        }
        if (auto r = mem.read(mem.ctx, GuestPhysAddr(gpa.value()), out + done, chunk); r.is_error()) {
            if (done) return done;
            return r.error();
        }
        done += chunk;
    }
    return done;
}

} // namespace arch
