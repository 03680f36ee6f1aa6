// Opening the VM package the boot image carries (format: abi/vm_package.hpp). The image does not
// trust it: every size and offset of the header is checked before anything is read through it;
// the per-VM records are checked by Vm::create.
#pragma once
#include "abi/vm_package.hpp"
#include "base/result.hpp"

// `bytes` bytes are readable at `package`. Errors: BadFormat (wrong magic, version or record size,
// offsets or counts outside the package), with *why set to a short reason for the boot log.
Result<const vm_package::PackageHeader*> package_open(const void* package, u64 bytes, const char** why);
