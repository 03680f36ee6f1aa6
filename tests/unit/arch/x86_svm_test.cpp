// The x86_64 SVM backend's pure parts: the VMCB layout against AMD64 APM vol. 2 rev. 3.42
// appendix B, the exit decoding into the x86 level (appendix C, 15.10.2, 15.25.6), the MOV decoder
// for MMIO (instruction bytes from GNU as 2.40 `as --64` / `.code32` + objdump), the guest page
// walk that fetches the instruction, and the CPUID view.
#include "arch/x86_64/cpuid_view.hpp"
#include "arch/x86_64/mmio_decode.hpp"
#include "arch/x86_64/x86_exit.hpp"
#include <cstring>
#include <gtest/gtest.h>
#include <initializer_list>
#include <map>
#include <stddef.h>
#include <vector>

using namespace arch;
using namespace arch::svm;

namespace {

TEST(X86Vmcb, OffsetsFollowTheApmTables) {
    // Table B-1 (control area) and B-2 (state save area), the fields cxvisor writes or reads.
    EXPECT_EQ(offsetof(Vmcb, intercept1), 0x00Cu);
    EXPECT_EQ(offsetof(Vmcb, intercept2), 0x010u);
    EXPECT_EQ(offsetof(Vmcb, iopm_base_pa), 0x040u);
    EXPECT_EQ(offsetof(Vmcb, msrpm_base_pa), 0x048u);
    EXPECT_EQ(offsetof(Vmcb, asid), 0x058u);
    EXPECT_EQ(offsetof(Vmcb, tlb_control), 0x05Cu);
    EXPECT_EQ(offsetof(Vmcb, exitcode), 0x070u);
    EXPECT_EQ(offsetof(Vmcb, exitintinfo), 0x088u);
    EXPECT_EQ(offsetof(Vmcb, np_enable), 0x090u);
    EXPECT_EQ(offsetof(Vmcb, eventinj), 0x0A8u);
    EXPECT_EQ(offsetof(Vmcb, n_cr3), 0x0B0u); // not 0xB8, as one public tutorial has it
    EXPECT_EQ(offsetof(Vmcb, cs), 0x410u);
    EXPECT_EQ(offsetof(Vmcb, tr), 0x490u);
    EXPECT_EQ(offsetof(Vmcb, efer), 0x4D0u);
    EXPECT_EQ(offsetof(Vmcb, cr0), 0x558u);
    EXPECT_EQ(offsetof(Vmcb, rip), 0x578u);
    EXPECT_EQ(offsetof(Vmcb, rsp), 0x5D8u);
    EXPECT_EQ(offsetof(Vmcb, rax), 0x5F8u);
    EXPECT_EQ(offsetof(Vmcb, g_pat), 0x668u);
    EXPECT_EQ(sizeof(Vmcb), 4096u);
    // Appendix C: exit code = 0x60 + intercept1 bit, 0x80 + intercept2 bit.
    EXPECT_EQ(INTERCEPT1_CPUID, 1u << (EXIT_CPUID - 0x60));
    EXPECT_EQ(INTERCEPT1_HLT, 1u << (EXIT_HLT - 0x60));
    EXPECT_EQ(INTERCEPT1_IOIO, 1u << (EXIT_IOIO - 0x60));
    EXPECT_EQ(INTERCEPT1_MSR, 1u << (EXIT_MSR - 0x60));
    EXPECT_EQ(INTERCEPT1_SHUTDOWN, 1u << (EXIT_SHUTDOWN - 0x60));
    EXPECT_EQ(INTERCEPT1_INVLPGA, 1u << (EXIT_INVLPGA - 0x60));
    EXPECT_EQ(INTERCEPT2_VMMCALL, 1u << (EXIT_VMMCALL - 0x80));
    EXPECT_EQ(INTERCEPT2_SKINIT, 1u << (EXIT_SKINIT - 0x80));
    EXPECT_EQ(INTERCEPT2_XSETBV, 1u << (EXIT_XSETBV - 0x80)); // table B-1: vector 4 bit 13, exit 8Dh
}

TEST(X86Vmcb, EventInjection) {
    // 15.20: #GP(0) = vector 13, type 3, EV, V; #UD has no error code.
    EXPECT_EQ(eventinj(13, EventType::Exception, true, 0), 0x80000B0Dull);
    EXPECT_EQ(eventinj(6, EventType::Exception), 0x80000306ull);
    EXPECT_EQ(eventinj(14, EventType::Exception, true, 0x2) >> 32, 2u);
    for (u8 v : {8, 10, 11, 12, 13, 14, 17, 21}) EXPECT_TRUE(exception_has_error_code(v)) << int(v);
    for (u8 v : {0, 1, 3, 6, 7, 9, 15, 16, 18, 19, 20}) EXPECT_FALSE(exception_has_error_code(v)) << int(v);
}

TEST(X86Exit, IoioDecodes) {
    // OUT DX, AL to 0x3f8: port in 31:16, SZ8 (bit 4); IN EAX from 0x604: bit 0, SZ32 (bit 6);
    // REP OUTSW: string (2), REP (3), SZ16 (5). EXITINFO2 = the next RIP.
    X86Exit e = svm_decode_exit(EXIT_IOIO, 0x03F8'0010, 0x1234);
    EXPECT_EQ(e.kind, X86ExitKind::Io);
    EXPECT_EQ(e.io.port, 0x3F8);
    EXPECT_EQ(e.io.size, 1);
    EXPECT_FALSE(e.io.in);
    EXPECT_EQ(e.next_rip, 0x1234u);
    e = svm_decode_exit(EXIT_IOIO, 0x0604'0041, 0);
    EXPECT_TRUE(e.io.in);
    EXPECT_EQ(e.io.size, 4);
    EXPECT_EQ(e.io.port, 0x604);
    e = svm_decode_exit(EXIT_IOIO, 0x0080'002C, 0);
    EXPECT_TRUE(e.io.string);
    EXPECT_TRUE(e.io.rep);
    EXPECT_EQ(e.io.size, 2);
}

TEST(X86Exit, NpfAndOthersDecode) {
    // A write to a not-present final GPA (P = 0, W, U, bit 32) and a read during the guest's own
    // walk (bit 33), an instruction fetch (I/D, bit 4).
    X86Exit e = svm_decode_exit(EXIT_NPF, 0x1'0000'0006ull, 0x1000'0007);
    EXPECT_EQ(e.kind, X86ExitKind::Npf);
    EXPECT_EQ(e.gpa, 0x1000'0007u);
    EXPECT_TRUE(e.npf.write && e.npf.final_gpa && !e.npf.table_walk && !e.npf.fetch && !e.npf.present);
    e = svm_decode_exit(EXIT_NPF, 0x2'0000'0004ull, 0x5000);
    EXPECT_TRUE(e.npf.table_walk && !e.npf.write);
    EXPECT_TRUE(svm_decode_exit(EXIT_NPF, 0x1'0000'0015ull, 0).npf.fetch);
    // Fixed-length instructions without nRIP.
    EXPECT_EQ(svm_decode_exit(EXIT_CPUID, 0, 0).insn_len, 2);
    EXPECT_EQ(svm_decode_exit(EXIT_HLT, 0, 0).insn_len, 1);
    EXPECT_EQ(svm_decode_exit(EXIT_VMMCALL, 0, 0).kind, X86ExitKind::Hypercall);
    EXPECT_EQ(svm_decode_exit(EXIT_VMMCALL, 0, 0).insn_len, 3);
    EXPECT_EQ(svm_decode_exit(EXIT_XSETBV, 0, 0).kind, X86ExitKind::Xsetbv); // 0F 01 D1
    EXPECT_EQ(svm_decode_exit(EXIT_XSETBV, 0, 0).insn_len, 3);
    EXPECT_EQ(svm_decode_exit(EXIT_XSETBV, 0, 0, 3).cpl, 3); // the handler's #GP for CPL > 0 needs it
    // What the shared handler reads besides the kind: EXITINFO1 for messages, the VMCB's CPL.
    EXPECT_EQ(svm_decode_exit(EXIT_VMMCALL, 0, 0, 3).cpl, 3);
    EXPECT_EQ(svm_decode_exit(EXIT_IOIO, 0x03F8'0010, 0x1234).info, 0x03F8'0010u);
    EXPECT_EQ(svm_decode_exit(EXIT_MSR, 0, 0).kind, X86ExitKind::MsrRead);
    EXPECT_EQ(svm_decode_exit(EXIT_MSR, 1, 0).kind, X86ExitKind::MsrWrite);
    EXPECT_EQ(svm_decode_exit(EXIT_SHUTDOWN, 0, 0).kind, X86ExitKind::Shutdown);
    // VINTR (0x64): the interrupt window cxvisor asked for is open; no instruction to step over.
    EXPECT_EQ(svm_decode_exit(EXIT_VINTR, 0, 0).kind, X86ExitKind::IrqWindow);
    EXPECT_EQ(svm_decode_exit(EXIT_VINTR, 0, 0).insn_len, 0);
    EXPECT_EQ(svm_decode_exit(EXIT_VMRUN, 0, 0).kind, X86ExitKind::NestedVirt);
    EXPECT_STREQ(svm_decode_exit(EXIT_SKINIT, 0, 0).insn, "SKINIT");
    // VMEXIT_INVALID is -1; QEMU stores only its low 32 bits.
    EXPECT_EQ(svm_decode_exit(~0ull, 0, 0).kind, X86ExitKind::InvalidState);
    EXPECT_EQ(svm_decode_exit(0xFFFF'FFFFull, 0, 0).kind, X86ExitKind::InvalidState);
    // Something never intercepted (#DE, exit 0x40) stays "Other" with its code.
    EXPECT_EQ(svm_decode_exit(0x40, 0, 0).kind, X86ExitKind::Other);
    EXPECT_EQ(svm_decode_exit(0x40, 0, 0).code, 0x40u);
}

// The injection decision before VMRUN (vmcb.hpp irq_plan): EVENTINJ only when the guest can take
// an interrupt now, else the interrupt window.
TEST(SvmIrqPlan, InjectsOnlyWhenTheGuestCanTakeIt) {
    using svm::IrqPlan;
    const u64 IF = 1u << 9, SHADOW = 1, BUSY = svm::eventinj(14, svm::EventType::Exception, true, 2);
    EXPECT_EQ(svm::irq_plan(false, IF, 0, 0), IrqPlan::Nothing);
    EXPECT_EQ(svm::irq_plan(false, 0, SHADOW, BUSY), IrqPlan::Nothing);
    EXPECT_EQ(svm::irq_plan(true, IF | 2, 0, 0), IrqPlan::Inject);
    EXPECT_EQ(svm::irq_plan(true, 2, 0, 0), IrqPlan::Window);           // cli
    EXPECT_EQ(svm::irq_plan(true, IF | 2, SHADOW, 0), IrqPlan::Window); // right after sti
    EXPECT_EQ(svm::irq_plan(true, IF | 2, 0, BUSY), IrqPlan::Window);   // an exception goes in first
    EXPECT_EQ(svm::irq_plan(true, IF | 2, 0, 14), IrqPlan::Inject);     // a stale EVENTINJ without V
}

struct MovCase {
    const char* text;
    std::vector<u8> bytes;
    bool long_mode;
    bool is_write;
    u8 width;
    MmioInsn::Op op;
    u8 reg;
    bool high_byte;
    u8 dest_width;
    u64 imm;
};
using Op = MmioInsn::Op;
const MovCase MovCases[] = {
    {"mov %al,(%rdi)", {0x88, 0x07}, true, true, 1, Op::StoreReg, 0, false, 0, 0},
    {"mov %ah,(%rdi)", {0x88, 0x27}, true, true, 1, Op::StoreReg, 0, true, 0, 0},
    {"mov %r15b,(%rdi)", {0x44, 0x88, 0x3f}, true, true, 1, Op::StoreReg, 15, false, 0, 0},
    {"mov %sil,(%rdi)", {0x40, 0x88, 0x37}, true, true, 1, Op::StoreReg, 6, false, 0, 0},
    {"mov %eax,0x8(%rbx)", {0x89, 0x43, 0x08}, true, true, 4, Op::StoreReg, 0, false, 0, 0},
    {"mov %rcx,0x12345678(%rdx)", {0x48, 0x89, 0x8a, 0x78, 0x56, 0x34, 0x12}, true, true, 8, Op::StoreReg, 1, false, 0, 0},
    {"mov %dx,(%rax,%rcx,4)", {0x66, 0x89, 0x14, 0x88}, true, true, 2, Op::StoreReg, 2, false, 0, 0},
    {"mov (%rdi),%bh", {0x8a, 0x3f}, true, false, 1, Op::Load, 3, true, 1, 0},
    {"mov 0x0(%rip),%r10d", {0x44, 0x8b, 0x15, 0, 0, 0, 0}, true, false, 4, Op::Load, 10, false, 4, 0},
    {"mov (%rsp),%r8", {0x4c, 0x8b, 0x04, 0x24}, true, false, 8, Op::Load, 8, false, 8, 0},
    {"movb $0x77,0x7(%rdi)", {0xc6, 0x47, 0x07, 0x77}, true, true, 1, Op::StoreImm, 0, false, 0, 0x77},
    {"movl $0x80000000,(%rdi)", {0xc7, 0x07, 0, 0, 0, 0x80}, true, true, 4, Op::StoreImm, 0, false, 0, 0x80000000},
    {"movq $-2,(%rdi)", {0x48, 0xc7, 0x07, 0xfe, 0xff, 0xff, 0xff}, true, true, 8, Op::StoreImm, 0, false, 0,
     0xFFFFFFFFFFFFFFFEull},
    {"movw $0x1234,(%rdi)", {0x66, 0xc7, 0x07, 0x34, 0x12}, true, true, 2, Op::StoreImm, 0, false, 0, 0x1234},
    {"movzbl (%rdi),%eax", {0x0f, 0xb6, 0x07}, true, false, 1, Op::Load, 0, false, 4, 0},
    {"movzwq (%rdi),%r9", {0x4c, 0x0f, 0xb7, 0x0f}, true, false, 2, Op::Load, 9, false, 8, 0},
    {"movsbq (%rdi),%rax", {0x48, 0x0f, 0xbe, 0x07}, true, false, 1, Op::LoadSx, 0, false, 8, 0},
    {"movsbw (%rdi),%ax", {0x66, 0x0f, 0xbe, 0x07}, true, false, 1, Op::LoadSx, 0, false, 2, 0},
    {"mov %fs:(%rdi),%eax", {0x64, 0x8b, 0x07}, true, false, 4, Op::Load, 0, false, 4, 0},
    // 32-bit code (.code32): no REX (0x40-0x4F are INC/DEC there); 67 selects 16-bit addressing.
    {"mov %eax,(%edi)", {0x89, 0x07}, false, true, 4, Op::StoreReg, 0, false, 0, 0},
    {"mov %eax,(%bx)", {0x67, 0x89, 0x07}, false, true, 4, Op::StoreReg, 0, false, 0, 0},
    {"mov %eax,0x1234 (addr16)", {0x67, 0x89, 0x06, 0x34, 0x12}, false, true, 4, Op::StoreReg, 0, false, 0, 0},
    {"mov %eax,0x10000000 (disp32)", {0x89, 0x05, 0, 0, 0, 0x10}, false, true, 4, Op::StoreReg, 0, false, 0, 0},
    // MOV with an absolute offset (A0-A3), as compilers emit for the local APIC at 0xFEE0_0000:
    // 8 offset bytes in 64-bit code (4 with 67), 4 in 32-bit code.
    {"movabs %eax,0xfee00380", {0xa3, 0x80, 0x03, 0xe0, 0xfe, 0, 0, 0, 0}, true, true, 4, Op::StoreReg, 0, false, 0, 0},
    {"movabs 0xfee00390,%eax", {0xa1, 0x90, 0x03, 0xe0, 0xfe, 0, 0, 0, 0}, true, false, 4, Op::Load, 0, false, 4, 0},
    {"movabs 0xfee00390,%rax", {0x48, 0xa1, 0x90, 0x03, 0xe0, 0xfe, 0, 0, 0, 0}, true, false, 8, Op::Load, 0, false, 8, 0},
    {"movabs %al,0xfee00390", {0xa2, 0x90, 0x03, 0xe0, 0xfe, 0, 0, 0, 0}, true, true, 1, Op::StoreReg, 0, false, 0, 0},
    {"addr32 mov 0xfee00020,%ax", {0x67, 0x66, 0xa1, 0x20, 0x00, 0xe0, 0xfe}, true, false, 2, Op::Load, 0, false, 2, 0},
    {"mov 0xfee00020,%eax (32-bit)", {0xa1, 0x20, 0x00, 0xe0, 0xfe}, false, false, 4, Op::Load, 0, false, 4, 0},
};

TEST(X86MovDecoder, DecodesTheMovForms) {
    for (const MovCase& c : MovCases) {
        SCOPED_TRACE(c.text);
        std::vector<u8> bytes = c.bytes;
        bytes.resize(15, 0x90); // what follows the instruction in memory must not matter
        auto d = x86_decode_mov(bytes.data(), bytes.size(), c.long_mode);
        ASSERT_TRUE(d.is_ok());
        EXPECT_EQ(d.value().insn.length, c.bytes.size());
        EXPECT_EQ(d.value().is_write, c.is_write);
        EXPECT_EQ(d.value().width, c.width);
        EXPECT_EQ(d.value().insn.op, c.op);
        if (c.op != Op::StoreImm) {
            EXPECT_EQ(d.value().insn.reg, c.reg);
        }
        EXPECT_EQ(d.value().insn.high_byte, c.high_byte);
        if (!c.is_write) {
            EXPECT_EQ(d.value().insn.dest_width, c.dest_width);
        }
        if (c.op == Op::StoreImm) {
            EXPECT_EQ(d.value().insn.imm, c.imm);
        }
    }
}

TEST(X86MovDecoder, RefusesWhatItCannotEmulate) {
    const std::vector<std::vector<u8>> refused = {
        {0x03, 0x07},       // add (%rdi),%eax: not a MOV
        {0x89, 0xc3},       // mov %eax,%ebx: no memory operand (mod 3)
        {0xf3, 0xa4},       // rep movsb: a string move
        {0xc7, 0x47, 0x08}, // C7 /0 cut short: the immediate is missing
        {0xc6, 0x4f, 0x07, 0x77}, // C6 /1: not MOV
        {0x0f, 0xaf, 0x07}, // imul (%rdi),%eax
    };
    for (const auto& b : refused) {
        auto d = x86_decode_mov(b.data(), b.size(), true);
        EXPECT_TRUE(d.is_error()) << std::hex << int(b[0]) << " " << int(b[1]);
    }
    // Fewer bytes than the instruction (its page ended and the next did not translate).
    const u8 cut[] = {0x48, 0x89, 0x8a, 0x78};
    EXPECT_EQ(x86_decode_mov(cut, sizeof cut, true).error(), Error::OutOfRange);
}

// A guest-physical memory of a few pages for the walk.
struct FakeGuest {
    std::map<u64, std::vector<u8>> pages;
    u8* page(u64 gpa) {
        auto& p = pages[gpa & ~0xFFFull];
        if (p.empty()) p.resize(4096);
        return p.data() + (gpa & 0xFFF);
    }
    void put64(u64 gpa, u64 v) { std::memcpy(page(gpa), &v, 8); }
    // Table entries as {address of the entry, its value}.
    void put_entries(std::initializer_list<std::pair<u64, u64>> entries) {
        for (const auto& [gpa, v] : entries) put64(gpa, v);
    }
    static Result<void> read(void* ctx, GuestPhysAddr gpa, void* out, usize size) {
        auto* g = static_cast<FakeGuest*>(ctx);
        auto it = g->pages.find(gpa.value() & ~0xFFFull);
        if (it == g->pages.end() || (gpa.value() & 0xFFF) + size > 4096) return Error::NotMapped;
        std::memcpy(out, it->second.data() + (gpa.value() & 0xFFF), size);
        return {};
    }
    GuestPhysRead reader() { return {read, this}; }
};

TEST(X86GuestWalk, TranslatesFourLevelsAnd2MiBPages) {
    FakeGuest g;
    // CR3 = 0x1000: PML4[0] -> 0x2000 (PDPT), PDPT[0] -> 0x3000 (PD); PD[0] a 2 MiB page at 0,
    // PD[1] -> 0x4000 (PT), PT[5] -> the page at 0x7000.
    g.put_entries({{0x1000, 0x2003}, {0x2000, 0x3003}, {0x3000, 0x0083}, {0x3008, 0x4003}, {0x4000 + 5 * 8, 0x7003}});
    const GuestPaging p{true, true, 0x1000};
    EXPECT_EQ(x86_guest_translate(p, 0x12345, g.reader()).value(), 0x12345u);
    EXPECT_EQ(x86_guest_translate(p, 0x200000 + 0x5000 + 0x10, g.reader()).value(), 0x7010u);
    EXPECT_EQ(x86_guest_translate(p, 0x200000 + 0x6000, g.reader()).error(), Error::NotMapped);
    EXPECT_EQ(x86_guest_translate({false, false, 0}, 0xABCDE, g.reader()).value(), 0xABCDEu); // paging off
    EXPECT_EQ(x86_guest_translate({true, false, 0x1000}, 0x1000, g.reader()).error(), Error::Unsupported);
    // An instruction that crosses into an unmapped page: the bytes before the boundary.
    g.page(0x7FF0);
    u8 out[15];
    auto n = x86_fetch_instruction(p, 0x200000 + 0x5000 + 0xFF8, out, sizeof out, g.reader());
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(n.value(), 8u);
}

TEST(X86GuestWalk, FollowsCr4La57ToFiveLevels) {
    // A guest on a CPU with LA57 may turn on 5-level paging (CR4.LA57) whatever its CPUID view
    // says: CR3 then names a PML5, indexed by VA[56:48] above the four familiar levels. Here CR3 =
    // 0x1000: PML5[0] -> 0x2000 (PML4), PML4[0] -> 0x3000 (PDPT), PDPT[0] -> 0x4000 (PD), PD[1] ->
    // 0x5000 (PT), PT[5] -> the page at 0x9000; PML5[1] -> 0x6000 (PML4), its [0] -> 0x7000 (PDPT)
    // with a 1 GiB page at 0x4000_0000.
    FakeGuest g;
    g.put_entries({{0x1000, 0x2003}, {0x1008, 0x6003}, {0x2000, 0x3003}, {0x3000, 0x4003}, {0x4008, 0x5003},
                   {0x5000 + 5 * 8, 0x9003}, {0x6000, 0x7003}, {0x7000, 0x4000'0083}});
    const GuestPaging p5{true, true, 0x1000, true};
    const auto small = x86_guest_translate(p5, 0x200000 + 0x5000 + 0x10, g.reader());
    ASSERT_TRUE(small.is_ok());
    EXPECT_EQ(small.value(), 0x9010u);
    // VA[56:48] = 1: the second PML5 entry, then a 1 GiB page.
    const auto huge = x86_guest_translate(p5, (u64(1) << 48) + 0x1234'5678, g.reader());
    ASSERT_TRUE(huge.is_ok());
    EXPECT_EQ(huge.value(), 0x5234'5678u);
    // Canonical with 57 bits only (bit 56 down to 47 sign-extend): nothing mapped there, and an
    // address that is canonical in neither mode has no translation either.
    EXPECT_EQ(x86_guest_translate(p5, 0xFF00'0000'0000'0000, g.reader()).error(), Error::NotMapped);
    EXPECT_EQ(x86_guest_translate(p5, 0x0100'0000'0000'0000, g.reader()).error(), Error::NotMapped);
    // The same tables read as 4-level (LA57 clear) would take the PML5 for a PML4: the address
    // goes elsewhere. The walk must follow CR4.LA57, not assume four levels.
    const GuestPaging p4{true, true, 0x1000, false};
    const auto as4 = x86_guest_translate(p4, 0x200000 + 0x5000 + 0x10, g.reader());
    EXPECT_TRUE(as4.is_error() || as4.value() != 0x9010u);
    EXPECT_EQ(x86_guest_translate(p4, u64(1) << 48, g.reader()).error(), Error::NotMapped); // not 48-bit canonical
}

TEST(X86Cpuid, GuestView) {
    const x86::CpuidRegs all{~0u, ~0u, ~0u, ~0u};
    x86::CpuidRegs r = guest_cpuid(1, 0, all, 3, 2'000'000);
    EXPECT_EQ(r.b >> 24, 3u);                  // APIC id = vCPU index
    EXPECT_TRUE(r.c & (1u << 31));             // hypervisor present
    EXPECT_FALSE(r.c & (1u << 5));             // VMX
    EXPECT_FALSE(r.c & (1u << 21));            // x2APIC
    EXPECT_FALSE(r.c & (1u << 26));            // XSAVE
    EXPECT_FALSE(r.c & (1u << 28));            // AVX
    EXPECT_EQ(r.d, ~0u);                       // EDX untouched
    EXPECT_FALSE(guest_cpuid(0x8000'0001, 0, all, 0, 0).c & (1u << 2)); // SVM
    const x86::CpuidRegs svm = guest_cpuid(0x8000'000A, 0, all, 0, 0);
    EXPECT_EQ(svm.a | svm.b | svm.c | svm.d, 0u);
    const x86::CpuidRegs h = guest_cpuid(0x4000'0000, 0, {}, 0, 0);
    char sig[13] = {};
    std::memcpy(sig, &h.b, 4), std::memcpy(sig + 4, &h.c, 4), std::memcpy(sig + 8, &h.d, 4);
    EXPECT_STREQ(sig, "cxvisor");
    EXPECT_EQ(h.a, 0x4000'0010u);
    EXPECT_EQ(guest_cpuid(0x4000'0010, 0, {}, 0, 2'596'000).a, 2'596'000u);
    EXPECT_EQ(guest_cpuid(0x4000'0010, 0, {}, 0, 2'596'000).b, 100'000u); // the vLAPIC timer: 100 MHz
    EXPECT_EQ(guest_cpuid(0x4000'0001, 0, {}, 0, 0, 4).b, 4u);              // the VM's vCPUs
    EXPECT_EQ(guest_cpuid(0x4000'0005, 0, all, 0, 0).a, 0u); // the rest of the range is empty
}

} // namespace
