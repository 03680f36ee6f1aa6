// The image's package check: a package cxv-vmconfig built opens; every corruption of its header
// is rejected with a reason, never read through.
#include "vmconfig.hpp"
#include "vmm/package.hpp"
#include <cstring>
#include <gtest/gtest.h>

namespace vp = vm_package;

namespace {

vmconfig::Bytes good_package() {
    vmconfig::VmConfig cfg;
    cfg.id = 1;
    cfg.name = "p";
    cfg.cpu_num = 1;
    cfg.phys_cpu_ids = {vp::ANY_CPU};
    cfg.entry_point = 0x4008'0000;
    cfg.kernel.present = true;
    cfg.kernel.load_addr = 0x4008'0000;
    cfg.kernel.data = vmconfig::Bytes(4096, 0xAA);
    cfg.regions = {{0x4000'0000, 0x100'0000, 7, u32(vp::MapType::Alloc), {}}};
    return vmconfig::build_package({cfg});
}

template <typename F> std::string rejects(F corrupt, u64 bytes_delta = 0) {
    vmconfig::Bytes pkg = good_package();
    vp::PackageHeader h;
    memcpy(&h, pkg.data(), sizeof h);
    corrupt(h);
    memcpy(pkg.data(), &h, sizeof h);
    const char* why = nullptr;
    auto r = package_open(pkg.data(), pkg.size() - bytes_delta, &why);
    EXPECT_TRUE(r.is_error());
    return r.is_error() && why ? why : "";
}

} // namespace

TEST(Package, ABuiltPackageOpens) {
    vmconfig::Bytes pkg = good_package();
    const char* why = nullptr;
    auto r = package_open(pkg.data(), pkg.size(), &why);
    ASSERT_TRUE(r.is_ok()) << why;
    EXPECT_EQ(r.value()->vm_count, 1u);
}

TEST(Package, CorruptHeadersAreRejectedWithAReason) {
    EXPECT_EQ(rejects([](vp::PackageHeader& h) { h.magic ^= 1; }), "bad magic");
    EXPECT_NE(rejects([](vp::PackageHeader& h) { h.version += 1; }).find("another version"), std::string::npos);
    EXPECT_NE(rejects([](vp::PackageHeader& h) { h.vm_record_size -= 8; }).find("another version"), std::string::npos);
    EXPECT_EQ(rejects([](vp::PackageHeader& h) { h.total_size += 1; }), "size larger than the image");
    EXPECT_EQ(rejects([](vp::PackageHeader&) {}, 1), "size larger than the image"); // truncated image
    EXPECT_EQ(rejects([](vp::PackageHeader& h) { h.vm_count = vp::MAX_VMS + 1; }), "too many VMs");
    EXPECT_EQ(rejects([](vp::PackageHeader& h) { h.vm_records = h.total_size - 8; }), "VM records outside the package");
    EXPECT_EQ(rejects([](vp::PackageHeader& h) { h.vm_records = ~0ull; }), "VM records outside the package");
    const char* why = nullptr;
    u8 tiny[8] = {};
    EXPECT_TRUE(package_open(tiny, sizeof tiny, &why).is_error());
    EXPECT_STREQ(why, "shorter than its header");
}
