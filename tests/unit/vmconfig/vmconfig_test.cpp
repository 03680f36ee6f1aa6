// cxv-vmconfig: packages read back field by field, every validation error with its line, the
// --image composition, the generated DTB (read back with libfdt) and the real binary once.
#include "../fdt/dts_board.hpp"
#include "../fdt/fdt_fixtures.hpp"
#include "abi/vm_package.hpp"
#include "base/types.hpp"
#include "vmconfig.hpp"
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <libfdt.h>
#include <sstream>
#include <sys/wait.h>

namespace vp = vm_package;
using vmconfig::Bytes;
namespace fs = std::filesystem;

namespace {

const fs::path FIXTURES = CXV_VMCONFIG_FIXTURES;

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
Bytes bytes(const fs::path& p) {
    std::string s = slurp(p);
    return Bytes(s.begin(), s.end());
}
// `text` with the first occurrence of `from` replaced (the test fails if it is absent).
std::string with(std::string text, const std::string& from, const std::string& to) {
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/cxv-vmconfig-test-XXXXXX";
        m_path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(m_path); }
    fs::path operator/(const std::string& name) const { return m_path / name; }
    const fs::path& path() const { return m_path; }
    fs::path write(const std::string& name, const std::string& text) const {
        std::ofstream(m_path / name, std::ios::binary) << text;
        return m_path / name;
    }
    size_t entries() const { return std::distance(fs::directory_iterator(m_path), fs::directory_iterator()); }

private:
    fs::path m_path;
};

struct Outcome {
    int status;
    std::string err;
};
Outcome run(std::vector<std::string> args) {
    std::ostringstream err;
    int status = vmconfig::run(args, err);
    return {status, err.str()};
}

// Reads a package back, checking that everything it points at lies inside it.
class Package {
public:
    explicit Package(Bytes b) : m_b(std::move(b)) {
        EXPECT_GE(m_b.size(), sizeof(vp::PackageHeader));
        memcpy(&h, m_b.data(), sizeof h);
    }
    template <typename T> T at(uint64_t off, size_t i = 0) const {
        T v;
        EXPECT_LE(off + (i + 1) * sizeof(T), m_b.size());
        EXPECT_EQ(off % alignof(T), 0u);
        memcpy(&v, m_b.data() + off + i * sizeof(T), sizeof v);
        return v;
    }
    vp::VmRecord vm(size_t i) const { return at<vp::VmRecord>(h.vm_records, i); }
    Bytes blob(const vp::Blob& b) const {
        EXPECT_EQ(b.offset % 4096, 0u);
        EXPECT_LE(b.offset + b.size, m_b.size());
        return Bytes(m_b.begin() + b.offset, m_b.begin() + b.offset + b.size);
    }
    std::string str(uint64_t off) const { return reinterpret_cast<const char*>(m_b.data() + off); }
    vp::PackageHeader h;

private:
    Bytes m_b;
};

// The fixture config (fixtures/hello.toml) in a scratch directory; its images come from
// FIXTURES through --search-path. Line numbers below refer to this file.
class VmConfigTest : public ::testing::Test {
protected:
    const std::string hello = slurp(FIXTURES / "hello.toml");
    TempDir dir;
    std::string out = (dir / "out.pkg").string();

    Outcome compile(const std::vector<std::string>& files, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"--search-path", FIXTURES.string(), "-o", out};
        args.insert(args.end(), extra.begin(), extra.end());
        args.insert(args.end(), files.begin(), files.end());
        return run(args);
    }
    // Compiles one config text as f.toml; expects failure and returns stderr.
    std::string errors(const std::string& text) {
        Outcome r = compile({dir.write("f.toml", text).string()});
        EXPECT_EQ(r.status, 1) << r.err;
        EXPECT_FALSE(fs::exists(out));
        return r.err;
    }
    std::string where(int line, const std::string& key) {
        return (dir / "f.toml").string() + ":" + std::to_string(line) + ": " + key + ": ";
    }
};

#define EXPECT_HAS(haystack, needle)                                                                         \
    EXPECT_NE((haystack).find(needle), std::string::npos) << "missing: " << (needle) << "\nin:\n"            \
                                                          << (haystack)

TEST_F(VmConfigTest, ValidConfigRoundTrips) {
    Outcome r = compile({(FIXTURES / "hello.toml").string(), (FIXTURES / "bare.toml").string()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(dir.entries(), 1u); // the output alone: the temporary file was renamed
    Bytes raw = bytes(out);
    Package p(raw);
    EXPECT_EQ(p.h.magic, vp::MAGIC);
    EXPECT_EQ(p.h.version, vp::VERSION);
    EXPECT_EQ(p.h.total_size, raw.size());
    EXPECT_EQ(p.h.vm_count, 2u);
    EXPECT_EQ(p.h.vm_record_size, sizeof(vp::VmRecord));
    EXPECT_EQ(p.h.isa, uint32_t(vp::Isa::Aarch64)); // --arch's default

    vp::VmRecord a = p.vm(0);
    EXPECT_EQ(a.id, 1u);
    EXPECT_STREQ(a.name, "hello");
    EXPECT_EQ(a.cpu_num, 2u);
    EXPECT_EQ(a.phys_cpu_ids[0], 0u);
    EXPECT_EQ(a.phys_cpu_ids[1], 1u);
    EXPECT_EQ(a.phys_cpu_ids[2], vp::ANY_CPU);
    EXPECT_EQ(a.entry_point, 0x4008'0000u);
    EXPECT_EQ(a.kernel_load_addr, 0x4008'0000u);
    EXPECT_EQ(a.ramdisk_load_addr, 0x4100'0000u);
    EXPECT_EQ(a.dtb_load_addr, 0x4000'0000u);
    EXPECT_EQ(a.interrupt_mode, uint32_t(vp::InterruptMode::Emulated));
    EXPECT_EQ(a.intc_base, 0x0800'0000u); // QEMU virt's layout, the defaults
    EXPECT_EQ(a.intc_base2, 0x080A'0000u);
    EXPECT_EQ(a.intc_lines, 32u); // enough for the highest device irq (34), one group of 32
    EXPECT_EQ(p.str(a.cmdline), "console=ttyAMA0 earlycon");
    EXPECT_EQ(p.blob(a.kernel), bytes(FIXTURES / "hello.bin"));
    EXPECT_EQ(p.blob(a.ramdisk), bytes(FIXTURES / "initrd.img"));
    EXPECT_GT(a.dtb.size, 0u);
    EXPECT_LT(a.kernel.offset, a.ramdisk.offset);
    ASSERT_EQ(a.region_count, 2u);
    auto r1 = p.at<vp::MemRegion>(a.regions, 1);
    EXPECT_EQ(r1.gpa, 0x8000'0000u);
    EXPECT_EQ(r1.size, 0x10'0000u);
    EXPECT_EQ(r1.flags, 3u);
    EXPECT_EQ(r1.map_type, uint32_t(vp::MapType::Identical));
    ASSERT_EQ(a.emu_count, 1u);
    auto uart = p.at<vp::EmuDevice>(a.emu_devices);
    EXPECT_STREQ(uart.name, "uart");
    EXPECT_EQ(uart.base_gpa, 0x0900'0000u);
    EXPECT_EQ(uart.length, 0x1000u);
    EXPECT_EQ(uart.irq, 33u);
    EXPECT_EQ(uart.type, uint32_t(vp::EmuType::Pl011));
    EXPECT_EQ(uart.cfg_count, 2u);
    EXPECT_EQ(uart.cfg[1], 2u);
    ASSERT_EQ(a.pt_count, 1u);
    auto rtc = p.at<vp::PassthroughDevice>(a.pt_devices);
    EXPECT_STREQ(rtc.name, "rtc");
    EXPECT_EQ(rtc.base_hpa, 0x0901'0000u);
    EXPECT_EQ(rtc.irq, 34u);

    vp::VmRecord b = p.vm(1);
    EXPECT_EQ(b.id, 2u);
    EXPECT_STREQ(b.name, "bare");
    EXPECT_EQ(b.phys_cpu_ids[0], vp::ANY_CPU);
    EXPECT_EQ(b.interrupt_mode, uint32_t(vp::InterruptMode::Emulated)); // the default
    EXPECT_EQ(b.intc_base, 0x0800'0000u);
    EXPECT_EQ(b.intc_lines, 32u);
    EXPECT_EQ(b.cmdline, 0u);
    EXPECT_EQ(b.ramdisk.size, 0u);
    EXPECT_EQ(b.dtb.size, 0u); // bare metal: no device tree
    EXPECT_EQ(b.emu_count + b.pt_count, 0u);
    EXPECT_EQ(p.blob(b.kernel), bytes(FIXTURES / "hello.bin"));
    EXPECT_EQ(b.kernel.offset, a.kernel.offset);      // the same file: one blob, both VMs map it
    // A package alone (for a boot medium) ends with its kernels and ramdisks, after the resident
    // part that holds everything the image reads in place (vm_package.hpp).
    uint64_t end = 0;
    for (const vp::Blob& k : {a.kernel, a.ramdisk, b.kernel, b.ramdisk}) {
        if (!k.size) continue;
        end = std::max(end, k.offset + k.size);
        EXPECT_LE(p.h.resident_size, k.offset);
    }
    EXPECT_EQ(end, raw.size());
    EXPECT_LE(a.dtb.offset + a.dtb.size, p.h.resident_size);
    EXPECT_EQ(p.h.resident_size % 4096, 0u);
    EXPECT_EQ(a.flags | b.flags, 0u); // autostart (the default): no flag

    // Deterministic: a second run gives the same bytes.
    ASSERT_EQ(compile({(FIXTURES / "hello.toml").string(), (FIXTURES / "bare.toml").string()}).status, 0);
    EXPECT_EQ(bytes(out), raw);
}

TEST_F(VmConfigTest, GeneratedDtbDescribesTheVm) {
    ASSERT_EQ(compile({(FIXTURES / "hello.toml").string()}).status, 0);
    Package p(bytes(out));
    vp::VmRecord vm = p.vm(0);
    Bytes dtb = p.blob(vm.dtb);
    const void* f = dtb.data();
    ASSERT_EQ(fdt_check_header(f), 0);
    EXPECT_EQ(fdt_totalsize(f), dtb.size());
    int len = 0;
    auto prop = [&](const char* path, const char* name) {
        int node = fdt_path_offset(f, path);
        EXPECT_GE(node, 0) << path;
        auto* v = static_cast<const char*>(fdt_getprop(f, node, name, &len));
        EXPECT_NE(v, nullptr) << path << " " << name;
        return v ? std::string(v, len) : std::string();
    };
    EXPECT_EQ(prop("/", "compatible"), std::string("cxvisor,vm\0", 11));
    std::string reg = prop("/memory@40000000", "reg");
    ASSERT_EQ(reg.size(), 16u);
    EXPECT_EQ(fdt64_to_cpu(*reinterpret_cast<const fdt64_t*>(reg.data())), 0x4000'0000u);
    EXPECT_EQ(fdt64_to_cpu(*reinterpret_cast<const fdt64_t*>(reg.data() + 8)), 0x200'0000u);
    EXPECT_GE(fdt_path_offset(f, "/memory@80000000"), 0); // identical R|W regions are RAM too
    int cpus = 0, node;
    fdt_for_each_subnode(node, f, fdt_path_offset(f, "/cpus"))++ cpus;
    EXPECT_EQ(cpus, 2);
    EXPECT_EQ(prop("/cpus/cpu@1", "enable-method"), std::string("psci\0", 5));
    EXPECT_EQ(prop("/psci", "method"), std::string("hvc\0", 4));
    EXPECT_EQ(prop("/psci", "compatible"), std::string("arm,psci-1.0\0arm,psci-0.2\0", 26));
    EXPECT_EQ(prop("/chosen", "bootargs"), std::string("console=ttyAMA0 earlycon\0", 25));
    EXPECT_EQ(prop("/chosen", "stdout-path"), std::string("/pl011@9000000\0", 15));
    std::string start = prop("/chosen", "linux,initrd-start"), end = prop("/chosen", "linux,initrd-end");
    EXPECT_EQ(fdt64_to_cpu(*reinterpret_cast<const fdt64_t*>(start.data())), 0x4100'0000u);
    EXPECT_EQ(fdt64_to_cpu(*reinterpret_cast<const fdt64_t*>(end.data())), 0x4100'0000u + 3000);
    EXPECT_EQ(prop("/pl011@9000000", "compatible"), std::string("arm,pl011\0arm,primecell\0", 24));
    EXPECT_EQ(prop("/pl011@9000000", "clock-names"), std::string("uartclk\0apb_pclk\0", 17));
    EXPECT_EQ(prop("/apb-pclk", "compatible"), std::string("fixed-clock\0", 12));
}

// The generated tree, decompiled by dtc (as a reader other than libfdt) and checked node by node
// against what Linux's gic-v3, arch timer and PL011 bindings need and QEMU virt itself gives.
std::string decompile(const TempDir& dir, const Bytes& dtb) {
    std::ofstream(dir / "g.dtb", std::ios::binary).write(reinterpret_cast<const char*>(dtb.data()), dtb.size());
    std::string cmd = "dtc -I dtb -O dts -o " + (dir / "g.dts").string() + " " + (dir / "g.dtb").string() +
                      " 2>" + (dir / "dtc.err").string();
    int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(dir / "dtc.err");
    EXPECT_EQ(slurp(dir / "dtc.err"), ""); // no warnings either
    return slurp(dir / "g.dts");
}
// The text of node `name` (up to its closing brace) in dtc output.
std::string node_text(const std::string& dts, const std::string& name) {
    size_t at = dts.find("\t" + name + " {");
    EXPECT_NE(at, std::string::npos) << name << " in\n" << dts;
    return at == std::string::npos ? "" : dts.substr(at, dts.find("\n\t};", at) - at);
}

TEST_F(VmConfigTest, GeneratedDtbHasTheVgicTimerAndDeviceInterrupts) {
    auto cfg = with(hello, "interrupt_mode = \"emulated\"",
                    "interrupt_mode = \"emulated\"\ngicd_base = 0x0810_0000\ngicr_base = 0x0820_0000");
    Outcome r = compile({dir.write("f.toml", cfg).string()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    Package p(bytes(out));
    vp::VmRecord vm = p.vm(0);
    EXPECT_EQ(vm.intc_base, 0x0810'0000u);
    EXPECT_EQ(vm.intc_base2, 0x0820'0000u);
    Bytes dtb = p.blob(vm.dtb);
    std::string dts = decompile(dir, dtb);
    EXPECT_HAS(dts, "\tinterrupt-parent = <0x02>;"); // at the root: every device's parent is the vGIC
    std::string gic = node_text(dts, "intc@8100000");
    EXPECT_HAS(gic, "compatible = \"arm,gic-v3\";");
    EXPECT_HAS(gic, "#interrupt-cells = <0x03>;");
    EXPECT_HAS(gic, "interrupt-controller;");
    // GICD 64 KiB, then one redistributor region: 2 vCPUs x 128 KiB.
    EXPECT_HAS(gic, "reg = <0x00 0x8100000 0x00 0x10000 0x00 0x8200000 0x00 0x40000>;");
    EXPECT_HAS(gic, "#redistributor-regions = <0x01>;");
    EXPECT_HAS(gic, "interrupts = <0x01 0x09 0x04>;"); // maintenance: PPI 9 = INTID 25, level-high
    EXPECT_HAS(gic, "phandle = <0x02>;");
    std::string timer = node_text(dts, "timer");
    EXPECT_HAS(timer, "compatible = \"arm,armv8-timer\";");
    // sec-phys 13, phys 14, virt 11, hyp 10 (INTIDs 29, 30, 27, 26), level-high, as QEMU virt.
    EXPECT_HAS(timer, "interrupts = <0x01 0x0d 0x04 0x01 0x0e 0x04 0x01 0x0b 0x04 0x01 0x0a 0x04>;");
    EXPECT_HAS(timer, "always-on;");
    std::string uart = node_text(dts, "pl011@9000000");
    EXPECT_HAS(uart, "interrupts = <0x00 0x01 0x04>;"); // irq 33 = SPI 1
    EXPECT_HAS(uart, "clocks = <0x01 0x01>;");
    std::string cpus = node_text(dts, "cpus");
    EXPECT_HAS(cpus, "cpu@1 {");
    EXPECT_HAS(cpus, "reg = <0x01>;"); // MPIDR Aff0 = vCPU index
    EXPECT_HAS(node_text(dts, "psci"), "method = \"hvc\";");
    EXPECT_HAS(node_text(dts, "chosen"), "stdout-path = \"/pl011@9000000\";");

    // libfdt: the phandle the root names resolves to the GIC node.
    const void* f = dtb.data();
    int len = 0;
    auto* parent = static_cast<const fdt32_t*>(fdt_getprop(f, 0, "interrupt-parent", &len));
    ASSERT_NE(parent, nullptr);
    EXPECT_EQ(fdt_node_offset_by_phandle(f, fdt32_to_cpu(*parent)), fdt_path_offset(f, "/intc@8100000"));
    EXPECT_EQ(fdt_node_check_compatible(f, fdt_path_offset(f, "/timer"), "arm,armv8-timer"), 0);
    auto* irq = static_cast<const fdt32_t*>(fdt_getprop(f, fdt_path_offset(f, "/pl011@9000000"), "interrupts", &len));
    ASSERT_EQ(len, 12);
    EXPECT_EQ(fdt32_to_cpu(irq[1]), 1u);
}

TEST_F(VmConfigTest, NoIrqVmGetsNoGicAndItsDeviceIrqsAreWarnings) {
    Outcome r = compile({dir.write("f.toml", with(hello, "\"emulated\"", "\"no_irq\"")).string()});
    ASSERT_EQ(r.status, 0) << r.err; // today's configs (irq 33 with no_irq) stay valid
    std::string never = " is never delivered: interrupt_mode = \"no_irq\" gives the VM no interrupt controller "
                        "(use \"emulated\", or irq 0)\n";
    EXPECT_HAS(r.err, where(23, "devices.emu_devices[0]") + "warning: irq 33" + never);
    EXPECT_HAS(r.err, where(24, "devices.passthrough_devices[0]") + "warning: irq 34" + never);
    EXPECT_EQ(r.err.find("error"), std::string::npos);
    Package p(bytes(out));
    vp::VmRecord vm = p.vm(0);
    EXPECT_EQ(vm.interrupt_mode, uint32_t(vp::InterruptMode::NoIrq));
    EXPECT_EQ(vm.intc_base, 0u);
    EXPECT_EQ(vm.intc_base2, 0u);
    EXPECT_EQ(vm.intc_lines, 0u);
    std::string dts = decompile(dir, p.blob(vm.dtb));
    EXPECT_EQ(dts.find("interrupt"), std::string::npos) << dts; // no GIC, no timer PPIs, no PL011 irq
    EXPECT_EQ(dts.find("timer"), std::string::npos);
    EXPECT_HAS(dts, "pl011@9000000 {");
    // An error elsewhere still counts only the errors.
    fs::remove(out);
    std::string err = errors(with(with(hello, "\"emulated\"", "\"no_irq\""), "cpu_num = 2", "cpu_num = 0"));
    EXPECT_HAS(err, "warning: irq 33");
    EXPECT_HAS(err, "cxv-vmconfig: 1 error, ");
}

TEST_F(VmConfigTest, SpiCountBoundsDeviceIrqs) {
    auto cfg = [&](const std::string& spis, int irq) {
        std::string text = with(hello, "0x1000, 34]", "0x1000, " + std::to_string(irq) + "]");
        return dir.write("f.toml", spis.empty() ? text : with(text, "interrupt_mode = \"emulated\"",
                                                               "interrupt_mode = \"emulated\"\nspi_count = " + spis));
    };
    std::string err = errors(slurp(cfg("64", 100)));
    EXPECT_HAS(err, where(24, "devices.passthrough_devices[0]") +
                        "irq 100 is above the VM's SPIs (devices.spi_count 64: INTIDs 32..95): raise spi_count");
    struct Ok {
        std::string spis;
        int irq;
        uint32_t recorded;
    } oks[] = {{"96", 100, 96}, {"33", 34, 64}, {"", 100, 96}, {"", 1019, 988}, {"988", 1019, 988}};
    for (auto& c : oks) {
        SCOPED_TRACE(c.spis + " " + std::to_string(c.irq));
        Outcome r = compile({cfg(c.spis, c.irq).string()});
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(Package(bytes(out)).vm(0).intc_lines, c.recorded);
    }
}

TEST_F(VmConfigTest, GivenDtbIsIncludedAsIs) {
    Bytes tree(256);
    ASSERT_EQ(fdt_create_empty_tree(tree.data(), int(tree.size())), 0);
    tree.resize(fdt_totalsize(tree.data()));
    std::ofstream(dir / "guest.dtb", std::ios::binary)
        .write(reinterpret_cast<const char*>(tree.data()), tree.size());
    auto cfg = with(hello, "dtb_load_addr", "dtb_path = \"guest.dtb\"\ndtb_load_addr");
    ASSERT_EQ(compile({dir.write("f.toml", cfg).string()}).status, 0);
    Package p(bytes(out));
    EXPECT_EQ(p.blob(p.vm(0).dtb), tree);
    fs::remove(out);

    dir.write("guest.dtb", "not a device tree at all");
    std::string err = errors(cfg);
    EXPECT_HAS(err, where(15, "kernel.dtb_path") +
                        "not a flattened device tree (no magic 0xd00dfeed at offset 0)");
}

struct ErrorCase {
    const char* from;
    const char* to;
    int line;
    const char* key;
    const char* reason;
    const char* also = ""; // a later part of the message
};

// One edit of the fixture per case; each must produce exactly this `file:line: key: reason`.
const ErrorCase ERROR_CASES[] = {
    {"id = 1", "id = -1", 2, "base.id", "must not be negative, got -1"},
    {"id = 1", "id = 0x1_0000_0000", 2, "base.id", "must be 0..0xffffffff, got 0x100000000"},
    {"name = \"hello\"", "name = \"hello world\"", 3, "base.name", "\"hello world\" is not a valid name"},
    {"name = \"hello\"", "name = 5", 3, "base.name", "expected a string, got an integer"},
    {"name = \"hello\"", "name = \"\"", 3, "base.name", "\"\" is not a valid name: 1..31 characters"},
    {"vm_type = 1", "vm_type = 2", 4, "base.vm_type", "must be 1, got 2"},
    {"vm_type = 1", "autostart = \"no\"", 4, "base.autostart", "expected true or false, got a string"},
    {"cpu_num = 2", "cpu_num = 17", 5, "base.cpu_num", "17 vCPUs are more than cxvisor supports: MAX_VCPUS = 16 per VM"},
    {"cpu_num = 2", "cpu_num = 0", 5, "base.cpu_num", "must be 1..16, got 0"},
    {"cpu_num = 2", "cpu_num = \"2\"", 5, "base.cpu_num", "expected an integer, got a string"},
    {"cpu_num = 2", "cpu_nums = 2", 5, "base.cpu_nums", "unknown key (did you mean 'cpu_num'?)"},
    {"cpu_num = 2", "", 1, "base.cpu_num", "missing (required)"},
    {"[0, 1]", "[0, 4]", 6, "base.phys_cpu_ids[1]",
     "physical CPU 4 does not exist: the target has 4 (--cpus), valid 0..3"},
    {"[0, 1]", "[1, 1]", 6, "base.phys_cpu_ids[1]", "physical CPU 1 is already used by vCPU 0"},
    {"[0, 1]", "[0]", 6, "base.phys_cpu_ids", "has 1 entries but cpu_num is 2"},
    {"phys_cpu_ids = [0, 1]", "phys_cpu_sets = [1, 6]", 6, "base.phys_cpu_sets[1]", "mask 0x6 allows 2 CPUs"},
    {"entry_point = 0x4008_0000", "entry_point = 0x8000_0000", 9, "kernel.entry_point",
     "0x80000000 is not inside a memory region with X (4) in its flags"},
    {"\"memory\"", "\"fs\"", 10, "kernel.image_location", "\"fs\" is not supported"},
    {"kernel_path = \"hello.bin\"", "kernel_path = \"hello.bim\"", 11, "kernel.kernel_path",
     "cannot read \"hello.bim\" (tried "},
    {"kernel_load_addr = 0x4008_0000", "", 8, "kernel.kernel_load_addr", "missing (required)"},
    {"kernel_load_addr = 0x4008_0000", "kernel_load_addr = 0x41ff_f000", 12, "kernel.kernel_load_addr",
     "kernel [0x41fff000, 0x42000388) runs 904 bytes past the end of kernel.memory_regions[0] [0x40000000, "
     "0x42000000)"},
    {"ramdisk_load_addr = 0x4100_0000", "ramdisk_load_addr = 0x4008_1000", 14, "kernel.ramdisk_load_addr",
     "ramdisk [0x40081000, 0x40081bb8) overlaps kernel [0x40080000, 0x40081388)"},
    {"ramdisk_load_addr = 0x4100_0000", "ramdisk_load_addr = 0x8000_0000", 14, "kernel.ramdisk_load_addr",
     ""},
    {"ramdisk_path = \"initrd.img\"", "", 14, "kernel.ramdisk_load_addr", "given without ramdisk_path"},
    {"dtb_load_addr = 0x4000_0000", "dtb_load_addr = 0x4008_0000", 15, "kernel.dtb_load_addr",
     "dtb (generated) [0x40080000, 0x", ") overlaps kernel [0x40080000, 0x40081388)"},
    {"dtb_load_addr = 0x4000_0000", "dtb_load_addr = 0x9000_0000", 15, "kernel.dtb_load_addr",
     "dtb (generated) [0x90000000, 0x",
     ") is not inside any memory region (images need an alloc or identical region)"},
    {"dtb_load_addr = 0x4000_0000", "dtb_load_addr = 0x4000_0004", 15, "kernel.dtb_load_addr",
     "must be 8-byte aligned"},
    {"[0x8000_0000, 0x10_0000, 0x3, 1]", "[0x4100_0000, 0x10_0000, 0x3, 1]", 19, "kernel.memory_regions[1]",
     "[0x41000000, 0x41100000) overlaps kernel.memory_regions[0] [0x40000000, 0x42000000)"},
    {"[0x8000_0000, 0x10_0000", "[0x8000_0800, 0x10_0000", 19, "kernel.memory_regions[1]",
     "[0x80000800, 0x80100800) is not 4 KiB aligned (address and size must be multiples of 0x1000)"},
    {"[0x8000_0000, 0x10_0000", "[0x8000_0000, 0x10_0100", 19, "kernel.memory_regions[1]",
     "[0x80000000, 0x80100100) is not 4 KiB aligned"},
    {"[0x8000_0000, 0x10_0000", "[0x8000_0000, 0", 19, "kernel.memory_regions[1]",
     "[0x80000000, 0x80000000) is empty (size 0)"},
    {"[0x8000_0000, 0x10_0000", "[0xffff_ffff_f000, 0x2000", 19, "kernel.memory_regions[1]",
     "[0xfffffffff000, 0x1000000001000) ends past 2^48"},
    {"0x3, 1]", "0x10, 1]", 19, "kernel.memory_regions[1]",
     "flags (R=1 W=2 X=4 DEVICE=8): must be 1..15, got 16"},
    {"0x3, 1]", "0x3, 3]", 19, "kernel.memory_regions[1]",
     "map_type (0 alloc, 1 identical, 2 reserved): must be 0..2, got 3"},
    {"0x3, 1]", "0x3]", 19, "kernel.memory_regions[1]",
     "expected [gpa, size, flags, map_type], got 3 values"},
    {"0x3, 1]", "0xB, 1]", 15, "kernel.dtb_load_addr", ""}, // DEVICE region: no /memory node, dtb still fits
    {"\"pl011\"", "\"pl012\"", 23, "devices.emu_devices[0]",
     "unknown device type \"pl012\" (known: \"pl011\" = 1, \"virtio-blk\" = 2, \"virtio-net\" = 3, \"virtio-console\" = 4)"},
    {"\"pl011\"", "7", 23, "devices.emu_devices[0]", "unknown device type 7 (known: \"pl011\" = 1, \"virtio-blk\" = 2, \"virtio-net\" = 3, \"virtio-console\" = 4)"},
    {"[1, 2]]", "[1, 2, 3, 4, 5, 6, 7, 8, 9]]", 23, "devices.emu_devices[0]", "cfg_list: at most 8 values"},
    {"[\"uart\", 0x0900_0000", "[\"uart\", 0x4010_0000", 23, "devices.emu_devices[0]",
     "device \"uart\" [0x40100000, 0x40101000) overlaps memory region kernel.memory_regions[0]"},
    {"[\"uart\"", "[\"a_name_that_is_far_too_long_for_it\"", 23, "devices.emu_devices[0]",
     "name: must be 1..31 characters"},
    {"[\"rtc\", 0x0901_0000", "[\"rtc\", 0x0900_0000", 24, "devices.passthrough_devices[0]",
     "device \"rtc\" [0x9000000, 0x9001000) overlaps device \"uart\" (devices.emu_devices[0]) [0x9000000, "
     "0x9001000)"},
    {"0x1000, 34]", "0x1000]", 24, "devices.passthrough_devices[0]",
     "expected [name, base_gpa, base_hpa, length, irq, dt_node], got 4 values"},
    {"\"emulated\"", "\"msi\"", 25, "devices.interrupt_mode",
     "unknown mode \"msi\": cxvisor implements \"emulated\" (a virtual GICv3) and \"no_irq\""},
    {"\"emulated\"", "\"passthrough\"", 25, "devices.interrupt_mode",
     "\"passthrough\" (the host GIC handed to the guest) is not implemented by cxvisor: use \"emulated\" (a "
     "virtual GICv3; passthrough devices' interrupts are forwarded through it) or \"no_irq\""},
    // Device interrupts are GIC INTIDs: SPIs only, each device its own.
    {"0x1000, 33,", "0x1000, 5,", 23, "devices.emu_devices[0]",
     "irq 5 is an SGI (0..15: software-generated, between vCPUs): use an SPI, 32..1019"},
    {"0x1000, 33,", "0x1000, 27,", 23, "devices.emu_devices[0]",
     "irq 27 is a PPI (16..31: private to each vCPU, its timers and the GIC maintenance interrupt): an emulated "
     "device raises an SPI; use an SPI, 32..1019"},
    {"0x1000, 34]", "0x1000, 16]", 24, "devices.passthrough_devices[0]",
     "irq 16 is a PPI (16..31: private to each vCPU, its timers and the GIC maintenance interrupt): cxvisor "
     "cannot forward a host PPI; use an SPI, 32..1019"},
    {"0x1000, 34]", "0x1000, 1020]", 24, "devices.passthrough_devices[0]",
     "irq 1020 is not an SPI (32..1019; 1020.. are special or LPIs, which the vGIC does not have)"},
    {"0x1000, 34]", "0x1000, 33]", 24, "devices.passthrough_devices[0]",
     "irq 33 is already used by device \"uart\" (devices.emu_devices[0]): each device needs its own interrupt"},
    {"0x1000, 34]", "0x1000, 1019]", 24, "devices.passthrough_devices[0]", ""}, // the last SPI
    {"0x1000, 34]", "0x1000, 0]", 24, "devices.passthrough_devices[0]", ""},    // no interrupt
    // The vGIC's windows: 64 KiB aligned, clear of RAM, devices and each other.
    {"interrupt_mode = \"emulated\"", "interrupt_mode = \"emulated\"\nspi_count = 989", 26, "devices.spi_count",
     "must be 1..988, got 989"},
    {"interrupt_mode = \"emulated\"", "interrupt_mode = \"emulated\"\ngicd_base = 0x0800_1000", 26,
     "devices.gicd_base", "0x8001000 is not 64 KiB aligned (GICv3 register frames are 64 KiB)"},
    {"interrupt_mode = \"emulated\"", "interrupt_mode = \"emulated\"\ngicd_base = 0x4000_0000", 26,
     "devices.gicd_base",
     "the vGIC distributor (GICD) [0x40000000, 0x40010000) overlaps memory region kernel.memory_regions[0] "
     "[0x40000000, 0x42000000)"},
    {"interrupt_mode = \"emulated\"", "interrupt_mode = \"emulated\"\ngicr_base = 0x0900_0000", 26,
     "devices.gicr_base",
     "the vGIC redistributors (GICR, 2 x 128 KiB) [0x9000000, 0x9040000) overlaps device \"uart\" "
     "(devices.emu_devices[0]) [0x9000000, 0x9001000)"},
    {"interrupt_mode = \"emulated\"", "interrupt_mode = \"emulated\"\ngicr_base = 0x0800_0000", 26,
     "devices.gicr_base",
     "the vGIC redistributors [0x8000000, 0x8040000) overlap the distributor [0x8000000, 0x8010000)"},
    {"interrupt_mode = \"emulated\"", "interrupt_mode = \"emulated\"\ngicd_base = 0xffff_ffff_0000", 26,
     "devices.gicd_base", ""}, // the last 64 KiB below 2^48
    {"interrupt_mode = \"emulated\"", "interrupt_mode = \"emulated\"\ngicr_base = 0xffff_fffe_0000", 26,
     "devices.gicr_base", "the vGIC redistributors (GICR, 2 x 128 KiB) [0xfffffffe0000, 0x1000000020000) ends "
                          "past 2^48"},
    {"interrupt_mode = \"emulated\"", "interrupt_mode = \"no_irq\"\ngicd_base = 0x0800_0000", 26,
     "devices.gicd_base", "only with interrupt_mode = \"emulated\": a no_irq VM has no GIC"},
    // A default window in the way: reported at interrupt_mode, with the key to set.
    {"[0x8000_0000, 0x10_0000, 0x3, 1]", "[0x0800_0000, 0x10_0000, 0x3, 0]", 25, "devices.gicd_base",
     "the vGIC distributor (GICD) at its default [0x8000000, 0x8010000) overlaps memory region "
     "kernel.memory_regions[1] [0x8000000, 0x8100000): set devices.gicd_base to a free range"},
    {"[devices]", "[devices]\ndisk_path = 1", 23, "devices.disk_path", "unknown key"},
    {"cmdline", "disk_path = \"a.img\"\ncmdline", 16, "kernel.disk_path",
     "axvisor key not supported by cxvisor"},
    {"[devices]", "[kernal]\n[devices]", 22, "kernal", "unknown table (did you mean 'kernel'?)"},
};

TEST_F(VmConfigTest, EachErrorNamesFileLineAndKey) {
    for (auto& c : ERROR_CASES) {
        SCOPED_TRACE(std::string(c.from) + " -> " + c.to);
        std::string cfg = with(hello, c.from, c.to);
        if (!*c.reason) { // a variant that must still be accepted
            Outcome r = compile({dir.write("f.toml", cfg).string()});
            EXPECT_EQ(r.status, 0) << r.err;
            fs::remove(out);
            continue;
        }
        std::string err = errors(cfg);
        EXPECT_HAS(err, where(c.line, c.key) + c.reason);
        EXPECT_HAS(err, c.also);
    }
}

TEST_F(VmConfigTest, MissingFileSaysWhichPathsWereTried) {
    std::string err = errors(with(hello, "\"hello.bin\"", "\"nope/k.bin\""));
    EXPECT_HAS(err, "cannot read \"nope/k.bin\" (tried " + (dir / "nope/k.bin").string() + ", " +
                        (FIXTURES / "nope/k.bin").string() + ")");
}

TEST_F(VmConfigTest, SearchPathsAreTriedAfterTheConfigDirectory) {
    // Next to the TOML file wins over the search path.
    std::string local(5000, 'L');
    dir.write("hello.bin", local);
    ASSERT_EQ(compile({dir.write("f.toml", hello).string()}).status, 0);
    Package local_pkg(bytes(out));
    EXPECT_EQ(local_pkg.blob(local_pkg.vm(0).kernel), Bytes(local.begin(), local.end()));
    // Search paths in order: the first that has the file.
    TempDir other;
    other.write("initrd.img", std::string(100, 'I'));
    Outcome r = run({"--search-path", (dir / "missing").string(), "--search-path", other.path().string(),
                     "--search-path", FIXTURES.string(), "-o", out, (dir / "f.toml").string()});
    ASSERT_EQ(r.status, 0) << r.err;
    Package p(bytes(out));
    EXPECT_EQ(p.blob(p.vm(0).ramdisk), Bytes(100, 'I'));
}

TEST_F(VmConfigTest, APackageAloneHoldsItsKernelsAfterItsResidentPartWithoutPadding) {
    // A package written alone goes on a boot medium: the image reads its resident part into RAM
    // and each kernel or ramdisk straight into the VM's own RAM, so they come last and need only
    // 4 KiB alignment (no 2 MiB padding; compare InABootImageBigBlobsAre2MiBAlignedFromTheImageStart).
    std::string kernel(3 * 1024 * 1024 + 123, 'K');
    dir.write("hello.bin", kernel);
    ASSERT_EQ(compile({dir.write("f.toml", hello).string()}).status, 0);
    Package p(bytes(out));
    const vp::VmRecord vm = p.vm(0);
    EXPECT_EQ(p.blob(vm.kernel), Bytes(kernel.begin(), kernel.end()));
    EXPECT_EQ(vm.kernel.offset % 4096, 0u);
    EXPECT_EQ(vm.ramdisk.offset % 4096, 0u);
    EXPECT_LE(p.h.resident_size, std::min(vm.kernel.offset, vm.ramdisk.offset));
    EXPECT_EQ(p.h.resident_size % 4096, 0u);
    EXPECT_EQ(std::max(vm.kernel.offset + vm.kernel.size, vm.ramdisk.offset + vm.ramdisk.size), bytes(out).size());
    EXPECT_LT(bytes(out).size(), p.h.resident_size + kernel.size() + vm.ramdisk.size + 8192); // page padding only
}

TEST_F(VmConfigTest, LinuxImageFootprintIncludesBss) {
    Bytes image(0x1000, 0);
    uint64_t image_size = 0x20'0000, text_offset = 0x8'0000; // 2 MiB in memory, 4 KiB in the file
    memcpy(&image[0x08], &text_offset, 8);
    memcpy(&image[0x10], &image_size, 8);
    memcpy(&image[0x38], "ARM\x64", 4);
    std::ofstream(dir / "Image", std::ios::binary)
        .write(reinterpret_cast<const char*>(image.data()), image.size());
    std::string cfg = with(with(hello, "\"hello.bin\"", "\"Image\""), "0x4100_0000", "0x4010_0000");
    EXPECT_HAS(errors(cfg), where(14, "kernel.ramdisk_load_addr") +
                                "ramdisk [0x40100000, 0x40100bb8) overlaps kernel [0x40080000, 0x40280000)");
}

// A synthetic arm64 Linux Image: the 64-byte header of booting.rst, 4 KiB of file.
void write_linux_image(const fs::path& p, uint64_t text_offset, uint64_t image_size, uint64_t flags) {
    Bytes img(0x1000, 0);
    memcpy(&img[0x08], &text_offset, 8);
    memcpy(&img[0x10], &image_size, 8);
    memcpy(&img[0x18], &flags, 8);
    memcpy(&img[0x38], "ARM\x64", 4);
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
}

TEST_F(VmConfigTest, LinuxImageHeaderIsCheckedAgainstTheBootProtocol) {
    const uint64_t MODERN = 0xa; // 4 KiB pages, may be placed anywhere (bit 3), as Debian's 6.1 Image
    std::string at_80000 = with(hello, "\"hello.bin\"", "\"Image\"");
    std::string at_2m = with(with(at_80000, "kernel_load_addr = 0x4008_0000", "kernel_load_addr = 0x4020_0000"),
                             "entry_point = 0x4008_0000", "entry_point = 0x4020_0000");
    write_linux_image(dir / "Image", 0, 0x20'0000, MODERN);
    EXPECT_HAS(errors(at_80000), where(12, "kernel.kernel_load_addr") +
                                     "arm64 Image at 0x40080000: Linux must be placed text_offset (0x0, header "
                                     "offset 0x8) bytes above a 2 MiB-aligned address (arm64 booting.rst), e.g. "
                                     "at 0x40200000");
    EXPECT_HAS(errors(with(at_2m, "entry_point = 0x4020_0000", "entry_point = 0x4008_0000")),
               where(9, "kernel.entry_point") + "0x40080000 is not where the arm64 Image starts (kernel_load_addr "
                                                "0x40200000): Linux is entered at its first byte");
    Outcome ok = compile({dir.write("f.toml", at_2m).string()});
    ASSERT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(ok.err, "");
    fs::remove(out);

    // image_size (BSS included) must fit in the RAM region, not just the file.
    write_linux_image(dir / "Image", 0, 0x1F0'0000, MODERN);
    EXPECT_HAS(errors(at_2m), where(12, "kernel.kernel_load_addr") +
                                  "kernel (arm64 Image, image_size with BSS) [0x40200000, 0x42100000) runs 0x100000 "
                                  "bytes past the end of kernel.memory_regions[0] [0x40000000, 0x42000000)");

    // An older kernel's text_offset 0x80000: 0x4008_0000 is 2 MiB-aligned + text_offset.
    write_linux_image(dir / "Image", 0x8'0000, 0x20'0000, MODERN);
    Outcome old = compile({dir.write("f.toml", at_80000).string()});
    EXPECT_EQ(old.status, 0) << old.err;
    fs::remove(out);
    EXPECT_HAS(errors(at_2m), where(12, "kernel.kernel_load_addr") + "arm64 Image at 0x40200000: Linux must be "
                                                                     "placed text_offset (0x80000, ");

    // Warnings: flags bit 3 clear far above the RAM base; image_size 0; no interrupt controller.
    write_linux_image(dir / "Image", 0, 0x20'0000, 0x2);
    auto at_6m = with(with(at_2m, "0x4020_0000", "0x4060_0000"), "0x4020_0000", "0x4060_0000");
    Outcome low = compile({dir.write("f.toml", at_6m).string()});
    EXPECT_EQ(low.status, 0) << low.err;
    EXPECT_HAS(low.err, where(12, "kernel.kernel_load_addr") +
                            "warning: arm64 Image flags bit 3 is 0 (old kernel): it cannot use the 0x600000 bytes "
                            "of kernel.memory_regions[0] below its base 0x40600000; load it at 0x40000000");
    write_linux_image(dir / "Image", 0, 0, MODERN);
    Outcome zero = compile({dir.write("f.toml", with(at_2m, "\"emulated\"", "\"no_irq\"")).string()});
    EXPECT_EQ(zero.status, 0) << zero.err;
    EXPECT_HAS(zero.err, where(12, "kernel.kernel_load_addr") + "warning: arm64 Image with image_size 0");
    EXPECT_HAS(zero.err, where(25, "devices.interrupt_mode") +
                             "warning: a Linux kernel cannot boot without an interrupt controller and its timer "
                             "interrupts: use \"emulated\"");
}

TEST_F(VmConfigTest, TooManyRegionsAndDevices) {
    std::string regions, devices;
    for (int i = 0; i < 17; ++i) {
        char r[96];
        snprintf(r, sizeof r, "[0x%x, 0x1000, 3, 0], ", 0x9000'0000 + i * 0x1000);
        regions += r;
        snprintf(r, sizeof r, "[\"u%d\", 0x%x, 0x1000, 0, \"pl011\", []], ", i, 0x0A00'0000 + i * 0x1000);
        devices += r;
    }
    std::string cfg = with(hello, "    [0x8000_0000, 0x10_0000, 0x3, 1],", "    " + regions);
    cfg = with(cfg, "[ [\"uart\", 0x0900_0000, 0x1000, 33, \"pl011\", [1, 2]] ]", "[" + devices + "]");
    std::string err = errors(cfg);
    EXPECT_HAS(err, where(17, "kernel.memory_regions") + "18 regions, at most 16");
    EXPECT_HAS(err, where(23, "devices.emu_devices") + "17 devices, at most 16");
}

TEST_F(VmConfigTest, InvalidTomlReportsLineAndColumn) {
    std::string err = errors(with(hello, "cpu_num = 2", "cpu_num = = 2"));
    EXPECT_HAS(err, (dir / "f.toml").string() + ":5:11: invalid TOML: ");
}

TEST_F(VmConfigTest, AllErrorsOfAllFilesAreReported) {
    std::string bad =
        with(with(with(hello, "cpu_num = 2", "cpu_num = 0"), "\"pl011\"", "\"vga\""), "\"memory\"", "\"fs\"");
    auto f = dir.write("f.toml", bad);
    auto g = dir.write("g.toml", with(hello, "0x3, 1]", "0x3, 9]"));
    auto h = dir.write("h.toml", "[base\n");
    Outcome r = compile({f.string(), g.string(), h.string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, where(5, "base.cpu_num"));
    EXPECT_HAS(r.err, where(10, "kernel.image_location"));
    EXPECT_HAS(r.err, where(23, "devices.emu_devices[0]"));
    EXPECT_HAS(r.err, g.string() + ":19: kernel.memory_regions[1]: map_type");
    EXPECT_HAS(r.err, h.string() + ":1:");
    EXPECT_HAS(r.err, g.string() + ":2: base.id: id 1 is already used by " + f.string());
    EXPECT_HAS(r.err, g.string() + ":3: base.name: name \"hello\" is already used by " + f.string());
    EXPECT_HAS(r.err, g.string() + ":24: devices.passthrough_devices[0]: host range"); // same RTC as f
    EXPECT_HAS(r.err, g.string() + ":24: devices.passthrough_devices[0]: irq 34 is already forwarded"); // same RTC irq
    EXPECT_HAS(r.err, "9 errors, " + out + " not written");
    // In line order within a file.
    EXPECT_LT(r.err.find(where(5, "base.cpu_num")), r.err.find(where(10, "kernel.image_location")));
}

TEST_F(VmConfigTest, HostRangesMustNotBeSharedBetweenVms) {
    auto f = dir.write("f.toml", hello);
    auto g = dir.write("g.toml", with(with(hello, "id = 1", "id = 7"), "\"hello\"", "\"hello2\""));
    Outcome r = compile({f.string(), g.string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, g.string() +
                          ":19: kernel.memory_regions[1]: host range [0x80000000, 0x80100000) overlaps "
                          "kernel.memory_regions[1] of VM \"hello\" (" +
                          f.string() + ":19)");
    EXPECT_EQ(r.err.find("memory_regions[0]: host"), std::string::npos); // alloc regions are per-VM
    // The same passthrough device in two VMs would let each drive the other's device.
    EXPECT_HAS(r.err, g.string() +
                          ":24: devices.passthrough_devices[0]: host range [0x9010000, 0x9011000) overlaps "
                          "devices.passthrough_devices[0] of VM \"hello\" (" +
                          f.string() + ":24): identical and reserved regions and passthrough devices belong "
                                       "to one VM and cannot be shared");
    EXPECT_HAS(r.err, g.string() + ":24: devices.passthrough_devices[0]: irq 34 is already forwarded to VM "
                                   "\"hello\" (" + f.string() + ":24): a host interrupt belongs to one VM");
}

TEST_F(VmConfigTest, AtMostSixteenVms) {
    std::vector<std::string> files;
    for (int i = 0; i < 17; ++i)
        files.push_back(
            dir.write("v" + std::to_string(i) + ".toml",
                      with(with(slurp(FIXTURES / "bare.toml"), "id = 2", "id = " + std::to_string(i)),
                           "\"bare\"", "\"v" + std::to_string(i) + "\""))
                .string());
    Outcome r = compile(files);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, files[16] + ":2: base: too many VMs: 17 given, cxvisor runs at most MAX_VMS = 16");
    files.pop_back();
    EXPECT_EQ(compile(files).status, 0);
}

TEST_F(VmConfigTest, NothingIsWrittenOnError) {
    std::ofstream(out) << "old";
    Outcome r = compile({dir.write("f.toml", with(hello, "cpu_num = 2", "cpu_num = 99")).string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(slurp(out), "old");
    EXPECT_EQ(dir.entries(), 2u); // out.pkg and f.toml: no temporary file left behind
    Outcome w = run({"--search-path", FIXTURES.string(), "-o", (dir / "no/such/dir/out").string(),
                     (FIXTURES / "hello.toml").string()});
    EXPECT_EQ(w.status, 1);
    EXPECT_HAS(w.err, "cxv-vmconfig: cannot create " + (dir / "no/such/dir/out").string());
}

TEST_F(VmConfigTest, PhysCpuSetsWithOneBitAreAccepted) {
    ASSERT_EQ(
        compile(
            {dir.write("f.toml", with(hello, "phys_cpu_ids = [0, 1]", "phys_cpu_sets = [4, 1]")).string()})
            .status,
        0);
    vp::VmRecord vm = Package(bytes(out)).vm(0);
    EXPECT_EQ(vm.phys_cpu_ids[0], 2u);
    EXPECT_EQ(vm.phys_cpu_ids[1], 0u);
}

Bytes fake_image(uint64_t file_size, uint64_t image_size) {
    Bytes img(file_size);
    for (size_t i = 0; i < img.size(); ++i) img[i] = uint8_t(i * 31 + 7);
    memcpy(&img[0x10], &image_size, 8);
    uint64_t tag = 0x0052'4F53'4956'5843;
    memcpy(&img[0x28], &tag, 8);
    memcpy(&img[0x38], "ARM\x64", 4);
    return img;
}

uint64_t u64_at(const Bytes& b, size_t off) {
    uint64_t v;
    memcpy(&v, &b[off], 8);
    return v;
}

TEST_F(VmConfigTest, ImageIsPaddedToItsFootprintAndPatched) {
    auto cfg = (FIXTURES / "hello.toml").string();
    ASSERT_EQ(compile({cfg}).status, 0);
    Bytes package = bytes(out);
    for (uint64_t image_size : {uint64_t(0x30'0000 + 0x5000), uint64_t(0x20'0000)}) {
        SCOPED_TRACE(image_size);
        Bytes img = fake_image(0x3000, image_size);
        std::ofstream(dir / "cxvisor.bin", std::ios::binary)
            .write(reinterpret_cast<const char*>(img.data()), img.size());
        ASSERT_EQ(compile({cfg}, {"--image", (dir / "cxvisor.bin").string()}).status, 0);
        Bytes res = bytes(out);
        uint64_t offset = align_up(image_size, 4096); // the next page after its BSS
        Package in(Bytes(res.begin() + offset, res.end()));
        ASSERT_EQ(res.size(), offset + in.h.total_size);
        EXPECT_EQ(u64_at(res, 0x20), offset);
        EXPECT_EQ(u64_at(res, 0x10), res.size());
        EXPECT_TRUE(std::equal(img.begin() + 0x40, img.end(), res.begin() + 0x40)); // the rest untouched
        EXPECT_TRUE(std::equal(img.begin(), img.begin() + 0x10, res.begin()));
        EXPECT_TRUE(
            std::all_of(res.begin() + img.size(), res.begin() + offset, [](uint8_t b) { return b == 0; }));
        // The same VMs as the package alone (whose blobs come in another order: kernels last).
        Package alone(package);
        EXPECT_EQ(in.blob(in.vm(0).kernel), alone.blob(alone.vm(0).kernel));
        EXPECT_EQ(in.blob(in.vm(0).dtb), alone.blob(alone.vm(0).dtb));
    }
}

// In a boot image the package follows the image's footprint at the next page, wherever that falls
// in its 2 MiB: the big blob is still 2 MiB-aligned from the image start, and the small ones fill
// the gap before it, so the file is no larger than the footprint, the blobs and that one gap.
TEST_F(VmConfigTest, InABootImageBigBlobsAre2MiBAlignedFromTheImageStart) {
    std::string kernel(3 * 1024 * 1024 + 123, 'K');
    dir.write("hello.bin", kernel);
    const uint64_t footprint = 0xE'0000; // 896 KiB, BSS included
    Bytes img = fake_image(0x3000, footprint);
    std::ofstream(dir / "cxvisor.bin", std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
    ASSERT_EQ(compile({dir.write("f.toml", hello).string()}, {"--image", (dir / "cxvisor.bin").string()}).status, 0);
    Bytes res = bytes(out);
    const uint64_t at = u64_at(res, 0x20);
    EXPECT_EQ(at, footprint);
    Package p(Bytes(res.begin() + at, res.end()));
    const vp::VmRecord vm = p.vm(0);
    EXPECT_EQ((at + vm.kernel.offset) % (2 * 1024 * 1024), 0u);
    EXPECT_EQ(p.blob(vm.kernel), Bytes(kernel.begin(), kernel.end()));
    EXPECT_LE(vm.ramdisk.offset + vm.ramdisk.size, vm.kernel.offset); // in the gap before it
    EXPECT_EQ(res.size(), 2 * 1024 * 1024 + kernel.size()); // the image's first 2 MiB, then the kernel
}

TEST_F(VmConfigTest, ImageWithoutTheRightHeaderIsRejected) {
    struct Bad {
        size_t at;
        const char* bytes;
        const char* reason;
    } cases[] = {
        {0x38, "ARM\x65", "no arm64 Image magic \"ARM\\x64\" at 0x38"},
        {0x28, "LINUX\0\0\0", "an arm64 Image without the \"CXVISOR\" tag at 0x28"},
        {0x10, "\x10\0\0\0\0\0\0\0",
         "image_size at 0x10 (0x10) must cover the file (0x3000 bytes) and stay below 1 TiB"},
    };
    auto image = (dir / "cxvisor.bin").string();
    for (auto& c : cases) {
        Bytes img = fake_image(0x3000, 0x10'0000);
        memcpy(&img[c.at], c.bytes, c.at == 0x38 ? 4 : 8);
        std::ofstream(image, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
        Outcome r = compile({(FIXTURES / "hello.toml").string()}, {"--image", image});
        EXPECT_EQ(r.status, 1);
        EXPECT_HAS(r.err, image + ": not a cxvisor image: " + c.reason);
        EXPECT_FALSE(fs::exists(out));
    }
    std::ofstream(image) << "short";
    EXPECT_HAS(compile({(FIXTURES / "hello.toml").string()}, {"--image", image}).err,
               "shorter than the 64-byte arm64 Image header");
}

// --- host ranges: what cxvisor would refuse on the target (QEMU virt built in, or --host-dtb) -----

const std::string BUILTIN = "; cxvisor refuses it (QEMU virt, built in for aarch64; pass --host-dtb for another board)";

// bare.toml with extra memory regions (from line 13) and passthrough devices (from line 16 plus
// the number of extra regions).
std::string bare_with(const std::vector<std::string>& regions, const std::vector<std::string>& pts) {
    std::string text = with(slurp(FIXTURES / "bare.toml"), "memory_regions = [[0x4000_0000, 0x10_0000, 0x7, 0]]",
                            "memory_regions = [\n  [0x4000_0000, 0x10_0000, 0x7, 0],");
    for (auto& r : regions) text += "  " + r + ",\n";
    text += "]\n[devices]\npassthrough_devices = [\n";
    for (auto& d : pts) text += "  " + d + ",\n";
    return text + "]\n";
}

// Compiles a host DTB into the test's directory.
fs::path compile_dts(const TempDir& dir, const std::string& name, const std::string& dts) {
    std::string out = ::compile_dts((dir / name).string(), dts);
    EXPECT_FALSE(out.empty()) << "dtc failed on " << name;
    return out;
}

TEST_F(VmConfigTest, HostOwnedAndDmaCapableRangesAreRefusedWithTheImagesReason) {
    std::string err = errors(bare_with(
        {"[0x0a00_1000, 0x1000, 0xb, 2]",        // 13: reserved over virtio-mmio slots 8..15
         "[0x0800_0000, 0x1_0000, 0x3, 1]",      // 14: identical over the GICD
         "[0x0c00_0000, 0x1000, 0x3, 1]",        // 15: identical outside RAM (the platform bus)
         "[0x5000_0000, 0x10_0000, 0x3, 1]"},    // 16: identical in RAM: what identical is for
        {"[\"vio\", 0x1_0000_0000, 0x0a00_0000, 0x1000, 0]",   // 20
         "[\"its\", 0x1_0100_0000, 0x0808_0000, 0x2_0000, 0]", // 21
         "[\"gicr\", 0x1_0200_0000, 0x080a_0000, 0x1000, 0]",  // 22
         "[\"pci\", 0x1_0300_0000, 0x1000_0000, 0x1000, 0]",   // 23: 32-bit MMIO window
         "[\"ecam\", 0x1_0400_0000, 0x40_1000_0000, 0x1000, 0]", // 24: config space
         "[\"fwcfg\", 0x1_0500_0000, 0x0902_0000, 0x1000, 0]", // 25
         "[\"uart\", 0x1_0600_0000, 0x0900_0000, 0x1000, 0]",  // 26: cxvisor's console
         "[\"ram\", 0x1_0700_0000, 0x8000_0000, 0x1000, 0]",   // 27: RAM of a -m 2G machine
         "[\"rtc\", 0x1_0800_0000, 0x0901_0000, 0x1000, 0]",   // 28: the PL031: fine
         "[\"gpio\", 0x1_0900_0000, 0x0903_0000, 0x1000, 0]"})); // 29: the PL061: fine
    const std::string virtio = "a DMA-capable device (virtio,mmio): cxvisor programs no IOMMU yet";
    const std::string pci = "a PCI host bridge (device_type \"pci\"), whose devices are bus masters: cxvisor "
                            "programs no IOMMU yet";
    EXPECT_HAS(err, where(13, "kernel.memory_regions[1]") + "host range [0xa001000, 0xa002000) overlaps "
                        "virtio_mmio@a001000 [0xa001000, 0xa001200) (and 7 more), " + virtio + BUILTIN);
    EXPECT_HAS(err, where(14, "kernel.memory_regions[2]") + "host range [0x8000000, 0x8010000) overlaps "
                        "intc@8000000 [0x8000000, 0x8010000), the host GIC's distributor (GICD), which cxvisor "
                        "drives" + BUILTIN);
    EXPECT_HAS(err, where(15, "kernel.memory_regions[3]") + "host range [0xc000000, 0xc001000) is not inside "
                        "host RAM: an identical region maps host RAM 1:1; cxvisor refuses it (QEMU virt, built in");
    EXPECT_EQ(err.find("kernel.memory_regions[4]"), std::string::npos);
    EXPECT_HAS(err, where(20, "devices.passthrough_devices[0]") + "host range [0xa000000, 0xa001000) overlaps "
                        "virtio_mmio@a000000 [0xa000000, 0xa000200) (and 7 more), " + virtio + BUILTIN);
    EXPECT_HAS(err, where(21, "devices.passthrough_devices[1]") + "host range [0x8080000, 0x80a0000) overlaps "
                        "its@8080000 [0x8080000, 0x80a0000), the host GIC's ITS (arm,gic-v3-its), which also "
                        "writes its tables to host memory" + BUILTIN);
    EXPECT_HAS(err, where(22, "devices.passthrough_devices[2]") + "host range [0x80a0000, 0x80a1000) overlaps "
                        "intc@8000000 [0x80a0000, 0x9000000), the host GIC's redistributors (GICR), which "
                        "cxvisor drives" + BUILTIN);
    EXPECT_HAS(err, where(23, "devices.passthrough_devices[3]") + "host range [0x10000000, 0x10001000) overlaps "
                        "pcie@10000000 [0x10000000, 0x3eff0000), " + pci + BUILTIN);
    EXPECT_HAS(err, where(24, "devices.passthrough_devices[4]") + "host range [0x4010000000, 0x4010001000) "
                        "overlaps pcie@10000000 [0x4010000000, 0x4020000000), " + pci + BUILTIN);
    EXPECT_HAS(err, where(25, "devices.passthrough_devices[5]") + "host range [0x9020000, 0x9021000) overlaps "
                        "fw-cfg@9020000 [0x9020000, 0x9020018), a DMA-capable device (qemu,fw-cfg-mmio, which "
                        "has a DMA interface): cxvisor programs no IOMMU yet" + BUILTIN);
    EXPECT_HAS(err, where(26, "devices.passthrough_devices[6]") + "host range [0x9000000, 0x9001000) overlaps "
                        "pl011@9000000 [0x9000000, 0x9001000), cxvisor's console UART" + BUILTIN);
    EXPECT_HAS(err, where(27, "devices.passthrough_devices[7]") + "host range [0x80000000, 0x80001000) overlaps "
                        "memory@40000000 [0x40000000, 0x4000000000), host RAM (cxvisor's and the VMs' memory)" +
                        BUILTIN);
    EXPECT_EQ(err.find("passthrough_devices[8]"), std::string::npos);
    EXPECT_EQ(err.find("passthrough_devices[9]"), std::string::npos);
    // bare.toml's VM has the default vGIC, whose distributor window is where line 14 puts RAM.
    EXPECT_HAS(err, where(18, "devices.gicd_base") + "the vGIC distributor (GICD) at its default [0x8000000, "
                        "0x8010000) overlaps memory region kernel.memory_regions[2] [0x8000000, 0x8010000)");
    EXPECT_HAS(err, "cxv-vmconfig: 12 errors");
}

TEST_F(VmConfigTest, NoHostCheckBuildsWhatTheImageMustRefuseItself) {
    auto f = dir.write("f.toml", bare_with({}, {"[\"vio\", 0x1_0000_0000, 0x0a00_0000, 0x1000, 0]"}));
    EXPECT_EQ(compile({f.string()}).status, 1);
    Outcome r = compile({f.string()}, {"--no-host-check"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(fs::exists(out));
    std::ostringstream err;
    EXPECT_EQ(vmconfig::run({"--no-host-check", "--host-dtb", "x.dtb", "-o", out, f.string()}, err), 2);
    EXPECT_HAS(err.str(), "--host-dtb and --no-host-check exclude each other");
}

TEST_F(VmConfigTest, HostDtbReplacesTheBuiltInBoard) {
    // This board has nothing at 0x0a00_0000 and a DMA-capable (dma-coherent) device at 0x0901_0000.
    auto dtb = compile_dts(dir, "board", minimal_board_dts("dev@9010000 { compatible = \"cxv,dev\"; "
                                                   "reg = <0x9010000 0x1000>; dma-coherent; };\n"));
    auto f = dir.write("f.toml", bare_with({}, {"[\"vio\", 0x1_0000_0000, 0x0a00_0000, 0x1000, 0]"}));
    Outcome ok = compile({f.string()}, {"--host-dtb", dtb.string()});
    EXPECT_EQ(ok.status, 0) << ok.err;
    auto g = dir.write("g.toml", bare_with({}, {"[\"rtc\", 0x1_0000_0000, 0x0901_0000, 0x1000, 0]"}));
    EXPECT_EQ(compile({g.string()}).status, 0); // QEMU virt's PL031 is fine
    Outcome r = compile({g.string()}, {"--host-dtb", dtb.string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, g.string() + ":16: devices.passthrough_devices[0]: host range [0x9010000, 0x9011000) "
                                   "overlaps dev@9010000 [0x9010000, 0x9011000), a DMA-capable device "
                                   "(dma-coherent): cxvisor programs no IOMMU yet; cxvisor refuses it (host DTB " +
                          dtb.string() + ")");
}

TEST_F(VmConfigTest, UnusableHostDtbIsAnError) {
    auto f = (FIXTURES / "bare.toml").string();
    auto junk = dir.write("junk.dtb", "not a device tree");
    Outcome r = compile({f}, {"--host-dtb", junk.string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, junk.string() + ": not a valid flattened device tree (--host-dtb)");
    auto no_gic = compile_dts(dir, "nogic", "/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>;\n"
                                            "memory@40000000 { device_type = \"memory\"; reg = <0x40000000 0x1000000>; };\n"
                                            "cpus { #address-cells = <1>; #size-cells = <0>; cpu@0 { device_type = \"cpu\"; reg = <0>; }; };\n};\n");
    r = compile({f}, {"--host-dtb", no_gic.string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, no_gic.string() + ": cxvisor cannot run on this host DTB (--host-dtb): GICv3 (compatible "
                                        "\"arm,gic-v3\"): not found");
    r = compile({f}, {"--host-dtb", (dir / "missing.dtb").string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, (dir / "missing.dtb").string() + ": cannot read the host DTB (--host-dtb)");
}

// A board with more host-owned ranges than cxvisor can list: the image refuses every host range,
// and so does the tool, while VMs without any still build.
TEST_F(VmConfigTest, IncompleteHostListRefusesEveryHostRange) {
    auto dtb = compile_dts(dir, "many", minimal_board_dts(virtio_nodes(100)));
    auto f = dir.write("f.toml", bare_with({}, {"[\"rtc\", 0x1_0000_0000, 0x0901_0000, 0x1000, 0]"}));
    Outcome r = compile({f.string()}, {"--host-dtb", dtb.string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, f.string() + ":16: devices.passthrough_devices[0]: host range [0x9010000, 0x9011000) "
                                   "cannot be shown safe: cxvisor's list of host-owned and DMA-capable ranges is "
                                   "incomplete (the host DTB names too many, or PCI windows it cannot read)");
    EXPECT_EQ(compile({(FIXTURES / "bare.toml").string()}, {"--host-dtb", dtb.string()}).status, 0);
}

// --- passthrough devices and the host DTB: dt_node copies, irqs checked against the host -------

// QEMU virt's own DTB (tests/unit/fdt/fixtures/qemu-virt-gicv3-4cpu.dtb: QEMU 7.2 `-M virt,
// virtualization=on,gic-version=3,dumpdtb=F -cpu cortex-a72 -smp 4 -m 1G`), padded back to its
// totalsize as QEMU wrote it, in the test's directory.
fs::path qemu_virt_dtb(const TempDir& dir) {
    Bytes b = qemu_dtb(4);
    std::ofstream(dir / "virt.dtb", std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
    return dir / "virt.dtb";
}

class PtDtTest : public VmConfigTest {
protected:
    // hello.toml with these passthrough devices (all on line 24) and its identical region moved into
    // the RAM of a -m 1G machine; line numbers stay those of hello.toml.
    std::string pt(const std::string& devices, std::string base = "") {
        if (base.empty()) base = hello;
        base = with(base, "[0x8000_0000, 0x10_0000, 0x3, 1]", "[0x4200_0000, 0x10_0000, 0x3, 1]");
        return with(base, "passthrough_devices = [ [\"rtc\", 0x0901_0000, 0x0901_0000, 0x1000, 34] ]",
                    "passthrough_devices = [ " + devices + " ]");
    }
    std::string host_dtb() { return qemu_virt_dtb(dir).string(); }
    Outcome with_host(const std::string& text, const std::string& dtb) {
        return compile({dir.write("f.toml", text).string()}, {"--host-dtb", dtb});
    }
    std::string dev(int i) { return where(24, "devices.passthrough_devices[" + std::to_string(i) + "]"); }
    const std::string PL031 = "[\"rtc\", 0x0901_0000, 0x0901_0000, 0x1000, 34, true]";
    const std::string PL061 = "[\"gpio\", 0x0a10_0000, 0x0903_0000, 0x1000, 39, \"/pl061@9030000\"]";
};

// The phandle property `name` of `path` resolves to the node at `target`.
void expect_phandle(const Bytes& dtb, const char* path, const char* name, const char* target) {
    const void* f = dtb.data();
    int len = 0;
    auto* v = static_cast<const fdt32_t*>(fdt_getprop(f, fdt_path_offset(f, path), name, &len));
    ASSERT_NE(v, nullptr) << path << " " << name;
    EXPECT_EQ(len, 4);
    EXPECT_EQ(fdt_node_offset_by_phandle(f, fdt32_to_cpu(*v)), fdt_path_offset(f, target)) << path << " " << name;
}

TEST_F(PtDtTest, QemuVirtPl031AndPl061AreCopiedIntoTheGuestTree) {
    // The RTC found by its base address and kept at it; the GPIO named by path and moved to 0x0a10_0000.
    Outcome r = with_host(pt(PL031 + ", " + PL061), host_dtb());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    Package p(bytes(out));
    Bytes dtb = p.blob(p.vm(0).dtb);
    std::string dts = decompile(dir, dtb); // dtc checks phandles, interrupts and unit addresses: no warnings
    std::string rtc = node_text(dts, "pl031@9010000");
    EXPECT_HAS(rtc, "compatible = \"arm,pl031\\0arm,primecell\";");
    EXPECT_HAS(rtc, "reg = <0x00 0x9010000 0x00 0x1000>;");
    EXPECT_HAS(rtc, "interrupt-parent = <0x02>;");   // the vGIC
    EXPECT_HAS(rtc, "interrupts = <0x00 0x02 0x04>;"); // SPI 2 = irq 34, level-high as on the host
    EXPECT_HAS(rtc, "clocks = <0x01>;");              // the generated /apb-pclk, QEMU virt's clock
    EXPECT_HAS(rtc, "clock-names = \"apb_pclk\";");
    std::string gpio = node_text(dts, "pl061@a100000"); // named by its guest address
    EXPECT_HAS(gpio, "compatible = \"arm,pl061\\0arm,primecell\";");
    EXPECT_HAS(gpio, "reg = <0x00 0xa100000 0x00 0x1000>;");
    EXPECT_HAS(gpio, "interrupts = <0x00 0x07 0x04>;"); // SPI 7 = irq 39
    EXPECT_HAS(gpio, "interrupt-parent = <0x02>;");
    EXPECT_HAS(gpio, "gpio-controller;");
    EXPECT_HAS(gpio, "#gpio-cells = <0x02>;");
    EXPECT_HAS(gpio, "clocks = <0x01>;");
    EXPECT_EQ(gpio.find("phandle"), std::string::npos) << gpio; // the host's 0x8007 means nothing here
    EXPECT_EQ(dts.find("pl061@9030000"), std::string::npos);
    EXPECT_EQ(dts.find("<0x80"), std::string::npos) << dts; // no host phandle (0x8000..) anywhere
    EXPECT_EQ(dts.find("apb-pclk {"), dts.rfind("apb-pclk {")); // one clock for the PL011 and both copies
    expect_phandle(dtb, "/pl061@a100000", "clocks", "/apb-pclk");
    expect_phandle(dtb, "/pl061@a100000", "interrupt-parent", "/intc@8000000");
    expect_phandle(dtb, "/pl031@9010000", "clocks", "/apb-pclk");
    EXPECT_EQ(fdt_node_check_compatible(dtb.data(), fdt_path_offset(dtb.data(), "/apb-pclk"), "fixed-clock"), 0);
}

TEST_F(PtDtTest, HostFixedClockIsCopiedOnceWithANewPhandle) {
    // No PL011, so no generated /apb-pclk: QEMU virt's is copied, once for both devices.
    std::string text = pt(PL031 + ", " + PL061, with(hello, "[ [\"uart\", 0x0900_0000, 0x1000, 33, \"pl011\", [1, 2]] ]", "[]"));
    Outcome r = with_host(text, host_dtb());
    ASSERT_EQ(r.status, 0) << r.err;
    Bytes dtb = Package(bytes(out)).blob(Package(bytes(out)).vm(0).dtb);
    std::string dts = decompile(dir, dtb);
    std::string clk = node_text(dts, "apb-pclk");
    EXPECT_HAS(clk, "compatible = \"fixed-clock\";");
    EXPECT_HAS(clk, "clock-frequency = <0x16e3600>;"); // 24 MHz
    EXPECT_HAS(clk, "clock-output-names = \"clk24mhz\";");
    EXPECT_HAS(clk, "phandle = <0x03>;"); // the first free guest phandle
    EXPECT_EQ(dts.find("apb-pclk {"), dts.rfind("apb-pclk {"));
    EXPECT_HAS(node_text(dts, "pl031@9010000"), "clocks = <0x03>;");
    EXPECT_HAS(node_text(dts, "pl061@a100000"), "clocks = <0x03>;");
    expect_phandle(dtb, "/pl031@9010000", "clocks", "/apb-pclk");
}

TEST_F(PtDtTest, CopyingNeedsTheHostDtbAndAGeneratedTree) {
    std::string err = errors(pt(PL061)); // the built-in QEMU virt check only
    EXPECT_HAS(err, dev(0) + "dt_node: copying a host DT node needs the host's DTB: pass --host-dtb FILE");
    std::string dtb = host_dtb();
    Outcome r = with_host(with(pt(PL061), "dtb_load_addr = 0x4000_0000", ""), dtb);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev(0) + "dt_node: the guest gets no device tree (no dtb_load_addr): host nodes are copied "
                               "only into a generated one (dtb_load_addr without dtb_path)");
    Bytes tree(256); // a DTB of the guest's own: nothing is copied into it
    ASSERT_EQ(fdt_create_empty_tree(tree.data(), int(tree.size())), 0);
    dir.write("guest.dtb", std::string(tree.begin(), tree.begin() + fdt_totalsize(tree.data())));
    r = with_host(with(pt(PL061), "dtb_load_addr = 0x4000_0000", "dtb_load_addr = 0x4000_0000\ndtb_path = \"guest.dtb\""),
                  dtb);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, where(25, "devices.passthrough_devices[0]") +
                          "dt_node: the guest's device tree is the file dtb_path names, not a generated one: host "
                          "nodes are copied only into a generated tree (dtb_load_addr without dtb_path)");
    std::pair<std::string, std::string> bad[] = {
        {"42", "dt_node: expected a host DT path (e.g. \"/pl061@9030000\") or true (the host node whose reg starts "
               "at base_hpa), got an integer"},
        {"\"pl061@9030000\"", "dt_node: \"pl061@9030000\" is not a node path: give the host DT path"},
        {"\"/pl061@9040000\"", "dt_node \"/pl061@9040000\": no such node in the host DTB (host DTB " + dtb + ")"},
    };
    for (auto& [value, reason] : bad) {
        r = with_host(pt("[\"gpio\", 0x0903_0000, 0x0903_0000, 0x1000, 39, " + value + "]"), dtb);
        EXPECT_EQ(r.status, 1);
        EXPECT_HAS(r.err, dev(0) + reason);
    }
    r = with_host(pt("[\"gpio\", 0x0903_0000, 0x0903_0000, 0x1000, 39, false]"), dtb); // no copy
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(decompile(dir, Package(bytes(out)).blob(Package(bytes(out)).vm(0).dtb)).find("pl061"), std::string::npos);
}

TEST_F(PtDtTest, CopiedNodeInterruptMustBeTheDevicesIrq) {
    std::string dtb = host_dtb();
    Outcome r = with_host(pt("[\"gpio\", 0x0903_0000, 0x0903_0000, 0x1000, 40, true], "
                             "[\"rtc\", 0x0901_0000, 0x0901_0000, 0x1000, 0, true]"), dtb);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev(0) + "dt_node /pl061@9030000: irq 40 does not match the host node's interrupt, SPI 7 = "
                               "INTID 39 (<0 7 4>): set irq = 39\n");
    EXPECT_HAS(r.err, dev(1) + "dt_node /pl031@9010000: irq 0 (none) does not match the host node's interrupt, "
                               "SPI 2 = INTID 34 (<0 2 4>): set irq = 34 (a copied node must not describe an "
                               "interrupt the guest never gets)");
    // A no_irq guest has no interrupt controller for the copy's interrupt.
    r = with_host(pt(PL061, with(hello, "\"emulated\"", "\"no_irq\"")), dtb);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev(0) + "dt_node /pl061@9030000: the host node has an interrupt, but the guest has no "
                               "interrupt controller (interrupt_mode = \"no_irq\"): use \"emulated\"");
    // A node without interrupts: irq must be 0. QEMU virt's flash has none (and two banks in one node).
    r = with_host(pt("[\"flash\", 0x0, 0x0, 0x800_0000, 41, \"/flash@0\"]"), dtb);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev(0) + "dt_node /flash@0: irq 41 does not match the host node, which has no interrupts: use irq 0");
    r = with_host(pt("[\"flash\", 0x0, 0x0, 0x800_0000, 0, \"/flash@0\"]"), dtb);
    ASSERT_EQ(r.status, 0) << r.err;
    std::string flash = node_text(decompile(dir, Package(bytes(out)).blob(Package(bytes(out)).vm(0).dtb)), "flash@0");
    EXPECT_HAS(flash, "reg = <0x00 0x00 0x00 0x4000000 0x00 0x4000000 0x00 0x4000000>;");
    EXPECT_EQ(flash.find("interrupt"), std::string::npos);
}

TEST_F(PtDtTest, CopiedNodeMustLieInsideItsWindowAndBeFoundOnce) {
    std::string dtb = host_dtb();
    Outcome r = with_host(pt("[\"flash\", 0x0, 0x0, 0x1000, 0, \"/flash@0\"], "
                             "[\"pbus\", 0x0c00_0000, 0x0c00_0000, 0x1000, 0, true], "
                             "[\"vio\", 0x0a00_0000, 0x0a00_0000, 0x1000, 0, true]"), dtb);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev(0) + "dt_node /flash@0: reg entry 0 [0x0, 0x4000000) lies outside the passthrough window "
                               "[0x0, 0x1000) (base_hpa, length): the guest could not reach it");
    EXPECT_HAS(r.err, dev(1) + "dt_node = true: the host DTB has no node whose reg starts in [0xc000000, 0xc001000) "
                               "(base_hpa, length) (host DTB " + dtb + ")");
    EXPECT_HAS(r.err, dev(2) + "dt_node = true: 8 host nodes have reg in [0xa000000, 0xa001000) (base_hpa, length): "
                               "/virtio_mmio@a000000, /virtio_mmio@a000200, ");
    EXPECT_HAS(r.err, "; name the one to copy, e.g. dt_node = \"/virtio_mmio@a000000\"");
}

// A board with what a copy must refuse or resolve: clock controllers, dangling and foreign
// phandles, IOMMU and MSI users, several interrupts, interrupts in subnodes.
const std::string REFUSING_BOARD = minimal_board_dts(
    "clk: clkctrl@9100000 { compatible = \"cxv,clkctrl\"; reg = <0x9100000 0x1000>; #clock-cells = <1>; };\n"
    "osc: osc { compatible = \"fixed-clock\"; #clock-cells = <0>; clock-frequency = <1000000>; };\n"
    "pclk: psci { compatible = \"fixed-clock\"; #clock-cells = <0>; clock-frequency = <2000000>; };\n"
    "rst: reset@9200000 { compatible = \"cxv,reset\"; reg = <0x9200000 0x1000>; #reset-cells = <1>; };\n"
    "ictl: ictl@9210000 { compatible = \"cxv,intc\"; reg = <0x9210000 0x1000>; interrupt-controller; "
    "  #interrupt-cells = <1>; };\n"
    "a@9300000 { reg = <0x9300000 0x1000>; interrupt-parent = <&gic>; interrupts = <0 10 4>; clocks = <&clk 3>; };\n"
    "b@9310000 { reg = <0x9310000 0x1000>; interrupt-parent = <&gic>; interrupts = <0 11 4>; clocks = <0x4321>; };\n"
    "c@9320000 { reg = <0x9320000 0x1000>; interrupt-parent = <&gic>; interrupts = <0 12 4>; "
    "  iommus = <&rst 0>; msi-parent = <&gic>; };\n"
    "d@9330000 { reg = <0x9330000 0x1000>; interrupt-parent = <&gic>; interrupts = <0 13 4>; resets = <&rst 2>; "
    "  pinctrl-0 = <&rst>; reset-gpios = <&rst 1 0>; };\n"
    "e@9340000 { reg = <0x9340000 0x1000>; interrupt-parent = <&gic>; interrupts = <0 14 4>, <0 15 4>; };\n"
    "f@9350000 { reg = <0x9350000 0x1000>; interrupt-parent = <&gic>; interrupts = <0 16 4>; "
    "  #address-cells = <1>; #size-cells = <0>; port@0 { reg = <0>; interrupts = <0 17 4>; }; };\n"
    "g@9360000 { reg = <0x9360000 0x1000>; interrupts-extended = <&gic 0 18 1>; clocks = <&osc>, <&pclk>; "
    "  status = \"disabled\"; "
    "  #address-cells = <1>; #size-cells = <0>; port@1 { reg = <1>; label = \"out\"; }; };\n"
    "h@9370000 { reg = <0x9370000 0x1000>, <0x9500000 0x1000>; };\n"
    "i@9380000 { reg = <0x9380000 0x1000>; interrupt-parent = <&ictl>; interrupts = <5>; };\n");

TEST_F(PtDtTest, CopyRefusesDanglingPhandlesAndHostOnlyProperties) {
    std::string dtb = compile_dts(dir, "refusing", REFUSING_BOARD).string();
    // Device `n` of the board (host 0x0930_0000 + n * 64 KiB) at guest 0x1000_0000 + n * 16 MiB, by address.
    auto d = [](char n, int irq) {
        char rec[96];
        snprintf(rec, sizeof rec, "[\"%c\", 0x%x, 0x%x, 0x1000, %d, true]", n, 0x1000'0000 + (n - 'a') * 0x100'0000,
                 0x0930'0000 + (n - 'a') * 0x1'0000, irq);
        return std::string(rec);
    };
    Outcome r = with_host(pt(d('a', 42) + ", " + d('b', 43) + ", " + d('c', 44) + ", " + d('d', 45) + ", " +
                             d('e', 46) + ", " + d('f', 48) + ", " + d('h', 0) + ", " + d('i', 0)),
                          dtb);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev(0) + "dt_node /a@9300000: clocks: refused: it names /clkctrl@9100000 (compatible "
                               "\"cxv,clkctrl\"), which is not a fixed-clock; cxvisor copies only fixed clocks");
    EXPECT_HAS(r.err, dev(1) + "dt_node /b@9310000: clocks: phandle 0x4321 names no node of the host DTB");
    EXPECT_HAS(r.err, dev(2) + "dt_node /c@9320000: iommus: refused: the device sits behind the host's IOMMU, "
                               "which cxvisor does not give a guest");
    EXPECT_HAS(r.err, dev(2) + "dt_node /c@9320000: msi-parent: refused: the device signals MSIs to the host's MSI "
                               "controller (ITS, GICv2m), which the guest's vGIC does not have");
    const std::string phandles = ": refused: it refers to other host nodes by phandle; cxvisor copies only `clocks` "
                                 "that name a fixed-clock, and a guest tree must not hold a phandle that names nothing";
    EXPECT_HAS(r.err, dev(3) + "dt_node /d@9330000: resets" + phandles);
    EXPECT_HAS(r.err, dev(3) + "dt_node /d@9330000: pinctrl-0" + phandles);
    EXPECT_HAS(r.err, dev(3) + "dt_node /d@9330000: reset-gpios" + phandles);
    EXPECT_HAS(r.err, dev(4) + "dt_node /e@9340000: the host node has 2 interrupts (SPI 14 = INTID 46 (<0 14 4>), "
                               "SPI 15 = INTID 47 (<0 15 4>)): cxvisor forwards one interrupt per passthrough device");
    EXPECT_HAS(r.err, dev(5) + "dt_node /f@9350000: subnode /f@9350000/port@0 has interrupts: cxvisor forwards one "
                               "interrupt per passthrough device, the device node's");
    EXPECT_HAS(r.err, dev(6) + "dt_node /h@9370000: reg entry 1 [0x9500000, 0x9501000) lies outside the passthrough "
                               "window [0x9370000, 0x9371000) (base_hpa, length)");
    EXPECT_HAS(r.err, dev(7) + "dt_node /i@9380000: interrupts: their interrupt controller is /ictl@9210000 "
                               "(compatible \"cxv,intc\"), not the host's GICv3; cxvisor forwards host GIC SPIs only");
    // Every refusal names its device's line; none of them left a tree behind.
    EXPECT_FALSE(fs::exists(out));

    // interrupts-extended, two fixed clocks (one renamed: the guest has its own /psci) and a subnode.
    r = with_host(pt(d('g', 50)), dtb);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_HAS(r.err, dev(0) + "warning: dt_node /g@9360000: the host node is disabled (status), and so is its copy: "
                               "the guest will not use the device");
    Bytes tree = Package(bytes(out)).blob(Package(bytes(out)).vm(0).dtb);
    std::string dts = decompile(dir, tree);
    std::string g = node_text(dts, "g@16000000");
    EXPECT_HAS(g, "reg = <0x00 0x16000000 0x00 0x1000>;");
    EXPECT_HAS(g, "interrupt-parent = <0x02>;");
    EXPECT_HAS(g, "interrupts = <0x00 0x12 0x01>;"); // SPI 18 = irq 50, edge-rising as on the host
    EXPECT_EQ(g.find("interrupts-extended"), std::string::npos);
    EXPECT_HAS(g, "clocks = <0x03 0x04>;");
    EXPECT_HAS(g, "port@1 {");
    EXPECT_HAS(g, "label = \"out\";");
    EXPECT_HAS(g, "status = \"disabled\";");
    EXPECT_HAS(node_text(dts, "osc"), "phandle = <0x03>;");
    EXPECT_HAS(node_text(dts, "psci-4"), "clock-frequency = <0x1e8480>;");
    EXPECT_HAS(node_text(dts, "psci"), "method = \"hvc\";"); // the guest's own, untouched

    // Subnodes deeper than 16 levels are not followed (cxvisor's own walk of the host tree stops
    // there too, and then refuses every host range: its list of what the host owns is incomplete).
    std::string deep = "j@9390000 { reg = <0x9390000 0x1000>; ";
    for (int i = 0; i < 17; ++i) deep += "n { ";
    for (int i = 0; i < 17; ++i) deep += "}; ";
    dtb = compile_dts(dir, "deep", minimal_board_dts(deep + "};\n")).string();
    r = with_host(pt(d('j', 0)), dtb);
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev(0) + "dt_node /j@9390000: subnode /j@9390000/n/n/n/n/n/n/n/n/n/n/n/n/n/n/n/n/n is nested "
                               "deeper than 16 levels: not copied");
}

TEST_F(PtDtTest, PassthroughIrqMustBeTheHostDevicesSpi) {
    std::string dtb = host_dtb();
    std::string text = pt("[\"rtc\", 0x0901_0000, 0x0901_0000, 0x1000, 35], "  // the PL031's is 34
                          "[\"flash\", 0x0, 0x0, 0x1000, 41], "                   // the flash has none
                          "[\"pbus\", 0x0c00_0000, 0x0c00_0000, 0x1000, 42]");    // no node there
    std::string rtc = "irq 35 is not the interrupt of host node /pl031@9010000 (it raises SPI 2 = INTID 34 "
                      "(<0 2 4>): use irq 34)";
    std::string flash = "irq 41 is not the interrupt of host node /flash@0 (it has none: use irq 0)";
    std::string pbus = "irq 42 cannot be shown to be the device's: the host DTB has no node whose reg starts in "
                       "[0xc000000, 0xc001000) (base_hpa, length)";
    Outcome r = with_host(text, dtb);
    EXPECT_EQ(r.status, 1);
    std::string host = " (host DTB " + dtb + ")\n";
    EXPECT_HAS(r.err, dev(0) + rtc + host);
    EXPECT_HAS(r.err, dev(1) + flash + host);
    EXPECT_HAS(r.err, dev(2) + pbus + host);
    EXPECT_HAS(r.err, "cxv-vmconfig: 3 errors");
    // Against the built-in QEMU virt the same findings are warnings: the config may be for another board.
    r = compile({dir.write("f.toml", text).string()});
    EXPECT_EQ(r.status, 0) << r.err;
    std::string builtin = " (QEMU virt, built in for aarch64; pass --host-dtb for another board)\n";
    EXPECT_HAS(r.err, dev(0) + "warning: " + rtc + builtin);
    EXPECT_HAS(r.err, dev(1) + "warning: " + flash + builtin);
    EXPECT_HAS(r.err, dev(2) + "warning: " + pbus + builtin);
    // The right SPIs are accepted silently.
    r = with_host(pt("[\"rtc\", 0x0901_0000, 0x0901_0000, 0x1000, 34], [\"gpio\", 0x0903_0000, 0x0903_0000, 0x1000, 39]"), dtb);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
}

TEST_F(PtDtTest, HostConsoleInterruptIsNeverForwarded) {
    // The emulated UART takes another SPI, so irq 33 is not a duplicate within the VM.
    std::string text = pt("[\"gpio\", 0x0903_0000, 0x0903_0000, 0x1000, 33]", with(hello, "0x1000, 33,", "0x1000, 40,"));
    std::string keeps = "irq 33 is the interrupt of pl011@9000000, cxvisor's console UART: the host keeps it";
    std::string err = errors(text);
    EXPECT_HAS(err, dev(0) + keeps + " (QEMU virt, built in for aarch64; pass --host-dtb for another board)");
    Outcome r = with_host(text, host_dtb());
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev(0) + keeps + " (host DTB ");
}

TEST(VmConfigCli, UsageErrorsExitWithTwo) {
    std::ostringstream err;
    EXPECT_EQ(vmconfig::run({"a.toml"}, err), 2);
    EXPECT_EQ(vmconfig::run({"-o", "x"}, err), 2);
    EXPECT_EQ(vmconfig::run({"--cpus", "zero", "-o", "x", "a.toml"}, err), 2);
    EXPECT_EQ(vmconfig::run({"--bogus", "-o", "x", "a.toml"}, err), 2);
    EXPECT_HAS(err.str(), "usage: cxv-vmconfig");
}

TEST(VmConfigCli, CpusOptionBoundsPhysCpuIds) {
    TempDir dir;
    auto cfg = dir.write("f.toml", with(slurp(FIXTURES / "hello.toml"), "[0, 1]", "[0, 5]"));
    std::vector<std::string> args = {"--search-path", FIXTURES.string(), "-o", (dir / "o").string(),
                                     cfg.string()};
    EXPECT_EQ(run(args).status, 1);
    args.insert(args.begin(), {"--cpus", "6"});
    EXPECT_EQ(run(args).status, 0);
}

// The limits the tool checks are the image's own (abi/vm_package.hpp): a target with more CPUs
// than cxvisor supports is fine, but a vCPU pinned beyond MAX_CPUS could never run.
TEST(VmConfigCli, PhysCpuBeyondMaxCpusNamesTheLimit) {
    static_assert(vm_package::MAX_CPUS == 16 && vm_package::MAX_VCPUS == 16 && vm_package::MAX_VMS == 16,
                  "the messages below spell the values out");
    TempDir dir;
    auto cfg = dir.write("f.toml", with(slurp(FIXTURES / "hello.toml"), "[0, 1]", "[0, 16]"));
    Outcome r = run({"--cpus", "20", "--search-path", FIXTURES.string(), "-o", (dir / "o").string(), cfg.string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, cfg.string() + ":6: base.phys_cpu_ids[1]: physical CPU 16 is beyond what cxvisor supports: "
                                     "MAX_CPUS = 16 (it runs on CPUs 0..15 only)");
    auto ok = dir.write("g.toml", with(slurp(FIXTURES / "hello.toml"), "[0, 1]", "[0, 15]"));
    EXPECT_EQ(run({"--cpus", "20", "--search-path", FIXTURES.string(), "-o", (dir / "o").string(), ok.string()}).status, 0);
}

TEST(VmConfigBinary, BadFileExitsWithOneAndPrintsTheError) {
    TempDir dir;
    auto cfg = dir.write("bad.toml", "[base]\nid = 1\nname = \"x\"\ncpu_num = 0\n");
    std::string cmd = std::string(CXV_VMCONFIG_BIN) + " -o " + (dir / "out").string() + " " + cfg.string() +
                      " 2>" + (dir / "err").string();
    int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 1);
    std::string err = slurp(dir / "err");
    EXPECT_HAS(err, cfg.string() + ":4: base.cpu_num: must be 1..16, got 0");
    EXPECT_HAS(err, cfg.string() + ":1: kernel: missing required table [kernel]");
    EXPECT_FALSE(fs::exists(dir / "out"));
}

} // namespace

// [base] autostart = false: the VM is created at boot, for the shell to start (flag in the record).
TEST_F(VmConfigTest, AutostartFalseSetsTheRecordsFlag) {
    std::string text = with(slurp(FIXTURES / "bare.toml"), "cpu_num = 1", "cpu_num = 1\nautostart = false");
    Outcome r = compile({dir.write("f.toml", text).string()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(Package(bytes(out)).vm(0).flags, vp::VM_FLAG_NO_AUTOSTART);
    text = with(text, "autostart = false", "autostart = true");
    ASSERT_EQ(compile({dir.write("f.toml", text).string()}).status, 0);
    EXPECT_EQ(Package(bytes(out)).vm(0).flags, 0u);
}

// --- shm: [[shm]] shared-memory regions and their doorbells (docs/virtio.md, "Shared memory") ---
namespace {
// hello.toml (id 1, lines 1-25) and bare.toml (id 2, lines 1-11) each with one [[shm]] table
// appended after a blank line: its header is line 27 in hello, 13 in bare (name +1, gpa +2,
// size +3, irq +4, peers +5).
std::string shm_table(const std::string& name, const std::string& gpa, const std::string& size, const std::string& irq,
                      const std::string& peers) {
    return "\n[[shm]]\nname = \"" + name + "\"\ngpa = " + gpa + "\nsize = " + size + "\n" +
           (irq.empty() ? "# no irq\n" : "irq = " + irq + "\n") + (peers.empty() ? "# no peers\n" : "peers = " + peers + "\n");
}
struct ShmConfigTest : VmConfigTest {
    const std::string bare = slurp(FIXTURES / "bare.toml");
    std::string a_shm = shm_table("ring", "0x5000_0000", "0x2000", "40", "[\"bare\"]");
    std::string b_shm = shm_table("ring", "0x6000_0000", "0x2000", "41", "[1]");
    fs::path f, g;
    Outcome pair() {
        f = dir.write("f.toml", hello + a_shm);
        g = dir.write("g.toml", bare + b_shm);
        return compile({f.string(), g.string()});
    }
    std::string at(const fs::path& file, int line, const std::string& key) {
        return file.string() + ":" + std::to_string(line) + ": " + key + ": ";
    }
    std::string pair_errors() {
        Outcome r = pair();
        EXPECT_EQ(r.status, 1) << r.err;
        EXPECT_FALSE(fs::exists(out));
        return r.err;
    }
};
} // namespace

TEST_F(ShmConfigTest, RegionsGoIntoThePackageWithPeersAsIdsAndIntoTheGeneratedDtb) {
    a_shm += shm_table("log", "0x5100_0000", "0x20_0000", "", "");
    b_shm += shm_table("log", "0x6100_0000", "0x20_0000", "", "[\"hello\"]");
    b_shm = with(b_shm, "peers = [\"hello\"]", "# nobody rings log"); // a region without doorbells
    Outcome r = pair();
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    Package p(bytes(out));
    vp::VmRecord a = p.vm(0), b = p.vm(1);
    ASSERT_EQ(a.shm_count, 2u);
    ASSERT_EQ(b.shm_count, 2u);
    auto ring = p.at<vp::ShmRegion>(a.shm, 0), log = p.at<vp::ShmRegion>(a.shm, 1);
    EXPECT_STREQ(ring.name, "ring");
    EXPECT_EQ(ring.gpa, 0x5000'0000u);
    EXPECT_EQ(ring.size, 0x2000u);
    EXPECT_EQ(ring.irq, 40u);
    ASSERT_EQ(ring.peer_count, 1u);
    EXPECT_EQ(ring.peers[0], 2u); // "bare" by name
    EXPECT_STREQ(log.name, "log");
    EXPECT_EQ(log.size, 0x20'0000u);
    EXPECT_EQ(log.irq + log.peer_count, 0u);
    auto bring = p.at<vp::ShmRegion>(b.shm, 0);
    EXPECT_EQ(bring.gpa, 0x6000'0000u);
    EXPECT_EQ(bring.irq, 41u);
    ASSERT_EQ(bring.peer_count, 1u);
    EXPECT_EQ(bring.peers[0], 1u); // by id
    EXPECT_EQ(b.intc_lines, 32u); // derived with the doorbell's SPI counted
    // hello's generated tree: one node per region, outside /memory, read back by dtc.
    std::string dts = decompile(dir, p.blob(a.dtb));
    std::string node = node_text(dts, "shm@50000000");
    EXPECT_HAS(node, "compatible = \"cxvisor,shm\";");
    EXPECT_HAS(node, "reg = <0x00 0x50000000 0x00 0x2000>;");
    EXPECT_HAS(node, "label = \"ring\";");
    EXPECT_HAS(node, "cxvisor,index = <0x00>;");
    EXPECT_HAS(node, "interrupts = <0x00 0x08 0x01>;"); // SPI 40, edge rising
    std::string log_node = node_text(dts, "shm@51000000");
    EXPECT_HAS(log_node, "cxvisor,index = <0x01>;");
    EXPECT_EQ(log_node.find("interrupts"), std::string::npos) << log_node;
}

TEST_F(ShmConfigTest, SizesMustAgreeAndARegionNeedsTwoVms) {
    b_shm = with(b_shm, "size = 0x2000", "size = 0x3000");
    a_shm += shm_table("alone", "0x5100_0000", "0x1000", "", "");
    std::string err = pair_errors();
    EXPECT_HAS(err, at(g, 13, "shm[0]") + "shm \"ring\" has size 0x3000 here but 0x2000 in VM \"hello\" (" +
                        f.string() + ":27): every VM declaring a region must give it the same size");
    EXPECT_HAS(err, at(f, 34, "shm[1]") + "shm \"alone\" is declared by this VM only: a shared region needs a second VM "
                                          "declaring the same name (memory of one VM is a memory region)");
}

TEST_F(ShmConfigTest, PeersMustBeOtherVmsThatDeclareTheRegionWithADoorbell) {
    a_shm = with(a_shm, "[\"bare\"]", "[\"bare\", 2, \"nosuch\", 99, \"hello\", 3.5, \"\"]");
    EXPECT_HAS(pair_errors(), at(f, 32, "shm[0].peers[1]") + "VM id 2 is named twice");
    std::string err = pair_errors();
    EXPECT_HAS(err, at(f, 32, "shm[0].peers[2]") + "VM \"nosuch\" is not in this package (its VMs: \"hello\" = 1, \"bare\" = 2)");
    EXPECT_HAS(err, at(f, 32, "shm[0].peers[3]") + "VM id 99 is not in this package");
    EXPECT_HAS(err, at(f, 32, "shm[0].peers[4]") + "VM \"hello\" is this VM itself: a VM raises its own interrupts with HC_IRQ_LINE");
    EXPECT_HAS(err, at(f, 32, "shm[0].peers[5]") + "expected a VM name or id, got a float");
    EXPECT_HAS(err, "expected a VM name or id, got an empty string");
    // The peer rung must have a doorbell for the region, and must declare it at all.
    a_shm = shm_table("ring", "0x5000_0000", "0x2000", "40", "[\"bare\"]");
    b_shm = with(b_shm, "irq = 41", "# no irq");
    EXPECT_HAS(pair_errors(), at(f, 32, "shm[0].peers[0]") + "VM \"bare\" declares shm \"ring\" without an irq (" +
                                  g.string() + ":13): it cannot be rung through it; give it irq = <an SPI of that VM>");
    b_shm = shm_table("other", "0x6000_0000", "0x2000", "41", "");
    err = pair_errors();
    EXPECT_HAS(err, at(f, 32, "shm[0].peers[0]") + "VM \"bare\" (" + g.string() + ") does not declare shm \"ring\"");
}

TEST_F(ShmConfigTest, EachRegionIsCheckedInItsVm) {
    // Places: RAM, a device, the vGIC, another region.
    a_shm = shm_table("ring", "0x4000_0000", "0x2000", "40", "[\"bare\"]") +
            shm_table("b", "0x0900_0000", "0x1000", "", "") + shm_table("c", "0x080A_0000", "0x1000", "", "") +
            shm_table("d", "0x4000_1000", "0x1000", "", "");
    std::string err = pair_errors();
    EXPECT_HAS(err, at(f, 27, "shm[0]") + "shm \"ring\" [0x40000000, 0x40002000) overlaps memory region kernel.memory_regions[0]");
    EXPECT_HAS(err, at(f, 34, "shm[1]") + "shm \"b\" [0x9000000, 0x9001000) overlaps device \"uart\" (devices.emu_devices[0])");
    EXPECT_HAS(err, at(f, 41, "shm[2]") + "shm \"c\" [0x80a0000, 0x80a1000) overlaps the vGIC redistributors (GICR)");
    EXPECT_HAS(err, at(f, 48, "shm[3]") + "shm \"d\" [0x40001000, 0x40002000) overlaps shm \"ring\" (shm[0])");
    // Doorbell SPIs: not a device's, an SPI, only with a vGIC.
    a_shm = shm_table("ring", "0x5000_0000", "0x2000", "33", "[\"bare\"]");
    EXPECT_HAS(pair_errors(), at(f, 31, "shm[0].irq") + "irq 33 is already used by device \"uart\" (devices.emu_devices[0]): "
                                                        "each device and doorbell needs its own interrupt");
    a_shm = shm_table("ring", "0x5000_0000", "0x2000", "40", "[\"bare\"]") + shm_table("q", "0x5100_0000", "0x1000", "40", "");
    EXPECT_HAS(pair_errors(), at(f, 38, "shm[1].irq") + "irq 40 is already used by shm region \"ring\" (shm[0].irq): "
                                                        "each device and doorbell needs its own interrupt");
    a_shm = shm_table("ring", "0x5000_0000", "0x2000", "27", "[\"bare\"]");
    EXPECT_HAS(pair_errors(), at(f, 31, "shm[0].irq") + "irq 27 is a PPI");
    b_shm = with(b_shm, "\n[[shm]]", "\n[devices]\ninterrupt_mode = \"no_irq\"\n[[shm]]");
    EXPECT_HAS(pair_errors(), at(g, 19, "shm[0].irq") + "a doorbell needs the VM's interrupt controller");
    // Fields: required, sizes, names, unknown keys, the table form.
    b_shm = shm_table("ring", "0x6000_0000", "0x2000", "41", "[1]");
    a_shm = shm_table("ring", "0x5000_0001", "0x2000", "40", "[\"bare\"]") + "color = 3\n" +
            shm_table("ring", "0x5100_0000", "0", "", "") + shm_table("bad name", "0x5200_0000", "0x1000", "", "") +
            "\n[[shm]]\nname = \"x\"\n";
    err = pair_errors();
    EXPECT_HAS(err, at(f, 29, "shm[0].gpa") + "[0x50000001, 0x50002001) is not 4 KiB aligned");
    EXPECT_HAS(err, at(f, 33, "shm[0].color") + "unknown key");
    EXPECT_HAS(err, at(f, 36, "shm[1].name") + "shm \"ring\" is already declared by shm[0]: each region once per VM");
    EXPECT_HAS(err, at(f, 38, "shm[1].size") + "must be 4096..0x10000000, got 0");
    EXPECT_HAS(err, at(f, 43, "shm[2].name") + "\"bad name\" is not a valid name");
    EXPECT_HAS(err, at(f, 49, "shm[3].gpa") + "missing (required)");
    EXPECT_HAS(err, at(f, 49, "shm[3].size") + "missing (required)");
    Outcome r = compile({dir.write("f.toml", "shm = 3\n" + hello).string()}); // a top-level key, not a table
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, at(f, 1, "shm") + "expected [[shm]] tables (an array of tables), got an integer");
}

// --- virtio devices ([virtio.<name>] tables) ---
namespace {

// hello.toml with a virtio-blk RAM disk, a virtio-net and a virtio-console after its PL011.
std::string virtio_vm(const std::string& base, const std::string& tables) {
    return with(base, "emu_devices = [ [\"uart\", 0x0900_0000, 0x1000, 33, \"pl011\", [1, 2]] ]",
                "emu_devices = [ [\"uart\", 0x0900_0000, 0x1000, 33, \"pl011\", [1, 2]],\n"
                "  [\"vda\", 0x0a00_0000, 0x1000, 48, \"virtio-blk\", []],\n"
                "  [\"eth0\", 0x0a00_1000, 0x1000, 49, \"virtio-net\", []],\n"
                "  [\"hvc0\", 0x0a00_2000, 0x1000, 50, \"virtio-console\"] ]") +
           tables;
}

TEST_F(VmConfigTest, VirtioDevicesGetTheirCfgWordsBlobAndDtNodes) {
    Bytes disk(3 * 512);
    for (size_t i = 0; i < disk.size(); ++i) disk[i] = uint8_t(i * 7);
    std::ofstream(dir / "disk.img", std::ios::binary).write(reinterpret_cast<const char*>(disk.data()), disk.size());
    std::string cfg = virtio_vm(hello, "\n[virtio.vda]\nimage = \"disk.img\"\nread_only = true\n"
                                       "[virtio.eth0]\nmac = \"02:AB:cd:00:00:07\"\nnetwork = 3\n");
    Outcome r = compile({dir.write("f.toml", cfg).string()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    Package p(bytes(out));
    vp::VmRecord vm = p.vm(0);
    ASSERT_EQ(vm.emu_count, 4u);
    auto blk = p.at<vp::EmuDevice>(vm.emu_devices, 1);
    EXPECT_EQ(blk.type, uint32_t(vp::EmuType::VirtioBlk));
    ASSERT_EQ(blk.cfg_count, 4u);
    EXPECT_EQ(blk.cfg[0], uint64_t(vp::BlkBacking::RamImage));
    EXPECT_EQ(blk.cfg[2], disk.size());
    EXPECT_EQ(blk.cfg[3], vp::BLK_FLAG_READ_ONLY);
    EXPECT_EQ(p.blob(vp::Blob{blk.cfg[1], blk.cfg[2]}), disk);
    auto net = p.at<vp::EmuDevice>(vm.emu_devices, 2);
    EXPECT_EQ(net.type, uint32_t(vp::EmuType::VirtioNet));
    ASSERT_EQ(net.cfg_count, 2u);
    EXPECT_EQ(net.cfg[0], 0x02ab'cd00'0007u);
    EXPECT_EQ(net.cfg[1], 3u);
    auto con = p.at<vp::EmuDevice>(vm.emu_devices, 3);
    EXPECT_EQ(con.type, uint32_t(vp::EmuType::VirtioConsole));
    EXPECT_EQ(con.cfg_count, 0u);

    std::string dts = decompile(dir, p.blob(vm.dtb));
    std::string node = node_text(dts, "virtio_mmio@a000000");
    EXPECT_HAS(node, "compatible = \"virtio,mmio\";");
    EXPECT_HAS(node, "reg = <0x00 0xa000000 0x00 0x1000>;");
    EXPECT_HAS(node, "interrupts = <0x00 0x10 0x04>;"); // irq 48 = SPI 16, level-high
    EXPECT_HAS(node, "dma-coherent;");
    EXPECT_HAS(node_text(dts, "virtio_mmio@a001000"), "interrupts = <0x00 0x11 0x04>;");
    EXPECT_HAS(node_text(dts, "virtio_mmio@a002000"), "interrupts = <0x00 0x12 0x04>;");
    EXPECT_EQ(dts.find("virtio_mmio@9000000"), std::string::npos); // the PL011 is not one
}

TEST_F(VmConfigTest, VirtioDefaultsAndHostRegion) {
    std::string cfg = virtio_vm(hello, "\n[virtio.vda]\nhost_region = [0x10_0000, 0x400_0000]\n");
    Outcome r = compile({dir.write("f.toml", cfg).string()});
    ASSERT_EQ(r.status, 0) << r.err;
    Package p(bytes(out));
    vp::VmRecord vm = p.vm(0);
    auto blk = p.at<vp::EmuDevice>(vm.emu_devices, 1);
    EXPECT_EQ(blk.cfg[0], uint64_t(vp::BlkBacking::HostRegion));
    EXPECT_EQ(blk.cfg[1], 0x10'0000u);
    EXPECT_EQ(blk.cfg[2], 0x400'0000u);
    EXPECT_EQ(blk.cfg[3], 0u);
    auto net = p.at<vp::EmuDevice>(vm.emu_devices, 2);
    EXPECT_EQ(net.cfg[0], 0x0200'0001'0002u); // 02:00:<VM id 1>:00:<device index 2>
    EXPECT_EQ(net.cfg[1], 0u);
}

TEST_F(VmConfigTest, VirtioParameterErrorsNameTheKey) {
    std::string base = virtio_vm(hello, "");
    EXPECT_HAS(errors(base), "virtio-blk device needs a disk: [virtio.vda] with image");
    std::string with_disk = base + "\n[virtio.vda]\nhost_region = [0, 0x1000]\n";
    auto e = errors(with_disk + "image = \"hello.bin\"\n");
    EXPECT_HAS(e, "give either image or host_region, not both");
    EXPECT_HAS(errors(with_disk + "size = 3\n"), "virtio.vda.size: unknown key");
    EXPECT_HAS(errors(base + "\n[virtio.vda]\nhost_region = [0x100, 0x1000]\n"),
               "is not a multiple of 512 bytes (the disk's sector size) in offset and size");
    EXPECT_HAS(errors(base + "\n[virtio.vda]\nhost_region = [0, 0]\n"), "size: must be 1..");
    EXPECT_HAS(errors(base + "\n[virtio.vda]\nimage = \"hello.toml\"\n"), "not a multiple of 512");
    EXPECT_HAS(errors(with_disk + "read_only = 1\n"), "virtio.vda.read_only: expected true or false");
    EXPECT_HAS(errors(with_disk + "[virtio.eth0]\nmac = \"02:00:00:00:00\"\n"), "is not a MAC address");
    EXPECT_HAS(errors(with_disk + "[virtio.eth0]\nmac = \"03:00:00:00:00:01\"\n"), "is a multicast address");
    EXPECT_HAS(errors(with_disk + "[virtio.eth0]\nnetwork = 16\n"), "virtio.eth0.network: must be 0..15");
    EXPECT_HAS(errors(with_disk + "[virtio.hvc0]\nport = 1\n"), "virtio-console has no parameters");
    EXPECT_HAS(errors(with_disk + "[virtio.uart]\n"), "device \"uart\" is not a virtio device");
    EXPECT_HAS(errors(with_disk + "[virtio.eth9]\n"), "no device \"eth9\" in devices.emu_devices");
    EXPECT_HAS(errors(with(with_disk, "0x1000, 49, \"virtio-net\", []", "0x1000, 49, \"virtio-net\", [1]")),
               "cfg_list: a virtio device takes its parameters from [virtio.eth0]");
    EXPECT_HAS(errors(with_disk + "virtio = 1\n"), "virtio.vda.virtio: unknown key");
}

TEST_F(VmConfigTest, HostDiskRegionsAndMacsAreNotShared) {
    auto vm = [&](int id, const std::string& name, const std::string& tables) {
        std::string t = with(with(hello, "id = 1", "id = " + std::to_string(id)), "name = \"hello\"",
                             "name = \"" + name + "\"");
        t = with(t, "passthrough_devices = [ [\"rtc\", 0x0901_0000, 0x0901_0000, 0x1000, 34] ]",
                 "passthrough_devices = []");
        t = with(t, "[0x8000_0000, 0x10_0000, 0x3, 1],", "");
        return dir.write(name + ".toml", virtio_vm(t, tables)).string();
    };
    auto a = vm(1, "a", "[virtio.vda]\nhost_region = [0, 0x100_0000]\n[virtio.eth0]\nmac = \"02:00:00:00:00:01\"\n");
    auto b = vm(2, "b", "[virtio.vda]\nhost_region = [0xff_fe00, 0x1000]\n[virtio.eth0]\nmac = \"02:00:00:00:00:01\"\n");
    Outcome r = compile({a, b});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, b + ":");
    EXPECT_HAS(r.err, "host disk range [0xfffe00, 0x1000e00) overlaps [0x0, 0x1000000) of device \"vda\" of VM \"a\"");
    EXPECT_HAS(r.err, "MAC 02:00:00:00:00:01 is already used on network 0 by device \"eth0\" of VM \"a\"");
    // Adjacent regions and the same MAC on another network are fine.
    auto c = vm(3, "c",
                "[virtio.vda]\nhost_region = [0x100_0000, 0x1000]\n[virtio.eth0]\nmac = \"02:00:00:00:00:01\"\n"
                "network = 1\n");
    r = compile({a, c});
    EXPECT_EQ(r.status, 0) << r.err;
}

// --- riscv64: the guest board of --arch riscv64 (board_riscv64.cpp) -------------------------------

// fixtures/hello-riscv64.toml (line numbers below refer to it) built for riscv64.
class Riscv64Test : public VmConfigTest {
protected:
    const std::string rv = slurp(FIXTURES / "hello-riscv64.toml");
    Outcome compile_rv(const std::string& text, std::vector<std::string> extra = {}) {
        extra.insert(extra.begin(), {"--arch", "riscv64"});
        return compile({dir.write("f.toml", text).string()}, extra);
    }
    std::string rv_errors(const std::string& text) {
        Outcome r = compile_rv(text);
        EXPECT_EQ(r.status, 1) << r.err;
        EXPECT_FALSE(fs::exists(out));
        return r.err;
    }
};

std::vector<uint32_t> cells_of(const void* fdt, const char* path, const char* prop) {
    int len = 0;
    auto* p = static_cast<const fdt32_t*>(fdt_getprop(fdt, fdt_path_offset(fdt, path), prop, &len));
    std::vector<uint32_t> out;
    for (int i = 0; p && i < len / 4; ++i) out.push_back(fdt32_to_cpu(p[i]));
    return out;
}
std::string str_of(const void* fdt, const char* path, const char* prop) {
    int len = 0;
    auto* p = static_cast<const char*>(fdt_getprop(fdt, fdt_path_offset(fdt, path), prop, &len));
    return p ? std::string(p, len) : "<absent>";
}

TEST_F(Riscv64Test, GeneratedDtbHasHartsPlicUartAndVirtio) {
    Outcome r = compile_rv(rv);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    Package p(bytes(out));
    vp::VmRecord vm = p.vm(0);
    EXPECT_EQ(vm.intc_base, 0x0C00'0000u); // the PLIC at QEMU virt's address
    EXPECT_EQ(vm.intc_base2, 0u);           // riscv64 has one window
    EXPECT_EQ(vm.intc_lines, 10u);          // sources 1..10: enough for the highest device irq
    EXPECT_EQ(p.h.isa, uint32_t(vp::Isa::Riscv64)); // the image refuses it unless it is riscv64's
    Bytes dtb = p.blob(vm.dtb);
    const void* f = dtb.data();
    ASSERT_EQ(fdt_check_header(f), 0);
    std::string dts = decompile(dir, dtb); // dtc reads it without a warning

    EXPECT_EQ(cells_of(f, "/cpus", "timebase-frequency"), std::vector<uint32_t>{10'000'000});
    std::vector<uint32_t> ext;
    for (uint32_t i = 0; i < 2; ++i) {
        std::string cpu = "/cpus/cpu@" + std::to_string(i);
        EXPECT_EQ(cells_of(f, cpu.c_str(), "reg"), std::vector<uint32_t>{i}); // the hart id = vCPU index
        EXPECT_EQ(str_of(f, cpu.c_str(), "device_type"), std::string("cpu\0", 4));
        EXPECT_EQ(str_of(f, cpu.c_str(), "compatible"), std::string("riscv\0", 6));
        EXPECT_EQ(str_of(f, cpu.c_str(), "riscv,isa"), std::string("rv64imafdc_zicsr_zifencei_sstc\0", 31));
        // The current binding too: without it Linux assumes Zihpm, whose counters trap in a vCPU.
        EXPECT_EQ(str_of(f, cpu.c_str(), "riscv,isa-base"), std::string("rv64i\0", 6));
        EXPECT_EQ(str_of(f, cpu.c_str(), "riscv,isa-extensions"),
                  std::string("i\0m\0a\0f\0d\0c\0zicntr\0zicsr\0zifencei\0sstc\0", 39));
        EXPECT_EQ(str_of(f, cpu.c_str(), "mmu-type"), std::string("riscv,sv39\0", 11));
        EXPECT_EQ(str_of(f, cpu.c_str(), "status"), std::string("okay\0", 5));
        std::string intc = cpu + "/interrupt-controller";
        int node = fdt_path_offset(f, intc.c_str());
        ASSERT_GE(node, 0) << intc;
        EXPECT_EQ(fdt_node_check_compatible(f, node, "riscv,cpu-intc"), 0);
        EXPECT_EQ(cells_of(f, intc.c_str(), "#interrupt-cells"), std::vector<uint32_t>{1});
        EXPECT_NE(fdt_getprop(f, node, "interrupt-controller", nullptr), nullptr);
        uint32_t phandle = fdt_get_phandle(f, node);
        EXPECT_NE(phandle, 0u);
        ext.insert(ext.end(), {phandle, 11, phandle, 9}); // context 2i: M external, 2i + 1: S external
    }

    int plic = fdt_path_offset(f, "/plic@c000000");
    ASSERT_GE(plic, 0) << dts;
    EXPECT_EQ(fdt_node_check_compatible(f, plic, "sifive,plic-1.0.0"), 0);
    EXPECT_EQ(fdt_node_check_compatible(f, plic, "riscv,plic0"), 0);
    EXPECT_EQ(cells_of(f, "/plic@c000000", "riscv,ndev"), std::vector<uint32_t>{10});
    EXPECT_EQ(cells_of(f, "/plic@c000000", "#interrupt-cells"), std::vector<uint32_t>{1});
    EXPECT_NE(fdt_getprop(f, plic, "interrupt-controller", nullptr), nullptr);
    EXPECT_EQ(cells_of(f, "/plic@c000000", "interrupts-extended"), ext);
    std::vector<uint32_t> reg = cells_of(f, "/plic@c000000", "reg");
    ASSERT_EQ(reg.size(), 4u);
    EXPECT_EQ(reg[1], 0x0C00'0000u);
    EXPECT_EQ(reg[3], 0x60'0000u); // the window QEMU virt reserves (vintc/layout.hpp)
    // No default interrupt-parent at the root: the harts' riscv,cpu-intc nodes would inherit it
    // and Linux would find no root interrupt controller; each device names the PLIC itself.
    EXPECT_EQ(fdt_getprop(f, 0, "interrupt-parent", nullptr), nullptr);
    for (uint32_t i = 0; i < 2; ++i) {
        std::string intc = "/cpus/cpu@" + std::to_string(i) + "/interrupt-controller";
        for (std::string n = intc; !n.empty(); n = n.substr(0, n.rfind('/')))
            EXPECT_EQ(fdt_getprop(f, fdt_path_offset(f, n.c_str()), "interrupt-parent", nullptr), nullptr) << n;
    }
    EXPECT_EQ(fdt_node_offset_by_phandle(f, cells_of(f, "/virtio_mmio@10001000", "interrupt-parent").at(0)), plic);

    int uart = fdt_path_offset(f, "/serial@10000000");
    ASSERT_GE(uart, 0) << dts;
    EXPECT_EQ(fdt_node_check_compatible(f, uart, "ns16550a"), 0);
    EXPECT_EQ(cells_of(f, "/serial@10000000", "interrupts"), std::vector<uint32_t>{10});
    EXPECT_EQ(fdt_node_offset_by_phandle(f, cells_of(f, "/serial@10000000", "interrupt-parent").at(0)), plic);
    EXPECT_EQ(cells_of(f, "/serial@10000000", "clock-frequency"), std::vector<uint32_t>{3'686'400});
    EXPECT_EQ(cells_of(f, "/serial@10000000", "reg-shift"), std::vector<uint32_t>{0});
    EXPECT_EQ(cells_of(f, "/virtio_mmio@10001000", "interrupts"), std::vector<uint32_t>{1});

    EXPECT_EQ(str_of(f, "/chosen", "stdout-path"), std::string("/serial@10000000\0", 17));
    EXPECT_EQ(str_of(f, "/chosen", "bootargs"), std::string("console=ttyS0 earlycon=sbi\0", 27));
    EXPECT_EQ(cells_of(f, "/chosen", "linux,initrd-start"), (std::vector<uint32_t>{0, 0x8100'0000}));
    EXPECT_EQ(cells_of(f, "/memory@80000000", "reg"), (std::vector<uint32_t>{0, 0x8000'0000, 0, 0x200'0000}));
    // Nothing of the aarch64 board.
    for (const char* arm : {"arm,", "psci", "pl011", "timer {"}) EXPECT_EQ(dts.find(arm), std::string::npos) << arm;
}

TEST_F(Riscv64Test, NoIrqVmGetsNoPlic) {
    Outcome r = compile_rv(with(with(rv, "\"emulated\"", "\"no_irq\""), ", 10, \"ns16550a\"", ", 0, \"ns16550a\""));
    ASSERT_EQ(r.status, 0) << r.err;
    Package p(bytes(out));
    Bytes dtb = p.blob(p.vm(0).dtb);
    std::string dts = decompile(dir, dtb);
    EXPECT_EQ(dts.find("plic"), std::string::npos) << dts;
    EXPECT_EQ(fdt_getprop(dtb.data(), fdt_path_offset(dtb.data(), "/serial@10000000"), "interrupts", nullptr), nullptr);
    EXPECT_GE(fdt_path_offset(dtb.data(), "/cpus/cpu@0/interrupt-controller"), 0); // the hart's own
}

TEST_F(Riscv64Test, PlicKeysAndSourcesAreChecked) {
    const std::string emulated = "interrupt_mode = \"emulated\"";
    // plic_sources: the count as given (any 1..1023), and every device's source within it.
    Outcome r = compile_rv(with(rv, emulated, emulated + "\nplic_sources = 40\nplic_base = 0x0c40_0000"));
    ASSERT_EQ(r.status, 0) << r.err;
    vp::VmRecord vm = Package(bytes(out)).vm(0);
    EXPECT_EQ(vm.intc_lines, 40u);
    EXPECT_EQ(vm.intc_base, 0x0C40'0000u);
    fs::remove(out);
    EXPECT_HAS(rv_errors(with(rv, emulated, emulated + "\nplic_sources = 8")),
               where(22, "devices.emu_devices[0]") +
                   "irq 10 is above the VM's PLIC sources (devices.plic_sources 8: 1..8): raise plic_sources");
    EXPECT_HAS(rv_errors(with(rv, ", 10, \"ns16550a\"", ", 1024, \"ns16550a\"")),
               where(22, "devices.emu_devices[0]") + "irq 1024 is not a PLIC source (1..1023)");
    EXPECT_HAS(rv_errors(with(rv, emulated, emulated + "\nplic_sources = 1024")),
               where(26, "devices.plic_sources") + "must be 1..1023, got 1024");
    EXPECT_HAS(rv_errors(with(rv, emulated, emulated + "\nplic_base = 0x0c00_0800")),
               where(26, "devices.plic_base") + "0xc000800 is not 4 KiB aligned (the PLIC's register pages)");
    EXPECT_HAS(rv_errors(with(rv, emulated, emulated + "\nplic_base = 0x8000_0000")),
               where(26, "devices.plic_base") + "the vPLIC [0x80000000, 0x80600000) overlaps memory region "
                                                "kernel.memory_regions[0] [0x80000000, 0x82000000)");
    EXPECT_HAS(rv_errors(with(rv, emulated, "interrupt_mode = \"no_irq\"\nplic_sources = 8")),
               where(26, "devices.plic_sources") + "only with interrupt_mode = \"emulated\": a no_irq VM has no PLIC");
    // Another ISA's keys and devices are named as such.
    EXPECT_HAS(rv_errors(with(rv, emulated, emulated + "\ngicd_base = 0x0800_0000")),
               where(26, "devices.gicd_base") + "a key of aarch64 VMs (their GIC): the interrupt controller of riscv64 "
                                                "VMs is the PLIC, set with plic_base, plic_sources (--arch riscv64)");
    EXPECT_HAS(errors(with(hello, emulated, emulated + "\nplic_base = 0x0c00_0000")),
               where(26, "devices.plic_base") + "a key of riscv64 VMs (their PLIC): the interrupt controller of "
                                                "aarch64 VMs is the GIC, set with gicd_base, gicr_base, spi_count");
    EXPECT_HAS(rv_errors(with(rv, "\"ns16550a\"", "\"pl011\"")),
               where(22, "devices.emu_devices[0]") + "device type \"pl011\" is not part of the riscv64 guest board "
                                                     "(riscv64 types: \"virtio-blk\" = 2, \"virtio-net\" = 3, "
                                                     "\"virtio-console\" = 4, \"ns16550a\" = 5)");
    EXPECT_HAS(errors(with(hello, "\"pl011\"", "\"ns16550a\"")),
               where(23, "devices.emu_devices[0]") + "device type \"ns16550a\" is not part of the aarch64 guest board");
}

// The riscv64 host: QEMU virt's as built in (qemu-virt-riscv64.dts, read by the image's own
// read_rv_platform), or a riscv64 host DTB (the QEMU dump of tests/unit/fdt/fixtures).
class Riscv64HostTest : public Riscv64Test {
protected:
    const std::string RTC = "[\"rtc\", 0x10_1000, 0x10_1000, 0x1000, 11";
    std::string pt(const std::string& devices) {
        return with(rv, "interrupt_mode", "passthrough_devices = [ " + devices + " ]\ninterrupt_mode");
    }
    std::string dev() { return where(25, "devices.passthrough_devices[0]"); }
    std::string host_dtb() {
        Bytes b = load_dtb(std::string(FDT_FIXTURE_SRC) + "/qemu-virt-riscv64-2cpu.dtb");
        std::ofstream(dir / "rv.dtb", std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
        return (dir / "rv.dtb").string();
    }
};

TEST_F(Riscv64HostTest, GoldfishRtcIsPassedThroughWithItsPlicSource) {
    Outcome r = compile_rv(pt(RTC + "]"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    Package p(bytes(out));
    vp::VmRecord vm = p.vm(0);
    ASSERT_EQ(vm.pt_count, 1u);
    EXPECT_EQ(vm.intc_lines, 11u); // sources 1..11: the forwarded one included
    // Its node copied from a riscv64 host DTB: the PLIC's one-cell specifier, the VM's PLIC as parent.
    fs::remove(out);
    r = compile_rv(pt(RTC + ", true]"), {"--host-dtb", host_dtb()});
    ASSERT_EQ(r.status, 0) << r.err;
    Bytes dtb = Package(bytes(out)).blob(Package(bytes(out)).vm(0).dtb);
    std::string dts = decompile(dir, dtb);
    std::string rtc = node_text(dts, "rtc@101000");
    EXPECT_HAS(rtc, "compatible = \"google,goldfish-rtc\";");
    EXPECT_HAS(rtc, "reg = <0x00 0x101000 0x00 0x1000>;");
    EXPECT_HAS(rtc, "interrupts = <0x0b>;");
    expect_phandle(dtb, "/rtc@101000", "interrupt-parent", "/plic@c000000");
}

TEST_F(Riscv64HostTest, WhatTheHostKeepsIsRefusedWithTheImagesReason) {
    const std::string builtin = "(QEMU virt, built in for riscv64; pass --host-dtb for another board)";
    EXPECT_HAS(rv_errors(pt("[\"plic\", 0x2000_0000, 0x0c00_0000, 0x1000, 0]")),
               dev() + "host range [0xc000000, 0xc001000) overlaps plic@c000000 [0xc000000, 0xc600000), the host PLIC, "
                       "which cxvisor drives; cxvisor refuses it " + builtin);
    EXPECT_HAS(rv_errors(pt("[\"test\", 0x2000_0000, 0x10_0000, 0x1000, 0]")),
               dev() + "host range [0x100000, 0x101000) overlaps test@100000 [0x100000, 0x101000), the test finisher "
                       "(sifive,test0), which powers off or resets the whole machine; cxvisor refuses it " + builtin);
    EXPECT_HAS(rv_errors(pt("[\"vio\", 0x2000_0000, 0x1000_1000, 0x1000, 1]")),
               dev() + "host range [0x10001000, 0x10002000) overlaps virtio_mmio@10001000");
    // The console's source is the host's; identical RAM must stay out of OpenSBI's region.
    EXPECT_HAS(rv_errors(pt(RTC.substr(0, RTC.size() - 2) + "10]")),
               dev() + "irq 10 is the interrupt of serial@10000000, cxvisor's console UART: the host keeps it");
    EXPECT_HAS(rv_errors(with(rv, "[0x8000_0000, 0x200_0000, 0x7, 0],", "[0x8000_0000, 0x4_0000, 0x7, 0],\n"
                                                                     "    [0x8004_0000, 0x1000, 0x3, 1],\n"
                                                                     "    [0x8010_0000, 0x1f0_0000, 0x7, 0],")),
               where(18, "kernel.memory_regions[1]") + "host range [0x80040000, 0x80041000) overlaps firmware-reserved memory "
                                                   "[0x80000000, 0x80080000) (/memreserve/ or /reserved-memory), which "
                                                   "cxvisor never hands out; it refuses the region " + builtin);
    // A wrong irq against the host DTB names the right one; a node of another controller is refused.
    Outcome r = compile_rv(pt(RTC.substr(0, RTC.size() - 2) + "12, true]"), {"--host-dtb", host_dtb()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, dev() + "dt_node /soc/rtc@101000: irq 12 does not match the host node's interrupt, PLIC source "
                              "11 (<11>): set irq = 11");
    // An aarch64 host DTB is not a riscv64 host: the riscv64 reader says what it misses.
    r = compile({dir.write("f.toml", rv).string()}, {"--arch", "riscv64", "--host-dtb", qemu_virt_dtb(dir).string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, "cxvisor cannot run on this host DTB (--host-dtb): ");
}

void write_riscv_image(const fs::path& p, uint64_t text_offset, uint64_t image_size) {
    Bytes img(0x1000, 0);
    memcpy(&img[0x08], &text_offset, 8);
    memcpy(&img[0x10], &image_size, 8);
    memcpy(&img[0x30], "RISCV\0\0\0", 8);
    memcpy(&img[0x38], "RSC\x05", 4);
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
}

TEST_F(Riscv64Test, LinuxImageHeaderIsCheckedAgainstTheBootProtocol) {
    std::string image = with(rv, "\"hello.bin\"", "\"Image\"");
    write_riscv_image(dir / "Image", 0x20'0000, 0x40'0000);
    Outcome ok = compile_rv(image);
    ASSERT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(ok.err, "");
    fs::remove(out);
    std::string at_1m = with(with(image, "kernel_load_addr = 0x8020_0000", "kernel_load_addr = 0x8010_0000"),
                             "entry_point = 0x8020_0000", "entry_point = 0x8010_0000");
    EXPECT_HAS(rv_errors(at_1m), where(11, "kernel.kernel_load_addr") +
                                     "RISC-V Image at 0x80100000: a 64-bit Linux must be placed at a 2 MiB-aligned "
                                     "address (riscv boot.rst), e.g. at 0x80200000");
    EXPECT_HAS(rv_errors(with(image, "entry_point = 0x8020_0000", "entry_point = 0x8020_1000")),
               where(8, "kernel.entry_point") + "0x80201000 is not where the RISC-V Image starts (kernel_load_addr "
                                                "0x80200000): Linux is entered at its first byte");
    // image_size (BSS included) must fit: 0x8020_0000 + 15 MiB runs into the ramdisk at 0x8100_0000,
    // 31 MiB past the end of RAM.
    write_riscv_image(dir / "Image", 0x20'0000, 0xF0'0000);
    EXPECT_HAS(rv_errors(image), where(13, "kernel.ramdisk_load_addr") +
                                     "ramdisk [0x81000000, 0x81000bb8) overlaps kernel [0x80200000, 0x81100000)");
    write_riscv_image(dir / "Image", 0x20'0000, 0x1F0'0000);
    EXPECT_HAS(rv_errors(image), where(11, "kernel.kernel_load_addr") +
                                     "kernel (RISC-V Image, image_size with BSS) [0x80200000, 0x82100000) runs "
                                     "0x100000 bytes past the end of kernel.memory_regions[0]");
    // An arm64 Image is not a Linux kernel for riscv64: a bare-metal image, entered as it is.
    write_linux_image(dir / "Image", 0, 0xF0'0000, 0xa);
    EXPECT_EQ(compile_rv(image).status, 0);
}

Bytes fake_riscv_image(uint64_t file_size, uint64_t image_size) {
    Bytes img = fake_image(file_size, image_size);
    memcpy(&img[0x28], "\0\0\0\0\0\0\0\0", 8);
    memcpy(&img[0x30], "RISCV\0\0\0", 8);
    memcpy(&img[0x38], "RSC\x05", 4);
    memcpy(&img[0x3C], "CXV\0", 4);
    return img;
}

TEST_F(Riscv64Test, ImageNamesItsIsaAndGetsThePackageOffsetAtItsPlace) {
    auto image = (dir / "cxvisor.bin").string();
    auto cfg = dir.write("f.toml", rv).string();
    Bytes img = fake_riscv_image(0x3000, 0x30'5000);
    std::ofstream(image, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
    // Without --arch the image's header chooses riscv64.
    Outcome r = compile({cfg}, {"--image", image});
    ASSERT_EQ(r.status, 0) << r.err;
    Bytes res = bytes(out);
    EXPECT_EQ(u64_at(res, 0x28), 0x30'5000u); // package_offset in res2 (0x28), not arm64's 0x20
    EXPECT_EQ(u64_at(res, 0x20), u64_at(img, 0x20));
    EXPECT_EQ(u64_at(res, 0x10), res.size());
    EXPECT_TRUE(std::equal(img.begin() + 0x30, img.end(), res.begin() + 0x30));
    fs::remove(out);
    EXPECT_EQ(compile({cfg}, {"--arch", "riscv64", "--image", image}).status, 0);
    fs::remove(out);
    // A mismatch names both ISAs.
    r = compile({cfg}, {"--arch", "aarch64", "--image", image});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, image + ": a cxvisor image for riscv64, but --arch is aarch64");
    EXPECT_FALSE(fs::exists(out));
    Bytes arm = fake_image(0x3000, 0x10'0000);
    std::ofstream(image, std::ios::binary).write(reinterpret_cast<const char*>(arm.data()), arm.size());
    EXPECT_HAS(compile({cfg}, {"--arch", "riscv64", "--image", image}).err,
               image + ": a cxvisor image for aarch64, but --arch is riscv64");
    // The RISC-V header without cxvisor's tag.
    img[0x3C] = 'X';
    std::ofstream(image, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
    EXPECT_HAS(compile({cfg}, {"--image", image}).err,
               image + ": not a cxvisor image: a RISC-V Image without the \"CXV\" tag at 0x3c");
    // --arch takes the ISAs that have a guest board: all four.
    r = compile({cfg}, {"--arch", "mips"});
    EXPECT_EQ(r.status, 2);
    EXPECT_HAS(r.err, "--arch: expected aarch64, riscv64, x86_64 or loongarch64, got \"mips\"");
}

// --- x86_64: the guest board of --arch x86_64 (board_x86_64.cpp) ----------------------------------

// fixtures/hello-x86_64.toml (line numbers below refer to it) built for x86_64.
class X86Test : public VmConfigTest {
protected:
    const std::string x86 = slurp(FIXTURES / "hello-x86_64.toml");
    Outcome compile_x86(const std::string& text, std::vector<std::string> extra = {}) {
        extra.insert(extra.begin(), {"--arch", "x86_64"});
        return compile({dir.write("f.toml", text).string()}, extra);
    }
    std::string x86_errors(const std::string& text) {
        Outcome r = compile_x86(text);
        EXPECT_EQ(r.status, 1) << r.err;
        EXPECT_FALSE(fs::exists(out));
        return r.err;
    }
};

// A cxvisor x86_64 image header (src/arch/x86_64/boot.S): JMP, the Multiboot header at 4 with the
// a.out-kludge address fields, package_offset at 0x28, "CXV" at 0x30.
Bytes fake_x86_image(uint32_t file_size, uint32_t bss_size) {
    Bytes img(file_size, 0x90);
    const uint32_t load = 0x20'0000, magic = 0x1BADB002, flags = 0x10003;
    const uint32_t words[] = {magic, flags, uint32_t(0 - (magic + flags)), load + 4, load, load + file_size,
                              load + file_size + bss_size, load + 0x40};
    memcpy(&img[4], words, sizeof words);
    memset(&img[0x28], 0, 8);
    memcpy(&img[0x30], "CXV\0", 4);
    return img;
}

TEST_F(X86Test, PortDeviceGoesIntoThePackageAndTheImageLoadsIt) {
    const std::string image = (dir / "cxvisor.bin").string();
    Bytes img = fake_x86_image(0x3000, 0x5000);
    std::ofstream(image, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
    // The ISA comes from the image's header; no --arch needed.
    Outcome r = compile({dir.write("f.toml", x86).string()}, {"--image", image});
    ASSERT_EQ(r.status, 0) << r.err;
    Bytes out_img = bytes(out);
    uint64_t package_offset = 0;
    memcpy(&package_offset, &out_img[0x28], 8);
    EXPECT_EQ(package_offset, 0x8000u); // past the image's BSS, at the next page
    uint32_t load = 0, load_end = 0, bss_end = 0;
    memcpy(&load, &out_img[0x14], 4), memcpy(&load_end, &out_img[0x18], 4), memcpy(&bss_end, &out_img[0x1C], 4);
    // The loader copies everything up to the package's end, which is where the image's memory ends.
    EXPECT_EQ(load_end, load + out_img.size());
    EXPECT_EQ(bss_end, load_end);
    const auto* h = reinterpret_cast<const vp::PackageHeader*>(&out_img[package_offset]);
    EXPECT_EQ(h->isa, uint32_t(vp::Isa::X86_64));
    const auto* rec = reinterpret_cast<const vp::VmRecord*>(&out_img[package_offset + h->vm_records]);
    const auto* emu = reinterpret_cast<const vp::EmuDevice*>(&out_img[package_offset + rec->emu_devices]);
    ASSERT_EQ(rec->emu_count, 2u);
    EXPECT_EQ(emu[0].space, uint32_t(vp::DeviceSpace::Port));
    EXPECT_EQ(emu[0].base_gpa, 0x3F8u);
    EXPECT_EQ(emu[0].type, uint32_t(vp::EmuType::Ns16550a));
    EXPECT_EQ(emu[1].space, uint32_t(vp::DeviceSpace::Memory));
}

TEST_F(X86Test, PortDevicesAreCheckedInTheirOwnSpace) {
    // Ports may share numbers with RAM (COM1 at 0x3f8 lies "inside" RAM from 0): no overlap error.
    EXPECT_EQ(compile_x86(x86).status, 0);
    fs::remove(out);
    EXPECT_HAS(x86_errors(with(x86, "[\"com1\", 0x3f8, 8,", "[\"com1\", 0xfffc, 8,")),
               where(17, "devices.emu_devices[0]") + "ports [0xfffc, 0x10004) are not inside the port space");
    EXPECT_HAS(x86_errors(with(x86, "[\"uart1\", 0x1000_0000, 0x1000, 0, \"ns16550a\"", "[\"com2\", 0x3fc, 8, 0, \"ns16550a-port\"")),
               "device \"com2\" ports [0x3fc, 0x404) overlap device \"com1\"");
    // Another board has no port space.
    Outcome r = compile({dir.write("g.toml", with(hello, "\"pl011\"", "\"ns16550a-port\"")).string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.err, "device type \"ns16550a-port\" needs a port space, which the aarch64 guest board does not have");
}

TEST_F(X86Test, EmulatedGivesTheVmItsLocalApics) {
    // interrupt_mode "emulated": the vLAPIC page at 0xfee00000, GSIs 1..(the highest device irq).
    const std::string emu = with(with(x86, "\"no_irq\"", "\"emulated\""), "[\"com1\", 0x3f8, 8, 0,", "[\"com1\", 0x3f8, 8, 4,");
    Outcome r = compile_x86(emu);
    ASSERT_EQ(r.status, 0) << r.err;
    const vp::VmRecord rec = Package(bytes(out)).vm(0);
    EXPECT_EQ(rec.interrupt_mode, uint32_t(vp::InterruptMode::Emulated));
    EXPECT_EQ(rec.intc_base, 0xFEE0'0000u);
    EXPECT_EQ(rec.intc_base2, 0u);
    EXPECT_EQ(rec.intc_lines, 4u);
    fs::remove(out);
    EXPECT_EQ(compile_x86(with(emu, "interrupt_mode", "gsi_count = 23\ninterrupt_mode")).status, 0);
    fs::remove(out);
    // The APIC does not move, GSIs end at 23, a device irq must be one of the VM's GSIs.
    EXPECT_HAS(x86_errors(with(emu, "interrupt_mode", "lapic_base = 0xfec0_0000\ninterrupt_mode")),
               "0xfec00000: the local APIC stays at 0xfee00000");
    EXPECT_HAS(x86_errors(with(emu, "[\"com1\", 0x3f8, 8, 4,", "[\"com1\", 0x3f8, 8, 24,")),
               "irq 24 is not a GSI the vLAPIC delivers (1..23)");
    EXPECT_HAS(x86_errors(with(emu, "interrupt_mode", "gsi_count = 2\ninterrupt_mode")),
               "irq 4 is above the VM's GSIs (devices.gsi_count 2): raise gsi_count");
    EXPECT_HAS(x86_errors(with(x86, "\"no_irq\"", "\"passthrough\"")),
               "\"passthrough\" (the host's APIC handed to the guest) is not implemented by cxvisor");
    EXPECT_HAS(x86_errors(with(x86, "interrupt_mode", "gsi_count = 2\ninterrupt_mode")),
               "only with interrupt_mode = \"emulated\": a no_irq VM has no local APIC");
}

// --- loongarch64: the guest board of --arch loongarch64 (board_loongarch64.cpp) --------------------

// fixtures/hello-loongarch64.toml (line numbers below refer to it) built for loongarch64.
class LoongTest : public VmConfigTest {
protected:
    const std::string la = slurp(FIXTURES / "hello-loongarch64.toml");
    std::string la_errors(const std::string& text) {
        Outcome r = compile({dir.write("f.toml", text).string()}, {"--arch", "loongarch64"});
        EXPECT_EQ(r.status, 1) << r.err;
        EXPECT_FALSE(fs::exists(out));
        return r.err;
    }
};

// A cxvisor loongarch64 image header (src/arch/loongarch64/boot.S): an ELF64 file header for
// EM_LOONGARCH (258) with one program header at 0x40 (p_filesz at 0x60, p_memsz at 0x68),
// package_offset at 0x78 and "CXV" at 0x80.
Bytes fake_la_image(uint64_t file_size, uint64_t bss_size) {
    Bytes img(file_size, 0);
    memcpy(&img[0], "\x7f" "ELF\x02\x01\x01", 7);
    const uint16_t machine = 258, phnum = 1;
    memcpy(&img[0x12], &machine, 2);
    memcpy(&img[0x38], &phnum, 2);
    const uint64_t memsz = file_size + bss_size;
    memcpy(&img[0x60], &file_size, 8);
    memcpy(&img[0x68], &memsz, 8);
    memcpy(&img[0x80], "CXV\0", 4);
    return img;
}

TEST_F(LoongTest, PackageIsAppendedAndTheElfSegmentCoversIt) {
    const std::string image = (dir / "cxvisor.bin").string();
    Bytes img = fake_la_image(0x3000, 0x20'5000); // BSS past the first 2 MiB
    std::ofstream(image, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
    // The ISA comes from the image's ELF header; no --arch needed.
    Outcome r = compile({dir.write("f.toml", la).string()}, {"--image", image});
    ASSERT_EQ(r.status, 0) << r.err;
    Bytes out_img = bytes(out);
    uint64_t package_offset = 0, filesz = 0, memsz = 0;
    memcpy(&package_offset, &out_img[0x78], 8);
    memcpy(&filesz, &out_img[0x60], 8), memcpy(&memsz, &out_img[0x68], 8);
    EXPECT_EQ(package_offset, 0x20'8000u); // past the image's BSS (0x3000 + 0x20'5000), at the next page
    // QEMU's ELF loader copies p_filesz bytes: the whole file, package included, is the footprint.
    EXPECT_EQ(filesz, out_img.size());
    EXPECT_EQ(memsz, out_img.size());
    const auto* h = reinterpret_cast<const vp::PackageHeader*>(&out_img[package_offset]);
    EXPECT_EQ(h->isa, uint32_t(vp::Isa::Loongarch64));
    const auto* rec = reinterpret_cast<const vp::VmRecord*>(&out_img[package_offset + h->vm_records]);
    const auto* emu = reinterpret_cast<const vp::EmuDevice*>(&out_img[package_offset + rec->emu_devices]);
    ASSERT_EQ(rec->emu_count, 1u);
    EXPECT_EQ(emu[0].base_gpa, 0x1FE0'0000u);
    EXPECT_EQ(emu[0].type, uint32_t(vp::EmuType::Ns16550a));
    EXPECT_EQ(emu[0].space, uint32_t(vp::DeviceSpace::Memory));

    // An image of another ISA for --arch loongarch64, and a loongarch64 ELF without cxvisor's tag.
    Bytes arm = fake_image(0x3000, 0x10'0000);
    std::ofstream(image, std::ios::binary).write(reinterpret_cast<const char*>(arm.data()), arm.size());
    EXPECT_HAS(compile({dir.write("f.toml", la).string()}, {"--arch", "loongarch64", "--image", image}).err,
               image + ": a cxvisor image for aarch64, but --arch is loongarch64");
    img[0x80] = 'X';
    std::ofstream(image, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
    EXPECT_HAS(compile({dir.write("f.toml", la).string()}, {"--arch", "loongarch64", "--image", image}).err,
               image + ": not a cxvisor image: no ELF64 LoongArch header (EM_LOONGARCH, one program header) with the "
                       "\"CXV\" tag at 0x80");
}

// interrupt_mode "emulated": the PCH-PIC + EIOINTC model (src/vintc/veiointc.hpp), the PCH-PIC
// at QEMU virt's 0x10000000, lines 1..(the highest device irq).
TEST_F(LoongTest, EmulatedGivesTheVmAPchPicAndEiointc) {
    const std::string emu = with(with(la, "\"no_irq\"", "\"emulated\""), "0x1000, 0, \"ns16550a\"", "0x1000, 2, \"ns16550a\"");
    Outcome r = compile({dir.write("f.toml", emu).string()}, {"--arch", "loongarch64"});
    ASSERT_EQ(r.status, 0) << r.err;
    const vp::VmRecord rec = Package(bytes(out)).vm(0);
    EXPECT_EQ(rec.interrupt_mode, uint32_t(vp::InterruptMode::Emulated));
    EXPECT_EQ(rec.intc_base, 0x1000'0000u);
    EXPECT_EQ(rec.intc_lines, 2u);
    fs::remove(out);
    EXPECT_HAS(la_errors(with(emu, "interrupt_mode", "pch_pic_base = 0x2000_0000\ninterrupt_mode")),
               "0x20000000: the PCH-PIC stays at 0x10000000");
    EXPECT_HAS(la_errors(with(emu, "0x1000, 2, \"ns16550a\"", "0x1000, 64, \"ns16550a\"")),
               "irq 64 is not a PCH-PIC line (1..63)");
    EXPECT_HAS(la_errors(with(emu, "interrupt_mode", "pch_pic_lines = 1\ninterrupt_mode")),
               "irq 2 is above the VM's PCH-PIC lines (devices.pch_pic_lines 1): raise it");
}

TEST_F(LoongTest, ConfigErrorsNameFileAndLine) {
    EXPECT_HAS(la_errors(with(la, "\"no_irq\"", "\"passthrough\"")),
               where(18, "devices.interrupt_mode") +
                   "\"passthrough\" (the host's PCH-PIC handed to the guest) is not implemented by cxvisor: use "
                   "\"emulated\" (a PCH-PIC and EIOINTC per VM) or \"no_irq\"");
    // An irq on a "no_irq" VM is a warning at its line, as on every board.
    Outcome r = compile({dir.write("f.toml", with(la, "0x1000, 0, \"ns16550a\"", "0x1000, 5, \"ns16550a\"")).string()},
                        {"--arch", "loongarch64"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_HAS(r.err, where(16, "devices.emu_devices[0]") + "warning: irq 5 is never delivered");
    fs::remove(out);
    EXPECT_HAS(la_errors(with(la, "\"ns16550a\"", "\"virtio-blk\"")), where(16, "devices.emu_devices[0]"));
    EXPECT_HAS(la_errors(with(la, "\"ns16550a\"", "\"ns16550a-port\"")),
               "device type \"ns16550a-port\" needs a port space, which the loongarch64 guest board does not have");
}

} // namespace
