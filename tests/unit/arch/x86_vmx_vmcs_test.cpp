// VMCS field encodings and region handling (src/arch/x86_64/vmx/vmcs.hpp) against the SDM vol. 3C
// (Order Number 326019-067): 24.11.2 for the structure of an encoding, appendix B for
// the values, 24.2 and 24.11.5 for the regions. The table's own consistency is checked at compile
// time in vmcs.hpp; here the values a backend depends on are compared with the appendix, and the
// checks are shown to reject what they must.
#include "arch/x86_64/vmx/vmcs.hpp"
#include <cstring>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

using namespace arch::vmx;

TEST(VmcsFields, EncodingsMatchAppendixB) {
    // Table B-1 .. B-14 (and the list in ../shared/x86-svm-notes.md section 8).
    EXPECT_EQ(encoding(VmcsField::VPID), 0x0000u);
    EXPECT_EQ(encoding(VmcsField::GUEST_CS_SELECTOR), 0x0802u);
    EXPECT_EQ(encoding(VmcsField::HOST_TR_SELECTOR), 0x0C0Cu);
    EXPECT_EQ(encoding(VmcsField::IO_BITMAP_A), 0x2000u);
    EXPECT_EQ(encoding(VmcsField::MSR_BITMAP), 0x2004u);
    EXPECT_EQ(encoding(VmcsField::EPT_POINTER), 0x201Au);
    EXPECT_EQ(encoding(VmcsField::GUEST_PHYSICAL_ADDRESS), 0x2400u);
    EXPECT_EQ(encoding(VmcsField::VMCS_LINK_POINTER), 0x2800u);
    EXPECT_EQ(encoding(VmcsField::GUEST_IA32_EFER), 0x2806u);
    EXPECT_EQ(encoding(VmcsField::HOST_IA32_EFER), 0x2C02u);
    EXPECT_EQ(encoding(VmcsField::PIN_BASED_CONTROLS), 0x4000u);
    EXPECT_EQ(encoding(VmcsField::ENTRY_INTERRUPTION_INFO), 0x4016u);
    EXPECT_EQ(encoding(VmcsField::SECONDARY_PROC_BASED_CONTROLS), 0x401Eu);
    EXPECT_EQ(encoding(VmcsField::VM_INSTRUCTION_ERROR), 0x4400u);
    EXPECT_EQ(encoding(VmcsField::EXIT_REASON), 0x4402u);
    EXPECT_EQ(encoding(VmcsField::IDT_VECTORING_INFO), 0x4408u);
    EXPECT_EQ(encoding(VmcsField::EXIT_INSTRUCTION_LENGTH), 0x440Cu);
    EXPECT_EQ(encoding(VmcsField::GUEST_INTERRUPTIBILITY_STATE), 0x4824u);
    EXPECT_EQ(encoding(VmcsField::HOST_IA32_SYSENTER_CS), 0x4C00u);
    EXPECT_EQ(encoding(VmcsField::CR0_READ_SHADOW), 0x6004u);
    EXPECT_EQ(encoding(VmcsField::EXIT_QUALIFICATION), 0x6400u);
    EXPECT_EQ(encoding(VmcsField::GUEST_LINEAR_ADDRESS), 0x640Au);
    EXPECT_EQ(encoding(VmcsField::GUEST_CR3), 0x6802u);
    EXPECT_EQ(encoding(VmcsField::GUEST_RIP), 0x681Eu);
    EXPECT_EQ(encoding(VmcsField::GUEST_RFLAGS), 0x6820u);
    EXPECT_EQ(encoding(VmcsField::HOST_RSP), 0x6C14u);
    EXPECT_EQ(encoding(VmcsField::HOST_RIP), 0x6C16u);
}

TEST(VmcsFields, EncodingStructure) {
    // GUEST_RIP 0x681E = 0b110_10_0000_1111_0: natural width, guest state, index 15, full access.
    EXPECT_EQ(encoding_width(0x681E), VmcsWidth::Natural);
    EXPECT_EQ(encoding_type(0x681E), VmcsType::Guest);
    EXPECT_EQ(encoding_index(0x681E), 15u);
    EXPECT_FALSE(encoding_high_access(0x681E));
    // EXIT_REASON: 32-bit read-only data, index 1.
    EXPECT_EQ(encoding_width(0x4402), VmcsWidth::Bits32);
    EXPECT_EQ(encoding_type(0x4402), VmcsType::ExitInfo);
    EXPECT_EQ(encoding_index(0x4402), 1u);
    // 64-bit fields have a high encoding (bit 0 set) for 32-bit VMREAD/VMWRITE.
    EXPECT_EQ(high_part<VmcsField::EPT_POINTER>(), 0x201Bu);
    EXPECT_EQ(high_part<VmcsField::GUEST_IA32_PAT>(), 0x2805u);
    EXPECT_EQ(width_bytes(VmcsWidth::Bits16), 2u);
    EXPECT_EQ(width_bytes(VmcsWidth::Natural), 8u);
}

TEST(VmcsFields, TheCheckRejectsWrongEncodings) {
    // What the compile-time check in vmcs.hpp would refuse for a listed field.
    EXPECT_TRUE(encoding_is(0x681E, VmcsWidth::Natural, VmcsType::Guest));
    EXPECT_FALSE(encoding_is(0x681E, VmcsWidth::Bits32, VmcsType::Guest));  // wrong width
    EXPECT_FALSE(encoding_is(0x681E, VmcsWidth::Natural, VmcsType::Host));  // wrong type
    EXPECT_FALSE(encoding_is(0x201B, VmcsWidth::Bits64, VmcsType::Control)); // a high-access encoding
    EXPECT_FALSE(encoding_is(0x781E, VmcsWidth::Natural, VmcsType::Guest));  // reserved bit 12
    EXPECT_FALSE(encoding_is(0x1681E, VmcsWidth::Natural, VmcsType::Guest)); // reserved bits 31:15
}

TEST(VmcsFields, TableIsConsistentAndSearchable) {
    std::set<u32> seen;
    for (const VmcsFieldInfo& f : VMCS_FIELDS) {
        EXPECT_TRUE(seen.insert(encoding(f.field)).second) << f.name;
        EXPECT_EQ(encoding_width(encoding(f.field)), f.width) << f.name;
        EXPECT_EQ(encoding_type(encoding(f.field)), f.type) << f.name;
        EXPECT_EQ(encoding(f.field) & 1, 0u) << f.name;
    }
    ASSERT_NE(vmcs_field_info(0x681E), nullptr);
    EXPECT_STREQ(vmcs_field_info(0x681E)->name, "GUEST_RIP");
    EXPECT_STREQ(vmcs_field_info(0x4402)->name, "EXIT_REASON");
    EXPECT_EQ(vmcs_field_info(0x681F), nullptr); // not a listed encoding
}

TEST(VmcsRegion, HeaderAndZeroedBody) {
    // IA32_VMX_BASIC of an Intel Core i7-5600U (VirtualBox CPU database): revision 0x12, 1024 bytes.
    const VmxBasic basic = decode_basic(0x00DA'0400'0000'0012ull);
    std::vector<u8> page(4096, 0xAA);
    const char* what = "";
    ASSERT_TRUE(prepare_region(page.data(), page.size(), 0x7654'3000, basic, &what).is_ok()) << what;
    u32 header;
    std::memcpy(&header, page.data(), 4);
    EXPECT_EQ(header, 0x12u);                   // revision, shadow indicator clear
    for (usize i = 4; i < 1024; ++i) ASSERT_EQ(page[i], 0) << i; // abort indicator and data zeroed
    EXPECT_EQ(page[1024], 0xAA);                // nothing past the region size touched
    EXPECT_EQ(region_header(0x12, true), 0x8000'0012u);
    EXPECT_EQ(region_header(0xFFFF'FFFF, false), 0x7FFF'FFFFu); // bit 31 is never the revision's
}

TEST(VmcsRegion, RulesOfTheCpuAreEnforced) {
    VmxBasic basic = decode_basic(0x00DA'0400'0000'0012ull);
    std::vector<u8> page(4096);
    const char* what = "";
    // Not 4 KiB aligned.
    EXPECT_EQ(prepare_region(page.data(), page.size(), 0x7654'3800, basic, &what).error(), Error::InvalidArgument);
    // Less room than the CPU's region size.
    EXPECT_EQ(prepare_region(page.data(), 512, 0x7654'3000, basic, &what).error(), Error::InvalidArgument);
    // Bit 48 (hand-set): regions must lie below 4 GiB.
    basic.phys_32bit = true;
    EXPECT_EQ(prepare_region(page.data(), page.size(), 0x1'0000'0000, basic, &what).error(), Error::InvalidArgument);
    EXPECT_NE(std::string(what).find("4 GiB"), std::string::npos);
    EXPECT_TRUE(prepare_region(page.data(), page.size(), 0xFFFF'F000, basic, &what).is_ok());
    // A VMCS memory type other than write-back (hand-set UC) is refused.
    basic.memory_type = 0;
    EXPECT_EQ(prepare_region(page.data(), page.size(), 0x7654'3000, basic, &what).error(), Error::Unsupported);
    EXPECT_NE(std::string(what).find("write-back"), std::string::npos);
}
