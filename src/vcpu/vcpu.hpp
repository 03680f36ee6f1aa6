// A virtual CPU: the generic state (scheduling, power, owning VM) around the ISA backend
// arch::Vcpu, which satisfies the ArchVcpu concept (vcpu/vcpu_concept.hpp).
#pragma once
#include "arch_vcpu.hpp"
#include "kernel/sched.hpp"
#include "kernel/timer.hpp"
#include "vcpu/emulated_timer.hpp"
#include "vcpu/exit.hpp"

class Vm;

// The VM's virtual interrupt controller model on this ISA (vintc/virt_intc.hpp).
using VirtIntc = arch::Vcpu::Intc;

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

    // For `vm show`: the guest PC at the last exit and the exits of each kind since the VM's life
    // began. Written only by the CPU the vCPU runs on (vmm_run_vcpu), read from any CPU: a racy
    // read gives a recent value, never a torn one (aligned 64-bit relaxed accesses).
    u64 last_pc() const { return __atomic_load_n(&m_last_pc, __ATOMIC_RELAXED); }
    u64 exit_count(ExitKind k) const {
        return usize(k) < EXIT_KIND_COUNT ? __atomic_load_n(&m_exits[usize(k)], __ATOMIC_RELAXED) : 0;
    }
    // Called once per exit by the CPU running the vCPU: no atomic read-modify-write needed.
    void note_exit(ExitKind k, u64 pc) {
        __atomic_store_n(&m_last_pc, pc, __ATOMIC_RELAXED);
        if (usize(k) < EXIT_KIND_COUNT)
            __atomic_store_n(&m_exits[usize(k)], m_exits[usize(k)] + 1, __ATOMIC_RELAXED);
    }
    // A new life of the VM (Vm::start, reset): counts start from zero. No vCPU of the VM runs.
    void reset_stats() {
        for (u64& n : m_exits) __atomic_store_n(&n, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&m_last_pc, 0, __ATOMIC_RELAXED);
    }

private:
    Vm& m_vm;
    u32 m_id;
    SchedEntity m_sched;
    TimerEvent m_wake_timer;
    EmulatedTimer m_emulated_timer;
    arch::Vcpu m_arch;
    u64 m_last_pc = 0;
    u64 m_exits[EXIT_KIND_COUNT] = {};
};
