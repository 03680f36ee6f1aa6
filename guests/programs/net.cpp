// net: bare-metal guests on cxvisor's virtual switch (virtio-net, virtio v1.2 5.1, through the
// guests/runtime/virtio.* driver; polled, no interrupts). One source, three roles chosen at build
// time (CXV_NET_ROLE 1, 2, 3), each with its own VM config (configs/vms/net-*.toml):
//   'A' (net-a, network 0): broadcasts "hello" until B answers, then sends kFrames frames of
//       varied lengths (60..1514 bytes) unicast to B, one at a time, each carrying a sequence
//       number and an FNV-1a checksum of its payload; B echoes each back and A checks it byte for
//       byte. Any frame from a source other than B (C's broadcasts) is a failure.
//   'B' (net-b, network 0): answers hellos, echoes every data frame back to its sender after
//       checking its checksum, until it has echoed kFrames of them.
//   'B' with CXV_NET_RESET (net-b-reset): as B, but reboots its VM after echoing half the frames
//       and echoes the rest in its second life (A sends a frame again while no echo comes).
//   4 (net-hostile, network 2): a malformed transmit chain and bad frames, see role_hostile().
//   'C' (net-c, network 1, another switch): broadcasts on its own network for kQuietMs and must
//       receive nothing at all while A and B talk on network 0.
// Frames use EtherType 0x88B5 (IEEE 802 local experimental). The device sits at the second
// virtio-mmio slot, rt::VIRTIO_BASE + 0x1000 (configs/vms/net-*.toml, configs/vms/riscv64/net-*.toml).
#include "rt.hpp"
#include "virtio.hpp"

#ifndef CXV_NET_ROLE
#define CXV_NET_ROLE 1 // 1 = A, 2 = B, 3 = C
#endif
#ifndef CXV_NET_RESET
#define CXV_NET_RESET 0 // B only: reboot once in the middle (net-b-reset)
#endif

namespace {

constexpr uint64_t NET = rt::VIRTIO_BASE + 0x1000;
constexpr uint16_t QSIZE = 16;
constexpr uint64_t F_MAC = 1ull << 5, F_STATUS = 1ull << 16, F_MTU = 1ull << 3;
constexpr uint32_t HDR = 12; // struct virtio_net_hdr with VERSION_1 (5.1.6)
constexpr uint32_t MAX_FRAME = 1514;
constexpr uint16_t ETHERTYPE = 0x88B5;
constexpr unsigned kFrames = 48;
constexpr uint64_t kQuietMs = 3000;
constexpr uint8_t KIND_HELLO = 1, KIND_HELLO_REPLY = 2, KIND_DATA = 3, KIND_ECHO = 4, KIND_NOISE = 5;

const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0xde, 0x0a};
const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0xde, 0x0b};
const uint8_t MAC_C[6] = {0x02, 0, 0, 0, 0xde, 0x0c};
const uint8_t MAC_H[6] = {0x02, 0, 0, 0, 0xde, 0x0d};
const uint8_t BROADCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

alignas(4096) uint8_t g_rings[2][8192];
alignas(64) uint8_t g_rx[QSIZE][HDR + MAX_FRAME + 4];
alignas(64) uint8_t g_tx[HDR + MAX_FRAME];
int g_rx_of_desc[QSIZE]; // which rx buffer a descriptor head carries
vio::Queue g_rxq, g_txq;
uint8_t g_mac[6];

bool same_mac(const uint8_t* a, const uint8_t* b) {
    for (int i = 0; i < 6; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

uint32_t fnv1a(const uint8_t* p, uint32_t n) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
    return h;
}

void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }

void post_rx(int buf) {
    const vio::Buf b{uint64_t(g_rx[buf]), uint32_t(sizeof g_rx[buf]), true};
    g_rx_of_desc[g_rxq.submit(&b, 1)] = buf;
}

// Frame layout after the 14-byte Ethernet header: kind, seq (le32), payload length (le32),
// checksum (le32), payload.
constexpr uint32_t OFF_KIND = 14, OFF_SEQ = 15, OFF_LEN = 19, OFF_SUM = 23, OFF_PAYLOAD = 27;

// Builds and sends one frame (the device copies it before returning the chain).
bool send(const uint8_t* dst, uint8_t kind, uint32_t seq, const uint8_t* payload, uint32_t n) {
    for (uint32_t i = 0; i < HDR; ++i) g_tx[i] = 0; // no offloads: an all-zero header
    uint8_t* f = g_tx + HDR;
    for (int i = 0; i < 6; ++i) f[i] = dst[i], f[6 + i] = g_mac[i];
    f[12] = uint8_t(ETHERTYPE >> 8);
    f[13] = uint8_t(ETHERTYPE);
    f[OFF_KIND] = kind;
    put32(f + OFF_SEQ, seq);
    put32(f + OFF_LEN, n);
    put32(f + OFF_SUM, fnv1a(payload, n));
    for (uint32_t i = 0; i < n; ++i) f[OFF_PAYLOAD + i] = payload[i];
    uint32_t len = OFF_PAYLOAD + n;
    if (len < 60) {
        for (uint32_t i = len; i < 60; ++i) f[i] = 0;
        len = 60;
    }
    const vio::Buf b{uint64_t(g_tx), HDR + len, false};
    const uint16_t head = g_txq.submit(&b, 1);
    g_txq.notify();
    uint32_t id = ~0u, used_len = ~0u;
    const bool ok = g_txq.wait(&id, &used_len, 2000000);
    // Per-frame checks print only when they fail: a run moves hundreds of frames.
    if (ok && id == head && used_len == 0) return true;
    return rt::check(false, "transmit chain %u returned (id %u, len %u)", head, id, used_len);
}

// A good broadcast frame offered and notified, not waited for.
void send_raw_unchecked() {
    for (uint32_t i = 0; i < HDR + 60; ++i) g_tx[i] = 0;
    for (int i = 0; i < 6; ++i) g_tx[HDR + i] = 0xff, g_tx[HDR + 6 + i] = g_mac[i];
    const vio::Buf b{uint64_t(g_tx), HDR + 60, false};
    g_txq.submit(&b, 1);
    g_txq.notify();
}

struct Frame {
    const uint8_t* p; // Ethernet header onwards
    uint32_t len;
    int buf;
};

// The next received frame within timeout_us, its header checked; the caller reposts buf.
bool receive(Frame& out, uint64_t timeout_us) {
    uint32_t id, len;
    if (!g_rxq.wait(&id, &len, timeout_us)) return false;
    if (id >= QSIZE || len < HDR + 14 || len > HDR + MAX_FRAME + 4) {
        rt::check(false, "rx element id %u len %u", id, len);
        rt::finish();
    }
    const int buf = g_rx_of_desc[id];
    const uint8_t* h = g_rx[buf];
    // 5.1.6.4: no offloads negotiated, so flags, gso_type, ... are 0 and num_buffers is 1.
    bool hdr_ok = h[10] == 1 && h[11] == 0;
    for (int i = 0; i < 10; ++i) hdr_ok = hdr_ok && h[i] == 0;
    if (!hdr_ok) rt::check(false, "virtio_net_hdr of a received frame all zero but num_buffers 1");
    out = Frame{h + HDR, len - HDR, buf};
    return true;
}

// The frame's own checksum over its payload matches, and its length fields are consistent.
bool intact(const Frame& f) {
    if (f.len < OFF_PAYLOAD) return false;
    const uint32_t n = get32(f.p + OFF_LEN);
    return n <= f.len - OFF_PAYLOAD && fnv1a(f.p + OFF_PAYLOAD, n) == get32(f.p + OFF_SUM);
}

bool ours(const Frame& f) { return f.len >= OFF_PAYLOAD && f.p[12] == (ETHERTYPE >> 8) && f.p[13] == uint8_t(ETHERTYPE); }

void bring_up(const char* name, const uint8_t* mac) {
    rt::test_start(name);
    const vio::ProbeResult p = vio::probe(NET);
    if (!rt::check(p.ok && p.device_id == 1, "virtio-net at %x (magic %x version %u device id %u)", unsigned(NET),
                   p.magic, p.version, p.device_id))
        rt::finish();
    const uint64_t offered = vio::device_features(NET);
    rt::check((offered & (F_MAC | F_STATUS | F_MTU)) == (F_MAC | F_STATUS | F_MTU), "offers MAC, STATUS, MTU (%lx)",
              offered);
    rt::check(!(offered & 0xFFFF & ~(F_MAC | F_MTU)), "no offloads offered (%lx)", offered);
    if (!rt::check(vio::negotiate(NET, vio::F_VERSION_1 | F_MAC | F_STATUS), "features accepted")) rt::finish();
    if (!rt::check(g_rxq.setup(NET, 0, QSIZE, g_rings[0]) && g_txq.setup(NET, 1, QSIZE, g_rings[1]), "queues set up"))
        rt::finish();
    vio::driver_ok(NET);
    // virtio_net_config (5.1.4): mac[6], then status (LINK_UP = 1).
    const uint32_t w0 = vio::reg(NET, vio::Config), w1 = vio::reg(NET, vio::Config + 4);
    for (int i = 0; i < 4; ++i) g_mac[i] = uint8_t(w0 >> (8 * i));
    g_mac[4] = uint8_t(w1), g_mac[5] = uint8_t(w1 >> 8);
    rt::check(same_mac(g_mac, mac), "config MAC %02x:%02x:%02x:%02x:%02x:%02x from the VM config", g_mac[0], g_mac[1],
              g_mac[2], g_mac[3], g_mac[4], g_mac[5]);
    rt::check(((w1 >> 16) & 1) == 1, "link up (status %x)", w1 >> 16);
    for (int i = 0; i < QSIZE; ++i) post_rx(i);
    g_rxq.notify();
}

// After a VM reset: the same set-up (the device was reset with the VM: 4.2.3.1) under the test's
// name, without a second START line.
void bring_up_again(const uint8_t* mac, uint64_t life) {
    if (life) {
        rt::test_start_quiet("net-b");
        rt::printf("net-b: life %lu, setting the device up again\n", life);
    }
    if (!rt::check(vio::negotiate(NET, vio::F_VERSION_1 | F_MAC | F_STATUS), "features accepted again")) rt::finish();
    if (!rt::check(g_rxq.setup(NET, 0, QSIZE, g_rings[0]) && g_txq.setup(NET, 1, QSIZE, g_rings[1]), "queues set up again"))
        rt::finish();
    vio::driver_ok(NET);
    for (int i = 0; i < 6; ++i) g_mac[i] = mac[i];
    for (int i = 0; i < QSIZE; ++i) post_rx(i);
    g_rxq.notify();
}

uint8_t g_payload[MAX_FRAME];

void role_a() {
    bring_up("net-a", MAC_A);
    // Hello until B's driver is up (frames to a device that is not ready are dropped, never held).
    bool b_up = false;
    unsigned foreign = 0;
    for (int tries = 0; tries < 400 && !b_up; ++tries) {
        send(BROADCAST, KIND_HELLO, 0, nullptr, 0);
        Frame f;
        while (!b_up && receive(f, 25000)) {
            if (!same_mac(f.p + 6, MAC_B)) ++foreign;
            b_up = ours(f) && f.p[OFF_KIND] == KIND_HELLO_REPLY && same_mac(f.p, MAC_A);
            post_rx(f.buf);
            g_rxq.notify();
        }
    }
    if (!rt::check(b_up, "net-b answered a broadcast hello")) rt::finish();
    unsigned good = 0, resent = 0;
    uint64_t bytes = 0;
    const uint64_t t0 = rt::counter();
    for (unsigned seq = 1; seq <= kFrames; ++seq) {
        // Lengths from a minimum frame to a full 1514-byte one, payload bytes from the sequence.
        const uint32_t n = seq == 1         ? 0                        // padded to a minimum frame
                           : seq == kFrames ? MAX_FRAME - OFF_PAYLOAD // a full 1514-byte frame
                                            : (seq * 211) % (MAX_FRAME - OFF_PAYLOAD + 1);
        for (uint32_t i = 0; i < n; ++i) g_payload[i] = uint8_t(seq * 31 + i * 7 + (i >> 8));
        // Sent again while no echo comes: frames to a VM whose driver is not ready (net-b-reset
        // rebooting) are dropped by the switch, never held for it.
        bool echoed = false;
        for (unsigned attempt = 0; attempt < 100 && !echoed; ++attempt) {
            if (attempt) ++resent;
            send(MAC_B, KIND_DATA, seq, g_payload, n);
            Frame f;
            while (!echoed && receive(f, 300000)) {
                if (!same_mac(f.p + 6, MAC_B)) ++foreign;
                if (ours(f) && f.p[OFF_KIND] == KIND_ECHO && get32(f.p + OFF_SEQ) == seq) {
                    echoed = true;
                    bool same = intact(f) && get32(f.p + OFF_LEN) == n && same_mac(f.p, MAC_A);
                    for (uint32_t i = 0; same && i < n; ++i) same = f.p[OFF_PAYLOAD + i] == g_payload[i];
                    if (same)
                        ++good, bytes += n;
                    else
                        rt::check(false, "echo of frame %u (%u payload bytes) intact", seq, n);
                }
                post_rx(f.buf);
                g_rxq.notify();
            }
        }
        if (!echoed) {
            rt::check(false, "echo of frame %u arrived", seq);
            break;
        }
    }
    const uint64_t us = rt::ticks_to_us(rt::counter() - t0);
    rt::printf("net-a: %u of %u frames echoed intact (%lu payload bytes each way) in %lu us\n", good, kFrames, bytes,
               us);
    rt::printf("net-a: %u frame(s) sent again for want of an echo\n", resent);
    rt::check(good == kFrames, "every frame came back intact");
    rt::check(foreign == 0, "no frame from any station but net-b (got %u)", foreign);
    rt::finish();
}

void role_b() {
    // CXV_NET_RESET (net-b-reset): the first life echoes half the frames, then reboots the VM
    // (PSCI SYSTEM_RESET) in the middle of the exchange; the second life sets the device up again
    // and echoes the rest. Frames sent while it reboots must be dropped, not delivered late.
    const uint64_t life = rt::vm_info().resets;
    if (life == 0)
        bring_up("net-b", MAC_B);
    else
        bring_up_again(MAC_B, life);
    unsigned echoed = 0, hellos = 0, bad = 0, foreign = 0;
    uint32_t last_seq = 0;
    const uint64_t deadline = rt::counter() + rt::counter_freq() * 60;
    while (last_seq < kFrames && rt::counter() < deadline) {
        Frame f;
        if (!receive(f, 100000)) continue;
        if (!same_mac(f.p + 6, MAC_A)) ++foreign;
        if (ours(f) && f.p[OFF_KIND] == KIND_HELLO) {
            if (hellos++ == 0) rt::printf("net-b: hello from net-a\n");
            send(f.p + 6, KIND_HELLO_REPLY, 0, nullptr, 0);
        } else if (ours(f) && f.p[OFF_KIND] == KIND_DATA) {
            if (!intact(f)) {
                ++bad;
            } else {
                const uint32_t n = get32(f.p + OFF_LEN), seq = get32(f.p + OFF_SEQ);
                for (uint32_t i = 0; i < n; ++i) g_payload[i] = f.p[OFF_PAYLOAD + i];
                uint8_t to[6];
                for (int i = 0; i < 6; ++i) to[i] = f.p[6 + i];
                send(to, KIND_ECHO, seq, g_payload, n);
                ++echoed;
                if (seq > last_seq) last_seq = seq; // a frame sent again may come twice
                if (CXV_NET_RESET && life == 0 && seq == kFrames / 2) {
                    rt::printf("net-b: echoed frame %u, rebooting in the middle of the exchange\n", seq);
                    rt::system_reset();
                }
            }
        }
        post_rx(f.buf);
        g_rxq.notify();
    }
    rt::printf("net-b: echoed %u frames (up to frame %u) in life %lu, %u hellos\n", echoed, last_seq, life, hellos);
    rt::check(last_seq == kFrames, "echoed up to the last frame, %u (%u)", kFrames, last_seq);
    rt::check(!CXV_NET_RESET || life == 1, "rebooted once in between (life %lu)", life);
    rt::check(bad == 0, "no frame with a bad checksum (got %u)", bad);
    rt::check(foreign == 0, "no frame from any station but net-a (got %u)", foreign);
    rt::finish();
}

void role_c() {
    bring_up("net-c", MAC_C);
    unsigned got = 0, sent = 0;
    const uint64_t end = rt::counter() + rt::counter_freq() * kQuietMs / 1000;
    while (rt::counter() < end) {
        send(BROADCAST, KIND_NOISE, sent++, nullptr, 0);
        Frame f;
        while (receive(f, 20000)) {
            ++got;
            post_rx(f.buf);
            g_rxq.notify();
        }
    }
    rt::printf("net-c: sent %u broadcasts on network 1, received %u frames\n", sent, got);
    rt::check(got == 0, "nothing from network 0 reaches network 1");
    rt::finish();
}

// 'H' (net-hostile, network 2, alone): what a broken or hostile driver can do to its own device.
// A transmit chain with a device-writable buffer is a malformed chain: DEVICE_NEEDS_RESET, and the
// device stops (a later chain stays unused) until the driver resets it. Frames that are merely bad
// (over 1514 + 4 bytes, a header asking for checksum offload or GSO, shorter than an Ethernet
// header) are dropped and their buffers returned, and the device keeps working.
void role_hostile() {
    bring_up("net-hostile", MAC_H);
    const uint32_t status0 = vio::reg(NET, vio::Status);
    // Bad frames: each chain comes back (length 0), no NEEDS_RESET.
    struct {
        uint32_t len;
        uint8_t flags, gso;
        const char* what;
    } bad[] = {{HDR + MAX_FRAME + 5, 0, 0, "a 1519-byte frame"},
               {HDR + 60, 1, 0, "NEEDS_CSUM without VIRTIO_NET_F_CSUM"},
               {HDR + 60, 0, 1, "GSO_TCPV4 without VIRTIO_NET_F_HOST_TSO4"},
               {HDR + 13, 0, 0, "a 13-byte frame"}};
    static uint8_t big[HDR + MAX_FRAME + 5];
    for (auto& b : bad) {
        for (auto& x : big) x = 0;
        big[0] = b.flags, big[1] = b.gso;
        for (int i = 0; i < 6; ++i) big[HDR + i] = 0xff, big[HDR + 6 + i] = g_mac[i];
        const vio::Buf buf{uint64_t(big), b.len, false};
        const uint16_t head = g_txq.submit(&buf, 1);
        g_txq.notify();
        uint32_t id = ~0u, len = ~0u;
        const bool ok = g_txq.wait(&id, &len, 2000000);
        rt::check(ok && id == head && len == 0, "%s: dropped, its chain returned (id %u, len %u)", b.what, id, len);
    }
    rt::check(vio::reg(NET, vio::Status) == status0, "bad frames leave the status alone (%x)", vio::reg(NET, vio::Status));
    // A malformed chain: readable header + frame, then a buffer for the device to write.
    const vio::Buf chain[2] = {{uint64_t(g_tx), HDR + 60, false}, {uint64_t(g_rx[0]), 64, true}};
    g_txq.submit(chain, 2);
    g_txq.notify();
    rt::check((vio::reg(NET, vio::Status) & vio::NEEDS_RESET) != 0, "a transmit chain with a writable buffer: "
              "DEVICE_NEEDS_RESET (status %x)", vio::reg(NET, vio::Status));
    rt::check((vio::reg(NET, vio::InterruptStatus) & 2) != 0, "configuration-change interrupt raised (%x)",
              vio::reg(NET, vio::InterruptStatus));
    // Dead until reset: a good frame now is not consumed.
    send_raw_unchecked();
    uint32_t id, len;
    rt::check(!g_txq.wait(&id, &len, 200000), "the device consumes nothing until it is reset");
    vio::reset(NET);
    bring_up_again(MAC_H, 0);
    rt::check((vio::reg(NET, vio::Status) & vio::NEEDS_RESET) == 0, "reset clears DEVICE_NEEDS_RESET (%x)",
              vio::reg(NET, vio::Status));
    rt::check(send(BROADCAST, KIND_NOISE, 1, nullptr, 0), "after the reset the device sends again");
    rt::finish();
}

} // namespace

void guest_main() {
    if (CXV_NET_ROLE == 4)
        role_hostile();
    else if (CXV_NET_ROLE == 2)
        role_b();
    else if (CXV_NET_ROLE == 3)
        role_c();
    else
        role_a();
}
