// The command line of cxv-vmconfig: options, the run over all files, and the all-or-nothing write.
#include "board.hpp"
#include "vmconfig.hpp"
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>

namespace vmconfig {
namespace {

const char USAGE[] =
    "usage: cxv-vmconfig [--arch ISA] [--cpus N] [--search-path DIR]... [--image cxvisor.bin]\n"
    "                    [--host-dtb FILE] -o OUT a.toml [b.toml ...]\n"
    "  --arch ISA         the VMs' (and the image's) ISA: aarch64, riscv64, x86_64 or loongarch64\n"
    "                     (default: the --image's, else aarch64); it chooses the guest board (docs/configuration.md)\n"
    "  --cpus N           physical CPUs of the target (default 4); phys_cpu_ids must be below N\n"
    "  --search-path DIR  where to look for images not found next to the TOML file (repeatable)\n"
    "  --image FILE       write FILE + padding + package to OUT (else OUT is the package alone)\n"
    "  --host-dtb FILE    the target's host DTB: refuse passthrough devices and reserved/identical\n"
    "                     regions over what cxvisor would refuse there (default: QEMU virt, built in)\n"
    "  --no-host-check    skip that check; for testing cxvisor's own boot-time refusals only\n";

// Writes a temporary file next to `out` and renames it: readers see the old file or the new one.
bool write_atomic(const fs::path& out, const Bytes& data, std::string& err) {
    std::string tmp = out.string() + ".tmp-XXXXXX";
    int fd = mkstemp(tmp.data());
    if (fd < 0) return err = "cannot create " + tmp + ": " + strerror(errno), false;
    mode_t mask = umask(0);
    umask(mask);
    bool ok = fchmod(fd, 0666 & ~mask) == 0;
    for (size_t done = 0; ok && done < data.size();) {
        ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0, done += n > 0 ? size_t(n) : 0;
    }
    ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp.c_str(), out.c_str()) == 0;
    if (!ok) err = "cannot write " + out.string() + ": " + strerror(errno), unlink(tmp.c_str());
    return ok;
}

} // namespace

int run(const std::vector<std::string>& args, std::ostream& err) {
    Options o;
    std::optional<Isa> arch; // --arch as given
    auto usage = [&](const std::string& why) { return err << "cxv-vmconfig: " << why << "\n" << USAGE, 2; };
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        bool takes_value =
            a == "--cpus" || a == "--search-path" || a == "--image" || a == "--host-dtb" || a == "-o" || a == "--arch";
        if (takes_value && i + 1 == args.size()) return usage(a + " needs a value");
        const std::string& v = takes_value ? args[++i] : a;
        if (a == "-h" || a == "--help") return std::cout << USAGE, 0;
        if (a == "--arch") {
            auto isa = isa_from_name(v);
            if (!isa || !guest_board(*isa))
                return usage("--arch: expected aarch64, riscv64, x86_64 or loongarch64, got \"" + v + "\"" +
                             (isa ? " (no guest board for it yet)" : ""));
            arch = *isa;
        } else if (a == "--cpus") {
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), o.cpus);
            if (ec != std::errc() || end != v.data() + v.size() || o.cpus < 1 || o.cpus > 1024)
                return usage("--cpus: expected a number 1..1024, got \"" + v + "\"");
        } else if (a == "--search-path")
            o.search_paths.push_back(v);
        else if (a == "--image")
            o.image = v;
        else if (a == "--host-dtb")
            o.host_dtb = v;
        else if (a == "--no-host-check")
            o.host_check = false;
        else if (a == "-o")
            o.output = v;
        else if (a.size() > 1 && a[0] == '-')
            return usage("unknown option " + a);
        else
            o.inputs.push_back(a);
    }
    if (o.output.empty()) return usage("missing -o OUT");
    if (o.inputs.empty()) return usage("no VM config files given");
    if (o.host_dtb && !o.host_check) return usage("--host-dtb and --no-host-check exclude each other");

    Diags diags;
    Bytes image;
    std::optional<Bytes> image_file = o.image ? read_file(*o.image) : std::nullopt;
    // The image's own header names its ISA; --arch, when given, must agree with it.
    std::optional<Isa> image_arch = image_file ? image_isa(*image_file) : std::nullopt;
    if (o.image && !image_file)
        diags.push_back({o.image->string(), 0, "", "cannot read the hypervisor image"});
    if (arch && image_arch && *arch != *image_arch) {
        diags.push_back({o.image->string(), 0, "",
                         std::string("a cxvisor image for ") + isa_name(*image_arch) + ", but --arch is " +
                             isa_name(*arch) + ": build the VMs for the image's ISA or give the " +
                             isa_name(*arch) + " image"});
        image_file.reset();
    }
    o.isa = arch ? *arch : image_arch && guest_board(*image_arch) ? *image_arch : Isa::Aarch64;
    const GuestBoard& board = *guest_board(o.isa);
    if (image_file && check_image(*image_file, o.isa, o.image->string(), diags))
        image = std::move(*image_file);
    std::optional<HostDescription> host;
    if (o.host_dtb) {
        if (auto f = read_file(*o.host_dtb))
            host = read_host(board, *f, o.host_dtb->string(), diags);
        else
            diags.push_back({o.host_dtb->string(), 0, "", "cannot read the host DTB (--host-dtb)"});
    } else if (o.host_check) {
        host = builtin_host(board);
    }
    std::vector<VmConfig> vms;
    for (auto& in : o.inputs) {
        size_t first = diags.size();
        if (auto vm = load_vm(in, o, diags, host ? &*host : nullptr)) vms.push_back(std::move(*vm));
        std::stable_sort(diags.begin() + first, diags.end(),
                         [](auto& a, auto& b) { return a.line < b.line; });
    }
    check_across(vms, diags);
    if (host) check_host(vms, *host, diags);
    for (auto& d : diags) err << format(d) << "\n";
    if (size_t n = std::count_if(diags.begin(), diags.end(), [](auto& d) { return !d.warning; })) {
        err << "cxv-vmconfig: " << n << (n == 1 ? " error" : " errors") << ", " << o.output.string()
            << " not written\n";
        return 1;
    }
    Bytes out = build_package(vms, o.image ? package_offset(image, o.isa) : 0);
    if (o.image) out = compose_image(image, o.isa, out);
    if (std::string e; !write_atomic(o.output, out, e)) return err << "cxv-vmconfig: " << e << "\n", 1;
    return 0;
}

} // namespace vmconfig
