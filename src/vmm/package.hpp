// Opening the VM package the boot image carries (format: abi/vm_package.hpp). The image does not
// trust the tool that wrote it: before anything is read through the package, package_open checks
// the header and package_check_vm checks one VM record and everything it points at. What these two
// accept is all that Vm::create, Vm::boot and create_vms rely on; the checks that depend on the
// machine (how many CPUs it has, which host ranges cxvisor owns, free RAM) stay with Vm::create.
//
// Pure and freestanding: no allocation, no console, no global state. Host unit tests and the
// libFuzzer target (tests/fuzz/) run exactly this code.
#pragma once
#include "abi/vm_package.hpp"
#include "base/result.hpp"

// `bytes` bytes are readable at `package`, which must be built for `isa` (the image's own,
// arch::PACKAGE_ISA). Errors: BadFormat (wrong magic, version, ISA or record size,
// offsets or counts outside the package), with *why set to a short reason for the boot log. A bad
// header rejects the whole package.
Result<const vm_package::PackageHeader*> package_open(const void* package, u64 bytes, vm_package::Isa isa,
                                                      const char** why);

// Room for any message package_check_vm writes (VM id, name, field and two addresses).
inline constexpr usize PACKAGE_WHY_SIZE = 192;

// Checks VM record `index` (< h.vm_count) of a package package_open accepted; `h` is the start of
// the package. Every rule of vm_package.hpp that the image relies on is checked here, once:
// counts and offsets inside the package, names and the command line NUL-terminated, known enum
// values, regions and devices aligned, non-empty, not wrapping and not overlapping, images inside
// one RAM region, the entry point inside an executable one, vCPU placements below `max_cpus` (the
// most physical CPUs cxvisor supports), the VM id not used by an earlier record.
// Returns the record. Errors: BadFormat, with `why` (at least PACKAGE_WHY_SIZE bytes are best)
// set to "vm <id> (<name>): <field>: <reason>". A bad record stops only that VM.
Result<const vm_package::VmRecord*> package_check_vm(const vm_package::PackageHeader& h, u32 index, u32 max_cpus,
                                                     char* why, usize why_size);
