// cxv-vmconfig: compiles per-VM TOML files (axvisor's schema) into the binary VM package of
// src/abi/vm_package.hpp, optionally appended to the hypervisor image. Host tool: exceptions and
// std containers are fine here. Schema, errors and CLI: docs/configuration.md.
#pragma once
#include "abi/vm_package.hpp"
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace vmconfig {

using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

// The ISA of the VMs (and of the image) a package is built for (PackageHeader::isa).
using Isa = vm_package::Isa;
inline const char* isa_name(Isa isa) { return vm_package::isa_name(uint32_t(isa)); } // "aarch64", as --arch takes it
std::optional<Isa> isa_from_name(const std::string& name);
class GuestBoard;
const GuestBoard& board_aarch64(); // board.hpp

// One problem in the inputs, printed as `file:line: key: reason`; parts that are 0 or empty are
// left out (`file: reason`, `file:line:column: reason` for TOML syntax errors).
struct Diag {
    std::string file;
    int64_t line = 0;
    std::string key;
    std::string reason;
    int64_t column = 0;
    bool warning = false; // printed as `file:line: key: warning: reason`; does not stop the build
};
using Diags = std::vector<Diag>;
std::string format(const Diag& d);
std::string hex(uint64_t v);                     // "0x40080000"
std::string range(uint64_t base, uint64_t size); // "[0x40000000, 0x41000000)"

// Where a value was written: the line in its TOML file and its dotted key, e.g.
// `kernel.memory_regions[1]`.
struct Where {
    int64_t line = 0;
    std::string key;
};

struct Region {
    uint64_t gpa = 0, size = 0;
    uint32_t flags = 0, map_type = 0;
    Where at;
};
struct EmuDev {
    std::string name;
    uint64_t base = 0, length = 0;
    uint32_t irq = 0, type = 0;
    std::vector<uint64_t> cfg; // the package's cfg words (virtio types: from [virtio.<name>])
    Where at;
    // virtio-blk with `image`: the disk image, put into the package as a blob whose offset
    // build_package writes into cfg[1] (vm_package.hpp, EmuDevice::cfg).
    Bytes disk{};
    Where params_at{}; // the [virtio.<name>] table, line 0 when there is none
    uint32_t space = 0; // vm_package::DeviceSpace: Port for "ns16550a-port" (boards with a port space)
};
struct PtDev {
    std::string name;
    uint64_t base_gpa = 0, base_hpa = 0, length = 0;
    uint32_t irq = 0;
    Where at;
    // The record's 6th value, dt_node: copy the device's host DT node into the generated guest
    // tree. dt_path is the node's path in the host DTB, or "" for `true` (the one node whose
    // first reg entry lies in [base_hpa, base_hpa + length)).
    bool dt_copy = false;
    std::string dt_path{};
};
// One [[shm]] entry: a shared-memory region and its doorbell (docs/virtio.md, "Shared memory").
struct ShmPeer {
    std::optional<uint32_t> id; // given as a VM id
    std::string name;           // or as a VM name (then id is empty)
    Where at;
};
struct Shm {
    std::string name;
    uint64_t gpa = 0, size = 0;
    uint32_t irq = 0; // the SPI this VM is rung on through this region; 0: none
    std::vector<ShmPeer> peers;
    Where at, irq_at, peers_at;
};
// A device tree node for the generated guest tree, built from a host node (ptdt.cpp); emitted as
// it is by generate_dtb.
struct DtNode {
    std::string name;
    std::vector<std::pair<std::string, Bytes>> props;
    std::vector<DtNode> children;
};
// The generated guest tree's phandles: the PL011s' clock, the vGIC (riscv64: the PLIC), and from
// FIRST_FREE_PHANDLE on the harts' interrupt controllers (riscv64, board_riscv64.cpp), then the
// fixed clocks copied from the host for passthrough devices (ptdt.cpp, from the board's
// first_free_phandle).
namespace guest_dt {
constexpr uint32_t APB_PCLK_PHANDLE = 1, GIC_PHANDLE = 2, FIRST_FREE_PHANDLE = 3;
constexpr uint32_t APB_PCLK_HZ = 24'000'000; // the PL011s' /apb-pclk, as QEMU virt's
} // namespace guest_dt
// A kernel, ramdisk or DTB image placed in guest memory.
struct Image {
    bool present = false;
    uint64_t load_addr = 0;
    uint64_t footprint = 0; // bytes of guest memory it occupies (>= data.size() for a Linux Image)
    Bytes data;
    Where at; // the *_load_addr key (or the *_path key when no address was parsed)
};

// One VM as read from one file. Fields that failed validation keep their defaults; the file's
// errors are in the Diags, so a VmConfig is only packaged when no file had any error.
struct VmConfig {
    std::string file; // as given on the command line
    const GuestBoard* board = &board_aarch64(); // the ISA's guest board (--arch)
    std::optional<uint32_t> id;
    std::string name;
    Where id_at, name_at, base_at;
    uint32_t cpu_num = 1;
    bool autostart = true; // [base] autostart: false = created at boot, started from the shell
    std::vector<uint32_t> phys_cpu_ids; // cpu_num entries, vm_package::ANY_CPU when not pinned
    uint64_t entry_point = 0;
    Image kernel, ramdisk, dtb;
    bool dtb_generated = false;
    std::string cmdline;
    uint32_t interrupt_mode = 1; // vm_package::InterruptMode::Emulated
    Where interrupt_mode_at;
    // The emulated interrupt controller's windows and shared-line count (used only with
    // interrupt_mode Emulated; board.hpp, intc_keys). aarch64: GICD, GICR, SPIs; riscv64: the
    // PLIC, unused, PLIC sources. Defaults: the board's (QEMU virt's layout; load_vm sets them,
    // the initialisers are aarch64's); intc_lines 0 until check_layout() derives it from the
    // devices' irqs.
    uint64_t intc_base = 0x0800'0000, intc_base2 = 0x080A'0000;
    uint32_t intc_lines = 0;
    Where intc_base_at, intc_base2_at, intc_lines_at; // line 0 when the key was not given
    bool linux_image = false; // the kernel has the ISA's Linux Image header (board.hpp, linux_header)
    std::vector<Region> regions;
    std::vector<EmuDev> emu_devices;
    std::vector<PtDev> pt_devices;
    std::vector<Shm> shm; // [[shm]], in file order (the index HC_DOORBELL takes)
    // Host nodes copied for passthrough devices with dt_node, and the fixed clocks they name, in
    // the order they go into the generated tree's root.
    std::vector<DtNode> dt_copies;
};

struct Options {
    Isa isa = Isa::Aarch64; // --arch
    uint32_t cpus = 4;
    std::optional<fs::path> host_dtb; // --host-dtb: the target's DTB (else the built-in QEMU virt)
    bool host_check = true;           // --no-host-check clears it (tests of the image's own checks)
    std::vector<fs::path> search_paths;
    std::optional<fs::path> image;
    fs::path output;
    std::vector<fs::path> inputs;
};

// The contents of a regular file, or nothing if it cannot be read.
std::optional<Bytes> read_file(const fs::path& p);
struct HostDescription;
class GuestBoard;
// Reads and validates one TOML file: schema, ranges, overlaps, images (loaded from disk) and the
// generated DTB, with the host nodes its passthrough devices ask for copied from `host` (null:
// --no-host-check). Returns nothing only if the file cannot be read or is not TOML.
std::optional<VmConfig> load_vm(const fs::path& file, const Options& opts, Diags& diags,
                                const HostDescription* host = nullptr);
// Checks between files: VM count, unique ids and names, host ranges of identical/reserved regions,
// shared-memory regions (sizes, at least two VMs per name, peers; check_shm_across).
void check_across(const std::vector<VmConfig>& vms, Diags& diags);
// The VM a [[shm]] peer names (by id or name), or null.
const VmConfig* find_peer(const std::vector<VmConfig>& vms, const ShmPeer& p);
// A host-physical range no VM may be given, as the image lists it (read_platform's owned[]).
struct HostOwned {
    uint64_t base = 0, size = 0;
    bool ram = false; // identical regions must lie in RAM; everything else must stay out of it
    std::string node, why;
};
// The target machine's host-owned ranges. `source` says where they came from, for messages.
struct HostDescription {
    const GuestBoard* board = nullptr; // the ISA whose platform reader read it
    std::string source;
    std::vector<HostOwned> owned;
    // Firmware-reserved RAM (/memreserve/, /reserved-memory): cxvisor's allocator never has it, so
    // an identical region there is refused at boot ("not host RAM that cxvisor manages").
    std::vector<std::pair<uint64_t, uint64_t>> reserved;
    bool incomplete = false; // the image would refuse every passthrough device and reserved region
    bool builtin = false;    // QEMU virt of the board's ISA, built in: no --host-dtb was given
    Bytes dtb;               // the host DTB itself (device nodes, their interrupts and clocks)
    uint32_t console_intid = 0; // the interrupt of cxvisor's console UART: the host keeps it
    std::string console_node;
};
// Runs the image's own platform reader of `board`'s ISA on a host DTB; reports under `name` why
// it cannot.
std::optional<HostDescription> read_host(const GuestBoard& board, const Bytes& dtb, const std::string& name,
                                         Diags& diags);
// QEMU virt of the board's ISA (7.2; aarch64 `-M virt,virtualization=on,gic-version=3`, riscv64
// `-M virt` under OpenSBI; any -m and -smp): its DTB is built into the tool (qemu-virt.dts,
// qemu-virt-riscv64.dts), with the memory node widened to the whole RAM window.
HostDescription builtin_host(const GuestBoard& board);
// Refuses passthrough devices, reserved regions (all owned ranges) and identical regions (owned
// ranges other than RAM) that overlap what the host owns, with the reason the image would give.
// Also checks passthrough irqs against the host DTB (check_pt_irqs).
void check_host(const std::vector<VmConfig>& vms, const HostDescription& host, Diags& diags);
// Copies the host nodes the VM's passthrough devices ask for (dt_node) into vm.dt_copies, with
// reg, interrupts and clocks rewritten for the guest; refuses what cannot be (ptdt.cpp).
void copy_dt_nodes(VmConfig& vm, const HostDescription* host, Diags& diags);
// A passthrough device's irq must be the line (SPI, PLIC source) the host DTB gives its node, and not the host
// console's: errors with --host-dtb, warnings against the built-in QEMU virt (ptdt.cpp).
void check_pt_irqs(const VmConfig& vm, const HostDescription& host, Diags& diags);
// The guest DTB of a VM that asked for one (dtb_load_addr without dtb_path).
Bytes generate_dtb(const VmConfig& vm);
// Lays out the package. Deterministic: same VMs, same bytes. Expects validated VMs. `base`: the
// package's offset in the boot image (package_offset), 0 for a package on its own; blobs of 2 MiB
// or more start 2 MiB-aligned from the image start.
Bytes build_package(const std::vector<VmConfig>& vms, uint64_t base = 0);
// The ISA whose cxvisor image header `image` has (arm64 or RISC-V Image magic), if any.
std::optional<Isa> image_isa(const Bytes& image);
// Checks the header of a cxvisor image for `isa`; reports problems under `name`.
bool check_image(const Bytes& image, Isa isa, const std::string& name, Diags& diags);
// Where compose_image puts the package: the image's memory footprint (BSS included), page-aligned.
uint64_t package_offset(const Bytes& image, Isa isa);
// Image (checked) + zero padding up to package_offset + package (built with that base), header
// patched.
Bytes compose_image(const Bytes& image, Isa isa, const Bytes& package);
// The whole tool: returns the exit status (0 ok, 1 config error, 2 usage error).
int run(const std::vector<std::string>& args, std::ostream& err);

} // namespace vmconfig
