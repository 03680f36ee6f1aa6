#include "kernel/irq.hpp"
#include "kernel/log.hpp"

namespace {
struct Entry {
    IrqHandler handler;
    void* ctx;
};
Entry g_handlers[MAX_IRQS];
} // namespace

void irq_register(u32 intid, IrqHandler handler, void* ctx) {
    if (intid < MAX_IRQS) g_handlers[intid] = {handler, ctx};
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

IrqAction irq_dispatch(u32 intid) {
    if (intid < MAX_IRQS && g_handlers[intid].handler) return g_handlers[intid].handler(intid, g_handlers[intid].ctx);
    kprint("cxvisor: unexpected interrupt %u (no handler), ignored\n", intid);
    return IrqAction::Done;
}
