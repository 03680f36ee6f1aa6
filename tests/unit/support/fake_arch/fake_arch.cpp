// Fake ISA binding (see arch.hpp) plus the per-CPU array the image defines in vmm/main.cpp.
#include "arch.hpp"
#include <cstring>
#include <mutex>
#include "arch_stage2.hpp"
#include "arch_vcpu.hpp"
#include "base/format.hpp"
#include "fdt/fdt.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"

PerCpu g_percpu[MAX_CPUS];
usize g_cpu_count = 1;

namespace {
// Per host thread, as TPIDR_EL2 is per CPU: a test may run "CPUs" on threads (sched_test's stress).
thread_local void* g_percpu_pointer = &g_percpu[0];
std::mutex g_ipi_lock;
}

namespace arch {

void* percpu_pointer() { return g_percpu_pointer; }
void set_percpu_pointer(void* p) { g_percpu_pointer = p; }

u64 counter() { return fake::counter_value; }
u64 counter_frequency() { return fake::frequency; }
void timer_set_deadline(u64 deadline) { fake::timer = {true, deadline, fake::timer.programs + 1}; }
void timer_stop() { fake::timer = {false, fake::timer.deadline, fake::timer.programs + 1}; }

void send_ipi(u64 target_hw_id) {
    std::lock_guard<std::mutex> guard(g_ipi_lock);
    fake::ipis.push_back(target_hw_id);
}
void irq_enable(u32 intid, bool enable) { fake::irq_calls.push_back({intid, enable}); }
void irq_enable_shared_on(u32 intid, u64 target) { fake::irq_calls.push_back({intid, true, target}); }
u32 dt_device_irq(const Fdt&, FdtNode) { return 0; }
void irq_deactivate(u32 intid) { fake::deactivated.push_back(intid); }
void handle_pending_irqs() {
    std::vector<u32> irqs;
    irqs.swap(fake::pending_irqs);
    for (u32 intid : irqs) (void)irq_dispatch(intid);
}
void wfi() {
    ++fake::wfi_calls;
    if (!fake::wfi_hook) panic("fake wfi: no hook, this CPU would idle forever");
    fake::wfi_hook();
}

void system_off() { ++fake::system_offs; }
void clean_dcache_range(const void*, usize) { ++fake::dcache_cleans; }
void zero_and_clean(void* p, usize size) {
    memset(p, 0, size);
    clean_dcache_range(p, size);
}
void invalidate_icache_all() { ++fake::icache_invalidations; }
void publish_stage2_updates() { ++fake::stage2_publishes; }

const char* describe_sysreg(u64 id, char* buf, usize size) {
    format(buf, size, "sysreg#%lx", id);
    return buf;
}

} // namespace arch

namespace fake {

void reset() {
    for (usize i = 0; i < MAX_CPUS; ++i) {
        // Events a previous test left armed (e.g. the scheduler's static slice timers).
        use_cpu(unsigned(i));
        while (TimerEvent* ev = g_percpu[i].timers.head) timer_cancel(*ev);
        g_percpu[i].id = i;
        g_percpu[i].hw_id = 0x100 + i;
        g_percpu[i].idle.store(false);
        g_percpu[i].need_resched.store(false);
        g_percpu[i].idle_in_guest.store(false);
        g_percpu[i].waiting_in_guest.store(false);
        g_percpu[i].idle_ticks.store(0);
        g_percpu[i].idle_since.store(~0ull);
    }
    use_cpu(0);
    counter_value = 0;
    frequency = 62'500'000;
    timer = {};
    ipis.clear();
    pending_irqs.clear();
    irq_calls.clear();
    deactivated.clear();
    wfi_hook = nullptr;
    wfi_calls = 0;
    system_offs = 0;
    dcache_cleans = icache_invalidations = stage2_publishes = 0;
    tlb_calls.clear();
    fault_retries.clear();
    parange = 2;
}

void use_cpu(unsigned index) { arch::set_percpu_pointer(&g_percpu[index]); }

} // namespace fake
