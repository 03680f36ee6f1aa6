# cxvisor: the two commands of the quick start, and a few more.
#   make run     boot cxvisor on QEMU with the default VMs: a Linux VM (Debian's arm64 kernel, 2 vCPUs,
#                busybox shell on the console; fetched through apt into $(BUILD)/linux on the first
#                run) and a small bare-metal one (VMS="a.toml b.toml" chooses others). ARCH=riscv64:
#                cxvisor under OpenSBI on QEMU's riscv64 virt with the same pair built for riscv64
#                (Debian trixie's riscv64 kernel, fetched into $(BUILD)/linux/riscv64)
#                ARCH=x86_64: cxvisor by Multiboot on QEMU's pc machine (SeaBIOS, TCG with SVM) with the
#                bare-metal hello VM (no x86 Linux guest yet: it needs a vLAPIC, vIOAPIC and ACPI)
#                ARCH=loongarch64: cxvisor as an ELF on QEMU's LoongArch virt (la464, no firmware) to
#                its shell on every CPU; stock QEMU has no LVZ, so VMs are refused (issue 11).
#                QEMU_LVZ=<path>: that QEMU instead, one that emulates LVZ, with the hello VM (its
#                debug log on stderr goes to $(RUN_DIR)/qemu-lvz.stderr)
#                EXIT_WHEN_DONE=1: once every VM has stopped, cxvisor powers off and make exits with
#                its exit status (0 clean, 1 a VM was stopped by containment, 2 a test guest reported
#                FAIL); TIMESTAMPS=1: cxvisor's log lines carry [seconds.micros] since boot.
#                The console is also logged to $(RUN_DIR)/console.log (scripts/run).
#   make test    install what is missing, build everything (the images of every ISA in TEST_ARCHES),
#                run unit and system tests
#   make test-vmx  the x86_64 VM system tests on cxvisor's VMX backend (QEMU with KVM and nested VMX:
#                an Intel host with kvm_intel nested=1; anywhere else it fails saying what is missing)
#   make test-lvz QEMU_LVZ=<path>  opt-in, not part of test: the loongarch64 guests under cxvisor on a
#                QEMU that emulates LVZ (ctest label lvz; README "LVZ tests")
#   make test-lvz-fork-gap QEMU_LVZ=<path>  the lvz rows that check what the LVZ QEMU fork does not
#                implement as the manual says (label fork-gap; they fail on the fork when that shows)
#   make bench   micro-benchmarks under -icount; writes build/bench/results.json (ARCH=riscv64,
#                ARCH=x86_64: that ISA's figures, docs/benchmarks.md)
#   make debug   like run, but QEMU waits for GDB; prints the command to attach
#   make soak    the chaos guest with SOAK_SEEDS (50) random seeds, one QEMU run each; stops at the
#                first failure and prints its seed (SOAK_SEED_LIST=0x..,0x.. repeats given seeds)
#   make fuzz    libFuzzer on the image's VM-package checks for FUZZ_TIME seconds (clang++-14)
BUILD ?= build
ARCH ?= aarch64
SMP ?= 4
MEM ?= 1G
JOBS ?= $(shell nproc)
SOAK_SEEDS ?= 50
SOAK_SEED_LIST ?=
# The VMs make run boots by default, per ISA (VMS= with nothing boots the bare image to the
# cxvisor shell).
DEFAULT_VMS_aarch64 := configs/vms/linux.toml configs/vms/hello.toml
DEFAULT_VMS_riscv64 := configs/vms/riscv64/linux.toml configs/vms/riscv64/hello.toml
DEFAULT_VMS_x86_64 := configs/vms/x86_64/hello.toml
# loongarch64: none on stock QEMU (no LVZ: every VM would be refused), hello on a QEMU with LVZ.
QEMU_LVZ ?=
DEFAULT_VMS_loongarch64 := $(if $(QEMU_LVZ),configs/vms/loongarch64/hello.toml)
VMS ?= $(DEFAULT_VMS_$(ARCH))
# Where each ISA's Linux kernel and initramfs images are (scripts/linux-guest.sh), and the build
# target that makes them.
LINUX_DIR_aarch64 := $(BUILD)/linux
LINUX_DIR_riscv64 := $(BUILD)/linux/riscv64
LINUX_TARGET_aarch64 := linux-guests
LINUX_TARGET_riscv64 := linux-guests-riscv64
EXIT_WHEN_DONE ?=
TIMESTAMPS ?=
RUN_TIMEOUT ?=
RUN_STATUS_FILE ?=

HOST_DIR := $(BUILD)/host
IMAGE_DIR := $(BUILD)/$(ARCH)
VMCONFIG := $(HOST_DIR)/tools/vmconfig/cxv-vmconfig
IMAGE := $(IMAGE_DIR)/src/cxvisor.bin
RUN_DIR ?= $(BUILD)/run
RUN_IMAGE := $(RUN_DIR)/cxvisor-run.bin
# Where QEMU can give cxvisor a boot medium, the VM package goes there instead of into the image:
# a fw_cfg file (src/vmm/boot_medium.hpp; kernels are then read straight into each VM's RAM, with
# no copy-on-write copies and no second copy in QEMU's loader). aarch64 only: QEMU 7.2's riscv64
# virt refuses -fw_cfg files (its fw_cfg is created after the command line is processed), x86_64
# has fw_cfg only as I/O ports, which cxvisor does not drive, and loongarch64 runs no Linux VM.
PACKAGE_ON_MEDIUM_aarch64 := yes
RUN_PACKAGE := $(if $(and $(strip $(VMS)),$(PACKAGE_ON_MEDIUM_$(ARCH))),$(RUN_DIR)/vms.pkg)
# The ISA's QEMU machine comes from tests/system/machines.py, as for the tests and the bench
# (a recursive variable: evaluated only by the recipes that start QEMU).
export CXV_ARCH := $(ARCH)
export CXV_BUILD_ROOT := $(abspath $(BUILD))
# The firmware below cxvisor, per ISA (riscv64: OpenSBI from Debian trixie's package, fetched once
# into $(BUILD)/firmware/riscv64, where machines.py takes it from).
FIRMWARE_riscv64 := $(BUILD)/firmware/riscv64/fw_dynamic.bin
FIRMWARE := $(FIRMWARE_$(ARCH))
QEMU = $(shell CXV_ARCH=$(ARCH) CXV_QEMU_LVZ=$(QEMU_LVZ_PATH) python3 tests/system/machines.py host $(SMP) $(MEM))
# QEMU_LVZ: the QEMU that emulates LVZ (loongarch64 only; machines.py takes it from CXV_QEMU_LVZ).
QEMU_LVZ_PATH := $(if $(QEMU_LVZ),$(abspath $(QEMU_LVZ)))
QEMU_LVZ_STDERR := $(RUN_DIR)/qemu-lvz.stderr
RUN_MEDIUM = $(if $(RUN_PACKAGE),$(shell python3 tests/system/machines.py package-medium $(RUN_PACKAGE)))
# cxv-vmconfig as make run builds its VMs, in the image or alone.
RUN_VMCONFIG = $(VMCONFIG) --cpus $(SMP) --search-path $(IMAGE_DIR)/guests \
               $(if $(LINUX_DIR_$(ARCH)),--search-path $(LINUX_DIR_$(ARCH)))
# cxvisor's host command line (kernel/cmdline.hpp), given to QEMU as -append.
HOST_CMDLINE := $(strip $(if $(filter 1 yes y,$(EXIT_WHEN_DONE)),exit_when_done) \
                $(if $(filter 1 yes y,$(TIMESTAMPS)),timestamps))

.PHONY: all setup host host-configure tools linux firmware image run debug test test-vmx test-lvz test-lvz-fork-gap check-qemu-lvz bench soak fuzz clean
all: host image

setup:
	@scripts/setup.sh

# CXV_IMAGE_DIR: the images the aarch64 system tests boot, whatever ARCH this make runs for (the
# other ISAs' tests find theirs under CXV_BUILD_ROOT/<isa>): `make run ARCH=riscv64` configures the
# same host build and must not point those tests at riscv64 images (tests/system/host_configure.py).
# CXV_QEMU_LVZ: empty here, so that the lvz rows (make test-lvz) are not registered for make test.
host-configure: setup
	@cmake -S . -B $(HOST_DIR) -G Ninja -DCXV_TARGET=host -DCXV_IMAGE_DIR=$(abspath $(BUILD)/aarch64) \
	    -DCXV_BUILD_ROOT=$(abspath $(BUILD)) -DCXV_QEMU_LVZ= >/dev/null

# Everything on the host side: the tools and all unit tests.
host: host-configure
	@ninja -C $(HOST_DIR) -j $(JOBS)

# Only what run/debug/bench need: the config compiler.
tools: host-configure
	@ninja -C $(HOST_DIR) -j $(JOBS) cxv-vmconfig

# Linux guests: Debian's kernel for ARCH (apt, once) and the busybox initramfs images, in $(BUILD)/linux
# (riscv64: $(BUILD)/linux/riscv64).
linux: tools
	@$(if $(LINUX_TARGET_$(ARCH)),ninja -C $(HOST_DIR) -j $(JOBS) $(LINUX_TARGET_$(ARCH)),true)

firmware: $(FIRMWARE)
$(FIRMWARE_riscv64):
	@scripts/linux-guest.sh --build $(BUILD) --arch riscv64 firmware >/dev/null

image: setup
	@cmake -S . -B $(IMAGE_DIR) -G Ninja -DCXV_TARGET=$(ARCH) \
	    -DCMAKE_TOOLCHAIN_FILE=$(abspath cmake/$(ARCH)-elf.cmake) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@ninja -C $(IMAGE_DIR) -j $(JOBS)

# Without VMS the image boots as built, without a VM package (to the cxvisor shell). With
# RUN_PACKAGE, the package goes there (QEMU gives it to cxvisor as a fw_cfg file) and the image
# is the one built.
$(RUN_IMAGE): image $(if $(strip $(VMS)),tools linux) FORCE
	@mkdir -p $(dir $@)
	@$(if $(and $(strip $(VMS)),$(if $(RUN_PACKAGE),,yes)),$(RUN_VMCONFIG) --image $(IMAGE) -o $@ $(VMS),cp $(IMAGE) $@)
	@$(if $(RUN_PACKAGE),$(RUN_VMCONFIG) -o $(RUN_PACKAGE) $(VMS))

# scripts/run keeps the console interactive, logs it, and turns cxvisor's exit summary into the
# exit status (make passes on only success or failure: `scripts/run VAR=value...` gives the number).
run: $(if $(QEMU_LVZ),check-qemu-lvz) $(RUN_IMAGE) firmware
	@echo "cxvisor: QEMU console; Ctrl-] opens the cxvisor shell, Ctrl-\\ cycles the console through the VMs and the shell, Ctrl-A x quits QEMU"
	@$(if $(QEMU_LVZ),echo "cxvisor: QEMU with LVZ: $(QEMU_LVZ_PATH) (its debug log: $(QEMU_LVZ_STDERR))")
	@scripts/run --log $(RUN_DIR)/console.log $(if $(RUN_TIMEOUT),--timeout $(RUN_TIMEOUT)) \
	    $(if $(RUN_STATUS_FILE),--status-file $(RUN_STATUS_FILE)) $(if $(QEMU_LVZ),--stderr $(QEMU_LVZ_STDERR)) -- \
	    $(QEMU) -kernel $(RUN_IMAGE) $(RUN_MEDIUM) $(if $(HOST_CMDLINE),-append "$(HOST_CMDLINE)")

debug: $(RUN_IMAGE) firmware
	@echo "QEMU waits for GDB on :1234. In another terminal:"
	@echo "  gdb-multiarch $(IMAGE_DIR)/src/cxvisor.elf -ex 'target remote :1234'"
	$(QEMU) -kernel $(RUN_IMAGE) $(RUN_MEDIUM) $(if $(HOST_CMDLINE),-append "$(HOST_CMDLINE)") -s -S

# Every ISA's image: the system tests boot each (riscv64: system.riscv64-boot; x86_64:
# system.x86_64-boot; loongarch64: system.loongarch64-boot).
TEST_ARCHES := aarch64 riscv64 x86_64 loongarch64
test: host
	@for a in $(TEST_ARCHES); do $(MAKE) --no-print-directory image ARCH=$$a JOBS=$(JOBS) || exit 1; done
	@ctest --test-dir $(HOST_DIR) --output-on-failure -j 2 --timeout 600 -LE lvz

# Opt-in (a fresh machine has no QEMU with LVZ; README "LVZ tests"): the loongarch64 image and its
# guests, and the system tests labelled lvz, run on the QEMU that QEMU_LVZ names. Configuring the
# host build with CXV_QEMU_LVZ registers those tests (tests/system/CMakeLists.txt) and hands them
# the path; make test's host-configure drops them again.
check-qemu-lvz:
	@$(if $(QEMU_LVZ),,echo "make: QEMU_LVZ=<path> is needed: a qemu-system-loongarch64 that emulates LVZ (stock QEMU does not;" \
	    "README \"LVZ tests\" says where one comes from, e.g. ../shared/tools/qemu-lvz/qemu-system-loongarch64)" >&2; exit 2)
	@test -f "$(QEMU_LVZ_PATH)" -a -x "$(QEMU_LVZ_PATH)" || { echo "make: QEMU_LVZ=$(QEMU_LVZ) is not an executable file" >&2; exit 2; }
	@test "$(ARCH)" = loongarch64 -o "$(MAKECMDGOALS)" = test-lvz -o "$(MAKECMDGOALS)" = test-lvz-fork-gap || \
	    { echo "make: QEMU_LVZ is for ARCH=loongarch64" >&2; exit 2; }
# The rows labelled fork-gap check what the manual requires where the LVZ QEMU departs from it
# (docs/porting.md "loongarch64 VMs: the guests and make test-lvz"): they fail on that QEMU whenever
# its departure shows, so they run only in test-lvz-fork-gap, for a QEMU or CPU that implements it.
LVZ_CTEST_LABELS = -L lvz -LE fork-gap
test-lvz-fork-gap: LVZ_CTEST_LABELS = -L fork-gap
test-lvz test-lvz-fork-gap: check-qemu-lvz setup
	@$(MAKE) --no-print-directory image ARCH=loongarch64 JOBS=$(JOBS)
	@cmake -S . -B $(HOST_DIR) -G Ninja -DCXV_TARGET=host -DCXV_IMAGE_DIR=$(abspath $(BUILD)/aarch64) \
	    -DCXV_BUILD_ROOT=$(abspath $(BUILD)) -DCXV_QEMU_LVZ=$(QEMU_LVZ_PATH) >/dev/null
	@ninja -C $(HOST_DIR) -j $(JOBS) cxv-vmconfig
	@ctest --test-dir $(HOST_DIR) --output-on-failure -j 2 --timeout 600 $(LVZ_CTEST_LABELS)

# Opt-in, not part of test: the x86_64 VM system tests (system.x86-*) under KVM with nested VMX
# (`qemu-system-x86_64 -M pc,accel=kvm -cpu host,+vmx`, tests/system/machines.py), so cxvisor runs
# its VMX backend; each run must say "virtualization backend VMX". Needs an Intel host with
# kvm_intel nested=1: scripts/vmx-host-check.py fails the target, naming what is missing, elsewhere.
# The check comes first, before anything is built.
test-vmx:
	@python3 scripts/vmx-host-check.py
	@$(MAKE) --no-print-directory host JOBS=$(JOBS)
	@$(MAKE) --no-print-directory image ARCH=x86_64 JOBS=$(JOBS)
	@CXV_X86_VMX=1 ctest --test-dir $(HOST_DIR) -R '^system\.x86-' --output-on-failure -j 2 --timeout 600

bench: tools image firmware
	@python3 bench/run.py --build $(BUILD) --arch $(ARCH)

soak: tools image firmware
	@python3 scripts/soak.py --build $(BUILD) --arch $(ARCH) --seeds $(SOAK_SEEDS) --jobs $(JOBS) \
	    $(if $(SOAK_SEED_LIST),--seed-list $(SOAK_SEED_LIST))

# Opt-in, not part of test: its own clang build in $(BUILD)/fuzz, seeded with a package that the
# real cxv-vmconfig builds from tests/fuzz/seed.toml; the corpus it grows is kept there.
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_TIME ?= 60
fuzz: tools
	@cmake -S . -B $(FUZZ_DIR) -G Ninja -DCXV_TARGET=host -DCXV_FUZZ=ON \
	    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_ASM_COMPILER=clang-14 >/dev/null
	@ninja -C $(FUZZ_DIR) -j $(JOBS) package_fuzz
	@mkdir -p $(FUZZ_DIR)/seed $(FUZZ_DIR)/corpus
	@head -c 8192 /dev/zero | tr '\0' '\252' > $(FUZZ_DIR)/seed/seed-kernel.bin
	@head -c 4096 /dev/zero | tr '\0' '\021' > $(FUZZ_DIR)/seed/seed-ramdisk.bin
	@$(VMCONFIG) --cpus 2 --search-path $(FUZZ_DIR)/seed -o $(FUZZ_DIR)/corpus/seed.bin tests/fuzz/seed.toml
	$(FUZZ_DIR)/tests/fuzz/package_fuzz -max_total_time=$(FUZZ_TIME) -print_final_stats=1 $(FUZZ_DIR)/corpus

clean:
	rm -rf $(BUILD)

.PHONY: FORCE
FORCE:
