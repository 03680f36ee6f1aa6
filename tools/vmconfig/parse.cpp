// Reading one VM's TOML file and checking it on its own (docs/configuration.md lists every rule).
// Every problem is recorded and reading goes on, so one run reports all errors of all files.
#include "abi/vm_package.hpp"
#include "base/types.hpp"
#include "board.hpp"
#include "vmconfig.hpp"
#include <algorithm>
#include <bit>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <libfdt.h>
#include <toml++/toml.h>
#include <utility>

namespace vmconfig {
namespace vp = vm_package;

std::string hex(uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}
std::string range(uint64_t base, uint64_t size) { return "[" + hex(base) + ", " + hex(base + size) + ")"; }

std::string format(const Diag& d) {
    std::string s = d.file + ":";
    if (d.line > 0) s += std::to_string(d.line) + ":";
    if (d.column > 0) s += std::to_string(d.column) + ":";
    if (!d.key.empty()) s += " " + d.key + ":";
    return s + (d.warning ? " warning: " : " ") + d.reason;
}

std::optional<Bytes> read_file(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return {};
    std::ifstream f(p, std::ios::binary);
    Bytes b(fs::file_size(p, ec));
    if (!f || ec || !f.read(reinterpret_cast<char*>(b.data()), std::streamsize(b.size()))) return {};
    return b;
}

namespace {

constexpr uint64_t PAGE = 4 * KiB;
constexpr uint64_t GPA_LIMIT = 1ull << 48;
constexpr uint64_t U32_MAX = 0xFFFF'FFFF;
constexpr uint64_t MAX_DTB = 2 * MiB; // Linux refuses larger device trees (MAX_FDT_SIZE)
constexpr uint32_t FLAG_X = 4, FLAG_DEVICE = 8;
const std::pair<std::string_view, uint32_t> EMU_TYPES[] = {{"pl011", uint32_t(vp::EmuType::Pl011)},
                                                            {"virtio-blk", uint32_t(vp::EmuType::VirtioBlk)},
                                                            {"virtio-net", uint32_t(vp::EmuType::VirtioNet)},
                                                            {"virtio-console", uint32_t(vp::EmuType::VirtioConsole)},
                                                            {"ns16550a", uint32_t(vp::EmuType::Ns16550a)}};
using vp::is_virtio;
constexpr std::string_view PORT_UART = "ns16550a-port"; // Ns16550a in DeviceSpace::Port
constexpr uint64_t SECTOR = 512; // virtio-blk's unit (virtio v1.2, 5.2.6)

// Message building: cat("has ", 3, " entries") == "has 3 entries".
std::string piece(std::string_view s) { return std::string(s); }
std::string piece(std::integral auto v) { return std::to_string(v); }
template <typename... T> std::string cat(const T&... parts) { return (std::string() + ... + piece(parts)); }
// A number in messages: decimal when small, hex when it looks like an address.
std::string num(uint64_t v) { return v < 0x10000 ? std::to_string(v) : hex(v); }
std::string quote(std::string_view s) { return cat("\"", s, "\""); }

bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs) { return a < b + bs && b < a + as; }
bool contains(uint64_t a, uint64_t as, uint64_t b, uint64_t bs) { return b >= a && b + bs <= a + as; }

std::string type_name(const toml::node& n) { // "got a string"
    static_assert(size_t(toml::node_type::date_time) == 9, "toml::node_type changed");
    static const char* const names[] = {"nothing", "a table",   "an array", "a string", "an integer",
                                        "a float", "a boolean", "a date",   "a time",   "a date-time"};
    return names[size_t(n.type())];
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            diag =
                std::exchange(row[j], std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])}));
    }
    return row[b.size()];
}

using Known = std::vector<std::string_view>;
const Known TOP_KEYS = {"base", "kernel", "devices", "virtio", "shm"};
const Known BASE_KEYS = {"id", "name", "vm_type", "cpu_num", "phys_cpu_ids", "phys_cpu_sets", "autostart"};
const Known KERNEL_KEYS = {"entry_point",  "image_location",    "kernel_path", "kernel_load_addr",
                           "ramdisk_path", "ramdisk_load_addr", "dtb_path",    "dtb_load_addr",
                           "cmdline",      "memory_regions"};
const Known DEVICE_KEYS = {"emu_devices", "passthrough_devices", "interrupt_mode"}; // + the board's intc keys
const Known AXVISOR_ONLY = {"bios_path", "bios_load_addr", "disk_path"}; // [kernel] keys we explain

// The interrupt-controller keys of a board: [devices] accepts its own board's.
Known intc_keys(const GuestBoard& b) {
    auto k = b.intc_keys();
    Known out;
    for (const char* key : {k.base, k.base2, k.lines}) // a board without a controller has none
        if (key) out.push_back(key);
    return out;
}

std::string unknown_key(std::string_view key, const Known& known, const char* what,
                        const GuestBoard* board = nullptr) {
    if (&known == &KERNEL_KEYS && std::count(AXVISOR_ONLY.begin(), AXVISOR_ONLY.end(), key))
        return "axvisor key not supported by cxvisor (it loads images from the package only)";
    for (const GuestBoard* other : {&board_aarch64(), &board_riscv64()}) // another ISA's controller
        if (Known theirs = intc_keys(*other); board && other != board && std::count(theirs.begin(), theirs.end(), key)) {
            std::string mine;
            for (auto k : intc_keys(*board)) mine += cat(mine.empty() ? "" : ", ", k);
            return cat("a key of ", other->name(), " VMs (their ", other->intc_name(), "): the interrupt controller of ",
                       board->name(), " VMs is the ", board->intc_name(), ", set with ", mine, " (--arch ",
                       board->name(), ")");
        }
    auto best = std::min_element(known.begin(), known.end(), [&](auto a, auto b) {
        return edit_distance(key, a) < edit_distance(key, b);
    });
    if (edit_distance(key, *best) <= std::max<size_t>(2, key.size() / 3))
        return cat("unknown ", what, " (did you mean '", *best, "'?)");
    std::string all;
    for (auto k : known) all += cat(all.empty() ? "" : ", ", k);
    return cat("unknown ", what, " (known: ", all, ")");
}

// One of [base], [kernel], [devices]; t is null when the file lacks it.
struct Section {
    const toml::table* t = nullptr;
    std::string name;
    int64_t line = 1;
    const toml::node* get(std::string_view key) const { return t ? t->get(key) : nullptr; }
};

class VmReader {
public:
    VmReader(const fs::path& file, const Options& opts, Diags& diags, const HostDescription* host)
        : m_opts(opts), m_diags(diags), m_host(host), m_dir(file.parent_path()), m_board(*guest_board(opts.isa)) {
        m_vm.file = file.string();
        m_vm.board = &m_board;
        m_vm.intc_base = m_board.default_intc_base(), m_vm.intc_base2 = m_board.default_intc_base2();
        m_device_keys = DEVICE_KEYS;
        for (auto k : intc_keys(m_board)) m_device_keys.push_back(k);
    }

    VmConfig read(const toml::table& root) {
        for (auto&& [k, v] : root)
            if (!std::count(TOP_KEYS.begin(), TOP_KEYS.end(), k.str()))
                fail({k.source().begin.line, std::string(k.str())}, unknown_key(k.str(), TOP_KEYS, "table"));
        read_base(section(root, "base", BASE_KEYS, true));
        read_kernel(section(root, "kernel", KERNEL_KEYS, true));
        read_devices(section(root, "devices", m_device_keys, false));
        read_virtio(root);
        read_shm(root);
        check_layout();
        return std::move(m_vm);
    }

private:
    // Records an error; returns "no value" so that `return fail(...)` ends an optional-returning check.
    std::nullopt_t fail(const Where& w, std::string reason) {
        m_diags.push_back({m_vm.file, w.line, w.key, std::move(reason)});
        return std::nullopt;
    }
    void warn(const Where& w, std::string reason) {
        m_diags.push_back({m_vm.file, w.line, w.key, std::move(reason), 0, true});
    }
    static Where at(const toml::node& n, std::string key) { return {n.source().begin.line, std::move(key)}; }
    static Where at(const toml::array& a, size_t i, const std::string& key) {
        return at(*a.get(i), cat(key, "[", i, "]"));
    }

    // field: which element of an array record the value is, e.g. "size" (empty for plain keys).
    std::optional<uint64_t> uint(const toml::node& n, const Where& w, uint64_t lo, uint64_t hi,
                                 std::string_view field = "") {
        std::string f = field.empty() ? "" : cat(field, ": ");
        auto* i = n.as_integer();
        if (!i) return fail(w, cat(f, "expected an integer, got ", type_name(n)));
        if (i->get() < 0) return fail(w, cat(f, "must not be negative, got ", i->get()));
        uint64_t v = uint64_t(i->get());
        if (v < lo || v > hi)
            return fail(w, cat(f, "must be ", num(lo), lo == hi ? "" : ".." + num(hi), ", got ", num(v)));
        return v;
    }
    std::optional<std::string> str(const toml::node& n, const Where& w, std::string_view field = "") {
        if (auto* s = n.as_string()) return s->get();
        return fail(w, cat(field, field.empty() ? "" : ": ", "expected a string, got ", type_name(n)));
    }
    const toml::array* array(const toml::node& n, const Where& w) {
        if (auto* a = n.as_array()) return a;
        return fail(w, "expected an array, got " + type_name(n)), nullptr;
    }
    // An array-form record such as [gpa, size, flags, map_type].
    const toml::array* record(const toml::node& n, const Where& w, size_t min, size_t max, const char* form) {
        auto* a = n.as_array();
        if (!a) return fail(w, cat("expected ", form, ", got ", type_name(n))), nullptr;
        if (a->size() < min || a->size() > max)
            return fail(w, cat("expected ", form, ", got ", a->size(), " values")), nullptr;
        return a;
    }
    const toml::node* required(const Section& s, std::string_view key) {
        const toml::node* n = s.get(key);
        if (!n && s.t) fail({s.line, cat(s.name, ".", key)}, "missing (required)");
        return n;
    }
    std::optional<uint64_t> addr(const Section& s, std::string_view key, bool req, Where& w) {
        const toml::node* n = req ? required(s, key) : s.get(key);
        if (!n) return {};
        w = at(*n, cat(s.name, ".", key));
        return uint(*n, w, 0, GPA_LIMIT - 1);
    }
    // 4 KiB alignment, non-zero, below 2^48. field: "" or e.g. "base_hpa: ".
    bool range_ok(const Where& w, uint64_t base, uint64_t size, std::string_view field = "") {
        std::string why = !is_aligned(base, PAGE) || !is_aligned(size, PAGE)
                              ? " is not 4 KiB aligned (address and size must be multiples of 0x1000)"
                          : size == 0               ? " is empty (size 0)"
                          : base + size > GPA_LIMIT ? " ends past 2^48, the largest address supported"
                                                    : "";
        if (!why.empty()) fail(w, cat(field, range(base, size), why));
        return why.empty();
    }

    Section section(const toml::table& root, const char* name, const Known& known, bool req) {
        Section s{nullptr, name, 1};
        const toml::node* n = root.get(name);
        if (!n && req) fail({1, name}, cat("missing required table [", name, "]"));
        if (!n) return s;
        s.line = n->source().begin.line;
        if (!(s.t = n->as_table())) return fail({s.line, name}, "expected a table, got " + type_name(*n)), s;
        for (auto&& [k, v] : *s.t)
            if (!std::count(known.begin(), known.end(), k.str()))
                fail({k.source().begin.line, cat(name, ".", k.str())}, unknown_key(k.str(), known, "key", &m_board));
        return s;
    }

    void read_base(const Section& s) {
        m_vm.base_at = {s.line, "base"};
        if (auto* n = required(s, "id"))
            if (auto v = uint(*n, m_vm.id_at = at(*n, "base.id"), 0, U32_MAX)) m_vm.id = uint32_t(*v);
        if (auto* n = required(s, "name"))
            if (auto v = str(*n, m_vm.name_at = at(*n, "base.name"))) {
                bool ok = std::all_of(v->begin(), v->end(),
                                      [](char c) { return isalnum(uint8_t(c)) || c == '_' || c == '-'; });
                if (v->empty() || v->size() >= vp::MAX_NAME || !ok)
                    fail(m_vm.name_at,
                         quote(*v) + " is not a valid name: 1..31 characters of A-Z a-z 0-9 _ -");
                else
                    m_vm.name = *v;
            }
        if (auto* n = s.get("vm_type")) uint(*n, at(*n, "base.vm_type"), 1, 1);
        if (auto* n = s.get("autostart")) {
            if (auto* b = n->as_boolean()) m_vm.autostart = b->get();
            else fail(at(*n, "base.autostart"), "expected true or false, got " + type_name(*n));
        }
        bool cpu_num_ok = false;
        if (auto* n = required(s, "cpu_num")) {
            if (auto* i = n->as_integer(); i && i->get() > int64_t(vp::MAX_VCPUS))
                fail(at(*n, "base.cpu_num"), cat(i->get(), " vCPUs are more than cxvisor supports: MAX_VCPUS = ",
                                                 vp::MAX_VCPUS, " per VM"));
            else if (auto v = uint(*n, at(*n, "base.cpu_num"), 1, vp::MAX_VCPUS))
                m_vm.cpu_num = uint32_t(*v), cpu_num_ok = true;
        }
        m_vm.phys_cpu_ids.assign(m_vm.cpu_num, vp::ANY_CPU);
        auto* ids_node = s.get("phys_cpu_ids");
        auto* sets_node = s.get("phys_cpu_sets");
        auto ids = ids_node ? read_cpus(*ids_node, "base.phys_cpu_ids", false, cpu_num_ok) : std::nullopt;
        auto sets = sets_node ? read_cpus(*sets_node, "base.phys_cpu_sets", true, cpu_num_ok) : std::nullopt;
        if (ids && sets && *ids != *sets)
            fail(at(*sets_node, "base.phys_cpu_sets"),
                 "names other CPUs than phys_cpu_ids: give only one of them");
        if (ids || sets) m_vm.phys_cpu_ids = ids ? *ids : *sets;
    }

    // phys_cpu_ids (CPU indices) or axvisor's phys_cpu_sets (one bitmask per vCPU).
    std::optional<std::vector<uint32_t>> read_cpus(const toml::node& n, const std::string& key, bool masks,
                                                   bool check_len) {
        auto* a = array(n, at(n, key));
        if (!a) return {};
        std::vector<uint32_t> cpus;
        for (size_t i = 0; i < a->size(); ++i) {
            Where e = at(*a, i, key);
            auto v = uint(*a->get(i), e, 0, masks ? uint64_t(INT64_MAX) : U32_MAX);
            if (v && masks && std::popcount(*v) != 1)
                v = fail(e, cat("mask ", hex(*v), " allows ", std::popcount(*v),
                                " CPUs: cxvisor pins a vCPU to exactly "
                                "one CPU or (without phys_cpu_ids/sets) lets it run on any"));
            if (v && masks) v = std::countr_zero(*v);
            if (v && *v >= vp::MAX_CPUS)
                v = fail(e, cat("physical CPU ", *v, " is beyond what cxvisor supports: MAX_CPUS = ", vp::MAX_CPUS,
                                " (it runs on CPUs 0..", vp::MAX_CPUS - 1, " only)"));
            else if (v && *v >= m_opts.cpus)
                v = fail(e, cat("physical CPU ", *v, " does not exist: the target has ", m_opts.cpus,
                                " (--cpus), valid 0..", m_opts.cpus - 1));
            if (auto dup = std::find(cpus.begin(), cpus.end(), v.value_or(vp::ANY_CPU));
                v && dup != cpus.end())
                v = fail(e, cat("physical CPU ", *v, " is already used by vCPU ", dup - cpus.begin()));
            cpus.push_back(v ? uint32_t(*v) : vp::ANY_CPU);
        }
        if (check_len && a->size() != m_vm.cpu_num)
            return fail(at(n, key), cat("has ", a->size(), " entries but cpu_num is ", m_vm.cpu_num,
                                        ": give one physical CPU per vCPU"));
        if (!check_len || std::count(cpus.begin(), cpus.end(), vp::ANY_CPU)) return {};
        return cpus;
    }

    void read_kernel(const Section& s) {
        if (auto v = addr(s, "entry_point", true, m_entry_at)) m_entry = m_vm.entry_point = *v;
        if (auto* n = s.get("image_location"))
            if (auto v = str(*n, at(*n, "kernel.image_location")); v && *v != "memory")
                fail(at(*n, "kernel.image_location"),
                     *v == "fs"
                         ? "\"fs\" is not supported: cxvisor has no file system, use \"memory\" (images are "
                           "packed into the VM package)"
                         : "unknown location " + quote(*v) + ": only \"memory\" is supported");
        if (auto* n = s.get("cmdline"))
            if (auto v = str(*n, at(*n, "kernel.cmdline"))) m_vm.cmdline = *v;
        read_regions(s);
        read_image(s, m_vm.kernel, "kernel", true);
        read_image(s, m_vm.ramdisk, "ramdisk", false);
        read_image(s, m_vm.dtb, "dtb", false);
        if (m_vm.kernel.present) m_vm.kernel.footprint = linux_image_footprint(m_vm.kernel.data);
        check_linux_image();
    }

    // A kernel with the ISA's Linux Image header is checked against its boot protocol (the
    // board's check_linux_image). Other kernels are bare-metal images, copied and entered as they are.
    void check_linux_image() {
        auto h = m_board.linux_header(m_vm.kernel.data);
        if (!h) return;
        m_vm.linux_image = true;
        const Image& k = m_vm.kernel;
        if (!k.present) return; // no load address to check
        m_board.check_linux_image(m_vm, *h, [&](const Where& w, std::string why, bool warning) {
            warning ? warn(w, std::move(why)) : (void)fail(w, std::move(why));
        });
        if (m_entry && *m_entry != k.load_addr)
            fail(m_entry_at, cat(hex(*m_entry), " is not where the ", m_board.image_kind(), " starts (kernel_load_addr ",
                                 hex(k.load_addr), "): Linux is entered at its first byte"));
    }

    void read_regions(const Section& s) {
        const toml::node* n = required(s, "memory_regions");
        const toml::array* a = n ? array(*n, at(*n, "kernel.memory_regions")) : nullptr;
        if (!a) return;
        if (a->empty()) fail(at(*n, "kernel.memory_regions"), "empty: a VM needs at least one memory region");
        if (a->size() > vp::MAX_REGIONS)
            fail(at(*n, "kernel.memory_regions"), cat(a->size(), " regions, at most ", vp::MAX_REGIONS));
        m_regions_ok = !a->empty();
        for (size_t i = 0; i < a->size(); ++i) {
            Where w = at(*a, i, "kernel.memory_regions");
            auto* r = record(*a->get(i), w, 4, 4, "[gpa, size, flags, map_type]");
            std::optional<uint64_t> gpa, size, flags, type;
            if (r) {
                gpa = uint(*r->get(0), w, 0, GPA_LIMIT - 1, "gpa");
                size = uint(*r->get(1), w, 0, GPA_LIMIT, "size");
                flags = uint(*r->get(2), w, 1, 15, "flags (R=1 W=2 X=4 DEVICE=8)");
                type = uint(*r->get(3), w, 0, 2, "map_type (0 alloc, 1 identical, 2 reserved)");
            }
            if (gpa && size && flags && type && range_ok(w, *gpa, *size))
                m_vm.regions.push_back({*gpa, *size, uint32_t(*flags), uint32_t(*type), w});
            else
                m_regions_ok = false;
        }
    }

    void read_image(const Section& s, Image& img, const std::string& kind, bool req) {
        std::string path_key = kind + "_path", addr_key = kind + "_load_addr";
        const toml::node* path_node = req ? required(s, path_key) : s.get(path_key);
        Where addr_at;
        auto load = addr(s, addr_key, req || path_node, addr_at);
        if (load && kind == "dtb" && !is_aligned(*load, 8))
            load = fail(addr_at, "must be 8-byte aligned (a device tree requirement)");
        img.at = addr_at;
        if (path_node) {
            Where path_at = at(*path_node, "kernel." + path_key);
            if (!load) img.at = path_at;
            auto p = str(*path_node, path_at);
            if (p && p->empty())
                fail(path_at, "empty path");
            else if (p)
                img.data = find_file(*p, path_at);
            if (!img.data.empty() && kind == "dtb") check_dtb(img.data, path_at);
            img.present = load && !img.data.empty();
        } else if (load && kind == "dtb") { // generated in check_layout(), once the whole VM is known
            img.present = m_vm.dtb_generated = true;
        } else if (s.get(addr_key)) {
            fail(addr_at, "given without " + path_key);
        }
        img.load_addr = load.value_or(0);
        img.footprint = img.data.size();
    }

    // Relative paths: the TOML file's directory first, then each --search-path in order.
    Bytes find_file(const std::string& given, const Where& w) {
        std::vector<fs::path> tried{fs::path(given)};
        if (tried[0].is_relative()) {
            tried[0] = m_dir / given;
            for (auto& sp : m_opts.search_paths) tried.push_back(sp / given);
        }
        std::string list;
        for (auto& p : tried) {
            auto b = read_file(p);
            if (b && b->empty()) return fail(w, p.string() + " is empty"), Bytes();
            if (b) return std::move(*b);
            list += cat(list.empty() ? "" : ", ", p.string());
        }
        return fail(w, cat("cannot read ", quote(given), " (tried ", list, ")")), Bytes();
    }

    void check_dtb(Bytes& d, const Where& w) {
        uint64_t total = d.size() >= sizeof(fdt_header) ? fdt_totalsize(d.data()) : 0;
        if (d.size() < sizeof(fdt_header) || fdt_magic(d.data()) != FDT_MAGIC)
            fail(w, "not a flattened device tree (no magic 0xd00dfeed at offset 0)");
        else if (int r = fdt_check_header(d.data()); r < 0)
            fail(w, cat("bad device tree header: ", fdt_strerror(r)));
        else if (total > d.size())
            fail(w, cat("device tree header says ", num(total), " bytes but the file has ", num(d.size())));
        else if (total > MAX_DTB)
            fail(w, cat("device tree of ", num(total), " bytes exceeds 2 MiB (Linux's limit)"));
        d.resize(d.size() < total || total > MAX_DTB ? 0 : total);
    }

    // A Linux Image occupies image_size bytes (BSS included), more than the file.
    uint64_t linux_image_footprint(const Bytes& b) const {
        auto h = m_board.linux_header(b);
        return std::max<uint64_t>(h ? h->image_size : 0, b.size());
    }

    void read_devices(const Section& s) {
        if (s.t) m_devices_line = s.line;
        if (auto* n = s.get("interrupt_mode"))
            if (auto v = str(*n, m_vm.interrupt_mode_at = at(*n, "devices.interrupt_mode"))) {
                if (*v == "no_irq")
                    m_vm.interrupt_mode = uint32_t(vp::InterruptMode::NoIrq);
                else if (*v == "emulated" && m_board.has_intc())
                    m_vm.interrupt_mode = uint32_t(vp::InterruptMode::Emulated);
                else
                    fail(m_vm.interrupt_mode_at, m_board.interrupt_mode_problem(*v));
            }
        auto intc_addr = [&](const char* key, uint64_t& out, Where& w) {
            if (auto* n = key ? s.get(key) : nullptr)
                if (auto v = uint(*n, w = at(*n, cat("devices.", key)), 0, GPA_LIMIT - 1)) {
                    if (auto why = m_board.intc_base_problem(*v); !why.empty())
                        fail(w, why);
                    else
                        out = *v;
                }
        };
        const GuestBoard::IntcKeys keys = m_board.intc_keys();
        intc_addr(keys.base, m_vm.intc_base, m_vm.intc_base_at);
        intc_addr(keys.base2, m_vm.intc_base2, m_vm.intc_base2_at);
        if (auto* n = keys.lines ? s.get(keys.lines) : nullptr)
            if (auto v = uint(*n, m_vm.intc_lines_at = at(*n, cat("devices.", keys.lines)), 1, m_board.max_lines()))
                m_vm.intc_lines = m_board.round_lines(*v);
        for_each_record(s, "emu_devices", vp::MAX_EMU_DEVICES, &VmReader::read_emu);
        for_each_record(s, "passthrough_devices", vp::MAX_PT_DEVICES, &VmReader::read_pt);
    }

    void read_emu(const toml::node& n, const Where& w) {
        auto* r = record(n, w, 5, 6, "[name, base_gpa, length, irq, type, cfg_list]");
        if (!r) return;
        EmuDev d;
        bool ok = dev_name(*r->get(0), w, d.name);
        auto base = uint(*r->get(1), w, 0, GPA_LIMIT - 1, "base_gpa");
        auto len = uint(*r->get(2), w, 0, GPA_LIMIT, "length");
        auto irq = uint(*r->get(3), w, 0, U32_MAX, "irq");
        ok = emu_type(*r->get(4), w, d.type, d.space) && ok;
        if (r->size() == 6) ok = cfg_list(*r->get(5), w, d.cfg) && ok;
        if (ok && base && len && d.space == uint32_t(vp::DeviceSpace::Port) &&
            (*len == 0 || *base >= vp::PORT_SPACE_SIZE || *len > vp::PORT_SPACE_SIZE - *base))
            return (void)fail(w, cat("ports ", range(*base, *len), " are not inside the port space [0x0, 0x10000)"));
        if (!ok || !base || !len || !irq) return;
        if (d.space != uint32_t(vp::DeviceSpace::Port) && !range_ok(w, *base, *len)) return; // pages: memory only
        d.base = *base, d.length = *len, d.irq = uint32_t(*irq), d.at = w;
        m_vm.emu_devices.push_back(std::move(d));
    }

    void read_pt(const toml::node& n, const Where& w) {
        auto* r = record(n, w, 5, 6, "[name, base_gpa, base_hpa, length, irq, dt_node]");
        if (!r) return;
        PtDev d;
        bool ok = dev_name(*r->get(0), w, d.name);
        auto gpa = uint(*r->get(1), w, 0, GPA_LIMIT - 1, "base_gpa");
        auto hpa = uint(*r->get(2), w, 0, GPA_LIMIT - 1, "base_hpa");
        auto len = uint(*r->get(3), w, 0, GPA_LIMIT, "length");
        auto irq = uint(*r->get(4), w, 0, U32_MAX, "irq");
        if (r->size() == 6) ok = dt_node(*r->get(5), w, d) && ok;
        if (!ok || !gpa || !hpa || !len || !irq) return;
        if (!range_ok(w, *gpa, *len, "base_gpa: ") || !range_ok(w, *hpa, *len, "base_hpa: ")) return;
        d.base_gpa = *gpa, d.base_hpa = *hpa, d.length = *len, d.irq = uint32_t(*irq), d.at = w;
        m_vm.pt_devices.push_back(std::move(d));
    }

    void for_each_record(const Section& s, const char* key, size_t max,
                         void (VmReader::*read)(const toml::node&, const Where&)) {
        const toml::node* n = s.get(key);
        std::string k = cat("devices.", key);
        const toml::array* a = n ? array(*n, at(*n, k)) : nullptr;
        if (a && a->size() > max) fail(at(*n, k), cat(a->size(), " devices, at most ", max));
        for (size_t i = 0; a && i < a->size(); ++i) (this->*read)(*a->get(i), at(*a, i, k));
    }

    // [virtio.<device name>]: the parameters of each virtio device (docs/configuration.md), turned
    // into the package's cfg words (vm_package.hpp, EmuDevice::cfg). Every virtio device gets its
    // words here, with or without a table; a cfg_list in the device's record is refused (the table
    // is the one place for them).
    void read_virtio(const toml::table& root) {
        const toml::table* t = nullptr;
        if (auto* n = root.get("virtio"); n && !(t = n->as_table()))
            fail(at(*n, "virtio"), "expected a table of [virtio.<device name>] tables, got " + type_name(*n));
        std::vector<const toml::table*> params(m_vm.emu_devices.size(), nullptr);
        for (auto&& [k, v] : t ? *t : empty_table()) {
            std::string key = cat("virtio.", k.str());
            Where w{k.source().begin.line, key};
            auto dev = std::find_if(m_vm.emu_devices.begin(), m_vm.emu_devices.end(),
                                    [&](const EmuDev& d) { return d.name == k.str(); });
            if (dev == m_vm.emu_devices.end()) {
                fail(w, cat("no device ", quote(std::string(k.str())), " in devices.emu_devices: each [virtio.<name>] "
                            "table gives the parameters of the virtio device of that name"));
                continue;
            }
            if (!is_virtio(dev->type)) {
                fail(w, cat("device ", quote(dev->name), " is not a virtio device (", dev->at.key, ")"));
                continue;
            }
            if (!(params[dev - m_vm.emu_devices.begin()] = v.as_table()))
                fail(w, "expected a table, got " + type_name(v));
            dev->params_at = w;
        }
        for (size_t i = 0; i < m_vm.emu_devices.size(); ++i) {
            EmuDev& d = m_vm.emu_devices[i];
            if (!is_virtio(d.type)) continue;
            if (!d.cfg.empty()) {
                fail(d.at, cat("cfg_list: a virtio device takes its parameters from [virtio.", d.name,
                               "], not from the record: leave the list empty"));
                continue;
            }
            std::string prefix = cat("virtio.", d.name);
            Section s{params[i], prefix.c_str(), d.params_at.line ? d.params_at.line : d.at.line};
            if (d.type == uint32_t(vp::EmuType::VirtioBlk)) read_blk(s, d);
            else if (d.type == uint32_t(vp::EmuType::VirtioNet)) read_net(s, d, i);
            else known_keys(s, {}, "virtio-console has no parameters");
        }
    }
    static const toml::table& empty_table() {
        static const toml::table empty;
        return empty;
    }
    // Unknown keys of a [virtio.<name>] table.
    void known_keys(const Section& s, const Known& known, const char* what) {
        if (!s.t) return;
        for (auto&& [k, v] : *s.t)
            if (!std::count(known.begin(), known.end(), k.str()))
                fail({k.source().begin.line, cat(s.name, ".", k.str())},
                     known.empty() ? std::string(what) : unknown_key(k.str(), known, "key"));
    }
    bool boolean(const Section& s, const char* key, bool dflt) {
        auto* n = s.get(key);
        if (!n) return dflt;
        if (auto* b = n->as_boolean()) return b->get();
        fail(at(*n, cat(s.name, ".", key)), "expected true or false, got " + type_name(*n));
        return dflt;
    }
    // virtio-blk: exactly one of `image` (a RAM disk) and `host_region` (part of the host's disk).
    void read_blk(const Section& s, EmuDev& d) {
        known_keys(s, {"image", "host_region", "read_only"}, "");
        auto* img = s.get("image");
        auto* region = s.get("host_region");
        Where w = s.t ? Where{s.line, s.name} : d.at;
        if (!img == !region) {
            fail(w, img ? "give either image or host_region, not both"
                        : cat("a virtio-blk device needs a disk: [virtio.", d.name,
                              "] with image = \"<file>\" (a RAM disk) or host_region = [offset, size] (a part of "
                              "the host's virtio-blk disk)"));
            return;
        }
        uint64_t flags = boolean(s, "read_only", false) ? vp::BLK_FLAG_READ_ONLY : 0;
        if (img) {
            Where iw = at(*img, cat(s.name, ".image"));
            auto p = str(*img, iw);
            if (!p) return;
            if (p->empty()) return (void)fail(iw, "empty path");
            Bytes data = find_file(*p, iw);
            if (data.empty()) return;
            if (data.size() % SECTOR)
                return (void)fail(iw, cat(*p, " is ", data.size(), " bytes, not a multiple of ", SECTOR,
                                          " (the disk's sector size)"));
            d.cfg = {uint64_t(vp::BlkBacking::RamImage), 0, data.size(), flags};
            d.disk = std::move(data);
            return;
        }
        Where rw = at(*region, cat(s.name, ".host_region"));
        auto* r = record(*region, rw, 2, 2, "[offset, size]");
        if (!r) return;
        auto off = uint(*r->get(0), rw, 0, INT64_MAX, "offset");
        auto size = uint(*r->get(1), rw, 1, INT64_MAX, "size");
        if (!off || !size) return;
        if (*off % SECTOR || *size % SECTOR)
            return (void)fail(rw, cat(range(*off, *size), " is not a multiple of ", SECTOR,
                                      " bytes (the disk's sector size) in offset and size"));
        if (*off + *size > uint64_t(INT64_MAX))
            return (void)fail(rw, cat(range(*off, *size), " ends past 2^63"));
        d.cfg = {uint64_t(vp::BlkBacking::HostRegion), *off, *size, flags};
        d.params_at = rw;
    }
    // virtio-net: the MAC and the network (virtual switch) it is plugged into.
    void read_net(const Section& s, EmuDev& d, size_t index) {
        known_keys(s, {"mac", "network"}, "");
        // Default: locally administered unicast 02:00:<VM id, 16 bits>:00:<device index>.
        uint64_t id = m_vm.id.value_or(0) & 0xffff;
        uint64_t mac = 0x02'00'00'00'00'00ull | id << 16 | (index & 0xff);
        if (auto* n = s.get("mac"))
            if (auto v = str(*n, at(*n, cat(s.name, ".mac")))) {
                Where mw = at(*n, cat(s.name, ".mac"));
                auto m = parse_mac(*v);
                if (!m)
                    fail(mw, cat(quote(*v), " is not a MAC address: six hex bytes separated by ':', e.g. "
                                            "\"02:00:00:00:00:01\""));
                else if (*m >> 40 & 1)
                    fail(mw, cat(quote(*v), " is a multicast address (bit 0 of the first byte is set)"));
                else if (*m == 0)
                    fail(mw, "00:00:00:00:00:00 is not a usable address");
                else
                    mac = *m;
            }
        uint64_t network = 0;
        if (auto* n = s.get("network"))
            if (auto v = uint(*n, at(*n, cat(s.name, ".network")), 0, vp::MAX_NETWORKS - 1)) network = *v;
        d.cfg = {mac, network};
    }
    static std::optional<uint64_t> parse_mac(const std::string& v) {
        if (v.size() != 17) return {};
        uint64_t mac = 0;
        for (size_t i = 0; i < 17; ++i) {
            char c = v[i];
            if (i % 3 == 2) {
                if (c != ':') return {};
                continue;
            }
            int x = isdigit(uint8_t(c)) ? c - '0' : isxdigit(uint8_t(c)) ? (tolower(c) - 'a' + 10) : -1;
            if (x < 0) return {};
            mac = mac << 4 | uint64_t(x);
        }
        return mac;
    }

    bool emu_type(const toml::node& t, const Where& w, uint32_t& out, uint32_t& space) {
        auto* s = t.as_string();
        auto* i = t.as_integer();
        if (!s && !i) return fail(w, "type: expected a name or a number, got " + type_name(t)), false;
        // A 16550 in the port space of a board that has one (x86: COM1 at port 0x3f8).
        if (s && s->get() == PORT_UART) {
            if (!m_board.has_port_space())
                return fail(w, cat("device type ", quote(std::string(PORT_UART)), " needs a port space, which the ",
                                   m_board.name(), " guest board does not have")),
                       false;
            return out = uint32_t(vp::EmuType::Ns16550a), space = uint32_t(vp::DeviceSpace::Port), true;
        }
        std::string known = m_board.has_port_space() ? cat(quote(std::string(PORT_UART)), " (a 16550 in the port space)") : "";
        for (auto [name, type] : EMU_TYPES) {
            if (!m_board.has_device(type)) continue;
            if (s ? s->get() == name : i->get() == int64_t(type)) return out = type, true;
            known += cat(known.empty() ? "" : ", ", quote(name), " = ", type);
        }
        for (auto [name, type] : EMU_TYPES) // a device of another ISA's board
            if (s ? s->get() == name : i->get() == int64_t(type))
                return fail(w, cat("device type ", quote(name), " is not part of the ", m_board.name(),
                                   " guest board (", m_board.name(), " types: ", known, ")")),
                       false;
        fail(w, cat("unknown device type ", s ? quote(s->get()) : cat(i->get()), " (known: ", known, ")"));
        return false;
    }

    bool dev_name(const toml::node& n, const Where& w, std::string& out) {
        auto v = str(n, w, "name");
        if (v && (v->empty() || v->size() >= vp::MAX_NAME || v->find('\0') != std::string::npos))
            return fail(w, "name: must be 1..31 characters"), false;
        return v ? (out = *v, true) : false;
    }

    // A passthrough device's dt_node: the host node's path, true (found by base_hpa) or false.
    bool dt_node(const toml::node& n, const Where& w, PtDev& d) {
        auto* b = n.as_boolean();
        auto* s = n.as_string();
        if (s && (s->get().empty() || s->get()[0] != '/'))
            return fail(w, cat("dt_node: ", quote(s->get()), " is not a node path: give the host DT path, "
                                                           "e.g. \"/pl061@9030000\", or true")),
                   false;
        if (!b && !s)
            return fail(w, cat("dt_node: expected a host DT path (e.g. \"/pl061@9030000\") or true (the host "
                               "node whose reg starts at base_hpa), got ", type_name(n))),
                   false;
        d.dt_copy = s || b->get();
        d.dt_path = s ? s->get() : "";
        return true;
    }

    bool cfg_list(const toml::node& n, const Where& w, std::vector<uint64_t>& out) {
        auto* a = n.as_array();
        if (!a) return fail(w, "cfg_list: expected an array of integers, got " + type_name(n)), false;
        if (a->size() > std::size(vp::EmuDevice{}.cfg)) return fail(w, "cfg_list: at most 8 values"), false;
        for (auto& e : *a)
            if (auto v = uint(e, w, 0, INT64_MAX, "cfg_list")) out.push_back(*v);
        return out.size() == a->size();
    }

    // Overlaps, the entry point and where the images sit; only over the parts that were valid.
    void check_layout() {
        auto& rs = m_vm.regions;
        for (size_t j = 0; j < rs.size(); ++j)
            for (size_t i = 0; i < j; ++i)
                if (overlaps(rs[i].gpa, rs[i].size, rs[j].gpa, rs[j].size))
                    fail(rs[j].at, cat(range(rs[j].gpa, rs[j].size), " overlaps ", rs[i].at.key, " ",
                                       range(rs[i].gpa, rs[i].size)));
        struct Dev {
            uint64_t gpa, size;
            const Where& at;
            const std::string& name;
        };
        std::vector<Dev> devs, ports;
        for (auto& d : m_vm.emu_devices) (d.space ? ports : devs).push_back({d.base, d.length, d.at, d.name});
        // The port space is separate from memory: port devices collide only with each other.
        for (size_t j = 0; j < ports.size(); ++j)
            for (size_t i = 0; i < j; ++i)
                if (overlaps(ports[i].gpa, ports[i].size, ports[j].gpa, ports[j].size))
                    fail(ports[j].at, cat("device ", quote(ports[j].name), " ports ", range(ports[j].gpa, ports[j].size),
                                          " overlap device ", quote(ports[i].name), " (", ports[i].at.key, ") ",
                                          range(ports[i].gpa, ports[i].size)));
        for (auto& d : m_vm.pt_devices) devs.push_back({d.base_gpa, d.length, d.at, d.name});
        for (size_t j = 0; j < devs.size(); ++j) {
            auto& d = devs[j];
            std::string me = cat("device ", quote(d.name), " ", range(d.gpa, d.size), " overlaps ");
            for (size_t i = 0; i < j; ++i)
                if (overlaps(devs[i].gpa, devs[i].size, d.gpa, d.size))
                    fail(d.at, cat(me, "device ", quote(devs[i].name), " (", devs[i].at.key, ") ",
                                   range(devs[i].gpa, devs[i].size)));
            for (auto& r : rs)
                if (overlaps(r.gpa, r.size, d.gpa, d.size))
                    fail(d.at, cat(me, "memory region ", r.at.key, " ", range(r.gpa, r.size)));
        }
        check_interrupts();
        check_shm_places();
        if (!m_regions_ok) return; // a broken region would make the checks below guess
        auto exec = [&](auto& r) { return (r.flags & FLAG_X) && contains(r.gpa, r.size, *m_entry, 1); };
        if (m_entry && std::none_of(rs.begin(), rs.end(), exec))
            fail(m_entry_at, hex(*m_entry) + " is not inside a memory region with X (4) in its flags");
        for (auto& d : m_vm.pt_devices)
            if (d.dt_copy && !m_vm.dtb_generated)
                fail(d.at, m_vm.dtb.present || !m_vm.dtb.data.empty()
                               ? "dt_node: the guest's device tree is the file dtb_path names, not a generated one: "
                                 "host nodes are copied only into a generated tree (dtb_load_addr without dtb_path)"
                               : "dt_node: the guest gets no device tree (no dtb_load_addr): host nodes are copied "
                                 "only into a generated one (dtb_load_addr without dtb_path)");
        if (m_vm.dtb_generated) {
            copy_dt_nodes(m_vm, m_host, m_diags);
            m_vm.dtb.data = generate_dtb(m_vm), m_vm.dtb.footprint = m_vm.dtb.data.size();
        }
        std::pair<const char*, const Image*> imgs[] = {
            {"kernel", &m_vm.kernel}, {"ramdisk", &m_vm.ramdisk}, {"dtb", &m_vm.dtb}};
        for (size_t j = 0; j < 3; ++j) {
            auto& [what, img] = imgs[j];
            if (!img->present) continue;
            std::string me = cat(what,
                                 m_vm.dtb_generated && j == 2 ? " (generated) "
                                 : m_vm.linux_image && j == 0 ? cat(" (", m_board.image_kind(), ", image_size with BSS) ")
                                                              : " ",
                                 range(img->load_addr, img->footprint));
            if (auto why = ram_problem(img->load_addr, img->footprint); !why.empty()) fail(img->at, me + why);
            for (size_t i = 0; i < j; ++i) {
                auto& other = *imgs[i].second;
                if (other.present &&
                    overlaps(other.load_addr, other.footprint, img->load_addr, img->footprint))
                    fail(img->at,
                         cat(me, " overlaps ", imgs[i].first, " ", range(other.load_addr, other.footprint)));
            }
        }
    }

    // interrupt_mode, the devices' irq fields and the interrupt controller's windows. With "emulated"
    // every irq is a line of the VM's interrupt controller (aarch64: a GIC INTID; riscv64: a PLIC
    // source; passthrough: the host's, forwarded under the same number).
    void check_interrupts() {
        bool emulated = m_vm.interrupt_mode == uint32_t(vp::InterruptMode::Emulated);
        if (!emulated)
            for (auto* w : {&m_vm.intc_base_at, &m_vm.intc_base2_at, &m_vm.intc_lines_at})
                if (w->line)
                    fail(*w, cat("only with interrupt_mode = \"emulated\": a no_irq VM has no ", m_board.intc_name()));
        if (!emulated && m_vm.linux_image)
            warn(m_vm.interrupt_mode_at, "a Linux kernel cannot boot without an interrupt controller and its "
                                         "timer interrupts: use \"emulated\"");
        struct Irq {
            uint32_t irq;
            const Where& at;
            const std::string& name;
            bool pt;
            const char* kind = "device";
        };
        std::vector<Irq> irqs;
        for (auto& d : m_vm.emu_devices)
            if (d.irq) irqs.push_back({d.irq, d.at, d.name, false});
        for (auto& d : m_vm.pt_devices)
            if (d.irq) irqs.push_back({d.irq, d.at, d.name, true});
        for (auto& d : m_vm.shm) // doorbells: read_shm refused them without an interrupt controller
            if (d.irq) irqs.push_back({d.irq, d.irq_at, d.name, false, "shm region"});
        uint32_t highest = m_board.first_line() - 1;
        for (size_t j = 0; j < irqs.size(); ++j) {
            auto& q = irqs[j];
            std::string me = cat("irq ", q.irq);
            if (!emulated) {
                warn(q.at, cat(me, " is never delivered: interrupt_mode = \"no_irq\" gives the VM no interrupt "
                                   "controller (use \"emulated\", or irq 0)"));
                continue;
            }
            std::string why = m_board.line_problem(q.irq, q.pt, m_vm.intc_lines);
            for (size_t i = 0; i < j && why.empty(); ++i)
                if (irqs[i].irq == q.irq)
                    why = cat(" is already used by ", irqs[i].kind, " ", quote(irqs[i].name), " (", irqs[i].at.key,
                              "): each device ",
                              std::string_view(q.kind) == "device" && std::string_view(irqs[i].kind) == "device"
                                  ? ""
                                  : "and doorbell ",
                              "needs its own interrupt");
            if (!why.empty()) fail(q.at, me + why);
            highest = std::max(highest, q.irq);
        }
        if (!emulated) return;
        if (!m_vm.intc_lines) m_vm.intc_lines = m_board.default_lines(highest); // enough for every device
        auto windows = m_board.intc_windows(m_vm);
        for (size_t j = 0; j < windows.size(); ++j) {
            const IntcWindow& w = windows[j];
            check_intc_window(w.long_name, w.key, j ? m_vm.intc_base2_at : m_vm.intc_base_at, w.base, w.size);
            for (size_t i = 0; i < j; ++i)
                if (overlaps(windows[i].base, windows[i].size, w.base, w.size))
                    fail(intc_where(m_vm.intc_base2_at, w.key),
                         cat("the vGIC redistributors ", range(w.base, w.size), " overlap the distributor ",
                             range(windows[i].base, windows[i].size)));
        }
    }
    // Where to report an interrupt-controller window: its key, or (a default) the [devices] table
    // or interrupt_mode.
    Where intc_where(const Where& given, const char* key) const {
        if (given.line) return given;
        return {m_vm.interrupt_mode_at.line ? m_vm.interrupt_mode_at.line : m_devices_line, cat("devices.", key)};
    }
    void check_intc_window(const std::string& what, const char* key, const Where& given, uint64_t base, uint64_t size) {
        Where w = intc_where(given, key);
        std::string me = cat(what, given.line ? " " : " at its default ", range(base, size));
        std::string fix = given.line ? "" : cat(": set devices.", key, " to a free range");
        if (base + size > GPA_LIMIT) fail(w, me + " ends past 2^48" + fix);
        for (auto& r : m_vm.regions)
            if (overlaps(r.gpa, r.size, base, size))
                fail(w, cat(me, " overlaps memory region ", r.at.key, " ", range(r.gpa, r.size), fix));
        auto dev = [&](const std::string& name, const Where& at, uint64_t gpa, uint64_t len) {
            if (overlaps(gpa, len, base, size))
                fail(w, cat(me, " overlaps device ", quote(name), " (", at.key, ") ", range(gpa, len), fix));
        };
        for (auto& d : m_vm.emu_devices)
            if (!d.space) dev(d.name, d.at, d.base, d.length);
        for (auto& d : m_vm.pt_devices) dev(d.name, d.at, d.base_gpa, d.length);
    }

    // Why [a, a+size) is not inside one RAM region, or "" when it is.
    std::string ram_problem(uint64_t a, uint64_t size) {
        for (auto& r : m_vm.regions) {
            bool ram = r.map_type != uint32_t(vp::MapType::Reserved) && !(r.flags & FLAG_DEVICE);
            if (ram && contains(r.gpa, r.size, a, size)) return "";
            if (contains(r.gpa, r.size, a, 1))
                return ram ? cat(" runs ", num(a + size - (r.gpa + r.size)), " bytes past the end of ",
                                 r.at.key, " ", range(r.gpa, r.size))
                           : cat(" lies in ", r.at.key, ", which is not RAM (reserved or DEVICE)");
        }
        return " is not inside any memory region (images need an alloc or identical region)";
    }

    // --- [[shm]]: shared-memory regions and their doorbells (docs/virtio.md, "Shared memory"). Each entry on
    // its own here; between VMs (sizes, peers) in check_shm_across. ---
    void read_shm(const toml::table& root) {
        const toml::node* n = root.get("shm");
        if (!n) return;
        auto* a = n->as_array();
        if (!a || (!a->empty() && !a->is_array_of_tables()))
            return (void)fail(at(*n, "shm"), cat("expected [[shm]] tables (an array of tables), got ", type_name(*n)));
        if (a->size() > vp::MAX_SHM)
            fail(at(*n, "shm"), cat(a->size(), " shared-memory regions, at most MAX_SHM = ", vp::MAX_SHM, " per VM"));
        static const Known keys = {"name", "gpa", "size", "irq", "peers"};
        std::vector<std::pair<std::string, std::string>> names; // valid names so far and their keys
        for (size_t i = 0; i < a->size() && i < vp::MAX_SHM; ++i) {
            const toml::table& t = *a->get(i)->as_table();
            const std::string key = cat("shm[", i, "]");
            Shm s;
            s.at = at(*a->get(i), key);
            for (auto&& [k, v] : t)
                if (!std::count(keys.begin(), keys.end(), k.str()))
                    fail({k.source().begin.line, cat(key, ".", k.str())}, unknown_key(k.str(), keys, "key"));
            auto field = [&](std::string_view k, bool req, Where& w) -> const toml::node* {
                const toml::node* f = t.get(k);
                w = f ? at(*f, cat(key, ".", k)) : Where{s.at.line, cat(key, ".", k)};
                if (!f && req) fail(w, "missing (required)");
                return f;
            };
            Where name_at, gpa_at, size_at;
            bool ok = true;
            if (auto* f = field("name", true, name_at)) {
                auto v = str(*f, name_at);
                bool chars = v && std::all_of(v->begin(), v->end(),
                                              [](char c) { return isalnum(uint8_t(c)) || c == '_' || c == '-'; });
                if (v && (v->empty() || v->size() >= vp::MAX_NAME || !chars))
                    fail(name_at, quote(*v) + " is not a valid name: 1..31 characters of A-Z a-z 0-9 _ -");
                else if (v)
                    for (auto& [name, where] : names)
                        if (v && name == *v)
                            v = fail(name_at, cat("shm ", quote(name), " is already declared by ", where,
                                                  ": each region once per VM"));
                if (v && !v->empty() && v->size() < vp::MAX_NAME && chars) names.emplace_back(s.name = *v, key);
                else ok = false;
            } else ok = false;
            std::optional<uint64_t> gpa, size;
            if (auto* f = field("gpa", true, gpa_at)) gpa = uint(*f, gpa_at, 0, GPA_LIMIT - 1);
            if (auto* f = field("size", true, size_at)) size = uint(*f, size_at, PAGE, vp::MAX_SHM_SIZE);
            ok = ok && gpa && size && range_ok(gpa_at, *gpa, *size);
            if (auto* f = field("irq", false, s.irq_at)) {
                if (auto v = uint(*f, s.irq_at, 0, U32_MAX)) {
                    if (*v && m_vm.interrupt_mode != uint32_t(vp::InterruptMode::Emulated))
                        fail(s.irq_at, "a doorbell needs the VM's interrupt controller: interrupt_mode = \"no_irq\" "
                                       "gives it none (use \"emulated\", or leave irq out: the VM is then never rung)");
                    else
                        s.irq = uint32_t(*v);
                } else ok = false;
            }
            if (auto* f = field("peers", false, s.peers_at)) {
                auto* list = array(*f, s.peers_at);
                if (list && list->size() > vp::MAX_SHM_PEERS)
                    fail(s.peers_at, cat(list->size(), " peers, at most MAX_SHM_PEERS = ", vp::MAX_SHM_PEERS));
                for (size_t j = 0; list && j < list->size() && j < vp::MAX_SHM_PEERS; ++j) {
                    const toml::node& e = *list->get(j);
                    Where ew = at(*list, j, s.peers_at.key);
                    if (e.is_integer()) {
                        if (auto v = uint(e, ew, 0, U32_MAX)) s.peers.push_back({uint32_t(*v), "", ew});
                    } else if (auto* str_v = e.as_string(); str_v && !str_v->get().empty()) {
                        s.peers.push_back({std::nullopt, str_v->get(), ew});
                    } else {
                        fail(ew, cat("expected a VM name or id, got ", str_v ? "an empty string" : type_name(e)));
                    }
                }
            }
            if (!ok) continue;
            s.gpa = *gpa, s.size = *size;
            m_vm.shm.push_back(std::move(s));
        }
    }

    // A region's gpa must be free in this VM: not RAM, not a device, not an interrupt-controller window,
    // not another region.
    void check_shm_places() {
        bool emulated = m_vm.interrupt_mode == uint32_t(vp::InterruptMode::Emulated);
        for (size_t j = 0; j < m_vm.shm.size(); ++j) {
            const Shm& s = m_vm.shm[j];
            std::string me = cat("shm ", quote(s.name), " ", range(s.gpa, s.size), " overlaps ");
            for (auto& r : m_vm.regions)
                if (overlaps(r.gpa, r.size, s.gpa, s.size))
                    fail(s.at, cat(me, "memory region ", r.at.key, " ", range(r.gpa, r.size)));
            for (auto& d : m_vm.emu_devices)
                if (!d.space && overlaps(d.base, d.length, s.gpa, s.size))
                    fail(s.at, cat(me, "device ", quote(d.name), " (", d.at.key, ") ", range(d.base, d.length)));
            for (auto& d : m_vm.pt_devices)
                if (overlaps(d.base_gpa, d.length, s.gpa, s.size))
                    fail(s.at, cat(me, "device ", quote(d.name), " (", d.at.key, ") ", range(d.base_gpa, d.length)));
            if (emulated)
                for (auto& w : m_board.intc_windows(m_vm))
                    if (overlaps(w.base, w.size, s.gpa, s.size)) fail(s.at, cat(me, w.name, " ", range(w.base, w.size)));
            for (size_t i = 0; i < j; ++i)
                if (overlaps(m_vm.shm[i].gpa, m_vm.shm[i].size, s.gpa, s.size))
                    fail(s.at, cat(me, "shm ", quote(m_vm.shm[i].name), " (", m_vm.shm[i].at.key, ") ",
                                   range(m_vm.shm[i].gpa, m_vm.shm[i].size)));
        }
    }

    const Options& m_opts;
    Diags& m_diags;
    const HostDescription* m_host;
    fs::path m_dir;
    VmConfig m_vm;
    std::optional<uint64_t> m_entry;
    Where m_entry_at;
    bool m_regions_ok = false;
    int64_t m_devices_line = 1; // the [devices] header (line 1 without one)
    const GuestBoard& m_board;
    Known m_device_keys; // DEVICE_KEYS + the board's interrupt-controller keys
};

} // namespace

std::optional<VmConfig> load_vm(const fs::path& file, const Options& opts, Diags& diags,
                                const HostDescription* host) {
    auto text = read_file(file);
    if (!text)
        return diags.push_back(
                   {file.string(), 0, "", fs::exists(file) ? "cannot read file" : "no such file"}),
               std::nullopt;
    try {
        std::string_view doc(reinterpret_cast<const char*>(text->data()), text->size());
        toml::table root = toml::parse(doc, std::string_view(file.string()));
        return VmReader(file, opts, diags, host).read(root);
    } catch (const toml::parse_error& e) {
        auto& where = e.source().begin;
        diags.push_back(
            {file.string(), where.line, "", cat("invalid TOML: ", e.description()), where.column});
        return {};
    }
}

// --- [[shm]] between VMs (docs/virtio.md, "Shared memory") ---
const VmConfig* find_peer(const std::vector<VmConfig>& vms, const ShmPeer& p) {
    for (auto& vm : vms)
        if (p.id ? vm.id == p.id : vm.name == p.name) return &vm;
    return nullptr;
}

namespace {
const Shm* find_shm(const VmConfig& vm, const std::string& name) {
    for (auto& s : vm.shm)
        if (s.name == name) return &s;
    return nullptr;
}

// One size per name, at least two VMs per name, and each peer a VM that declares the region
// with a doorbell irq.
void check_shm_across(const std::vector<VmConfig>& vms, Diags& diags) {
    auto vm_list = [&] {
        std::string all;
        for (auto& vm : vms) all += cat(all.empty() ? "" : ", ", quote(vm.name), vm.id ? cat(" = ", *vm.id) : "");
        return all;
    };
    for (size_t j = 0; j < vms.size(); ++j) {
        const VmConfig& b = vms[j];
        for (const Shm& s : b.shm) {
            const VmConfig* first = nullptr;
            size_t users = 0;
            for (auto& a : vms)
                if (find_shm(a, s.name)) users++, first = first ? first : &a;
            if (users == 1)
                diags.push_back({b.file, s.at.line, s.at.key,
                                 cat("shm ", quote(s.name), " is declared by this VM only: a shared region needs a "
                                     "second VM declaring the same name (memory of one VM is a memory region)")});
            const Shm& f = *find_shm(*first, s.name);
            if (first != &b && f.size != s.size)
                diags.push_back({b.file, s.at.line, s.at.key,
                                 cat("shm ", quote(s.name), " has size ", hex(s.size), " here but ", hex(f.size),
                                     " in VM ", quote(first->name), " (", first->file, ":", f.at.line,
                                     "): every VM declaring a region must give it the same size")});
            std::vector<const VmConfig*> seen;
            for (size_t i = 0; i < s.peers.size(); ++i) {
                const ShmPeer& p = s.peers[i];
                const std::string who = p.id ? cat("VM id ", *p.id) : cat("VM ", quote(p.name));
                auto fail = [&](const std::string& why) { diags.push_back({b.file, p.at.line, p.at.key, who + why}); };
                const VmConfig* peer = find_peer(vms, p);
                if (!peer) {
                    fail(cat(" is not in this package (its VMs: ", vm_list(), ")"));
                    continue;
                }
                if (peer == &b) {
                    fail(" is this VM itself: a VM raises its own interrupts with HC_IRQ_LINE");
                    continue;
                }
                if (std::count(seen.begin(), seen.end(), peer)) {
                    fail(" is named twice");
                    continue;
                }
                seen.push_back(peer);
                const Shm* theirs = find_shm(*peer, s.name);
                if (!theirs)
                    fail(cat(" (", peer->file, ") does not declare shm ", quote(s.name),
                             ": a VM is rung only through a region both VMs declare"));
                else if (!theirs->irq)
                    fail(cat(" declares shm ", quote(s.name), " without an irq (", peer->file, ":", theirs->at.line,
                             "): it cannot be rung through it; give it irq = <an SPI of that VM>"));
            }
        }
    }
}
} // namespace

namespace {
// What virtio devices of different VMs (and of one VM) must not share: a part of the host's disk
// (each VM's host_region is its own: one VM must never reach another's data) and a MAC address on
// one network (the switch could not tell the two apart).
void check_shared_devices(const VmConfig& a, const VmConfig& b, Diags& diags) {
    auto blk_region = [](const EmuDev& d) {
        return d.type == uint32_t(vp::EmuType::VirtioBlk) && d.cfg.size() == 4 &&
               d.cfg[0] == uint64_t(vp::BlkBacking::HostRegion);
    };
    auto net = [](const EmuDev& d) { return d.type == uint32_t(vp::EmuType::VirtioNet) && d.cfg.size() == 2; };
    auto mac = [](uint64_t m) {
        char s[18];
        snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(m >> 40 & 0xff), unsigned(m >> 32 & 0xff),
                 unsigned(m >> 24 & 0xff), unsigned(m >> 16 & 0xff), unsigned(m >> 8 & 0xff), unsigned(m & 0xff));
        return std::string(s);
    };
    bool same = &a == &b;
    for (size_t j = 0; j < b.emu_devices.size(); ++j)
        for (size_t i = 0; i < (same ? j : a.emu_devices.size()); ++i) {
            auto &da = a.emu_devices[i], &db = b.emu_devices[j];
            std::string other = same ? cat("device ", quote(da.name), " (", da.params_at.key, ")")
                                     : cat("device ", quote(da.name), " of VM ", quote(a.name), " (", a.file, ":",
                                           da.params_at.line, ")");
            if (blk_region(da) && blk_region(db) && overlaps(da.cfg[1], da.cfg[2], db.cfg[1], db.cfg[2]))
                diags.push_back({b.file, db.params_at.line, db.params_at.key,
                                 cat("host disk range ", range(db.cfg[1], db.cfg[2]), " overlaps ",
                                     range(da.cfg[1], da.cfg[2]), " of ", other,
                                     ": a part of the host disk belongs to one device of one VM")});
            if (net(da) && net(db) && da.cfg[1] == db.cfg[1] && da.cfg[0] == db.cfg[0]) {
                Where w = db.params_at.line ? db.params_at : db.at;
                diags.push_back({b.file, w.line, w.key,
                                 cat("MAC ", mac(db.cfg[0]), " is already used on network ", db.cfg[1], " by ",
                                     other, ": give each device its own [virtio.", db.name, "] mac")});
            }
        }
}
} // namespace

void check_across(const std::vector<VmConfig>& vms, Diags& diags) {
    for (auto& vm : vms) check_shared_devices(vm, vm, diags);
    if (vms.size() > vp::MAX_VMS)
        diags.push_back({vms[vp::MAX_VMS].file, vms[vp::MAX_VMS].base_at.line, "base",
                         cat("too many VMs: ", vms.size(), " given, cxvisor runs at most MAX_VMS = ", vp::MAX_VMS)});
    // Host-physical ranges a VM takes for itself: identical and reserved regions (hpa == gpa) and
    // passthrough devices. Each belongs to one VM; two VMs sharing one would see each other.
    struct HostRange {
        uint64_t base, size;
        const Where* at;
    };
    auto host_ranges = [](const VmConfig& vm) {
        std::vector<HostRange> out;
        for (auto& r : vm.regions)
            if (r.map_type != uint32_t(vp::MapType::Alloc)) out.push_back({r.gpa, r.size, &r.at});
        for (auto& d : vm.pt_devices) out.push_back({d.base_hpa, d.length, &d.at});
        return out;
    };
    for (size_t j = 0; j < vms.size(); ++j)
        for (size_t i = 0; i < j; ++i) {
            auto &a = vms[i], &b = vms[j];
            if (a.id && b.id && *a.id == *b.id)
                diags.push_back(
                    {b.file, b.id_at.line, "base.id", cat("id ", *b.id, " is already used by ", a.file)});
            if (!a.name.empty() && a.name == b.name)
                diags.push_back({b.file, b.name_at.line, "base.name",
                                 cat("name ", quote(b.name), " is already used by ", a.file)});
            for (auto& pb : b.pt_devices) // a host interrupt line is forwarded to one VM only
                for (auto& pa : a.pt_devices)
                    if (pb.irq && pb.irq == pa.irq)
                        diags.push_back({b.file, pb.at.line, pb.at.key,
                                         cat("irq ", pb.irq, " is already forwarded to VM ", quote(a.name), " (",
                                             a.file, ":", pa.at.line, "): a host interrupt belongs to one VM")});
            check_shared_devices(a, b, diags);
            for (auto& rb : host_ranges(b))
                for (auto& ra : host_ranges(a))
                    if (overlaps(ra.base, ra.size, rb.base, rb.size))
                        diags.push_back({b.file, rb.at->line, rb.at->key,
                                         cat("host range ", range(rb.base, rb.size), " overlaps ", ra.at->key,
                                             " of VM ", quote(a.name), " (", a.file, ":", ra.at->line,
                                             "): identical and reserved regions and passthrough devices "
                                             "belong to one VM and cannot be shared")});
        }
    check_shm_across(vms, diags);
}

} // namespace vmconfig
