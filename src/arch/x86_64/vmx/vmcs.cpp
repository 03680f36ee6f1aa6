#include "vmcs.hpp"
#include "base/string.hpp"
// The start state and its checks are header-only (templates over VMWRITE/VMREAD); included here so
// the image build compiles them freestanding, as the host tests compile them hosted.
#include "guest_check.hpp"

namespace arch::vmx {

static_assert(sipi_start(0x9A).cs.selector == 0x9A00 && sipi_start(0x9A).cs.base == 0x9'A000);

Result<void> prepare_region(void* region, usize room, u64 pa, const VmxBasic& basic, const char** what) {
    if (basic.region_size == 0 || basic.region_size > 4 * KiB) {
        *what = "IA32_VMX_BASIC gives a VMCS region size outside 1..4096 bytes (A.1 bits 44:32)";
        return Error::Unsupported;
    }
    if (basic.memory_type != MEMORY_TYPE_WB) {
        *what = "the CPU accesses VMCS regions with a memory type other than write-back (IA32_VMX_BASIC bits 53:50)";
        return Error::Unsupported;
    }
    if (!is_aligned(pa, 4 * KiB) || room < basic.region_size) {
        *what = "a VMXON/VMCS region must be 4 KiB aligned and hold IA32_VMX_BASIC's region size";
        return Error::InvalidArgument;
    }
    if (basic.phys_32bit && pa + basic.region_size > 4 * GiB) {
        *what = "this CPU takes VMXON/VMCS regions below 4 GiB only (IA32_VMX_BASIC bit 48)";
        return Error::InvalidArgument;
    }
    memset(region, 0, basic.region_size);
    const u32 header = region_header(basic.revision, false);
    memcpy(region, &header, sizeof header);
    return {};
}

} // namespace arch::vmx
