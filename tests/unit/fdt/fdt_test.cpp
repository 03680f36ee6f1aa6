// FDT reader against QEMU's real virt DTB, a dtc-built board and hand-made broken blobs.
// Expected values come from `dtc -I dtb -O dts` of the fixtures.
#include "arch/aarch64/dt_platform.hpp"
#include "fdt_fixtures.hpp"
#include <gtest/gtest.h>

static FdtNode path(const Fdt& f, const char* p) {
    auto n = f.find_path(p);
    EXPECT_TRUE(n.is_ok()) << p;
    return n.is_ok() ? n.value() : FdtNode{};
}

TEST(Fdt, QemuHeader) {
    auto blob = qemu_dtb(4);
    auto f = Fdt::create(blob.data(), blob.size());
    ASSERT_TRUE(f.is_ok());
    EXPECT_EQ(f.value().totalsize(), 1 * MiB);
    EXPECT_EQ(f.value().mem_reserve_count(), 0u);
    EXPECT_EQ(Fdt::create(blob.data(), blob.size() - 1).error(), Error::BadFormat);
}

TEST(Fdt, QemuPathsAndProperties) {
    auto blob = qemu_dtb(4);
    Fdt f = Fdt::create(blob.data(), blob.size()).release_value();
    EXPECT_STREQ(f.name(path(f, "/cpus/cpu@2")), "cpu@2");
    EXPECT_STREQ(f.name(path(f, "/memory")), "memory@40000000"); // unit address left out
    EXPECT_STREQ(f.name(path(f, "/intc/its")), "its@8080000");
    EXPECT_EQ(path(f, "/"), f.root());
    EXPECT_EQ(f.find_path("/cpus/cpu").error(), Error::NotFound); // ambiguous
    EXPECT_EQ(f.find_path("/cpus/cpu@9").error(), Error::NotFound);
    EXPECT_EQ(f.find_path("serial0").error(), Error::NotFound); // no /aliases
    EXPECT_EQ(f.find_path("/pl011@9000000:115200", 14).value(), path(f, "/pl011@9000000"));

    FdtNode psci = path(f, "/psci");
    EXPECT_STREQ(f.prop_string(psci, "method").value(), "smc");
    FdtStringList compat = f.prop_strings(psci, "compatible").value();
    EXPECT_EQ(compat.count(), 3u);
    EXPECT_STREQ(compat.at(1), "arm,psci-0.2");
    EXPECT_EQ(compat.at(3), nullptr);
    EXPECT_TRUE(f.is_compatible(psci, "arm,psci"));
    EXPECT_FALSE(f.is_compatible(psci, "arm,psci-"));
    EXPECT_EQ(f.prop_u32(psci, "cpu_on").value(), 0xc4000003u);
    EXPECT_EQ(f.prop_u32(psci, "compatible").error(), Error::BadFormat);
    EXPECT_EQ(f.prop(psci, "nope").error(), Error::NotFound);
    EXPECT_TRUE(f.is_enabled(psci));
    EXPECT_EQ(f.prop_u64(path(f, "/chosen"), "kaslr-seed").is_ok(), true);
    EXPECT_EQ(f.find_phandle(0x8005).value(), path(f, "/intc"));
}

TEST(Fdt, QemuRegInterruptsAndIteration) {
    auto blob = qemu_dtb(4);
    Fdt f = Fdt::create(blob.data(), blob.size()).release_value();
    FdtReg gic = f.reg(path(f, "/intc")).value();
    ASSERT_EQ(gic.count(), 2u);
    EXPECT_EQ(gic[0].base, 0x08000000u);
    EXPECT_EQ(gic[0].size, 0x10000u);
    EXPECT_EQ(gic[1].base, 0x080a0000u);
    EXPECT_EQ(gic[1].size, 0xf60000u);
    FdtReg cpu = f.reg(path(f, "/cpus/cpu@3")).value(); // #address-cells 1, #size-cells 0
    EXPECT_EQ(cpu.count(), 1u);
    EXPECT_EQ(cpu[0].base, 3u);
    EXPECT_EQ(f.reg(path(f, "/pcie")).value()[0].base, 0x4010000000u);
    EXPECT_EQ(f.reg(path(f, "/psci")).error(), Error::NotFound);
    FdtCells irq = f.interrupts(path(f, "/pl011")).value();
    ASSERT_EQ(irq.count, 3u);
    EXPECT_EQ(irq[0], 0u);
    EXPECT_EQ(irq[1], 1u);
    EXPECT_EQ(irq[2], 4u);
    EXPECT_EQ(f.translate(path(f, "/pl011"), 0x09000000).value(), 0x09000000u);

    u32 nodes = 0, virtio = 0;
    for (FdtNode n : f.nodes()) nodes += n.valid();
    for (FdtNode n{}; f.find_compatible("virtio,mmio", n).is_ok(); ++virtio)
        n = f.find_compatible("virtio,mmio", n).value();
    EXPECT_EQ(nodes, 62u);
    EXPECT_EQ(virtio, 32u);
    FdtNode first = *f.children(f.root()).begin();
    EXPECT_STREQ(f.name(first), "psci");
    EXPECT_STREQ(f.name(f.next_sibling(first)), "memory@40000000");
    EXPECT_STREQ((*f.props(f.root()).begin()).name, "interrupt-parent");
    EXPECT_EQ(f.parent(path(f, "/cpus/cpu-map/socket0")).value(), path(f, "/cpus/cpu-map"));
    EXPECT_EQ(f.parent(f.root()).error(), Error::NotFound);
    u32 cpus = 0;
    for (FdtNode n : f.children(path(f, "/cpus"))) cpus += f.name(n)[3] == '@';
    EXPECT_EQ(cpus, 4u);
}

TEST(Fdt, BoardAliasesRangesAndMemreserve) {
    auto blob = board_dtb();
    Fdt f = Fdt::create(blob.data(), blob.size()).release_value();
    ASSERT_EQ(f.mem_reserve_count(), 2u);
    EXPECT_EQ(f.mem_reserve(1).base, 0x49000000u);
    EXPECT_EQ(f.mem_reserve(1).size, 0x2000u);
    FdtNode uart1 = path(f, "/soc/serial@2000");
    EXPECT_EQ(path(f, "serial0"), uart1);
    EXPECT_EQ(path(f, "serial1"), path(f, "/soc@3f000000/serial@1000"));
    EXPECT_EQ(f.find_path("/soc/serial").error(), Error::NotFound); // two of them
    EXPECT_EQ(f.translate(uart1, 0x2000).value(), 0x3f002000u);
    EXPECT_EQ(f.translate(uart1, 0x1000000).error(), Error::NotFound); // outside ranges
    EXPECT_FALSE(f.is_enabled(path(f, "/memory@200000000")));
}

// The DTB may sit at any byte address: nothing may depend on its alignment.
TEST(Fdt, MisalignedBlob) {
    auto blob = qemu_dtb(4);
    for (usize shift : {1, 4}) {
        std::vector<u8> buf(blob.size() + shift);
        memcpy(buf.data() + shift, blob.data(), blob.size());
        Fdt f = Fdt::create(buf.data() + shift, blob.size()).release_value();
        auto info = read_platform(f, 0);
        ASSERT_TRUE(info.is_ok());
        EXPECT_EQ(info.value().uart.intid, 33u);
    }
}

TEST(FdtCorrupt, Header) {
    auto good = board_dtb();
    auto bad = [&](usize field, u32 value, usize max = 0) {
        auto b = good;
        put_be32(b, 4 * field, value);
        return Fdt::create(b.data(), max ? max : b.size()).error();
    };
    EXPECT_EQ(Fdt::create(good.data(), 35).error(), Error::BadFormat);
    EXPECT_EQ(Fdt::create(nullptr, 100).error(), Error::BadFormat);
    EXPECT_EQ(bad(0, 0xd00dfeee), Error::BadFormat);                // magic
    EXPECT_EQ(bad(5, 15), Error::BadFormat);                        // version
    EXPECT_EQ(bad(6, 18), Error::BadFormat);                        // last_comp_version
    EXPECT_EQ(bad(1, u32(good.size() + 1)), Error::BadFormat);      // totalsize > max
    EXPECT_EQ(bad(1, 39), Error::BadFormat);                        // totalsize < header
    EXPECT_EQ(bad(2, u32(good.size())), Error::BadFormat);          // off_dt_struct
    EXPECT_EQ(bad(2, 0x3a), Error::BadFormat);                      // misaligned struct
    EXPECT_EQ(bad(4, 0x2c), Error::BadFormat);                      // misaligned memreserve
    EXPECT_EQ(bad(4, u32(align_down(good.size() - 8, 8))), Error::BadFormat); // rsv unterminated
    EXPECT_EQ(bad(8, 0xfffffff0), Error::BadFormat);                // strings size wraps
    EXPECT_EQ(bad(9, fdt_be32(good.data() + 36) - 4), Error::BadFormat); // struct cut before END
    EXPECT_EQ(bad(8, fdt_be32(good.data() + 32) - 1), Error::BadFormat); // last name unterminated
}

TEST(FdtCorrupt, StructBlock) {
    auto create = [](const DtbBuilder& d) { auto b = d.build(); return Fdt::create(b.data(), b.size()).error(); };
    DtbBuilder ok;
    ok.nop().begin("").prop("x", {1}).begin("a@1").end_node().nop().end_node().nop().end();
    auto b = ok.build();
    auto f = Fdt::create(b.data(), b.size());
    ASSERT_TRUE(f.is_ok());
    EXPECT_EQ(f.value().prop_u32(f.value().root(), "x").value(), 1u);
    EXPECT_STREQ(f.value().name(f.value().find_path("/a").value()), "a@1");

    DtbBuilder d[10];
    d[0].end();                                             // no root
    d[1].begin("").word(7);                                 // unknown token
    d[2].end_node().end();                                  // END_NODE at depth 0
    d[3].begin("").end_node();                              // no FDT_END
    d[4].begin("").end();                                   // FDT_END inside the root
    d[5].begin("").end_node().begin("").end_node().end();   // two roots
    d[6].prop("x", {}).begin("").end_node().end();          // property outside any node
    d[7].begin("").begin("a").end_node().prop("x", {}).end_node().end(); // property after child
    d[8].begin("").prop("x", {1}).end_node().end();
    put_be32(d[8].st, 12, 0x1000);                          // value runs past the block
    d[9].begin("").prop("x", {}).end_node().end();
    d[9].st[19] = 0x10;                                     // nameoff outside the strings block
    for (auto& x : d) EXPECT_EQ(create(x), Error::BadFormat);
    DtbBuilder name;
    name.word(1), name.word(0x61616161); // node name runs off the end of the block
    EXPECT_EQ(create(name), Error::BadFormat);
}

// Every single-byte corruption and every truncation must be rejected or read safely (ASan guards
// the reads: each blob sits in an exactly-sized heap buffer).
// `deep` also reads reg/parent of every node: O(nodes x tokens), too slow for many big blobs.
static void exercise(const std::vector<u8>& in, bool deep) {
    std::vector<u8> blob(in.begin(), in.end()); // capacity == size: ASan flags any read past it
    auto f = Fdt::create(blob.data(), blob.size());
    if (f.is_error()) return;
    const Fdt& t = f.value();
    for (FdtNode n : t.nodes()) {
        usize len = strlen(t.name(n));
        for (FdtProp p : t.props(n)) len += strlen(p.name) + p.size;
        (void)t.interrupts(n), (void)t.is_compatible(n, "arm,pl011");
        static volatile usize sink;
        sink = sink + len;
        if (!deep) continue;
        if (auto r = t.reg(n); r.is_ok()) (void)t.translate(n, r.value()[0].base);
    }
    (void)t.find_path("serial0:115200"), (void)t.find_path("/soc/serial@1000");
    const char* what = nullptr;
    (void)read_platform(t, 0, &what);
}

// Flips each byte with every mask (deep) or with one mask chosen by its position (to bound time).
static void fuzz(std::vector<u8> blob, bool deep) {
    const u8 masks[] = {0x01, 0x80, 0xff};
    put_be32(blob, 4, u32(blob.size()));
    for (usize i = 0; i < blob.size(); ++i)
        for (usize m = deep ? 0 : i % 3; m < (deep ? 3 : i % 3 + 1); ++m) {
            blob[i] ^= masks[m];
            exercise(blob, deep);
            blob[i] ^= masks[m];
        }
    for (usize len = 0; len < blob.size(); len += 3) {
        std::vector<u8> cut(blob.begin(), blob.begin() + len);
        if (len >= 8) put_be32(cut, 4, u32(len));
        exercise(cut, deep);
    }
}

TEST(FdtCorrupt, FuzzBoard) { fuzz(board_dtb(), true); }

TEST(FdtCorrupt, FuzzQemu) {
    auto blob = qemu_dtb(2);
    blob.resize(fdt_be32(blob.data() + 12) + fdt_be32(blob.data() + 32)); // up to the strings' end
    fuzz(blob, false);
}
