// blk-bounds: cxvisor's virtio-blk device (virtio spec v1.2, 5.2) seen from a bare-metal driver
// (guests/runtime/virtio.*) that asks for what Linux never does: sectors past the end of its disk,
// sectors whose byte offset wraps 2^64, a request without a status byte. Its disk is the 1 MiB
// region [48 MiB, 49 MiB) of the host disk (configs/vms/blk-bounds.toml); the system test then
// checks on the disk file that only the region's last sector changed.
#include "rt.hpp"
#include "virtio.hpp"

namespace {

constexpr uint64_t BLK = rt::VIRTIO_BASE;
constexpr uint16_t QSIZE = 8;
constexpr uint64_t SECTORS = 2048; // 1 MiB
constexpr uint32_t T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8;
constexpr uint8_t S_OK = 0, S_IOERR = 1;
constexpr uint64_t F_SEG_MAX = 1u << 2, F_BLK_SIZE = 1u << 6, F_FLUSH = 1u << 9, F_RO = 1u << 5;

alignas(4096) uint8_t g_ring[8192];
struct alignas(16) Header {
    uint32_t type, reserved;
    uint64_t sector;
};
Header g_hdr;
alignas(64) uint8_t g_data[1024];
alignas(64) uint8_t g_status[64];
vio::Queue g_q;

// One request: header, `len` bytes of data (device-writable for IN and GET_ID), status. Returns
// the status byte (0xEE: the device did not write it) and the used length in *used.
uint8_t request(uint32_t type, uint64_t sector, uint32_t len, uint32_t* used = nullptr) {
    g_hdr = {type, 0, sector};
    g_status[0] = 0xEE;
    vio::Buf bufs[3];
    unsigned n = 0;
    bufs[n++] = {uint64_t(&g_hdr), sizeof g_hdr, false};
    if (len) bufs[n++] = {uint64_t(g_data), len, type == T_IN || type == T_GET_ID};
    bufs[n++] = {uint64_t(g_status), 1, true};
    const uint16_t head = g_q.submit(bufs, n);
    g_q.notify();
    uint32_t id = ~0u, l = ~0u;
    const bool ok = g_q.wait(&id, &l, 5000000);
    rt::check(ok && id == head, "request type %u sector %lx completed (id %u)", type, sector, id);
    if (used) *used = l;
    return g_status[0];
}

void fill(uint8_t v, uint32_t len) {
    for (uint32_t i = 0; i < len; ++i) g_data[i] = v;
}
bool all(uint8_t v, uint32_t len) {
    for (uint32_t i = 0; i < len; ++i)
        if (g_data[i] != v) return false;
    return true;
}

} // namespace

void guest_main() {
    rt::test_start("blk-bounds");
    const vio::ProbeResult p = vio::probe(BLK);
    rt::check(p.ok && p.device_id == 2, "magic %x version %u device id %u (2: block)", p.magic, p.version, p.device_id);
    const uint64_t offered = vio::device_features(BLK);
    rt::check((offered & (F_SEG_MAX | F_BLK_SIZE | F_FLUSH)) == (F_SEG_MAX | F_BLK_SIZE | F_FLUSH) && !(offered & F_RO),
              "offers SEG_MAX, BLK_SIZE, FLUSH, not RO (%lx)", offered);
    if (!rt::check(vio::negotiate(BLK, vio::F_VERSION_1 | F_FLUSH), "negotiated")) rt::finish();
    const uint64_t capacity = uint64_t(vio::reg(BLK, vio::Config)) | uint64_t(vio::reg(BLK, vio::Config + 4)) << 32;
    rt::check(capacity == SECTORS, "capacity %lu sectors (the 1 MiB region)", capacity);
    rt::check(vio::reg(BLK, vio::Config + 20) == 512, "blk_size 512");
    if (!rt::check(g_q.setup(BLK, 0, QSIZE, g_ring), "queue set up")) rt::finish();
    vio::driver_ok(BLK);

    // Inside the disk.
    fill(0, 512);
    rt::check(request(T_IN, 0, 512) == S_OK, "read sector 0");
    bool pattern = false;
    for (uint32_t i = 0; i + 7 <= 512; ++i)
        if (g_data[i] == 'c' && g_data[i + 1] == 'x' && g_data[i + 2] == 'v' && g_data[i + 3] == '-') pattern = true;
    rt::check(pattern, "sector 0 is the host disk's byte 48 MiB (its text pattern)");
    fill(0x5a, 512);
    rt::check(request(T_OUT, SECTORS - 1, 512) == S_OK, "write the last sector");
    fill(0, 512);
    rt::check(request(T_IN, SECTORS - 1, 512) == S_OK && all(0x5a, 512), "the last sector reads back");

    // Past the end, and sectors whose byte offset wraps 2^64: IOERR, the data buffer untouched.
    struct Case {
        uint32_t type;
        uint64_t sector;
        uint32_t len;
        const char* what;
    };
    const Case cases[] = {
        {T_IN, SECTORS, 512, "read the sector after the last"},
        {T_IN, SECTORS - 1, 1024, "read the last sector and one more"},
        {T_OUT, SECTORS, 512, "write the sector after the last"},
        {T_OUT, SECTORS - 1, 1024, "write the last sector and one more"},
        {T_IN, ~0ull, 512, "read sector 2^64 - 1"},
        {T_OUT, 1ull << 55, 512, "write sector 2^55 (its byte offset wraps 2^64 to 0)"},
        {T_IN, (1ull << 55) + 1, 512, "read sector 2^55 + 1 (byte offset wraps to 512)"},
    };
    for (const Case& c : cases) {
        fill(0xc3, 1024);
        const uint8_t s = request(c.type, c.sector, c.len);
        rt::check(s == S_IOERR && all(0xc3, 1024), "%s: IOERR (status %u), buffer untouched", c.what, s);
    }
    fill(0xc3, 512);
    rt::check(request(T_IN, 0, 100) == S_IOERR, "data not a multiple of 512: IOERR");

    // A request with no device-writable byte: nothing can be told; it completes with 0 written
    // and is not carried out (sector 0 keeps the pattern).
    g_hdr = {T_OUT, 0, 0};
    fill(0x77, 512);
    vio::Buf bufs[2] = {{uint64_t(&g_hdr), sizeof g_hdr, false}, {uint64_t(g_data), 512, false}};
    const uint16_t head = g_q.submit(bufs, 2);
    g_q.notify();
    uint32_t id = ~0u, len = ~0u;
    rt::check(g_q.wait(&id, &len, 5000000) && id == head && len == 0, "a request without a status byte: used len %u",
              len);
    fill(0, 512);
    rt::check(request(T_IN, 0, 512) == S_OK && g_data[0] != 0x77, "and was not carried out; the queue goes on");

    rt::check(request(T_FLUSH, 0, 0) == S_OK, "flush");
    fill(0, 20);
    uint32_t used = 0;
    rt::check(request(T_GET_ID, 0, 20, &used) == S_OK && g_data[0] == 'c' && g_data[1] == 'x' && g_data[2] == 'v',
              "GET_ID: \"%s\" (used len %u)", reinterpret_cast<const char*>(g_data), used);
    rt::check(request(99, 0, 512) == 2, "an unknown type: UNSUPP");
    rt::finish();
}
