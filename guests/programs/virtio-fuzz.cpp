// virtio-fuzz: a hostile bare-metal driver feeding random register writes, queue layouts,
// descriptors and rings to every virtio device of its VM (configs/vms/virtio-fuzz.toml: a
// virtio-blk RAM disk, a virtio-net and a virtio-console, all no_irq), the issue 8 "virtqueue
// fuzz". What it checks: every device stays answerable (the magic reads back after each round),
// a device that faulted says DEVICE_NEEDS_RESET and is dead until a reset, and after all rounds a
// well-formed request on each device works (the disk's first sector reads back as packaged, a
// console line and a frame go out). cxvisor's side (no panic, other VMs unaffected, one report
// line per fault, rate-limited) is the system test's (tests/system/CMakeLists.txt, virtio-fuzz).
//
// Deterministic: a fixed xorshift seed, printed, so a failing round can be replayed. Everything
// the devices may legitimately write (rings, buffers) lies in the scratch area, away from the
// guest's own image and stack; hostile addresses point outside RAM, into device windows, across
// the end of RAM or past 2^64.
#include "rt.hpp"
#include "virtio.hpp"

namespace {

struct Dev {
    uint64_t base;
    uint32_t id; // virtio device ID (5): 2 block, 1 network, 3 console
    const char* name;
};
constexpr Dev DEVS[] = {{rt::VIRTIO_BASE, 2, "vda"}, {rt::VIRTIO_BASE + 0x1000, 1, "eth0"}, {rt::VIRTIO_BASE + 0x2000, 3, "hvc0"}};

// Scratch: the upper half of the 16 MiB of RAM (the image, BSS and stacks are below 8 MiB).
constexpr uint64_t SCRATCH = rt::RAM_BASE + (8ull << 20);
constexpr uint64_t SCRATCH_SIZE = 4ull << 20;
constexpr uint64_t RAM_END = rt::RAM_BASE + rt::RAM_SIZE;
constexpr unsigned ROUNDS = 1000; // per device
constexpr uint32_t DISK_MAGIC = 0x5a465643; // "CVFZ": the first word of the packaged disk image

uint64_t g_seed = 0x2545f4914f6cdd1dull;
uint64_t rnd() { // xorshift64
    g_seed ^= g_seed << 13;
    g_seed ^= g_seed >> 7;
    g_seed ^= g_seed << 17;
    return g_seed;
}
uint64_t pick(uint64_t n) { return rnd() % n; }

// An address a hostile driver might hand a device: mostly inside the scratch area, else one that
// cxvisor must refuse.
uint64_t any_addr(uint64_t base, uint64_t len_hint) {
    switch (pick(10)) {
    case 0: return 0;                    // a hole below every device
    case 1: return rt::INTC_BASE;        // where the interrupt controller would be
    case 2: return base;                 // the device's own registers
    case 3: return rt::UART_BASE;        // the console UART
    case 4: return RAM_END - 8;          // straddling the end of RAM
    case 5: return RAM_END + pick(1 << 20) * 16; // just past RAM
    case 6: return ~0ull - pick(64) * 16;        // wrapping 2^64
    default: return SCRATCH + (pick(SCRATCH_SIZE - len_hint) & ~15ull);
    }
}
uint32_t any_len() {
    const uint32_t lens[] = {0, 1, 10, 16, 512, 4096, 65536, 0x7fffffff, 0xffffffff};
    return pick(3) ? uint32_t(1 + pick(1024)) : lens[pick(sizeof lens / sizeof lens[0])];
}
uint16_t any_size(uint64_t base) {
    const uint16_t sizes[] = {0, 1, 3, 8, 16, 100, 256, 1024, 2048, 32768, 0xffff};
    return pick(2) ? uint16_t(vio::reg(base, vio::QueueNumMax)) : sizes[pick(sizeof sizes / sizeof sizes[0])];
}

// [a, a + len) inside the scratch area (hostile addresses near 2^64 must not wrap into it).
bool in_scratch(uint64_t a, uint64_t len) {
    return a >= SCRATCH && a < SCRATCH + SCRATCH_SIZE && SCRATCH + SCRATCH_SIZE - a >= len;
}

void set64(uint64_t base, uint32_t low, uint64_t v) {
    vio::set_reg(base, low, uint32_t(v));
    vio::set_reg(base, low + 4, uint32_t(v >> 32));
}

struct Tally {
    unsigned rounds, needs_reset, notified;
};

// One round against `d`: reset, a negotiation that may be wrong, a queue that may be malformed,
// random descriptors and ring indices, random register writes, notifications.
void round(const Dev& d, Tally& t) {
    const uint64_t b = d.base;
    vio::reset(b);
    const uint64_t offered = vio::device_features(b);
    uint64_t wanted = pick(4) ? (offered & rnd()) | vio::F_VERSION_1 : rnd();
    vio::negotiate(b, wanted, nullptr, pick(3) == 0);
    const unsigned queues = 1 + unsigned(pick(3));
    for (unsigned qi = 0; qi < queues; ++qi) {
        const uint32_t q = uint32_t(pick(4)); // queue 2 and 3 do not exist on any of them
        const uint16_t size = any_size(b);
        const uint64_t desc = pick(5) ? SCRATCH + (pick(SCRATCH_SIZE / 2) & ~4095ull) : any_addr(b, 65536);
        const uint64_t avail = pick(5) ? desc + 16ull * (size ? size : 1) : any_addr(b, 4096);
        const uint64_t used = pick(5) ? ((avail + 6 + 2ull * size + 4095) & ~4095ull) : any_addr(b, 65536);
        vio::set_reg(b, vio::QueueSel, q);
        vio::set_reg(b, vio::QueueNum, size);
        set64(b, vio::QueueDescLow, desc);
        set64(b, vio::QueueDriverLow, avail);
        set64(b, vio::QueueDeviceLow, used);
        // The guest writes its own rings only where they are its RAM (the scratch area).
        const uint16_t n = size && size <= 1024 ? size : 16;
        if (in_scratch(desc, 16ull * n)) {
            auto* table = reinterpret_cast<volatile vio::Desc*>(desc);
            for (uint16_t i = 0; i < n; ++i) {
                const uint32_t len = any_len();
                table[i].addr = d.id == 3 && pick(4) ? SCRATCH + SCRATCH_SIZE / 2 : any_addr(b, len < 65536 ? len : 65536);
                table[i].len = len;
                table[i].flags = uint16_t(pick(8));
                table[i].next = uint16_t(pick(4) ? pick(n) : rnd());
            }
        }
        if (in_scratch(avail, 6 + 2ull * n)) {
            auto* ring = reinterpret_cast<volatile uint16_t*>(avail);
            ring[0] = uint16_t(pick(2));
            for (uint16_t i = 0; i < n; ++i) ring[2 + i] = uint16_t(pick(4) ? pick(n) : rnd());
            ring[2 + n] = uint16_t(rnd()); // used_event
            ring[1] = uint16_t(pick(3) ? 1 + pick(n) : rnd());
        }
        vio::set_reg(b, vio::QueueReady, uint32_t(pick(4) ? 1 : rnd()));
    }
    if (pick(5)) vio::driver_ok(b);
    for (unsigned k = pick(4); k > 0; --k) // stray register writes: any 32-bit aligned offset
        vio::set_reg(b, uint32_t(pick(0x1000 / 4) * 4), uint32_t(rnd()));
    for (unsigned k = 1 + pick(3); k > 0; --k) {
        vio::set_reg(b, vio::QueueNotify, uint32_t(pick(4) ? pick(3) : rnd()));
        ++t.notified;
    }
    vio::set_reg(b, vio::InterruptAck, uint32_t(rnd()));
    if (vio::reg(b, vio::Status) & vio::NEEDS_RESET) ++t.needs_reset;
    ++t.rounds;
}

alignas(4096) uint8_t g_rings[2][16384];
alignas(64) uint8_t g_buf[2][1024];

bool setup(const Dev& d, vio::Queue* q, unsigned count) {
    vio::reset(d.base);
    if (!vio::negotiate(d.base, vio::F_VERSION_1)) return false;
    for (unsigned i = 0; i < count; ++i)
        if (!q[i].setup(d.base, uint16_t(i), 8, g_rings[i])) return false;
    vio::driver_ok(d.base);
    return (vio::reg(d.base, vio::Status) & vio::NEEDS_RESET) == 0;
}

bool wait_one(vio::Queue& q, uint16_t head, uint32_t* len) {
    uint32_t id = ~0u;
    return q.wait(&id, len, 2000000) && id == head;
}

// After the fuzz: one correct request per device.
void still_works() {
    vio::Queue q[2];
    // Block: read sector 0 (virtio v1.2 5.2.6: header {type IN = 0, reserved, sector}, data, status).
    if (rt::check(setup(DEVS[0], q, 1), "vda: set up after the fuzz")) {
        struct {
            uint32_t type, reserved;
            uint64_t sector;
        } hdr{0, 0, 0};
        uint8_t* data = g_buf[0];
        uint8_t* status = g_buf[1];
        *status = 0xff;
        vio::Buf bufs[3] = {{uint64_t(&hdr), sizeof hdr, false}, {uint64_t(data), 512, true}, {uint64_t(status), 1, true}};
        uint32_t len = 0;
        const uint16_t head = q[0].submit(bufs, 3);
        q[0].notify();
        rt::check(wait_one(q[0], head, &len) && *status == 0, "vda: sector 0 read (status %u)", *status);
        const uint32_t first = uint32_t(data[0]) | uint32_t(data[1]) << 8 | uint32_t(data[2]) << 16 | uint32_t(data[3]) << 24;
        rt::check(first == DISK_MAGIC, "vda: sector 0 starts with the packaged magic (%x)", first);
    }
    // Network: one broadcast frame behind the 12-byte header (5.1.6).
    if (rt::check(setup(DEVS[1], q, 2), "eth0: set up after the fuzz")) {
        uint8_t* f = g_buf[0];
        for (unsigned i = 0; i < 12 + 60; ++i) f[i] = 0;
        for (unsigned i = 0; i < 6; ++i) f[12 + i] = 0xff;
        f[12 + 6] = 0x02, f[12 + 11] = 0x01;
        f[12 + 12] = 0x88, f[12 + 13] = 0xb5; // local experimental ethertype
        vio::Buf buf{uint64_t(f), 12 + 60, false};
        uint32_t len = 0;
        const uint16_t head = q[1].submit(&buf, 1);
        q[1].notify();
        rt::check(wait_one(q[1], head, &len), "eth0: a frame sent");
    }
    // Console: a line out.
    if (rt::check(setup(DEVS[2], q, 2), "hvc0: set up after the fuzz")) {
        // The leading newline ends whatever partial line the fuzz rounds left in the console.
        const char line[] = "\nvirtio-fuzz: hvc0 still works\n";
        for (unsigned i = 0; i < sizeof line - 1; ++i) g_buf[0][i] = uint8_t(line[i]);
        vio::Buf buf{uint64_t(g_buf[0]), sizeof line - 1, false};
        uint32_t len = 0;
        const uint16_t head = q[1].submit(&buf, 1);
        q[1].notify();
        rt::check(wait_one(q[1], head, &len), "hvc0: a line sent");
    }
}

} // namespace

void guest_main() {
    rt::test_start("virtio-fuzz");
    rt::printf("virtio-fuzz: seed %lx, %u rounds per device\n", g_seed, ROUNDS);
    // Console buffers point at text, so what the console device prints stays readable.
    auto* text = reinterpret_cast<volatile uint8_t*>(SCRATCH + SCRATCH_SIZE / 2);
    for (unsigned i = 0; i < 65536; ++i) text[i] = '.';
    for (const Dev& d : DEVS) {
        const vio::ProbeResult p = vio::probe(d.base);
        if (!rt::check(p.ok && p.device_id == d.id, "%s: device id %u (want %u)", d.name, p.device_id, d.id)) continue;
        Tally t{};
        for (unsigned r = 0; r < ROUNDS; ++r) {
            round(d, t);
            if (vio::reg(d.base, vio::MagicValue) != vio::MAGIC) {
                rt::check(false, "%s: round %u: the device stopped answering", d.name, r);
                break;
            }
        }
        rt::printf("virtio-fuzz: %s: %u rounds, %u notifications, %u left the device needing a reset\n", d.name,
                   t.rounds, t.notified, t.needs_reset);
        rt::check(t.needs_reset > 0, "%s: some rounds were malformed enough to need a reset", d.name);
    }
    still_works();
    rt::finish();
}
