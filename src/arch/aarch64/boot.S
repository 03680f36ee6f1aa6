// cxvisor aarch64 entry, exception vectors and the guest world switch.
// Arm ARM references: D1.10 (exception vectors, VBAR_EL2), D13.2 (SPSR_EL2, ELR_EL2), C5.3 (ERET).
#include "asm_offsets.hpp"

// ---------------------------------------------------------------------------------------------
// arm64 Image header (Linux Documentation/arch/arm64/booting.rst layout) so QEMU -kernel, U-Boot
// booti and friends load us like a kernel and pass the DTB in x0. Bytes 0x20..0x2F are ours:
// 0x20 package_offset (patched by cxv-vmconfig --image), 0x28 "CXVISOR\0".
    .section .text.head, "ax"
    .globl _start
_start:
    b       primary_entry                 // code0
    .long   0                             // code1
    .quad   0x200000                      // text_offset: 2 MiB above RAM base
    .quad   __image_end - _start          // image_size (memory footprint incl. BSS)
    .quad   0xa                           // flags: LE, 4K pages, anywhere in RAM
    .globl  cxv_package_offset
cxv_package_offset:
    .quad   0                             // res2: package offset from _start (0 = none)
    .quad   0x00524f5349565843            // res3: "CXVISOR\0"
    .quad   0                             // res4
    .ascii  "ARM\x64"                     // magic
    .long   0                             // res5

primary_entry:
    mov     x19, x0                       // DTB physical address
    // Refuse to run at the wrong address: the image is not position independent.
    adr     x1, _start
    ldr     x2, =_start
    cmp     x1, x2
    b.ne    hang
    mrs     x1, CurrentEL
    cmp     x1, #(2 << 2)
    b.ne    hang                          // must start at EL2 (QEMU: virtualization=on)
    ldr     x0, =cpu_stacks
    add     x0, x0, #CPU_STACK_SIZE
    mov     sp, x0
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
1:  cmp     x0, x1
    b.hs    2f
    str     xzr, [x0], #8
    b       1b
2:  ldr     x0, =cxv_el2_vectors
    msr     vbar_el2, x0
    isb
    mov     x0, x19
    bl      kernel_main                   // never returns
hang:
    wfe
    b       hang

// Secondary CPUs arrive here from PSCI CPU_ON with x0 = context_id = PerCpu*. The MMU is off.
    .globl  secondary_entry
secondary_entry:
    ldr     x1, [x0, #PERCPU_STACK_TOP]
    mov     sp, x1
    msr     tpidr_el2, x0
    ldr     x1, =cxv_el2_vectors
    msr     vbar_el2, x1
    isb
    bl      secondary_main                // never returns
    b       hang

// `op` (stp or ldp) of x6..x29 at [base + 48 ..], pair by pair, in the GuestRegs layout (x<n> at
// 8 * n): the part every save and restore of a guest's registers shares.
.macro gprs_6_29 op, base
    \op     x6, x7, [\base, #48]
    \op     x8, x9, [\base, #64]
    \op     x10, x11, [\base, #80]
    \op     x12, x13, [\base, #96]
    \op     x14, x15, [\base, #112]
    \op     x16, x17, [\base, #128]
    \op     x18, x19, [\base, #144]
    \op     x20, x21, [\base, #160]
    \op     x22, x23, [\base, #176]
    \op     x24, x25, [\base, #192]
    \op     x26, x27, [\base, #208]
    \op     x28, x29, [\base, #224]
.endm

// ---------------------------------------------------------------------------------------------
// Guest entry. u64 cxv_guest_enter(GuestRegs* regs)
// Saves the host's callee-saved registers on the host stack, records the stack pointer in the
// per-CPU area (TPIDR_EL2) so the exit path finds it, loads the guest GPRs, ELR_EL2 and SPSR_EL2,
// and ERETs into the guest. Returns (through the exit path) the vector kind that ended the run.
    .text
    .globl  cxv_guest_enter
cxv_guest_enter:
    stp     x29, x30, [sp, #-96]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    mrs     x1, tpidr_el2
    mov     x2, sp
    stp     x0, x2, [x1, #PERCPU_GUEST_REGS]   // guest_regs, host_sp
    ldp     x2, x3, [x0, #GUEST_REGS_PC]
    msr     elr_el2, x2
    msr     spsr_el2, x3
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    gprs_6_29 ldp, x0
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret
    dsb     nsh                            // speculation barrier after ERET (SB not on v8.0)
    isb

// Stores x2..x30 at [base + 16 ..]: the register frame layout of GuestRegs and of the EL2 fault
// frame alike (x0/x1 at [base], stored by the caller, which needs them as scratch first).
.macro save_x2_x30 base
    stp     x2, x3, [\base, #16]
    stp     x4, x5, [\base, #32]
    gprs_6_29 stp, \base
    str     x30, [\base, #240]
.endm

// Exit from a lower EL: save the guest GPRs into the GuestRegs of this CPU, restore the host
// stack, return from cxv_guest_enter with w0 = kind (0 sync, 1 irq, 2 fiq, 3 serror). x1 keeps
// TPIDR_EL2 (the PerCpu) for guest_exit_common.
// The fast paths' error synchronisation, as guest_exit_common step 1: an SError the guest caused
// is pending after it (FEAT_RAS: ESB + DISR_EL1.A, left set for the full path to read again; else
// DSB SY + ISR_EL1.A) -> branch to `full`, the full path, which takes it. Clobbers x<n>.
.macro exit_fast_esync n, full
    adrp    x\n, cxv_has_ras
    ldrb    w\n, [x\n, :lo12:cxv_has_ras]
    cbz     w\n, 1001f
    hint    #16                           // ESB: defers a pending SError into DISR_EL1
    mrs     x\n, S3_0_C12_C1_1              // DISR_EL1
    tbnz    x\n, #31, \full
    b       1002f
1001: dsb   sy                            // the guest's accesses complete...
    mrs     x\n, isr_el1                    // ...and an SError they caused is pending (ISR_EL1.A)
    tbnz    x\n, #8, \full
1002:
.endm

// The second and third fast paths' commit: the guest's registers into its frame (GuestRegs, found
// through TPIDR_EL2; x1..x4 from the EL2 stack, where low64_sync pushed them), x4 = the frame;
// x0 and x2 clobbered. And back: every register from the frame at x4, the frame pointer last.
.macro exit_fast_save_frame
    mrs     x4, tpidr_el2
    ldr     x4, [x4, #PERCPU_GUEST_REGS]
    str     x0, [x4, #0]
    ldp     x0, x2, [sp, #16]             // guest x1, x2
    str     x0, [x4, #8]
    ldr     x0, [sp]                      // guest x3
    stp     x2, x0, [x4, #16]
    ldr     x0, [sp, #8]                  // guest x4
    stp     x0, x5, [x4, #32]
    gprs_6_29 stp, x4
    str     x30, [x4, #240]
.endm
.macro exit_fast_restore_frame
    ldp     x0, x1, [x4, #0]
    ldp     x2, x3, [x4, #16]
    gprs_6_29 ldp, x4
    ldr     x30, [x4, #240]
    ldp     x4, x5, [x4, #32]             // the frame pointer last (no writeback: allowed)
.endm

.macro guest_exit kind
    stp     x0, x1, [sp, #-16]!
    mrs     x1, tpidr_el2
    ldr     x0, [x1, #PERCPU_GUEST_REGS]
    save_x2_x30 x0
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #GUEST_REGS_PC]
    mov     x0, #\kind
.if \kind == 3
    b       guest_exit_plan               // the exit is that SError already: no step 1
.else
    b       guest_exit_common
.endif
.endm

// x0 = kind, x1 = PerCpu; the guest's registers are saved, so x2..x30 are scratch until the
// host's come back.
guest_exit_common:
    // 1. Error synchronisation (Arm ARM DDI0487 K.a, the RAS "Error Synchronization
    // Event" and the ESB instruction): an SError the guest's accesses caused must surface now and
    // stop this VM (kind 3), not wait and be blamed on whichever VM runs next.
    adrp    x2, cxv_has_ras
    ldrb    w2, [x2, :lo12:cxv_has_ras]
    cbz     w2, 1f
    // FEAT_RAS: ESB defers a pending SError (PSTATE.A is masked) into DISR_EL1.
    hint    #16                           // ESB
    mrs     x2, S3_0_C12_C1_1             // DISR_EL1
    tbz     x2, #31, 3f                   // DISR_EL1.A: nothing deferred
    msr     S3_0_C12_C1_1, xzr
    and     x2, x2, #0x1ffffff            // its syndrome, reported like a taken SError (EC 0x2F)
    mov     x3, #(0x2f << 26)
    orr     x2, x2, x3
    msr     esr_el2, x2
    mov     x0, #3
    b       guest_exit_plan
    // Without RAS: complete the guest's outstanding accesses, then open SError for a moment; one
    // that is pending is taken here, and cur_spx_serr turns it into kind 3 (as KVM does).
1:  dsb     sy
    msr     daifclr, #4
    .globl  cxv_serror_window
cxv_serror_window:
    isb
    nop
    .globl  cxv_serror_window_end
cxv_serror_window_end:
    msr     daifset, #4
    isb
    // 2. Branch-predictor state (spectre.hpp, per-CPU plan in PerCpu::exit_plan): cleared
    // before cxvisor executes its first indirect branch (the RET below).
guest_exit_plan:
3:  ldr     x3, [x1, #PERCPU_EXIT_PLAN]
    cbz     x3, 6f
    ands    x2, x3, #0xff                 // BHB loop: k taken branches flush the history
    b.eq    4f
5:  b       . + 4
    subs    x2, x2, #1
    b.ne    5b
    dsb     nsh
    isb
4:  tbz     x3, #8, 7f
    hint    #22                           // CLRBHB (FEAT_CLRBHB)
    isb
7:  tst     x3, #(3 << 9)
    b.eq    6f
    mov     x4, x0                        // firmware workaround call (SMCCC: x0..x3 may change)
    lsr     x0, x3, #32
    tbnz    x3, #10, 8f
    smc     #0
    b       9f
8:  hvc     #0
9:  mov     x0, x4
    mrs     x1, tpidr_el2                 // the call may have changed x1 (SMCCC: x0-x17)
6:  ldr     x2, [x1, #PERCPU_HOST_SP]
    mov     sp, x2
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #96
    ret

// Exceptions taken at EL2 itself are hypervisor bugs (EL2 runs with interrupts masked and never
// faults by design): report them with the full register state.
.macro el2_fault kind
    sub     sp, sp, #(34 * 8)
    stp     x0, x1, [sp, #0]
    save_x2_x30 sp
    mov     x0, #\kind
    mov     x1, sp
    bl      el2_exception                 // never returns
.endm

// D1.10.2: four groups of four 128-byte slots; each slot branches out so nothing shifts.
    .section .text.vectors, "ax"
    .balign 2048
    .globl  cxv_el2_vectors
cxv_el2_vectors:
    .balign 128; b cur_sp0_sync      // current EL, SP_EL0
    .balign 128; b cur_sp0_irq
    .balign 128; b cur_sp0_fiq
    .balign 128; b cur_sp0_serr
    .balign 128; b cur_spx_sync      // current EL, SP_ELx
    .balign 128; b cur_spx_irq
    .balign 128; b cur_spx_fiq
    .balign 128; b cur_spx_serr
    .balign 128; b low64_sync        // lower EL, AArch64
    .balign 128; b low64_irq
    .balign 128; b low64_fiq
    .balign 128; b low64_serr
    .balign 128; b low32_sync        // lower EL, AArch32 (guests are AArch64 only: HCR_EL2.RW=1)
    .balign 128; b low32_irq
    .balign 128; b low32_fiq
    .balign 128; b low32_serr
    .balign 128

    .text
cur_sp0_sync: el2_fault 0
cur_sp0_irq:  el2_fault 1
cur_sp0_fiq:  el2_fault 2
cur_sp0_serr: el2_fault 3
cur_spx_sync:
    // A synchronous data abort inside cxv_guarded_copy (a host-window read of a carve-out or
    // device that answers with an external abort, e.g. a hole in the physical address map) is the
    // guest's configuration, not a cxvisor bug: resume at the routine's failure exit, which
    // returns 1 to host_window_read. Anything else taken at EL2 is a bug (el2_fault).
    stp     x0, x1, [sp, #-16]!
    mrs     x0, elr_el2
    adr     x1, cxv_guarded_copy
    cmp     x0, x1
    b.lo    1f
    adr     x1, cxv_guarded_copy_end
    cmp     x0, x1
    b.hs    1f
    mrs     x0, esr_el2
    lsr     x0, x0, #26
    cmp     x0, #0x25                     // EC: data abort taken without a change in EL
    b.ne    1f
    adr     x0, cxv_guarded_copy_failed
    msr     elr_el2, x0
    ldp     x0, x1, [sp], #16
    eret
1:  ldp     x0, x1, [sp], #16
    el2_fault 4
cur_spx_irq:  el2_fault 5
cur_spx_fiq:  el2_fault 6
cur_spx_serr:
    // The exit path's window (guest_exit_common): an SError the guest caused. Return with SError
    // masked and kind 3 in x0; ESR_EL2 holds its syndrome for Vcpu::run.
    stp     x0, x1, [sp, #-16]!
    mrs     x0, elr_el2
    adr     x1, cxv_serror_window
    cmp     x0, x1
    b.lo    1f
    adr     x1, cxv_serror_window_end
    cmp     x0, x1
    b.hi    1f
    mrs     x0, spsr_el2
    orr     x0, x0, #(1 << 8)             // SPSR_EL2.A
    msr     spsr_el2, x0
    ldp     x0, x1, [sp], #16
    mov     x0, #3
    eret
1:  ldp     x0, x1, [sp], #16
    el2_fault 7
// Lower EL, synchronous: first the fast path for constant SMCCC answers (smccc_fast.hpp), then
// the full exit. A trapped `HVC #0` whose function id (w0) Vcpu::handle_smccc has published in
// cxv_smccc_fast (PSCI_VERSION, SMCCC_VERSION) gets that x0 and ERETs back from here: x1/x2 are
// borrowed on the EL2 stack and restored, every other register, ELR_EL2 and SPSR_EL2 stay as the
// trap left them (ELR_EL2 already points after the HVC), exactly what handle_smccc does at level 1
// followed by Vcpu::run re-entering the guest. Anything else restores x1/x2 and takes the full
// path with nothing changed. The test costs other exits 6 instructions (HVC #0 of an SMC64 id,
// such as cxvisor's own hypercalls: 7; of an SMC32 id not in the table: 19).
//
// Why this is safe without the full path's mitigations:
// - Branch-predictor state (step 2 of guest_exit_common). The BHB loop / CLRBHB (Arm, "Spectre-BHB"
//   whitepaper, CVE-2022-23960) and the firmware call SMCCC_ARCH_WORKAROUND_1/_3 (SMCCC DEN0028 F,
//   "Arm Architecture Calls") exist to stop guest-trained predictor state from steering an EL2
//   *indirect* branch (BR/BLR/RET) to a gadget. This code has none: only direct B and conditional
//   branches to fixed labels, then ERET, whose target is ELR_EL2, the guest's own next instruction,
//   executed at the guest's EL in the guest's translation regime (and `dsb nsh; isb` after the ERET
//   stops straight-line speculation past it, as in cxv_guest_enter). Mispredicting a conditional
//   branch here can only run this code or the full path, which clears branch state before its own
//   first indirect branch.
// - Guest data. No address is formed from a guest value: the guest's w0 is only compared with the
//   table's ids, the table address is a link-time constant, so there is no Spectre-v1 gadget and
//   no guest pointer is read. Function id 0 is sent down the full path, so an empty slot (fid 0)
//   never matches.
// - Errors. Step 1 of guest_exit_common (ESB with FEAT_RAS, else DSB SY and a look for a pending
//   SError) is done before the ERET: an SError the guest's accesses caused stops this VM at the HVC
//   through the full path (kind 3), exactly as if the full path had taken the exit. (Returning to
//   the same vCPU, it could not be blamed on another VM anyway: the full path synchronises because
//   it may switch to another vCPU.)
// - Interrupts. Physical IRQs/FIQs route to EL2 (HCR_EL2.IMO/FMO) and stay masked here (PSTATE.I/F
//   are set on exception entry). One that became pending is taken right after the ERET, before the
//   guest's next instruction: an interrupt targeting EL2 is not masked by the guest's PSTATE at EL1
//   (Arm ARM DDI0487 K.a, "Asynchronous exception masking" in chapter D1), and ERET is a context
//   synchronisation event. The guest then re-traps (kind 1) with x0 answered and ELR after the HVC:
//   the state the full path reaches too, since Vcpu::run answers level-1 calls and re-enters
//   without looking for interrupts. Kicks from other CPUs (SGIs), the scheduler's slice timer and
//   vGIC work all arrive this way, so a guest spinning on fast calls is preempted as before.
low64_sync:
    stp     x1, x2, [sp, #-16]!
    mrs     x1, esr_el2
    mov     x2, #ESR_EL2_HVC64_IMM0
    cmp     x1, x2                        // HVC #0 from AArch64 (whole ESR_EL2: ISS2 = 0 too)
    b.ne    10f
    tbnz    w0, #30, 9f                   // SMC64 ids (cxvisor's hypercalls): none is listed
    cbz     w0, 9f                        // function id 0: never matches an unpublished slot
    adrp    x1, cxv_smccc_fast
    add     x1, x1, :lo12:cxv_smccc_fast
    .rept   SMCCC_FAST_SLOTS
    ldar    x2, [x1]                      // Entry::fid, acquire: pairs with publish<>'s release
    cmp     x2, w0, uxtw                  // SMCCC: the function id is w0, x0[63:32] is ignored
    b.eq    1f
    add     x1, x1, #SMCCC_FAST_ENTRY_SIZE
    .endr
    b       9f
1:  exit_fast_esync 2, 9f
    ldr     x0, [x1, #SMCCC_FAST_ENTRY_X0]
    ldp     x1, x2, [sp], #16
    eret
    dsb     nsh                           // speculation barrier after ERET (SB not on v8.0)
    isb

// Second fast path: a 32-bit read of one of the emulated distributor's identification registers
// (GICD_TYPER, GICD_IIDR, GICD_TYPER2, GICD_PIDR2 of Arm IHI 0069H: read-only, the same for the
// VM's whole life), answered from the loaded vCPU's ExitFast block (vcpu.hpp; PerCpu::exit_fast,
// null when the VM has no vGIC; an exit with EC < 0x20 pays 1 instruction for the test, an abort
// of a VM without a vGIC 4). Decoded from the syndrome alone (ESR_EL2 with ISV = 1, HPFAR_EL2,
// FAR_EL2; the constants are explained at EXIT_FAST_GICD_ESR_MASK in asm_offsets.hpp): the value
// goes into the guest's SRT register, ELR_EL2 steps over the load (IL = 1: 4 bytes), and the guest
// runs on. This is what the full path does for these registers (Vm's MMIO bus -> DistWindow ->
// Vgic::dist_read, then Vcpu::complete_mmio), except that the stage-2 fault repeat guard is not
// told the instruction completed: it only counts a fault that repeats at one PC with nothing
// completing in between, and the guest moves on here, so it never sees this fault at all.
// Anything else falls through to the full path with nothing changed.
//
// Safe without the full path's mitigations for the reasons given above for the SMCCC fast path:
// no indirect branch (only direct and conditional branches, then ERET); the guest's addresses
// (HPFAR_EL2, FAR_EL2) are only compared, and each answer is a load from a fixed offset of the
// block chosen by a branch, so no address is formed from a guest value (the one store indexed by
// the guest's SRT, 0..30, goes into this vCPU's own register frame); errors are synchronised
// before the ERET as there; interrupts are taken right after it.
10: tbz     x1, #31, 9f                   // EC < 0x20 (trapped SGI writes, WFI...): no data abort
    mrs     x2, tpidr_el2
    ldr     x2, [x2, #PERCPU_EXIT_FAST]
    cbz     x2, 9f
    stp     x3, x4, [sp, #-16]!
    ldr     x3, =EXIT_FAST_GICD_ESR_MASK
    and     x3, x1, x3
    ldr     x4, =EXIT_FAST_GICD_ESR_VALUE
    cmp     x3, x4
    b.ne    20f
    mrs     x3, hpfar_el2
    ldr     x4, [x2, #EXIT_FAST_GICD_HPFAR]
    sub     x3, x3, x4                    // the page within the distributor, << 4
    mrs     x4, far_el2
    and     x4, x4, #0xfff                // the offset within that page
    cbnz    x3, 11f
    cmp     x4, #0x4                      // page 0: GICD_TYPER, GICD_IIDR, GICD_TYPER2
    b.ne    12f
    ldr     w3, [x2, #EXIT_FAST_GICD_TYPER]
    b       14f
12: cmp     x4, #0x8
    b.ne    13f
    ldr     w3, [x2, #EXIT_FAST_GICD_IIDR]
    b       14f
13: cmp     x4, #0xc
    b.ne    20f
    ldr     w3, [x2, #EXIT_FAST_GICD_TYPER2]
    b       14f
11: cmp     x3, #(0xf << 4)               // page 15: GICD_PIDR2 at 0xFFE8
    b.ne    20f
    cmp     x4, #0xfe8
    b.ne    20f
    ldr     w3, [x2, #EXIT_FAST_GICD_PIDR2]
14: exit_fast_esync 4, 8f
    // Commit: the guest's registers into its frame (x1..x4 from the EL2 stack), the answer into
    // the SRT slot (W load: zero-extended; 31 is XZR: dropped), then all of them back.
16: exit_fast_save_frame
    ubfx    x1, x1, #16, #5               // ESR_EL2.SRT
    cmp     x1, #31
    b.eq    17f
    str     x3, [x4, x1, lsl #3]
17: mrs     x0, elr_el2
    add     x0, x0, #4
    msr     elr_el2, x0
    add     sp, sp, #32
    exit_fast_restore_frame
    eret
    dsb     nsh                           // speculation barrier after ERET (SB not on v8.0)
    isb

// Third fast path: the VM's first PL011 (ExitFast::uart, devices/uart_fast.hpp, which states the
// protocol): a byte, halfword or word read of FR is answered from UartFastBlock::fr through the
// commit above (FR fits in 8 bits, so zero extension is exact; SSE = 1 is left to the full path);
// a byte, halfword or word write of DR, while UartFastBlock::tx_ok says that adding the character
// to the output is its only effect, reserves the next ring slot (LDAXR/STXR on head, only while
// head - tail < UART_FAST_SLOTS), stores Committed | the register's low byte with a release store,
// steps over the store and returns. The device drains the ring in order (before any access it
// handles, and after every exit of a vCPU of the VM). A full ring, tx_ok = 0, any other register,
// a doubleword, or anything the syndrome does not describe take the full path, nothing changed.
// Mitigations: as for the other fast paths; the only address formed from guest-controlled values
// is the slot, head & (UART_FAST_SLOTS - 1) inside the block, and the SRT read from this vCPU's
// own frame.
20: ldr     x3, =EXIT_FAST_UART_ESR_MASK
    and     x3, x1, x3
    ldr     x4, =EXIT_FAST_UART_ESR_VALUE
    cmp     x3, x4
    b.ne    8f
    ubfx    x3, x1, #22, #2               // SAS
    cmp     x3, #3
    b.eq    8f                            // a doubleword: the model rejects it
    mrs     x3, hpfar_el2
    ldr     x4, [x2, #EXIT_FAST_UART_HPFAR]
    cmp     x3, x4
    b.ne    8f
    mrs     x4, far_el2
    and     x4, x4, #0xfff                // the register's offset
    ldr     x2, [x2, #EXIT_FAST_UART_BLOCK]
    tbnz    x1, #6, 21f                   // WnR: a write
    cmp     x4, #UART_OFF_FR
    b.ne    8f
    add     x3, x2, #UART_FAST_FR
    ldar    w3, [x3]                      // pairs with the device's release store (publish)
    b       14b
21: cmp     x4, #UART_OFF_DR
    b.ne    8f
    ldr     w3, [x2, #UART_FAST_TX_OK]
    cbz     w3, 8f
    exit_fast_esync 4, 8f
    exit_fast_save_frame                  // for the SRT read and the common return below
    mrs     x2, tpidr_el2                 // x2: the block again; x0, x3, x5-x10 are scratch
    ldr     x2, [x2, #PERCPU_EXIT_FAST]
    ldr     x2, [x2, #EXIT_FAST_UART_BLOCK]
    ubfx    x1, x1, #16, #5               // ESR_EL2.SRT (31: XZR)
    mov     x0, #0
    cmp     x1, #31
    b.eq    22f
    ldr     x0, [x4, x1, lsl #3]
22: and     x0, x0, #0xff
    orr     x0, x0, #UART_FAST_COMMITTED
    add     x5, x2, #UART_FAST_HEAD
    add     x6, x2, #UART_FAST_TAIL
23: ldar    x7, [x6]                      // tail: acquire, so the slot it freed reads clear
    ldaxr   x8, [x5]                      // head
    sub     x9, x8, x7
    cmp     x9, #UART_FAST_SLOTS
    b.hs    24f                           // full: the full path drains it first
    add     x9, x8, #1
    stxr    w10, x9, [x5]
    cbnz    w10, 23b
    and     x8, x8, #(UART_FAST_SLOTS - 1)
    add     x8, x2, x8, lsl #1
    add     x8, x8, #UART_FAST_SLOT
    stlrh   w0, [x8]                      // committed: the device may take it
    b       17b                           // step over the store, registers back, ERET
24: clrex
    exit_fast_restore_frame               // as the guest left them; x1..x4 also still on the stack
8:  ldp     x3, x4, [sp], #16
9:  ldp     x1, x2, [sp], #16
    guest_exit 0
    .ltorg
low64_irq:    guest_exit 1
low64_fiq:    guest_exit 2
low64_serr:   guest_exit 3
low32_sync:   guest_exit 0
low32_irq:    guest_exit 1
low32_fiq:    guest_exit 2
low32_serr:   guest_exit 3

// ---------------------------------------------------------------------------------------------
// u64 cxv_guarded_copy(void* dst, const volatile void* src, u64 len, u64 words)
// Copies len bytes from src (the host window) to dst: byte by byte, or as aligned 4-byte words when
// `words` is non-zero (Device memory). Returns 0, or 1 if a load took a synchronous external abort
// (cur_spx_sync resumes at cxv_guarded_copy_failed). Only the loads may fault: dst is cxvisor's
// own memory. No stack, no calls: the fixup only replaces ELR_EL2.
    .globl  cxv_guarded_copy
cxv_guarded_copy:
    cbnz    x3, 3f
1:  cbz     x2, 5f
    ldrb    w4, [x1], #1
    strb    w4, [x0], #1
    sub     x2, x2, #1
    b       1b
3:  cbz     x2, 5f
    ldr     w4, [x1], #4
    str     w4, [x0], #4
    sub     x2, x2, #4
    b       3b
5:  mov     x0, #0
    ret
cxv_guarded_copy_failed:
    mov     x0, #1
    ret
cxv_guarded_copy_end:

// ---------------------------------------------------------------------------------------------
// FP/SIMD state: void cxv_fpsimd_save(FpState*), void cxv_fpsimd_restore(const FpState*).
// Layout: q0..q31 (512 bytes), fpsr, fpcr. The hypervisor itself never uses FP registers
// (-mgeneral-regs-only), so this runs only when another vCPU takes the CPU.
    .globl  cxv_fpsimd_save
cxv_fpsimd_save:
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]
    mrs     x1, fpsr
    mrs     x2, fpcr
    add     x0, x0, #512
    stp     x1, x2, [x0]
    ret

    .globl  cxv_fpsimd_restore
cxv_fpsimd_restore:
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    add     x3, x0, #512
    ldp     x1, x2, [x3]
    msr     fpsr, x1
    msr     fpcr, x2
    ret

// Constant SMCCC answers for low64_sync, filled by Vcpu::handle_smccc (smccc_fast.hpp).
    .data
    .balign 16
    .globl  cxv_smccc_fast
cxv_smccc_fast:
    .space  SMCCC_FAST_SLOTS * SMCCC_FAST_ENTRY_SIZE

    .bss
    .balign 16
    .globl  cpu_stacks
cpu_stacks:
    .space  CPU_STACK_SIZE * 17     // slot 0: the boot CPU; slot i + 1: logical CPU i
