// A virtual CPU: the generic state (scheduling, power, owning VM) around the ISA backend
// arch::Vcpu, which satisfies the ArchVcpu concept (vcpu/vcpu_concept.hpp).
#pragma once
#include "arch_vcpu.hpp"
#include "kernel/sched.hpp"
#include "kernel/timer.hpp"
#include "vcpu/emulated_timer.hpp"

class Vm;

class Vcpu {
public:
    Vcpu(Vm& vm, u32 id, u64 affinity) : m_vm(vm), m_id(id) {
        m_sched.affinity = affinity;
        m_sched.owner = this;
    }

    Vm& vm() { return m_vm; }
    u32 id() const { return m_id; }
    arch::Vcpu& arch() { return m_arch; }
    SchedEntity& sched() { return m_sched; }
    TimerEvent& wake_timer() { return m_wake_timer; }

    static Vcpu* from_sched(SchedEntity* e) { return static_cast<Vcpu*>(e->owner); }
    // The timer cxvisor emulates for this vCPU (emulated_timer.hpp); Vm drives it.
    EmulatedTimer& emulated_timer() { return m_emulated_timer; }
    ~Vcpu() { timer_cancel(m_emulated_timer.event); }

private:
    Vm& m_vm;
    u32 m_id;
    SchedEntity m_sched;
    TimerEvent m_wake_timer;
    EmulatedTimer m_emulated_timer;
    arch::Vcpu m_arch;
};
