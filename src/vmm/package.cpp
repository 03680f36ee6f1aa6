#include "vmm/package.hpp"

using namespace vm_package;

Result<const PackageHeader*> package_open(const void* package, u64 bytes, const char** why) {
    auto fail = [&](const char* reason) -> Result<const PackageHeader*> {
        *why = reason;
        return Error::BadFormat;
    };
    if (bytes < sizeof(PackageHeader)) return fail("shorter than its header");
    auto* h = static_cast<const PackageHeader*>(package);
    if (h->magic != MAGIC) return fail("bad magic");
    if (h->version != VERSION || h->vm_record_size != sizeof(VmRecord))
        return fail("made for another version of cxvisor (rebuild it with cxv-vmconfig)");
    if (h->total_size < sizeof(PackageHeader) || h->total_size > bytes) return fail("size larger than the image");
    if (h->vm_count > MAX_VMS) return fail("too many VMs");
    if (h->vm_records > h->total_size || u64(h->vm_count) * sizeof(VmRecord) > h->total_size - h->vm_records)
        return fail("VM records outside the package");
    return h;
}
