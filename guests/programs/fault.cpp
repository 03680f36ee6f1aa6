// fault: accesses outside the VM's memory map get cxvisor's abort (aarch64: a synchronous external
// abort, EC 0x25 DFSC 0x10; riscv64: a load/store access fault, rt::is_external_abort), and a
// register the guest may not use traps as an undefined/illegal instruction (the ISA's part,
// fault-<isa>.cpp). The guest survives all of them and keeps running.
#include "rt.hpp"

// The ISA's part: an address with nothing mapped and one beyond the VM's RAM; the trapped register
// accesses, each checked.
extern const uint64_t g_fault_unmapped, g_fault_beyond_ram;
void check_trapped_registers();

namespace {
void check_abort(uint64_t addr, bool write) {
    rt::Probe p = write ? rt::probe_write(addr, 4, 0xC0FFEE) : rt::probe_read(addr, 4);
    rt::printf("%s %lx: %s syndrome %lx address %lx\n", write ? "write" : "read ", addr,
               p.taken ? "exception" : "no exception", p.esr, p.far);
    rt::check(rt::is_external_abort(p, addr, write), "%s %lx -> external abort", write ? "write" : "read", addr);
}
} // namespace

void guest_main() {
    rt::test_start("fault");
    check_abort(g_fault_unmapped, false); // nothing mapped there
    check_abort(g_fault_unmapped, true);
    check_abort(g_fault_beyond_ram, false);
    check_abort(g_fault_beyond_ram, true);
    check_trapped_registers();
    rt::printf("survived\n");
}
