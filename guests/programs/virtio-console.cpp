// virtio-console: cxvisor's virtio-mmio transport and console device seen from a bare-metal
// driver (guests/runtime/virtio.*; virtio spec v1.2, 4.2 and 5.3).
//   default: identity registers, feature negotiation (FEATURES_OK refused without VERSION_1 or
//     with a feature not offered), transmit lines (they appear as "[virtio-console] ..."), receive a
//     typed line, device reset.
//   CXV_VIRTIO_HOSTILE: a hostile driver: a misaligned ring, a looping chain and a buffer outside
//     RAM each give DEVICE_NEEDS_RESET (and the configuration-change interrupt bit once DRIVER_OK
//     is set), leave the device dead until a reset, and the device works again after one.
// The VM's config puts the virtio-console at the first virtio-mmio slot, rt::VIRTIO_BASE
// (configs/vms/virtio-*.toml, configs/vms/riscv64/virtio-console.toml).
#include "rt.hpp"
#include "virtio.hpp"

namespace {

constexpr uint64_t CON = rt::VIRTIO_BASE;
constexpr uint16_t QSIZE = 8;
constexpr uint32_t CONSOLE_F_MULTIPORT = 1u << 1, CONSOLE_F_EMERG_WRITE = 1u << 2;

alignas(4096) uint8_t g_rings[2][8192];
alignas(64) char g_tx[4][128];
[[maybe_unused]] alignas(64) char g_rx[4][64];

vio::Queue g_rxq, g_txq;

bool setup(uint64_t features) {
    if (!vio::negotiate(CON, features)) return false;
    if (!g_rxq.setup(CON, 0, QSIZE, g_rings[0]) || !g_txq.setup(CON, 1, QSIZE, g_rings[1])) return false;
    vio::driver_ok(CON);
    return true;
}

size_t copy(char* dst, const char* s) {
    size_t n = 0;
    while (s[n]) dst[n] = s[n], ++n;
    return n;
}

// Sends the pieces as one chain and waits for the device to return it.
bool send(const char* const* pieces, unsigned n) {
    vio::Buf bufs[4];
    for (unsigned i = 0; i < n; ++i)
        bufs[i] = {uint64_t(g_tx[i]), uint32_t(copy(g_tx[i], pieces[i])), false};
    const uint16_t head = g_txq.submit(bufs, n);
    g_txq.notify();
    uint32_t id = ~0u, len = ~0u;
    const bool ok = g_txq.wait(&id, &len, 2000000);
    return rt::check(ok && id == head && len == 0, "transmit chain %u returned (id %u, len %u)", head, id, len);
}

bool send1(const char* s) { return send(&s, 1); }

[[maybe_unused]] bool equals(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

#ifndef CXV_VIRTIO_HOSTILE
void console_test() {
    rt::test_start("virtio-console");
    const vio::ProbeResult p = vio::probe(CON);
    rt::check(p.ok && p.device_id == 3, "magic %x version %u device id %u (3: console)", p.magic, p.version,
              p.device_id);
    rt::check(p.vendor_id == 0x00565843, "vendor id %x (\"CXV\")", p.vendor_id);
    const uint64_t offered = vio::device_features(CON);
    rt::check((offered & (vio::F_VERSION_1 | vio::F_INDIRECT_DESC | vio::F_EVENT_IDX)) ==
                  (vio::F_VERSION_1 | vio::F_INDIRECT_DESC | vio::F_EVENT_IDX),
              "offers VERSION_1, INDIRECT_DESC, EVENT_IDX (%lx)", offered);
    rt::check((offered & CONSOLE_F_EMERG_WRITE) && !(offered & CONSOLE_F_MULTIPORT), "EMERG_WRITE, no MULTIPORT");
    rt::check(!vio::negotiate(CON, vio::F_EVENT_IDX, nullptr, true), "FEATURES_OK refused without VERSION_1");
    rt::check(!vio::negotiate(CON, vio::F_VERSION_1 | CONSOLE_F_MULTIPORT, nullptr, true),
              "FEATURES_OK refused for MULTIPORT, which is not offered");
    rt::check(vio::reg(CON, vio::Status) == (vio::ACKNOWLEDGE | vio::DRIVER), "status %x after the refusal",
              vio::reg(CON, vio::Status));
    if (!rt::check(setup(vio::F_VERSION_1 | vio::F_EVENT_IDX | vio::F_INDIRECT_DESC), "queues set up")) rt::finish();
    rt::check(vio::reg(CON, vio::Status) == 15, "status %x (ACK|DRIVER|FEATURES_OK|DRIVER_OK)",
              vio::reg(CON, vio::Status));
    const char* two[] = {"hello over ", "virtio-console\r\n"};
    send(two, 2);
    send1("second line\n");

    // Receive: buffers first, then ask for a line (the harness types it when it sees the prompt).
    for (unsigned i = 0; i < 4; ++i) {
        vio::Buf b{uint64_t(g_rx[i]), sizeof g_rx[i], true};
        g_rxq.submit(&b, 1);
    }
    g_rxq.notify();
    rt::printf("virtio-console: type a line\n");
    char line[128];
    unsigned len = 0;
    bool done = false;
    const uint64_t end = rt::counter() + 20 * rt::counter_freq();
    while (!done && rt::counter() < end) {
        uint32_t id, n;
        if (!g_rxq.poll(&id, &n)) continue;
        if (!rt::check(id < QSIZE && n <= sizeof g_rx[0], "used element id %u len %u", id, n)) break;
        // The used id is the chain's head descriptor; its buffer is what that descriptor names.
        const char* buf = reinterpret_cast<const char*>(g_rxq.desc[id].addr);
        for (uint32_t k = 0; k < n; ++k) {
            const char c = buf[k];
            if (c == '\r' || c == '\n') done = len > 0;
            else if (len + 1 < sizeof line) line[len++] = c;
        }
        vio::Buf b{uint64_t(buf), sizeof g_rx[0], true}; // give the buffer back
        g_rxq.submit(&b, 1);
        g_rxq.notify();
    }
    line[len] = 0;
    rt::check(done && equals(line, "typed into hvc0"), "received \"%s\"", line);
    char echo[96];
    rt::format(echo, sizeof echo, "got: %s\n", line);
    send1(echo);

    // Reset (4.2.3.1): everything back to 0, then the device works again.
    vio::reset(CON);
    rt::check(vio::reg(CON, vio::InterruptStatus) == 0, "interrupt status 0 after reset");
    vio::set_reg(CON, vio::QueueSel, 1);
    rt::check(vio::reg(CON, vio::QueueReady) == 0, "queue 1 not ready after reset");
    if (rt::check(setup(vio::F_VERSION_1), "set up again")) send1("after reset\n");
    rt::finish();
}

#else
void expect_needs_reset(const char* what, bool config_irq) {
    const uint32_t s = vio::reg(CON, vio::Status), i = vio::reg(CON, vio::InterruptStatus);
    rt::check((s & vio::NEEDS_RESET) != 0, "%s: DEVICE_NEEDS_RESET (status %x)", what, s);
    if (config_irq) rt::check((i & 2) != 0, "%s: configuration change interrupt (InterruptStatus %x)", what, i);
}

void hostile_test() {
    rt::test_start("virtio-hostile");
    // 1. A descriptor table that is not 16-byte aligned: refused at QueueReady.
    rt::check(vio::negotiate(CON, vio::F_VERSION_1), "negotiated");
    g_txq.setup(CON, 1, QSIZE, g_rings[1] + 8);
    expect_needs_reset("misaligned ring", false);
    // 2. A chain that loops, after DRIVER_OK.
    if (!rt::check(setup(vio::F_VERSION_1), "set up after reset")) rt::finish();
    g_txq.desc[0].addr = uint64_t(g_tx[0]);
    g_txq.desc[0].len = 4;
    g_txq.desc[0].flags = vio::DESC_NEXT;
    g_txq.desc[0].next = 1;
    g_txq.desc[1].addr = uint64_t(g_tx[1]);
    g_txq.desc[1].len = 4;
    g_txq.desc[1].flags = vio::DESC_NEXT;
    g_txq.desc[1].next = 0;
    g_txq.avail[2] = 0;
    g_txq.avail[1] = 1;
    g_txq.notify();
    expect_needs_reset("looping chain", true);
    g_txq.notify(); // dead until reset: nothing is used, nothing changes
    rt::check(g_txq.used_idx() == 0, "nothing used by a device that needs a reset");
    // 3. A buffer in the UART's window (device memory, not RAM).
    if (!rt::check(setup(vio::F_VERSION_1), "set up after reset")) rt::finish();
    vio::Buf uart{rt::UART_BASE, 16, false};
    g_txq.submit(&uart, 1);
    g_txq.notify();
    expect_needs_reset("buffer outside RAM", true);
    // 4. An available index that jumps past the queue size.
    if (!rt::check(setup(vio::F_VERSION_1), "set up after reset")) rt::finish();
    g_txq.avail[1] = QSIZE + 3;
    g_txq.notify();
    expect_needs_reset("avail idx jump", true);
    // After a reset, a correct driver works again.
    if (rt::check(setup(vio::F_VERSION_1), "set up after reset")) send1("hostile VM: the device works again\n");
    rt::finish();
}
#endif

} // namespace

void guest_main() {
#ifdef CXV_VIRTIO_HOSTILE
    hostile_test();
#else
    console_test();
#endif
}
