// The image's package checks (src/vmm/package.cpp): a package cxv-vmconfig built opens and every
// record of it passes; every corruption of the header or of one field of a record is rejected with
// a reason that names the VM and the field, never read through; a bad record stops only its VM.
// Vm::create keeps the checks that depend on the machine: here, free RAM. Then a property pass: thousands of seeded random mutations of a valid package must never crash
// the checks (ASan/UBSan), and every record they accept must satisfy an independent invariant
// checker (package_invariant.hpp).
#include "host_console.hpp"
#include "kernel/percpu.hpp"
#include "package_invariant.hpp"
#include "vmconfig.hpp"
#include "vmm/package.hpp"
#include "vmm/vmm.hpp"
#include <cstdlib>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <random>

namespace vp = vm_package;

namespace {

constexpr u64 RAM = 0x4000'0000, RAM_SIZE = 0x100'0000, ENTRY = 0x4008'0000;
constexpr u64 IDENT = 0x7000'0000, RESERVED = 0x6000'0000, UART = 0x0900'0000, RTC = 0x0901'0000;
constexpr u64 SHM = 0x5000'0000;

vmconfig::VmConfig small_vm() {
    vmconfig::VmConfig cfg;
    cfg.id = 1;
    cfg.name = "p";
    cfg.cpu_num = 1;
    cfg.phys_cpu_ids = {vp::ANY_CPU};
    cfg.entry_point = ENTRY;
    cfg.kernel.present = true;
    cfg.kernel.load_addr = ENTRY;
    cfg.kernel.data = vmconfig::Bytes(4096, 0xAA);
    cfg.regions = {{RAM, RAM_SIZE, 7, u32(vp::MapType::Alloc), {}}};
    cfg.intc_lines = 32; // emulated GICv3 (the default mode): the parser derives this, the builder sets it
    return cfg;
}

// VM 0 ("full") uses every part of the format; VM 1 ("small") is minimal.
vmconfig::VmConfig full_vm() {
    vmconfig::VmConfig cfg = small_vm();
    cfg.id = 3;
    cfg.name = "full";
    cfg.cpu_num = 2;
    cfg.phys_cpu_ids = {1, vp::ANY_CPU};
    cfg.cmdline = "console=ttyAMA0";
    cfg.kernel.data = vmconfig::Bytes(8192, 0x11);
    cfg.ramdisk = {true, 0x4040'0000, 4096, vmconfig::Bytes(4096, 0x22), {}};
    cfg.dtb = {true, 0x4080'0000, 4096, vmconfig::Bytes(100, 0x33), {}};
    cfg.regions = {{RAM, RAM_SIZE, 7, u32(vp::MapType::Alloc), {}},
                   {IDENT, 0x20'0000, 3, u32(vp::MapType::Identical), {}},
                   {RESERVED, 0x10'0000, 3, u32(vp::MapType::Reserved), {}}};
    cfg.emu_devices = {{"uart0", UART, 0x1000, 33, u32(vp::EmuType::Pl011), {1, 2}, {}}};
    cfg.pt_devices = {{"rtc", RTC, RTC, 0x1000, 0, {}}};
    cfg.shm = {{"ring", SHM, 0x2000, 40, {{7u, "", {}}}, {}, {}, {}}, // peer 7: VM "small"
               {"log", SHM + 0x10'0000, 0x1000, 0, {}, {}, {}, {}}};
    return cfg;
}

vmconfig::Bytes good_package() {
    vmconfig::VmConfig a = full_vm(), b = small_vm();
    b.id = 7;
    b.name = "small";
    return vmconfig::build_package({a, b});
}

template <typename T> T get(const vmconfig::Bytes& p, u64 off) {
    T v;
    memcpy(&v, p.data() + off, sizeof v);
    return v;
}
template <typename T> void put(vmconfig::Bytes& p, u64 off, const T& v) { memcpy(p.data() + off, &v, sizeof v); }

u64 record_at(const vmconfig::Bytes& p, u32 i) {
    return get<vp::PackageHeader>(p, 0).vm_records + u64(i) * sizeof(vp::VmRecord);
}

// The checks as the image runs them (create_vms): "" when record i is accepted, else the reason.
std::string check_vm(const vmconfig::Bytes& p, u32 i) {
    const char* why = nullptr;
    auto h = package_open(p.data(), p.size(), vp::Isa::Aarch64, &why);
    if (h.is_error()) return std::string("header: ") + why;
    char buf[PACKAGE_WHY_SIZE];
    auto r = package_check_vm(*h.value(), i, MAX_CPUS, buf, sizeof buf);
    return r.is_ok() ? "" : buf;
}

// A good package with one change to record 0, its regions, devices or bytes.
using Corrupt = std::function<void(vmconfig::Bytes&, vp::VmRecord&)>;
std::string reject_vm0(const Corrupt& corrupt) {
    vmconfig::Bytes p = good_package();
    vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 0));
    corrupt(p, r);
    put(p, record_at(p, 0), r);
    std::string why = check_vm(p, 0);
    EXPECT_NE(why, "") << "accepted";
    EXPECT_EQ(check_vm(p, 1), "") << "the other VM must still start";
    return why;
}
vp::MemRegion& region(vmconfig::Bytes& p, const vp::VmRecord& r, u32 i) {
    return *reinterpret_cast<vp::MemRegion*>(p.data() + r.regions + i * sizeof(vp::MemRegion));
}
vp::EmuDevice& emu(vmconfig::Bytes& p, const vp::VmRecord& r) { return *reinterpret_cast<vp::EmuDevice*>(p.data() + r.emu_devices); }
vp::ShmRegion& shm(vmconfig::Bytes& p, const vp::VmRecord& r, u32 i = 0) {
    return *reinterpret_cast<vp::ShmRegion*>(p.data() + r.shm + i * sizeof(vp::ShmRegion));
}
vp::PassthroughDevice& pt(vmconfig::Bytes& p, const vp::VmRecord& r) {
    return *reinterpret_cast<vp::PassthroughDevice*>(p.data() + r.pt_devices);
}

// The reason starts with the VM and contains `field`.
void expect_rejects(const Corrupt& corrupt, const std::string& field) {
    std::string why = reject_vm0(corrupt);
    EXPECT_EQ(why.rfind("vm 3 (full): ", 0), 0u) << why;
    EXPECT_NE(why.find(field), std::string::npos) << "expected \"" << field << "\" in: " << why;
}
#define EXPECT_REJECTS(...)                  \
    do {                                     \
        SCOPED_TRACE("rejection checked here"); \
        expect_rejects(__VA_ARGS__);         \
    } while (0)

template <typename F> std::string rejects_header(F corrupt, u64 bytes_delta = 0) {
    vmconfig::Bytes pkg = good_package();
    vp::PackageHeader h = get<vp::PackageHeader>(pkg, 0);
    corrupt(h);
    put(pkg, 0, h);
    const char* why = nullptr;
    auto r = package_open(pkg.data(), pkg.size() - bytes_delta, vp::Isa::Aarch64, &why);
    EXPECT_TRUE(r.is_error());
    return r.is_error() && why ? why : "";
}

} // namespace

TEST(Package, ABuiltPackageOpensAndEveryRecordPasses) {
    vmconfig::Bytes pkg = good_package();
    const char* why = nullptr;
    auto r = package_open(pkg.data(), pkg.size(), vp::Isa::Aarch64, &why);
    ASSERT_TRUE(r.is_ok()) << why;
    EXPECT_EQ(r.value()->vm_count, 2u);
    EXPECT_EQ(check_vm(pkg, 0), "");
    EXPECT_EQ(check_vm(pkg, 1), "");
    EXPECT_EQ(package_invariant::check(pkg.data(), pkg.size(), 0, MAX_CPUS), "");
    EXPECT_EQ(package_invariant::check(pkg.data(), pkg.size(), 1, MAX_CPUS), "");
    char buf[PACKAGE_WHY_SIZE];
    EXPECT_TRUE(package_check_vm(*r.value(), 2, MAX_CPUS, buf, sizeof buf).is_error()); // no record 2
}

TEST(Package, CorruptHeadersAreRejectedWithAReason) {
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.magic ^= 1; }), "bad magic");
    EXPECT_NE(rejects_header([](vp::PackageHeader& h) { h.version += 1; }).find("another version"), std::string::npos);
    EXPECT_NE(rejects_header([](vp::PackageHeader& h) { h.vm_record_size -= 8; }).find("another version"), std::string::npos);
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.total_size += 1; }), "size larger than the image");
    EXPECT_EQ(rejects_header([](vp::PackageHeader&) {}, 1), "size larger than the image"); // truncated image
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.vm_count = vp::MAX_VMS + 1; }), "too many VMs");
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.vm_records = h.total_size - 8; }), "VM records outside the package");
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.vm_records = ~0ull; }), "VM records outside the package");
    // The resident part (what the image reads in place) is a page boundary inside the package and
    // holds the records.
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.resident_size = h.total_size + 4096; }),
              "resident_size is not a page boundary inside the package");
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.resident_size = 4096 + 8; }),
              "resident_size is not a page boundary inside the package");
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.resident_size = 0; }),
              "resident_size is not a page boundary inside the package");
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.vm_records = h.resident_size; }),
              "VM records outside the package");
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.vm_records += 4; }), "VM records not 8-byte aligned");
    const char* why = nullptr;
    // A package for another ISA's guest board: refused whole, naming the board it was built for.
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.isa = u32(vp::Isa::Riscv64); }),
              "built for riscv64 guests, not for this image's ISA (cxv-vmconfig --arch)");
    EXPECT_EQ(rejects_header([](vp::PackageHeader& h) { h.isa = 0; }), "built for an unknown ISA (cxv-vmconfig --arch)");
    {
        vmconfig::Bytes pkg = good_package(); // an aarch64 package offered to a riscv64 image
        EXPECT_TRUE(package_open(pkg.data(), pkg.size(), vp::Isa::Riscv64, &why).is_error());
        EXPECT_STREQ(why, "built for aarch64 guests, not for this image's ISA (cxv-vmconfig --arch)");
    }
    u8 tiny[8] = {};
    EXPECT_TRUE(package_open(tiny, sizeof tiny, vp::Isa::Aarch64, &why).is_error());
    EXPECT_STREQ(why, "shorter than its header");
}

// --- one test per rule of package_check_vm --------------------------------------------------------

TEST(PackageRecord, NameMustBeTerminated) {
    // The reason prints at most 31 bytes of the name.
    EXPECT_EQ(reject_vm0([](auto&, vp::VmRecord& r) { memset(r.name, 'x', sizeof r.name); }),
              "vm 3 (" + std::string(31, 'x') + "): name is not NUL-terminated within 32 bytes");
}

TEST(PackageRecord, IdsAreUnique) {
    vmconfig::Bytes p = good_package();
    vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 1));
    r.id = 3; // VM 0's id
    put(p, record_at(p, 1), r);
    EXPECT_EQ(check_vm(p, 0), "");
    EXPECT_EQ(check_vm(p, 1), "vm 3 (small): id 3 is also the id of VM record 0");
}

TEST(PackageRecord, CpuNumInRange) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.cpu_num = 0; }, "cpu_num 0 is not 1..16");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.cpu_num = vp::MAX_VCPUS + 1; }, "cpu_num 17 is not 1..16");
}

TEST(PackageRecord, PhysCpuIdsAnyOrBelowMaxCpus) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.phys_cpu_ids[1] = MAX_CPUS; }, "vcpu 1: phys_cpu_ids 16");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.phys_cpu_ids[0] = vp::ANY_CPU - 1; }, "vcpu 0: phys_cpu_ids");
    // Entries past cpu_num are never read.
    vmconfig::Bytes p = good_package();
    vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 0));
    r.phys_cpu_ids[5] = 12345;
    put(p, record_at(p, 0), r);
    EXPECT_EQ(check_vm(p, 0), "");
}

// VmRecord::flags: only the bits this image knows (an unknown one may mean something it cannot do).
TEST(PackageRecord, FlagsKnown) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.flags = 2; }, "flags 2 has bits this cxvisor does not know (1 are known)");
    vmconfig::Bytes p = good_package();
    vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 0));
    r.flags = vp::VM_FLAG_NO_AUTOSTART;
    put(p, record_at(p, 0), r);
    EXPECT_EQ(check_vm(p, 0), "");
}

TEST(PackageRecord, InterruptModeKnown) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.interrupt_mode = 3; }, "unknown interrupt_mode 3");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.interrupt_mode = u32(vp::InterruptMode::Passthrough); },
                   "interrupt_mode 2 (passthrough) is not implemented by cxvisor");
}

// The vGIC layout of package version 2: checked by the image, not taken from the tool on trust.
TEST(PackageRecord, VgicLayoutChecked) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.intc_lines = 0; }, "vGICv3: 0 SPIs is not 32..988");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.intc_lines = 989; }, "vGICv3: 989 SPIs is not 32..988");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.intc_base += 0x1000; }, "the vGIC distributor (GICD) at 8001000 is not aligned to 10000");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.intc_base2 = ~0ull & ~0xFFFFull; }, "the vGIC redistributors (GICR) at ffffffffffff0000 wraps past 2^64");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.intc_base2 = r.intc_base; }, "the vGIC distributor (GICD) [8000000, 8010000) overlaps the vGIC redistributors (GICR)");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.intc_base = RAM; }, "the vGIC distributor (GICD) 0 [40000000, 40010000) overlaps memory region 0");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.intc_base2 = UART; }, "the vGIC redistributors (GICR) 0 [9000000, 9040000) overlaps emulated device 0 (uart0)");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) {
        auto d = get<vp::EmuDevice>(p, r.emu_devices);
        d.irq = 64 + 32; // INTID 96 with 32 SPIs (INTIDs 32..63)
        put(p, r.emu_devices, d);
    }, "emulated device 0 (uart0): irq 96 is not one of the VM's SPIs (32..63)");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.interrupt_mode = u32(vp::InterruptMode::NoIrq); },
                   "interrupt-controller layout (8000000, 80a0000, 32 lines) given without interrupt_mode emulated");
}

// The controller layout follows the package's ISA (vintc/layout.hpp): a riscv64 package's VMs
// have a vPLIC, one 0x60_0000-byte window and sources 1..intc_lines, not the GIC's rules.
TEST(PackageRecord, RiscvPackagesAreCheckedAgainstThePlicLayout) {
    auto riscv = [](const std::function<void(vmconfig::Bytes&, vp::VmRecord&)>& change) {
        vmconfig::Bytes p = good_package();
        vp::PackageHeader h = get<vp::PackageHeader>(p, 0);
        h.isa = u32(vp::Isa::Riscv64);
        put(p, 0, h);
        vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 0));
        r.intc_base = 0x0c00'0000, r.intc_base2 = 0, r.intc_lines = 64; // uart0 irq 33, shm irq 40
        change(p, r);
        put(p, record_at(p, 0), r);
        const char* why = nullptr;
        auto opened = package_open(p.data(), p.size(), vp::Isa::Riscv64, &why);
        EXPECT_TRUE(opened.is_ok()) << why;
        if (opened.is_error()) return std::string("header");
        char buf[PACKAGE_WHY_SIZE];
        return package_check_vm(*opened.value(), 0, MAX_CPUS, buf, sizeof buf).is_ok() ? std::string() : std::string(buf);
    };
    EXPECT_EQ(riscv([](auto&, vp::VmRecord&) {}), "");
    EXPECT_EQ(riscv([](auto&, vp::VmRecord& r) { r.intc_lines = 1023; }), "");
    EXPECT_EQ(riscv([](auto&, vp::VmRecord& r) { r.intc_lines = 1024; }), "vm 3 (full): vPLIC: 1024 PLIC sources is not 1..1023");
    EXPECT_EQ(riscv([](auto&, vp::VmRecord& r) { r.intc_base2 = 0x0800'0000; }),
              "vm 3 (full): vPLIC has one register window, but a second is given at 8000000");
    EXPECT_EQ(riscv([](auto&, vp::VmRecord& r) { r.intc_base = 0x0c00'0800; }),
              "vm 3 (full): the vPLIC at c000800 is not aligned to 1000");
    EXPECT_EQ(riscv([](auto&, vp::VmRecord& r) { r.intc_base = UART - 0x60'0000 + 0x1000; }),
              "vm 3 (full): the vPLIC 0 [8a01000, 9001000) overlaps emulated device 0 (uart0)");
    EXPECT_EQ(riscv([](auto& p, vp::VmRecord& r) { emu(p, r).irq = 0x41; }),
              "vm 3 (full): emulated device 0 (uart0): irq 65 is not one of the VM's PLIC sources (1..64)");
    EXPECT_EQ(riscv([](auto& p, vp::VmRecord& r) { emu(p, r).irq = 1; }), ""); // source 1: a GIC SGI, a PLIC line
}

TEST(PackageRecord, CountsWithinLimits) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.region_count = vp::MAX_REGIONS + 1; }, "memory regions: 17 entries, at most 16");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.emu_count = vp::MAX_EMU_DEVICES + 1; }, "emulated devices: 17 entries");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.pt_count = vp::MAX_PT_DEVICES + 1; }, "passthrough devices: 17 entries");
}

TEST(PackageRecord, ArraysInsideThePackageAndAligned) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { r.regions = p.size() - 8; }, "memory regions: 3 entries at offset");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.regions = ~0ull - 8; }, "run past the package end");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { r.emu_devices = p.size() - 64; }, "emulated devices: 1 entries at offset");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { r.pt_devices = p.size(); }, "passthrough devices: 1 entries at offset");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.regions += 4; }, "memory regions: offset");
    // A count of 0 still needs an offset inside the package (the image forms the pointer).
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { r.pt_count = 0, r.pt_devices = p.size() + 4096; }, "passthrough devices: 0 entries");
}

TEST(PackageRecord, BlobsInsideThePackageAndPageAligned) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { r.kernel.size = p.size(); }, "kernel blob");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.kernel.offset = ~0ull - 4095; }, "kernel blob");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.ramdisk.offset += 8; }, "ramdisk blob offset");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.dtb.offset += 4096 * 64; }, "dtb blob");
}

TEST(PackageRecord, CmdlineInsideAndTerminated) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { r.cmdline = p.size(); }, "cmdline offset");
    // Inside the package but past its resident part (among the kernels): the image may not have it.
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { r.cmdline = get<vp::PackageHeader>(p, 0).resident_size; },
                   "cmdline offset");
    // No NUL from that offset to the end of the resident part.
    EXPECT_REJECTS(
        [](auto& p, vp::VmRecord& r) {
            const u64 end = get<vp::PackageHeader>(p, 0).resident_size;
            p[end - 1] = 0x33;
            r.cmdline = end - 1;
        },
        "cmdline at offset");
}

TEST(PackageRecord, RegionRangesAlignedNonEmptyNotWrapping) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 1).size = 0; }, "memory region 1: gpa size is 0");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 1).gpa += 0x800; }, "memory region 1: gpa [70000800");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 1).size += 0x800; }, "is not 4 KiB aligned");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 1).gpa = ~0ull - 0xFFF; }, "wraps past 2^64");
}

TEST(PackageRecord, RegionMapTypeAndFlagsKnown) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 2).map_type = 3; }, "memory region 2: unknown map_type 3");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 0).flags = 0x17; }, "memory region 0: unknown flags 17");
}

TEST(PackageRecord, RegionsDoNotOverlap) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 1).gpa = RAM + RAM_SIZE - 0x1000; },
                   "memory region 1 [40fff000, 411ff000) overlaps memory region 0");
}

TEST(PackageRecord, EmulatedDevicesChecked) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { memset(emu(p, r).name, 'u', vp::MAX_NAME); }, "emulated device 0: name is not NUL-terminated");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).type = 6; }, "emulated device 0 (uart0): unknown type 6");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).type = 0; }, "emulated device 0 (uart0): unknown type 0");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).cfg_count = 9; }, "cfg_count 9");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).length = 0; }, "emulated device 0: base_gpa size is 0");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).base_gpa += 4; }, "emulated device 0: base_gpa");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).base_gpa = ~0ull - 0xFFF; }, "wraps");
}

// virtio-net (issue 8): the image checks the cfg words again, whatever the tool wrote.
void make_net(vmconfig::Bytes& p, vp::VmRecord& r, u64 mac, u64 network, u32 count = 2) {
    vp::EmuDevice& d = emu(p, r);
    d.type = u32(vp::EmuType::VirtioNet);
    d.cfg_count = count;
    d.cfg[0] = mac;
    d.cfg[1] = network;
}

TEST(PackageRecord, VirtioNetCfgChecked) {
    {
        vmconfig::Bytes p = good_package();
        vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 0));
        make_net(p, r, 0x0200'0000'0301, vp::MAX_NETWORKS - 1);
        put(p, record_at(p, 0), r);
        EXPECT_EQ(check_vm(p, 0), "");
    }
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_net(p, r, 0x0100'5e00'0001, 0); },
                   "emulated device 0 (uart0): virtio-net: MAC is a multicast address (cfg_count 2, mac 1005e000001, network 0)");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_net(p, r, 0xffff'ffff'ffff, 0); }, "MAC is a multicast address");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_net(p, r, 0, 0); }, "virtio-net: MAC is zero");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_net(p, r, 0x1'0200'0000'0001, 0); }, "MAC has bits above bit 47");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_net(p, r, 0x0200'0000'0001, vp::MAX_NETWORKS); },
                   "virtio-net: network number out of range (cfg_count 2, mac 20000000001, network 16)");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_net(p, r, 0x0200'0000'0001, ~0ull); }, "network number out of range");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_net(p, r, 0x0200'0000'0001, 0, 1); },
                   "virtio-net: needs 2 cfg words (mac, network)");
}

// The virtio-blk cfg words (vm_package.hpp): device 0 of "full" turned into a virtio-blk device.
void make_blk(vmconfig::Bytes& p, const vp::VmRecord& r, u64 backing, u64 where, u64 size, u64 flags = 0) {
    vp::EmuDevice& d = emu(p, r);
    d.type = u32(vp::EmuType::VirtioBlk);
    d.cfg_count = 4;
    d.cfg[0] = backing, d.cfg[1] = where, d.cfg[2] = size, d.cfg[3] = flags;
}

TEST(PackageRecord, VirtioBlkCfgChecked) {
    vmconfig::Bytes pkg = good_package();
    vp::VmRecord r = get<vp::VmRecord>(pkg, record_at(pkg, 0));
    make_blk(pkg, r, 1, r.dtb.offset, 4096, vp::BLK_FLAG_READ_ONLY); // the dtb's page as a disk image
    EXPECT_EQ(check_vm(pkg, 0), "");
    EXPECT_EQ(package_invariant::check(pkg.data(), pkg.size(), 0, MAX_CPUS), "");
    make_blk(pkg, r, 2, 0x10'0000, 0x400'0000);
    EXPECT_EQ(check_vm(pkg, 0), "");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 1, r.kernel.offset, 0); }, "virtio-blk size 0");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 1, r.kernel.offset, 1000); }, "multiple of 512");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 1, r.kernel.offset, 4096, 2); }, "flags 2 unknown");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 1, p.size() - 4096, 8192); }, "runs past the package end");
    // A RAM disk is read in place: a kernel blob (past the resident part) cannot be one.
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 1, r.kernel.offset, 4096); },
                   "runs past the package's resident part");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 1, ~0ull - 511, 1024); }, "runs past the package end");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 1, r.dtb.offset + 512, 512); }, "not 4 KiB aligned");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 2, 100, 4096); }, "not sector-aligned");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 2, ~0ull - 511, 1024); }, "wraps past 2^64");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 3, 0, 4096); }, "virtio-blk backing 3 unknown");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 0, 0, 4096); }, "backing 0 unknown");
    // Entries past cfg_count read 0: a cfg that stops early has no size.
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { make_blk(p, r, 1, r.kernel.offset, 4096), emu(p, r).cfg_count = 2; },
                   "size 0");
}

// virtio types (2-4): one 4 KiB window; virtio-console takes no cfg words (virtio-blk's and
// virtio-net's: above).
TEST(PackageRecord, VirtioDevicesChecked) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).type = 4, emu(p, r).length = 0x2000; },
                   "emulated device 0 (uart0): a virtio-mmio window is 0x1000 bytes at a 4 KiB aligned base_gpa");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).type = 3, emu(p, r).base_gpa += 0x800; },
                   "a virtio-mmio window is 0x1000 bytes");
    auto console = [](vmconfig::Bytes& p, const vp::VmRecord& r) -> vp::EmuDevice& {
        vp::EmuDevice& d = emu(p, r);
        d.type = 4;
        d.cfg_count = 0;
        memset(d.cfg, 0, sizeof d.cfg);
        return d;
    };
    EXPECT_REJECTS([&](auto& p, vp::VmRecord& r) { console(p, r).cfg[7] = 1; },
                   "emulated device 0 (uart0): virtio-console takes no parameters (cfg[7] = 1)");
    EXPECT_REJECTS([&](auto& p, vp::VmRecord& r) { console(p, r).cfg_count = 1; },
                   "virtio-console takes no parameters (cfg_count 1)");
    for (u32 type : {2u, 3u, 4u}) { // a good window is accepted, whatever the type's cfg words
        vmconfig::Bytes p = good_package();
        vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 0));
        vp::EmuDevice& d = emu(p, r);
        d.type = type;
        d.length = 0x1000;
        if (type == 4) d.cfg_count = 0, memset(d.cfg, 0, sizeof d.cfg);
        if (type == 2) make_blk(p, r, 2, 0, 4096); // virtio-blk: its cfg words are checked (above)
        if (type == 3) d.cfg_count = 2, d.cfg[0] = 0x0200'0000'0301, d.cfg[1] = 0; // virtio-net: likewise
        EXPECT_EQ(check_vm(p, 0), "") << type;
    }
}

// The port space (DeviceSpace::Port, x86's I/O ports): a 16550 only, inside the 64 Ki ports, apart
// from other port devices.
TEST(PackageRecord, PortSpaceDevicesChecked) {
    auto port_uart = [](vmconfig::Bytes& p, const vp::VmRecord& r) -> vp::EmuDevice& {
        vp::EmuDevice& d = emu(p, r);
        d.type = u32(vp::EmuType::Ns16550a);
        d.space = u32(vp::DeviceSpace::Port);
        d.base_gpa = 0x3F8;
        d.length = 8;
        d.cfg_count = 0;
        return d;
    };
    {
        vmconfig::Bytes p = good_package();
        vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 0));
        port_uart(p, r);
        EXPECT_EQ(check_vm(p, 0), "");
    }
    EXPECT_REJECTS([&](auto& p, vp::VmRecord& r) { port_uart(p, r).base_gpa = 0xFFFC; },
                   "emulated device 0 (uart0): ports [fffc, 10004) are not inside the port space [0, 10000)");
    EXPECT_REJECTS([&](auto& p, vp::VmRecord& r) { port_uart(p, r).type = u32(vp::EmuType::Pl011); },
                   "emulated device 0 (uart0): type 1 cannot sit in the port space (only ns16550a)");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).space = 2; },
                   "emulated device 0 (uart0): unknown address space 2 (0 memory, 1 port I/O)");
}

TEST(PackageRecord, PassthroughDevicesChecked) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { memset(pt(p, r).name, 'r', vp::MAX_NAME); }, "passthrough device 0: name is not NUL-terminated");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { pt(p, r).base_hpa += 0x10; }, "passthrough device 0: base_hpa");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { pt(p, r).base_hpa = ~0ull - 0xFFF; }, "base_hpa [fffffffffffff000, +1000) wraps");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { pt(p, r).length = 0; }, "passthrough device 0: base_gpa size is 0");
}

TEST(PackageRecord, DevicesDoNotOverlapRegionsOrEachOther) {
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { emu(p, r).base_gpa = RAM + 0x10'0000; },
                   "emulated device 0 [40100000, 40101000) overlaps memory region 0");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { pt(p, r).base_gpa = RESERVED; }, "overlaps memory region 2");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { pt(p, r).base_gpa = UART; }, "passthrough device 0 [9000000, 9001000) overlaps emulated device 0 (uart0)");
}

TEST(PackageRecord, ImagesLieInsideOneRamRegion) {
    // In a reserved carve-out: cxvisor would write the image into host memory it does not own.
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.kernel_load_addr = RESERVED; },
                   "kernel image [60000000, 60002000) is not inside a RAM region");
    // In a DEVICE region, in a device window, outside everything, or straddling a region's end.
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 1).flags |= 8, r.ramdisk_load_addr = IDENT; }, "ramdisk image [70000000");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.dtb_load_addr = UART; }, "dtb image [9000000, 9000064) is not inside a RAM region");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.kernel_load_addr = 0x1'0000'0000; }, "kernel image [100000000");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.kernel_load_addr = RAM + RAM_SIZE - 0x1000; }, "kernel image [40fff000, 41001000)");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.kernel_load_addr = ~0ull - 0x1000; }, "kernel image [ffffffffffffefff, +2000) wraps past 2^64");
    // Identical RAM is RAM: an image there is fine.
    vmconfig::Bytes p = good_package();
    vp::VmRecord r = get<vp::VmRecord>(p, record_at(p, 0));
    r.ramdisk_load_addr = IDENT + 0x1000;
    put(p, record_at(p, 0), r);
    EXPECT_EQ(check_vm(p, 0), "");
}

TEST(PackageRecord, ImagesDoNotOverlapEachOther) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.dtb_load_addr = ENTRY + 0x1000; }, "dtb image [40081000, 40081064) overlaps the kernel image");
}

TEST(PackageRecord, KernelRequired) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.kernel.size = 0; }, "no kernel image");
}

TEST(PackageRecord, EntryPointInExecutableRam) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.entry_point = IDENT; }, "entry point 70000000 is not inside an executable RAM region");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { region(p, r, 2).flags = 7, r.entry_point = RESERVED; }, "entry point 60000000");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.entry_point = RAM + RAM_SIZE; }, "entry point 41000000");
}

// --- what stays with Vm::create: the machine's free RAM ---------------------------------------------

namespace {

// A VM record checked by package_check_vm, created on the fake machine with HOST_RAM of RAM.
struct VmOnSmallMachine : testing::Test {
    static constexpr u64 HOST_RAM = 8 * MiB;
    HostOwnedRanges owned;
    vmconfig::Bytes pkg;
    PhysRange ram{};

    void SetUp() override {
        static u8* mem = static_cast<u8*>(std::aligned_alloc(2 * MiB, HOST_RAM));
        fake::reset();
        sched_set_cpu_count(2);
        for (unsigned c = 0; c < 2; ++c) fake::use_cpu(c), sched_init_cpu();
        fake::use_cpu(0);
        ram = {HostPhysAddr(u64(mem)), HOST_RAM};
        ASSERT_TRUE(frames_init(&ram, 1, nullptr, 0).is_ok());
        owned.ranges[owned.count++] = ram;
        clear_captured_console();
    }
    Result<Vm*> create(const vmconfig::VmConfig& cfg) {
        pkg = vmconfig::build_package({cfg});
        const char* why = nullptr;
        auto h = package_open(pkg.data(), pkg.size(), vp::Isa::Aarch64, &why);
        EXPECT_TRUE(h.is_ok()) << why;
        char text[PACKAGE_WHY_SIZE];
        auto rec = package_check_vm(*h.value(), 0, MAX_CPUS, text, sizeof text);
        EXPECT_TRUE(rec.is_ok()) << text;
        return Vm::create(*rec.value(), pkg.data(), 1, 2, owned);
    }
    // Vm::create refuses the VM as out of memory and prints `message`.
    void expect_no_memory(const vmconfig::VmConfig& cfg, const std::string& message) {
        auto vm = create(cfg);
        ASSERT_TRUE(vm.is_error());
        EXPECT_EQ(vm.error(), Error::NoMemory);
        EXPECT_NE(captured_console().find(message), std::string::npos) << captured_console();
    }
};

} // namespace

TEST_F(VmOnSmallMachine, AVmWhoseRamCanNeverBeBackedIsRefusedWithWhatToChange) {
    usize before = frames_free_count();
    expect_no_memory(small_vm(), // 16 MiB of alloc RAM on an 8 MiB machine
                     "cxvisor: vm 1 (p): its memory regions need 16 MiB of RAM, but only 7 MiB are free; give the "
                     "machine more RAM (QEMU -m) or make the VM's memory_regions smaller");
    EXPECT_EQ(frames_free_count(), before);
    // The same VM with 4 MiB of RAM fits (RAM is still taken lazily: nothing of it yet).
    vmconfig::VmConfig cfg = small_vm();
    cfg.regions[0].size = 4 * MiB;
    auto fits = create(cfg);
    ASSERT_TRUE(fits.is_ok()) << captured_console();
    for (u32 i = 0; i < fits.value()->vcpu_count(); ++i) sched_stop(&fits.value()->vcpu(i)->sched());
    delete fits.value();
    EXPECT_EQ(frames_free_count(), before);
}

TEST_F(VmOnSmallMachine, OutOfMemoryForTablesSaysWhatToChange) {
    // Take every frame: the VM's stage-2 root cannot be allocated.
    std::vector<HostPhysAddr> taken;
    while (true) {
        auto f = frames_alloc(1, FRAME_SIZE);
        if (f.is_error()) break;
        taken.push_back(f.value());
    }
    vmconfig::VmConfig cfg = small_vm();
    cfg.regions[0].map_type = u32(vp::MapType::Identical); // no alloc RAM: the RAM check passes
    expect_no_memory(cfg, "cxvisor: vm 1 (p): out of memory for its stage-2 tables (0 KiB of RAM free); give the "
                          "machine more RAM (QEMU -m) or start fewer VMs");
    for (HostPhysAddr pa : taken) frames_free(pa, 1);
}

// --- property pass: seeded random mutations ---------------------------------------------------

namespace {

struct Mutator {
    std::mt19937_64 rng;
    u64 below(u64 n) { return std::uniform_int_distribution<u64>(0, n - 1)(rng); }

    u64 boundary(u64 size) {
        const u64 values[] = {0, 1, 7, 8, 0xFFF, 0x1000, 0x1001, 0x10'0000, 0xFFFF'FFFF, 0x1'0000'0000, ~0ull,
                              ~0ull - 0xFFF, 1ull << 63, size, size - 1, size + 1, size - 8, size & ~0xFFFull,
                              RAM, RAM + RAM_SIZE, RAM + RAM_SIZE - 0x1000, ENTRY, RESERVED, IDENT, UART, 16, 17};
        return values[below(std::size(values))];
    }

    // Structured bytes (header, records, arrays, strings) are where the checks live: most
    // mutations go there, some anywhere.
    void mutate(vmconfig::Bytes& p, u64 structured) {
        if (p.size() < 16) return;
        u64 span = below(4) == 0 ? p.size() : std::min<u64>(structured, p.size());
        switch (below(6)) {
        case 0: { // flip bits
            for (u64 n = 1 + below(4); n--;) p[below(span)] ^= u8(1u << below(8));
            break;
        }
        case 1: { // a 32-bit field to a boundary value
            u64 off = below(span / 4) * 4;
            u32 v = u32(boundary(p.size()));
            memcpy(&p[off], &v, 4);
            break;
        }
        case 2: { // a 64-bit field to a boundary value, or near its old value
            u64 off = below(span / 8) * 8;
            u64 v;
            memcpy(&v, &p[off], 8);
            v = below(2) ? boundary(p.size()) : v + (below(2) ? 0x1000 : -0x1000ull) * (1 + below(4));
            memcpy(&p[off], &v, 8);
            break;
        }
        case 3: { // random bytes
            u64 at = below(span), n = 1 + below(16);
            for (u64 i = at; i < at + n && i < p.size(); ++i) p[i] = u8(rng());
            break;
        }
        case 4: // truncate
            p.resize(below(p.size() + 1));
            break;
        default: { // copy one record over another, or a field's bytes elsewhere
            u64 from = below(span), to = below(span), n = 1 + below(64);
            if (from + n <= p.size() && to + n <= p.size()) memmove(&p[to], &p[from], n);
            break;
        }
        }
    }
};

} // namespace

TEST(PackageProperty, RandomMutationsNeverCrashAndAcceptedRecordsHoldTheInvariants) {
    const vmconfig::Bytes good = good_package();
    const u64 structured = get<vp::VmRecord>(good, record_at(good, 0)).kernel.offset; // before the first blob
    Mutator m{std::mt19937_64(0xC0FFEE)};
    constexpr int RUNS = 20000;
    int opened = 0, accepted = 0, rejected = 0;
    for (int run = 0; run < RUNS; ++run) {
        vmconfig::Bytes p = good;
        for (u64 n = 1 + m.below(3); n--;) m.mutate(p, structured);
        // Exactly sized, so that ASan sees any read past the end.
        std::unique_ptr<u8[]> buf(new u8[p.size() ? p.size() : 1]);
        memcpy(buf.get(), p.data(), p.size());
        const char* why = nullptr;
        auto h = package_open(buf.get(), p.size(), vp::Isa::Aarch64, &why);
        if (h.is_error()) {
            ++rejected;
            continue;
        }
        ++opened;
        for (u32 i = 0; i < h.value()->vm_count; ++i) {
            char text[PACKAGE_WHY_SIZE];
            auto r = package_check_vm(*h.value(), i, MAX_CPUS, text, sizeof text);
            if (r.is_error()) {
                ++rejected;
                EXPECT_EQ(strncmp(text, "vm ", 3), 0) << text;
                continue;
            }
            ++accepted;
            std::string broken = package_invariant::check(buf.get(), p.size(), i, MAX_CPUS);
            ASSERT_EQ(broken, "") << "run " << run << ": record " << i << " accepted but: " << broken;
        }
    }
    // Not vacuous: both outcomes are common.
    EXPECT_GT(accepted, RUNS / 10);
    EXPECT_GT(rejected, RUNS / 10);
    EXPECT_GT(opened, RUNS / 4);
    std::printf("property pass: %d mutants, %d opened, %d records accepted, %d rejections\n", RUNS, opened, accepted,
                rejected);
}

// --- shm: shared-memory regions (VmRecord version 3) ---
TEST(PackageRecord, ShmRegionsChecked) {
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.shm_count = vp::MAX_SHM + 1; }, "shm regions: 9 entries, at most 8");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { r.shm = p.size() - 8; }, "shm regions: 2 entries at offset");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.shm += 4; }, "shm regions: offset");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { memset(shm(p, r).name, 'x', vp::MAX_NAME); }, "shm 0: name is empty or not NUL-terminated");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).name[0] = 0; }, "shm 0: name is empty");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).gpa += 0x800; }, "shm 0: gpa [50000800, +2000) is not 4 KiB aligned");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).size = 0; }, "shm 0: gpa size is 0");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).gpa = ~0ull - 0xFFF; }, "wraps past 2^64");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).size = vp::MAX_SHM_SIZE + 0x1000; }, "shm 0 (ring): size 10001000 is above 10000000");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).gpa = RAM + 0x1000; }, "shm 0 (ring) [40001000, 40003000) overlaps memory region 0");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).gpa = UART; }, "shm 0 [9000000, 9002000) overlaps emulated device 0 (uart0)");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).gpa = RTC; }, "overlaps passthrough device 0 (rtc)");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).gpa = 0x080A'0000; }, "shm 0 (ring) [80a0000, 80a2000) overlaps the vGIC redistributors (GICR)");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r, 1).gpa = SHM + 0x1000; }, "shm 1 (log) [50001000, 50002000) overlaps shm 0");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { memcpy(shm(p, r, 1).name, "ring", 5); }, "shm 1: name ring is also shm 0's");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).peer_count = vp::MAX_SHM_PEERS + 1; }, "shm 0 (ring): 16 peers, at most 15");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).peer_count = 2, shm(p, r).peers[1] = r.id; }, "shm 0 (ring): peer 3 is the VM itself");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).peer_count = 2, shm(p, r).peers[1] = 7; }, "shm 0 (ring): peer 7 is named twice");
    const char* spi = "shm 0 (ring): irq ";
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).irq = 33; }, std::string(spi) + "33 is not a free one of the VM's SPIs (32..63");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).irq = 27; }, std::string(spi) + "27 is not a free one of the VM's SPIs");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r).irq = 64; }, std::string(spi) + "64 is not a free one of the VM's SPIs");
    EXPECT_REJECTS([](auto& p, vp::VmRecord& r) { shm(p, r, 1).irq = 40; }, "shm 1 (log): irq 40 is not a free one of the VM's SPIs");
    EXPECT_REJECTS([](auto&, vp::VmRecord& r) { r.interrupt_mode = 0, r.intc_base = r.intc_base2 = 0, r.intc_lines = 0; },
                   "shm 0 (ring): irq 40 is not a free one of the VM's SPIs");
}
