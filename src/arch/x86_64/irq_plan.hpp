// The decision both x86 backends make right before each entry about an external interrupt the
// vLAPIC presents (vintc/vlapic.hpp deliverable()): inject it now, ask the CPU for the exit that
// says the guest can take one (the window), or nothing. Neither SVM's EVENTINJ (AMD64 APM vol. 2
// rev. 3.42, 15.20) nor VMX's VM-entry interruption information (Intel SDM vol. 3C, Order Number
// 326019-067, 26.5.1) looks at the guest's RFLAGS.IF or its interrupt shadow, and VMX refuses the
// entry outright for an external interrupt with IF = 0 (26.3.1.4) or blocking by STI / MOV SS
// (26.3.1.5): the backend injects only when the guest could take the interrupt itself.
#pragma once
#include "base/types.hpp"

namespace arch {

inline constexpr u64 RFLAGS_IF = bit(9);

enum class IrqPlan : u8 { Nothing, Inject, Window };

// pending: the vLAPIC has a vector for this vCPU. interrupts_on: the guest's RFLAGS.IF. shadow:
// the instruction after STI or MOV SS has not run yet (SVM's interrupt shadow, VMX's blocking by
// STI / MOV SS, 24.4.2). injecting: the entry delivers another event already (an exception, or an
// event whose delivery the last exit cut short): that goes first, the interrupt waits for the
// window the guest opens once it is delivered.
constexpr IrqPlan interrupt_plan(bool pending, bool interrupts_on, bool shadow, bool injecting) {
    if (!pending) return IrqPlan::Nothing;
    return interrupts_on && !shadow && !injecting ? IrqPlan::Inject : IrqPlan::Window;
}

} // namespace arch
