// The VM package: the compiled form of the per-VM TOML files. Written by the host tool
// `cxv-vmconfig` (tools/vmconfig), read by the image (vmm/). The image never parses TOML.
//
// Layout (all integers little-endian, all offsets from the start of the package):
//   PackageHeader
//   VmRecord[vm_count]
//   then per VM, at the offsets its record names: MemRegion[], EmuDevice[], PassthroughDevice[],
//   ShmRegion[]
//   string table (NUL-terminated strings, referenced by offset)
//   blobs (kernel, ramdisk, dtb images), each starting at a 4 KiB-aligned offset, and in a boot
//   image from 2 MiB of size on 2 MiB-aligned from the start of the boot image (the image maps
//   them into a VM copy-on-write instead of copying them); smaller blobs may sit in the alignment
//   gap before a big one, so offsets need not increase. VMs with identical images may share one
//   blob.
// Where the package is:
//   In the boot image: placed by `cxv-vmconfig --image` at the next 4 KiB after the hypervisor
//   image's footprint; the image header field `package_offset` (arch boot code) says where.
//   On a boot medium (a package written alone, QEMU: `-fw_cfg name=opt/cxvisor/package,file=...`,
//   vmm/boot_medium.hpp): the image reads its first `resident_size` bytes into RAM at boot
//   and every kernel or ramdisk blob past them into a VM's own RAM at the VM's first touch of
//   each block, again after each restart. A package written alone therefore puts its kernel and
//   ramdisk blobs last, after everything else.
//
// The image validates everything it reads again (magic, version, sizes, offsets inside the package):
// a corrupt package is rejected with a message, never trusted.
#pragma once
#include <stdint.h>

namespace vm_package {

inline constexpr uint32_t MAGIC = 0x50565843; // "CXVP"
inline constexpr uint32_t VERSION = 5; // 2: VmRecord gained the vGIC layout (gicd_base..spi_count)
                                       // 3: VmRecord gained the shared-memory regions (shm_count, shm)
                                       // 4: PackageHeader names its ISA; the vGIC layout became
                                       //    the interrupt-controller layout (intc_base..intc_lines)
                                       // 5: PackageHeader.resident_size (a package on a boot medium)

// The ISA a package is built for: its device trees, image headers, interrupt numbers and
// controller layout are that ISA's guest board's, so an image refuses a package for another.
enum class Isa : uint32_t { Aarch64 = 1, Riscv64 = 2, X86_64 = 3, Loongarch64 = 4 };
constexpr const char* isa_name(uint32_t isa) {
    switch (Isa(isa)) {
    case Isa::Aarch64: return "aarch64";
    case Isa::Riscv64: return "riscv64";
    case Isa::X86_64: return "x86_64";
    case Isa::Loongarch64: return "loongarch64";
    }
    return "an unknown ISA";
}

// cxvisor's limits, one definition for the image (its tables are sized by them) and cxv-vmconfig
// (which rejects a config beyond them, naming the limit). Raising one is a rebuild of both.
inline constexpr uint32_t MAX_CPUS = 16;  // physical CPUs cxvisor runs on; it leaves any others off
inline constexpr uint32_t MAX_VMS = 16;   // VMs in one package
inline constexpr uint32_t MAX_VCPUS = 16; // vCPUs per VM
inline constexpr uint32_t MAX_REGIONS = 16; // memory regions per VM
inline constexpr uint32_t MAX_EMU_DEVICES = 16;
inline constexpr uint32_t MAX_PT_DEVICES = 16;
inline constexpr uint32_t MAX_NAME = 32; // including NUL
inline constexpr uint32_t MAX_SHM = 8;        // shared-memory regions per VM ([[shm]] entries)
inline constexpr uint32_t MAX_SHM_PEERS = 15; // VMs one VM may ring through one region (all others)
inline constexpr uint64_t MAX_SHM_SIZE = 256ull << 20; // bytes of one region (host RAM, allocated at boot)

struct PackageHeader {
    uint32_t magic;        // MAGIC
    uint32_t version;      // VERSION
    uint64_t total_size;   // bytes of the whole package, header to last blob
    uint32_t vm_count;
    uint32_t vm_record_size; // sizeof(VmRecord), a cheap layout check
    uint64_t vm_records;     // offset of VmRecord[vm_count]
    uint32_t isa;            // Isa (version 4)
    uint32_t reserved;
    // Version 5. Everything the image reads in place lies below this offset (a multiple of 4 KiB,
    // at most total_size): the header, records, arrays, strings, dtb blobs and RAM-disk images.
    // Only kernel and ramdisk blobs may lie wholly or partly beyond it: a VM's RAM gets those by
    // copy, so they may stay on a boot medium (top of this file).
    uint64_t resident_size;
};

// A blob (image file contents) inside the package. size == 0: absent.
struct Blob {
    uint64_t offset;
    uint64_t size;
};

enum class MapType : uint32_t { Alloc = 0, Identical = 1, Reserved = 2 };

struct MemRegion {
    uint64_t gpa;
    uint64_t size;
    uint32_t flags;    // R=1 W=2 X=4 DEVICE=8, as axvisor
    uint32_t map_type; // MapType
};

// Emulated device types. Numbers are cxvisor's own (documented in docs/configuration.md); the TOML
// may give the name ("pl011") or the number.
enum class EmuType : uint32_t {
    Pl011 = 1,
    VirtioBlk = 2,     // virtio-mmio transport (virtio v1.2, 4.2) + block device (5.2)
    VirtioNet = 3,     // virtio-mmio + network device (5.1) on cxvisor's virtual switch
    VirtioConsole = 4, // virtio-mmio + console device (5.3), one port
    Ns16550a = 5,      // a 16550A UART ("ns16550a": the console of QEMU's riscv64 and x86 boards)
};
// The types behind a virtio-mmio transport (a 4 KiB register window and a virtio_mmio DT node).
constexpr bool is_virtio(uint32_t type) {
    return type >= uint32_t(EmuType::VirtioBlk) && type <= uint32_t(EmuType::VirtioConsole);
}

// EmuDevice::cfg of each virtio type (the TOML's [virtio.<device name>] table; the tool fills it,
// the image checks it again). Unlisted entries are 0.
//   VirtioBlk: cfg[0] = BlkBacking; cfg[1] = RamImage: package offset of the disk image blob,
//              HostRegion: byte offset in the host's virtio-blk disk; cfg[2] = size in bytes (a
//              multiple of 512); cfg[3] = BLK_FLAG_*.
//   VirtioNet: cfg[0] = MAC address, its first byte in bits 47..40; cfg[1] = network (virtual
//              switch) number, below MAX_NETWORKS.
//   VirtioConsole: no entries.
enum class BlkBacking : uint64_t { RamImage = 1, HostRegion = 2 };
inline constexpr uint64_t BLK_FLAG_READ_ONLY = 1u << 0;
inline constexpr uint32_t MAX_NETWORKS = 16;

// The address space an emulated device's window is in. Memory: guest-physical (MMIO). Port: the
// x86 I/O port space (0..0xFFFF), which IN/OUT reach (AMD64 APM vol. 1, 14.2 "I/O Addresses"),
// separate from memory: a port window may share numbers with RAM. 0 in packages written before
// the field existed (it was reserved), so older packages keep their meaning.
enum class DeviceSpace : uint32_t { Memory = 0, Port = 1 };
inline constexpr uint64_t PORT_SPACE_SIZE = 0x1'0000;

struct EmuDevice {
    char name[MAX_NAME];
    uint64_t base_gpa;  // the window's first address (Port: the first port)
    uint64_t length;
    uint32_t irq;       // guest interrupt id, 0 = none
    uint32_t type;      // EmuType
    uint32_t cfg_count; // entries used in cfg
    uint32_t space;     // DeviceSpace
    uint64_t cfg[8];
};

// cfg[k] as the device's type reads it: 0 past cfg_count (an absent word means its default).
inline uint64_t cfg_word(const EmuDevice& d, uint32_t k) { return k < d.cfg_count && k < 8 ? d.cfg[k] : 0; }

struct PassthroughDevice {
    char name[MAX_NAME];
    uint64_t base_gpa;
    uint64_t base_hpa;
    uint64_t length;
    uint32_t irq; // host interrupt to forward, 0 = none
    uint32_t reserved;
};

enum class InterruptMode : uint32_t { NoIrq = 0, Emulated = 1, Passthrough = 2 };

struct VmRecord {
    uint32_t id;
    uint32_t cpu_num;
    char name[MAX_NAME];
    // Physical CPU index (0-based, order of the host DTB cpu nodes) for each vCPU;
    // 0xFFFFFFFF: free to run on any physical CPU.
    uint32_t phys_cpu_ids[MAX_VCPUS];
    uint64_t entry_point;      // GPA where vCPU 0 starts
    uint64_t kernel_load_addr; // GPA
    uint64_t ramdisk_load_addr; // 0 when ramdisk.size == 0
    uint64_t dtb_load_addr;     // 0 when dtb.size == 0
    Blob kernel;
    Blob ramdisk; // size 0: none
    Blob dtb;     // size 0: none. The dtb_path file, or a DTB the tool generates when the config
                  // gives dtb_load_addr without dtb_path (docs/configuration.md)
    uint64_t cmdline; // package offset of a NUL-terminated string (in the string table), 0 = none
    uint32_t interrupt_mode; // InterruptMode
    uint32_t region_count;
    uint64_t regions; // offset of MemRegion[region_count]; 0 when a count is 0, here and below
    uint32_t emu_count;
    uint32_t pt_count;
    uint64_t emu_devices; // offset of EmuDevice[emu_count]
    uint64_t pt_devices;  // offset of PassthroughDevice[pt_count]
    // Version 2 (renamed in 4). The emulated interrupt controller (interrupt_mode Emulated; all 0
    // otherwise), laid out as the ISA's controller model says (vintc/layout.hpp): its first
    // register window's GPA (aarch64: the GICv3 distributor), its second's (aarch64: the first
    // redistributor, GICR_STRIDE bytes per vCPU; 0 for a controller with one window), and the
    // shared (device) lines it implements (aarch64: SPIs, a multiple of 32, INTIDs 32 ..
    // 32 + intc_lines - 1; riscv64: PLIC sources 1 .. intc_lines). The tool checks that the
    // windows lie outside the VM's memory regions and devices and that every device irq is one of
    // the lines; the image checks it again.
    uint64_t intc_base;
    uint64_t intc_base2;
    uint32_t intc_lines;
    uint32_t flags; // VM_FLAG_*; 0 in packages written before the field existed (= the defaults)
    // Version 3. The VM's shared-memory regions (its config's [[shm]] entries, in file order: the
    // index HC_DOORBELL takes). The tool checks them across VMs (same name, same size; each
    // region declared by at least two VMs; peers exist and declare the region); the image checks
    // each record alone again and the sizes when it backs a name (vmm/shm.cpp).
    uint32_t shm_count;
    uint32_t reserved0;
    uint64_t shm; // offset of ShmRegion[shm_count]
};

// One [[shm]] entry of a VM. Every VM that declares the same name maps the same host RAM (one
// contiguous allocation per name, kept for cxvisor's life) at its own gpa, normal memory, RW.
struct ShmRegion {
    char name[MAX_NAME]; // shared between VMs by this name
    uint64_t gpa;        // where this VM sees it, 4 KiB aligned, outside its regions and devices
    uint64_t size;       // bytes, a multiple of 4 KiB, at most MAX_SHM_SIZE; equal in every VM
    uint32_t irq;        // the SPI this VM receives a doorbell on for this region; 0: cannot be rung
    uint32_t peer_count; // entries used in peers
    uint32_t peers[MAX_SHM_PEERS]; // VM ids this VM may ring (HC_DOORBELL) through this region
    uint32_t reserved;
};

// VmRecord::flags. Each bit's 0 is the default, so older packages keep their meaning.
inline constexpr uint32_t VM_FLAG_NO_AUTOSTART = 1u << 0; // [base] autostart = false
inline constexpr uint32_t VM_FLAGS_KNOWN = VM_FLAG_NO_AUTOSTART;

inline constexpr uint64_t GICD_SIZE = 0x1'0000;   // 64 KiB: one distributor frame (IHI 0069H, 12.1)
inline constexpr uint64_t GICR_STRIDE = 0x2'0000; // 128 KiB: RD_base + SGI_base frames, no VLPI frames
inline constexpr uint32_t MAX_SPIS = 988;         // INTIDs 32..1019 (1020..1023 are special)

inline constexpr uint32_t ANY_CPU = 0xFFFFFFFF;

} // namespace vm_package
