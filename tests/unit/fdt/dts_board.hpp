// Hand-written host DTBs for tests of the host-owned range list (dt_platform_test, vmconfig_test):
// the least a board needs for read_platform() to accept it, plus whatever nodes a test adds,
// compiled by dtc (a build requirement of the unit tests).
#pragma once
#include <cstdlib>
#include <fstream>
#include <string>

// RAM at 0x4000_0000 (1 GiB), one CPU, a GICv3 at 0x0800_0000, the console PL011 at 0x0900_0000,
// the arch timer; `extra` nodes go into the root (#address-cells = #size-cells = 1).
inline std::string minimal_board_dts(const std::string& extra) {
    return "/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>;\n"
           "chosen { stdout-path = \"/uart@9000000\"; };\n"
           "memory@40000000 { device_type = \"memory\"; reg = <0x40000000 0x40000000>; };\n"
           "cpus { #address-cells = <1>; #size-cells = <0>; cpu@0 { device_type = \"cpu\"; reg = <0>; }; };\n"
           "gic: intc@8000000 { compatible = \"arm,gic-v3\"; #interrupt-cells = <3>; interrupt-controller;\n"
           "  reg = <0x8000000 0x10000>, <0x80a0000 0xf60000>; };\n"
           "uart@9000000 { compatible = \"arm,pl011\"; reg = <0x9000000 0x1000>;\n"
           "  interrupt-parent = <&gic>; interrupts = <0 1 4>; };\n"
           "timer { compatible = \"arm,armv8-timer\"; interrupt-parent = <&gic>;\n"
           "  interrupts = <1 13 4>, <1 14 4>, <1 11 4>, <1 10 4>; };\n" +
           extra + "};\n";
}

// `count` virtio-mmio nodes from 0x0a00_0000, 0x200 apart (QEMU virt's layout, but any number).
inline std::string virtio_nodes(unsigned count) {
    std::string out;
    for (unsigned i = 0; i < count; ++i) {
        char node[96];
        snprintf(node, sizeof node, "v@%x { compatible = \"virtio,mmio\"; reg = <0x%x 0x200>; };\n",
                 0xa000000 + i * 0x200, 0xa000000 + i * 0x200);
        out += node;
    }
    return out;
}

// Writes `dts` to `base`.dts and compiles it to `base`.dtb; returns the DTB's path ("" if dtc failed).
inline std::string compile_dts(const std::string& base, const std::string& dts) {
    std::ofstream(base + ".dts") << dts;
    std::string cmd = "dtc -q -I dts -O dtb -o " + base + ".dtb " + base + ".dts";
    return std::system(cmd.c_str()) == 0 ? base + ".dtb" : "";
}
