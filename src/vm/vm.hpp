// A virtual machine: its stage-2 address space, emulated devices, vCPUs, and the images it boots
// from (after axvm). Level 2 of exit handling lives here: stage-2 faults (RAM on demand, emulated
// MMIO, accesses outside the VM) and trapped system registers.
//
// Locking: the device set and memory regions are fixed before the first vCPU runs. Stage-2 table
// changes and walks at run time (RAM on demand, reading guest memory to decode an instruction,
// reset) hold m_as_lock: several vCPUs of one VM fault on several CPUs at once. Power state
// changes hold m_power_lock and go through the scheduler lock (order: m_as_lock, m_power_lock,
// the scheduler's lock).
//
// Lifecycle (docs/architecture.md, "VM lifecycle"): Created -> start -> Running <-> Paused (pause/resume);
// Running/Paused -> a stop of any kind -> Stopping -> the last vCPU off -> Stopped, or Running
// again after a reset; Stopped -> start -> Running. Every transition may be asked for from any CPU
// while the VM's vCPUs run on others: the call never waits for them; they leave their CPUs at
// their next exit and the last one completes a stop.
#pragma once
#include "abi/vm_package.hpp"
#include "arch_stage2.hpp"
#include "base/static_vec.hpp"
#include "devices/console_port.hpp"
#include "devices/mmio_bus.hpp"
#include "devices/pl011.hpp"
#include "devices/uart16550.hpp"
#include "kernel/frames.hpp"
#include "kernel/spinlock.hpp"
#include "vcpu/vcpu.hpp"
#include "vintc/irq_line.hpp"
#include "vm/guest_ram.hpp"
#include <atomic>
#include <stdarg.h>

namespace virtio { class MmioTransport; }

using GuestAddrSpace = AddrSpace<arch::Stage2Format, KernelFrames, arch::Stage2Tlb>;

// How a life of the VM ends. Operator: the shell's stop (or cxvisor's shutdown).
enum class StopKind : u8 { None, PowerOff, Reset, Crash, Operator };
enum class VmState : u8 { Created, Running, Paused, Stopping, Stopped };
// "created", "running", "paused", "stopping", "stopped".
const char* vm_state_name(VmState s);
// "none", "powered off", "reset", "crashed", "stopped by the operator".
const char* stop_kind_name(StopKind k);

class Vm;
// The VMM's (vmm/vmm.cpp) note that `vm` has stopped for good (not on a reset): called once per
// ended life by Vm::finish_stop, on the CPU that completed the stop, no VM lock held, after the
// VM's end line is out and Stopped is published (another CPU may have seen it down before this).
void vmm_vm_ended(Vm& vm);
// The host RAM behind shared-memory region `s` of `vm` (vmm/shm.cpp): the same for every VM
// declaring its name. Boot CPU, from Vm::create. Errors (said on the console): NoMemory,
// InvalidArgument (another VM gave the name another size).
Result<HostPhysAddr> vmm_shm_backing(const Vm& vm, const vm_package::ShmRegion& s);

// Host-physical ranges no VM may be given, each with what it is and why: the boot log names both
// when it refuses a passthrough device or reserved region. Filled by the boot flow (vmm/main.cpp)
// from the host DTB (RAM, interrupt-controller frames, console, DMA-capable devices) and, as VMs
// are created, from the ranges each one was given.
struct HostOwnedRanges {
    // What the board description may name (the arch's platform reader keeps its list within
    // this), plus every range any VM of a package can claim.
    static constexpr usize PLATFORM_CAPACITY = 128;
    static constexpr usize CAPACITY =
        PLATFORM_CAPACITY + vm_package::MAX_VMS * (vm_package::MAX_PT_DEVICES + vm_package::MAX_REGIONS);
    struct Info {
        const char* owner = "a host range"; // a DTB node name, or a device name of the VM given it
        const char* why = "memory or devices cxvisor owns"; // static text; unused when `vm` is set
        const char* vm = nullptr; // the name of the VM it was given to (at most 31 characters)
    };
    PhysRange ranges[CAPACITY]; // a plain array: PassthroughRegion::validate checks against it
    Info info[CAPACITY];
    usize count = 0;
    // The board described more than could be listed: no host range can be shown safe, so every
    // passthrough device and reserved region is refused.
    bool incomplete = false;

    // Host interrupts no VM may be given: cxvisor's own (its console's) and, as VMs are created,
    // each passthrough interrupt already forwarded to one.
    static constexpr usize IRQ_CAPACITY = 8 + vm_package::MAX_VMS * vm_package::MAX_PT_DEVICES;
    struct IrqOwner {
        u32 intid = 0;
        const char* owner = nullptr; // what has it: "the host console UART", or a VM's device name
        const char* vm = nullptr;    // the VM it was given to (at most 31 characters), or null
    };
    IrqOwner irqs[IRQ_CAPACITY];
    usize irq_count = 0;
};

class Vm final : public IrqSink {
public:
    // Builds a VM from a package record that package_check_vm (vmm/package.hpp) accepted; checks
    // what depends on this machine (CPUs, host-owned ranges, free RAM). Nothing of a VM that fails
    // here stays allocated.
    static Result<Vm*> create(const vm_package::VmRecord& rec, const u8* package, u32 vmid, usize host_cpus,
                              const HostOwnedRanges& host_owned);
    // The package's kernel and ramdisk blobs past its resident part are on `medium` (a package on a
    // boot medium: vmm/boot_medium.hpp); null: the whole package is in RAM. Before any create.
    static void set_package_medium(ImageMedium* medium);

    // Frees the vCPUs, devices, guest RAM, tables and any identity RAM taken for this VM.
    ~Vm();

    const char* name() const { return m_rec.name; }
    u32 id() const { return m_rec.id; }
    u32 vcpu_count() const { return m_rec.cpu_num; }
    Vcpu* vcpu(u64 i) { return i < m_rec.cpu_num ? m_vcpus[i] : nullptr; }
    const Vcpu* vcpu(u64 i) const { return i < m_rec.cpu_num ? m_vcpus[i] : nullptr; }
    u32 resets() const { return m_resets; }
    // The VM's console: its first PL011 or virtio-console in config order, or null.
    ConsolePort* console() { return m_console; }
    // After every exit of one of this VM's vCPUs (vmm_run_vcpu): the characters the exit vector
    // collected for the VM's first PL011 go out (devices/uart_fast.hpp). Any CPU.
    void take_fast_output() {
        if (m_fast_uart) m_fast_uart->take_fast_output();
    }
    // The VM's RAM for devices that copy to and from it (virtio): see vm/guest_ram.hpp.
    virtio::GuestMemory& guest_memory() { return m_ram; }
    // Its virtio-mmio transports, in config order (`vm show`).
    usize virtio_count() const { return m_virtio.size(); }
    virtio::MmioTransport* virtio_transport(usize i) { return i < m_virtio.size() ? m_virtio[i] : nullptr; }
    GuestAddrSpace& addr_space() { return m_as; }

    // --- Lifecycle. Every call below may come from any CPU (the console input handler included:
    // interrupts masked, other CPUs running this VM's vCPUs) and never waits for another CPU. ---

    // Lock-free reads of a consistent value.
    VmState state() const { return m_state.load(std::memory_order_acquire); }
    StopKind last_stop() const { return m_last_stop.load(std::memory_order_acquire); } // None: never ended
    // A life of this VM was ended by containment (StopKind::Crash) since cxvisor booted; kept over
    // restarts. Set before Stopped is published: whoever sees the VM Stopped sees it too.
    bool crashed() const { return m_crashed.load(std::memory_order_acquire); }
    // [base] autostart of its config (default true): create_vms boots it.
    bool autostart() const { return !(m_rec.flags & vm_package::VM_FLAG_NO_AUTOSTART); }
    // Created or Stopped: nothing of it runs.
    bool stopped() const {
        VmState s = state();
        return s == VmState::Created || s == VmState::Stopped;
    }

    // Created/Stopped -> Running, fresh from its images: RAM zeroed on first touch, images
    // reloaded, vGIC, timers and UARTs reset, the virtual counter starting near zero, forwarded
    // interrupts taken again, vCPU 0 at the entry. Errors: Busy in any other state (or while
    // another start is under way); NoMemory or the loader's error if the images cannot be loaded
    // (said on the console; the VM is then Stopped). start() prints "started"; boot() (the boot
    // flow's) does the same silently.
    Result<void> start();
    Result<void> boot();
    // Stops every vCPU: forceful; Reset restarts the VM from its images when the last vCPU is off
    // (finish_stop), the others end its life there: RAM back to the allocator, forwarded
    // interrupts released, one line on the console, vmm_vm_ended. Ignored when the VM is not
    // Running or Paused, or a stop is already under way.
    void request_stop(StopKind kind, const char* why);
    // The operator's stop: request_stop(Operator, why). Busy unless Running or Paused (Stopping
    // included: a stop is under way); the VM is Stopped once its vCPUs have left their CPUs.
    Result<void> stop(const char* why);
    // Running/Paused: a stop that starts the VM again from its images (the Reset path);
    // Created/Stopped: start(). Busy while Stopping.
    Result<void> restart();
    // Running -> Paused: every vCPU leaves its CPU at its next exit (kicked on another CPU) and is
    // not picked until resume; registers, RAM, devices and timers are kept (the counter runs on).
    // Busy in any other state.
    Result<void> pause();
    // Paused -> Running: each vCPU continues as it was; wake-ups during the pause are kept (a WFI
    // whose timer fired meanwhile completes). Busy in any other state.
    Result<void> resume();

    // --- For `vm show` (any CPU) ---
    u64 uptime_ms() const;        // since the current life began; 0 unless Running or Paused
    u64 ram_bytes() const;        // the guest RAM its config gives it (Alloc and Identical regions)
    u64 ram_backed_bytes() const; // host RAM its address space holds now
    // Copies the VM's last Vm::report/report_stop message ("vcpu N pc X: what", no newline) into
    // `out` (NUL-terminated, truncated to n - 1); returns its length, 0 (and "") if none.
    usize last_report(char* out, usize n) const;
    const vm_package::VmRecord& record() const { return m_rec; }
    const u8* package() const { return m_package; }

    // Level 2. Returns true if the exit was handled here, including by stopping the VM (the run
    // loop then sees the vCPU's stop request); false passes it on to level 3.
    bool handle_exit(Vcpu& vcpu, ExitReason& exit);

    // Power accounting: a vCPU turned on / went Off. The last one off completes a pending stop.
    // start_vcpu answers PSCI CPU_ON from one look at the target, taken under m_power_lock:
    // Success (it was Off; now runnable at `entry`), AlreadyOn (not Off, if only on its way there
    // on another CPU), Denied (the VM is stopping), InvalidParameters (no such vCPU).
    PowerResult start_vcpu(u64 index, u64 entry, u64 arg);
    void vcpu_went_off();

    // Reports a guest fault (rate-limited per VM so a faulting loop cannot flood the console).
    void report(Vcpu& vcpu, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
    // Reports why the VM is being stopped: always printed, whatever the rate limit.
    void report_stop(Vcpu& vcpu, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
    // --- Shared memory (docs/virtio.md, "Shared memory") ---
    // The VM's [[shm]] region `index` (the HC_DOORBELL index), or null.
    const vm_package::ShmRegion* shm(u64 index) const {
        return index < m_rec.shm_count ? &reinterpret_cast<const vm_package::ShmRegion*>(m_package + m_rec.shm)[index]
                                       : nullptr;
    }
    // The VM's region of that name, or null.
    const vm_package::ShmRegion* shm_named(const char* name) const;

    // Reads guest-physical memory under the address-space lock (instruction decode).
    Result<void> read_guest(GuestPhysAddr gpa, void* out, usize size);

    // --- Virtual interrupts (docs/architecture.md, "Interrupt path") ---
    // The VM's controller model, or null with interrupt_mode "no_irq".
    VirtIntc* vintc() { return m_vgic; }
    // The request mechanism: each vCPU in `vcpus` notices its new interrupts soon. A Running one
    // on another CPU is made to exit (SGI), a Blocked one (WFI) is woken; the vCPU loaded on this
    // CPU needs nothing: its next entry presents them. Any CPU, no locks held but the caller's
    // device lock.
    void kick(vgic::VcpuSet vcpus) {
        if (!vcpus.empty()) kick_some(vcpus); // the common case, around every entry: nothing to do
    }
    // IrqSink: emulated devices' lines (SPIs; the vCPU argument of private ones is 0).
    void set_line(u32 intid, bool level) override;
    void raise(u32 intid) override;
    // HC_IRQ_LINE: drive one of the VM's SPIs from software. False if the VM has no controller,
    // the INTID is not one of its SPIs, or one of its devices owns that SPI.
    bool drive_spi(u64 intid, bool pulse, bool level);
    // The emulated timer's interrupt line follows its state at counter value `now`; a host timer
    // event re-evaluates it at the compare value. Any CPU.
    void update_emulated_timer(Vcpu& vcpu, u64 now);

private:
    // Level 2's ExitKind::ConsoleWrite (vcpu/exit.hpp): always true.
    bool console_write(Vcpu& vcpu, const ExitReason& exit);
    Vm(const vm_package::VmRecord& rec, const u8* package, GuestAddrSpace&& as);
    Result<void> setup_memory(const HostOwnedRanges& host_owned);
    Result<void> setup_devices(const HostOwnedRanges& host_owned);
    Result<void> setup_vintc();
    // Shared memory: the host RAM of each region is found at creation (setup_shm); the regions are
    // mapped while a life runs (map_shm, from load_and_start) and unmapped when it ends for good
    // (unmap_shm): a stopped VM has no access. m_as_lock held for both.
    Result<void> setup_shm();
    Result<void> map_shm();
    void unmap_shm();
    Result<void> add_virtio(const vm_package::EmuDevice& d, u32 index);
    // An emulated UART of model U (Pl011, Uart16550) onto the bus and into `list`; the first UART
    // or virtio-console is the VM's console.
    bool emulate_access(Vcpu& vcpu, ExitReason& exit, MmioBus& bus, MmioDevice* dev);
    template <typename U, usize N> Result<void> add_uart(const vm_package::EmuDevice& d, StaticVec<U*, N>& list);
    // Every virtio device back to its reset state (a life ends or begins): nothing of the old
    // life's queues is used again, and no device touches RAM the address space is about to free.
    void reset_virtio();
    void flush_consoles();
    static Result<void> ram_read(void* vm, u64 gpa, void* dst, usize len);
    static Result<void> ram_write(void* vm, u64 gpa, const void* src, usize len);
    static Result<virtio::HostRun> ram_host_run(void* vm, u64 gpa, usize len, bool device_writes);
    void kick_some(vgic::VcpuSet vcpus);
    Result<void> forward_irq(const vm_package::PassthroughDevice& d, const HostOwnedRanges& host_owned);
    void release_forwarded(bool disable);
    Result<void> load_blob(const vm_package::Blob& blob, u64 gpa, const char* what, u64 skip = 0);
    u64 map_image(const vm_package::Blob& blob, u64 gpa);
    void finish_stop();
    Result<void> begin_life(bool announce);
    Result<void> set_paused(bool pause);
    Result<void> load_and_start();
    PowerResult start_vcpu_locked(Vcpu& v, u64 entry, u64 arg);
    void take_forwarded();
    // RAM and interrupts back, Stopped. The caller has printed the VM's end line: anything that
    // sees the VM Stopped finds it on the console.
    void end_life(StopKind kind);
    void note_report(Vcpu& vcpu, const char* msg);
    void report_va(Vcpu& vcpu, bool limited, const char* fmt, va_list ap);

    vm_package::VmRecord m_rec;
    const u8* m_package;
    // Bytes at the start of the kernel and ramdisk that are mapped from the package copy-on-write
    // or from the boot medium (map_image) instead of copied at every boot; 0: copied.
    u64 m_kernel_mapped = 0, m_ramdisk_mapped = 0;
    GuestAddrSpace m_as;
    MmioBus m_bus;
    // The VM's port space (vm_package DeviceSpace::Port: x86 IN/OUT), a second bus of the same
    // kind, addressed by port number. Empty on ISAs without port I/O.
    MmioBus m_port_bus;
    StaticVec<Pl011*, vm_package::MAX_EMU_DEVICES> m_uarts;
    Pl011* m_fast_uart = nullptr; // m_uarts[0] when the vCPUs have its fast block (attach_uart_fast)
    StaticVec<Uart16550*, vm_package::MAX_EMU_DEVICES> m_uarts16550;
    StaticVec<virtio::MmioTransport*, vm_package::MAX_EMU_DEVICES> m_virtio;
    ConsolePort* m_console = nullptr;
    GuestRam m_ram;
    Vcpu* m_vcpus[vm_package::MAX_VCPUS] = {};
    mutable Spinlock m_as_lock;
    Spinlock m_power_lock;
    u32 m_active = 0;           // vCPUs not Off (guarded by m_power_lock)
    StopKind m_stop = StopKind::None; // guarded by m_power_lock
    const char* m_stop_why = nullptr;
    bool m_starting = false;    // a start() is loading the images (guarded by m_power_lock)
    std::atomic<VmState> m_state{VmState::Created}; // written under m_power_lock
    std::atomic<StopKind> m_last_stop{StopKind::None};
    std::atomic<bool> m_crashed{false}; // crashed(): sticky, stored before Stopped
    std::atomic<u64> m_life_start{0}; // counter value when the current life began
    mutable Spinlock m_report_lock;
    char m_last_report[160] = {};     // guarded by m_report_lock
    u32 m_resets = 0;
#ifdef CXV_EXIT_STATS
    // Measurement builds only: stage-2 faults that reached this VM's RAM path and were fixed
    // (lazy RAM backed), printed with the vCPUs' exit counts when the VM stops or resets.
    u64 m_stat_ram_faults = 0, m_stat_ram_write_faults = 0;
    u64 m_stat_ram_fault_ticks = 0; // counter ticks from the fault's exit to its fix, summed
    u32 m_stat_kernel_blocks[32] = {};
    void print_exit_stats();
#endif
    std::atomic<u64> m_reports{0};
    u32 m_reserved_regions = 0; // bit i: region i's identical RAM was taken out of the frame allocator
    // Host SPIs forwarded to this VM (hardware-linked: the guest's deactivation ends them).
    StaticVec<u32, vm_package::MAX_PT_DEVICES> m_forwarded;
    u64 m_forward_target = 0; // the physical CPU (hardware id) they are routed to
    HostPhysAddr m_shm_hpa[vm_package::MAX_SHM] = {};
    bool m_shm_mapped = false; // guarded by m_as_lock
    VirtIntc* m_vgic = nullptr; // the ISA's controller model (null: no_irq); owns its windows
};
