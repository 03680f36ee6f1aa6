// bench-virtio: guest-visible cost of a virtio-mmio notification (virtio v1.2 4.2.2 QueueNotify)
// and of one transmit request of the virtio-console, measured with the counter (CNTVCT_EL0, the time
// CSR) under QEMU -icount like bench.cpp. The device is found by scanning QEMU virt's virtio-mmio
// slots (rt::VIRTIO_BASE + rt::QEMU_VIRTIO_STRIDE * n): cxvisor's (configs/vms/bench-virtio.toml,
// configs/vms/riscv64/bench-virtio.toml) is at the first; on bare QEMU (-device
// virtio-serial-device, -global virtio-mmio.force-legacy=false) QEMU's own is at one of the others,
// so the same image measures both.
//   BENCH <name> <counter ticks per iteration x 1000> <counter frequency>
#include "rt.hpp"
#include "virtio.hpp"

namespace {
constexpr uint64_t ITERS = 1000;
constexpr uint16_t QSIZE = 8;
alignas(4096) uint8_t g_rings[2][8192];

template <typename F> void bench(const char* name, F body) {
    body(); // warm up
    uint64_t t0 = rt::counter();
    for (uint64_t i = 0; i < ITERS; ++i) body();
    uint64_t t1 = rt::counter();
    rt::printf("BENCH %s %lu %lu\n", name, (t1 - t0) * 1000 / ITERS, rt::counter_freq());
}

uint64_t find_console() {
    for (uint64_t slot = 0; slot < rt::QEMU_VIRTIO_SLOTS; ++slot) {
        const uint64_t base = rt::VIRTIO_BASE + rt::QEMU_VIRTIO_STRIDE * slot;
        const vio::ProbeResult p = vio::probe(base);
        if (p.ok && p.device_id == 3) return base;
    }
    return 0;
}

vio::Queue g_rx, g_tx;
} // namespace

void guest_main() {
    rt::test_start("bench-virtio");
    const uint64_t base = find_console();
    if (!rt::check(base != 0, "a version-2 virtio console in the virtio-mmio slots")) rt::finish();
    rt::printf("bench-virtio: console at %lx\n", base);
    if (!rt::check(vio::negotiate(base, vio::F_VERSION_1), "FEATURES_OK") ||
        !rt::check(g_rx.setup(base, 0, QSIZE, g_rings[0]) && g_tx.setup(base, 1, QSIZE, g_rings[1]), "queues"))
        rt::finish();
    vio::driver_ok(base);
    bench("add100", [] { rt::add100(); });
    // A trapped register read (QueueNumMax of the selected queue): the MMIO path into the transport.
    bench("virtio_reg_read", [base] { (void)vio::reg(base, vio::QueueNumMax); });
    // QueueNotify with nothing new on the transmit queue: the notification exit alone (the device
    // looks at the ring, finds it empty and returns).
    bench("virtio_notify", [] { g_tx.notify(); });
    // One transmit request: a chain of one 1-byte buffer made available, notified, and its used
    // element polled. The byte is '\r', which the console drops (QEMU refuses empty buffers).
    g_rings[1][4096] = '\r';
    bench("virtio_tx_request", [] {
        vio::Buf b{uint64_t(g_rings[1]) + 4096, 1, false};
        g_tx.submit(&b, 1);
        g_tx.notify();
        uint32_t id, len;
        while (!g_tx.poll(&id, &len)) {
        }
    });
}
