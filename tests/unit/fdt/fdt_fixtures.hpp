// Fixture loading and a tiny DTB builder for hand-made (often deliberately broken) blobs.
#pragma once
#include "addrspace/addr.hpp"
#include "fdt/fdt.hpp"
#include <gtest/gtest.h>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

inline std::vector<u8> load_dtb(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<u8> v((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // The QEMU dumps are committed without the zero padding up to their 1 MiB totalsize: put it back.
    if (v.size() >= 8 && fdt_be32(v.data() + 4) > v.size() && fdt_be32(v.data() + 4) <= 2 * MiB)
        v.resize(fdt_be32(v.data() + 4), 0);
    return v;
}
// A platform reader's range: base and size as expected.
inline void expect_range(const PhysRange& r, u64 base, u64 size) {
    EXPECT_EQ(r.base.value(), base);
    EXPECT_EQ(r.size, size);
}

inline std::vector<u8> qemu_dtb(int cpus) {
    return load_dtb(std::string(FDT_FIXTURE_SRC) + "/qemu-virt-gicv3-" + std::to_string(cpus) + "cpu.dtb");
}
inline std::vector<u8> board_dtb(const char* variant = "board") {
    return load_dtb(std::string(FDT_FIXTURE_BIN) + "/" + variant + ".dtb");
}

// The node at `path` (a test failure if there is none).
inline FdtNode node_at(const Fdt& fdt, const char* path) {
    auto n = fdt.find_path(path);
    EXPECT_TRUE(n.is_ok()) << path;
    return n.is_ok() ? n.value() : fdt.root();
}

inline void put_be32(std::vector<u8>& v, usize at, u32 x) {
    for (int i = 0; i < 4; ++i) v[at + i] = u8(x >> (24 - 8 * i));
}

// Header (40 bytes) + empty memory reservation block + structure block + strings block.
struct DtbBuilder {
    std::vector<u8> st, strings;
    void word(u32 x) { st.resize(st.size() + 4); put_be32(st, st.size() - 4, x); }
    void text(const char* s) {
        do st.push_back(u8(*s)); while (*s++);
        while (st.size() % 4) st.push_back(0);
    }
    DtbBuilder& begin(const char* name) { word(1); text(name); return *this; }
    DtbBuilder& end_node() { word(2); return *this; }
    DtbBuilder& nop() { word(4); return *this; }
    DtbBuilder& end() { word(9); return *this; }
    DtbBuilder& prop(const char* name, std::vector<u32> cells) {
        word(3), word(u32(cells.size() * 4)), word(u32(strings.size()));
        strings.insert(strings.end(), name, name + strlen(name) + 1);
        for (u32 c : cells) word(c);
        return *this;
    }
    std::vector<u8> build() const {
        std::vector<u8> b(56, 0);
        u32 total = u32(56 + st.size() + strings.size());
        u32 hdr[10] = {0xd00dfeed, total, 56, u32(56 + st.size()), 40, 17, 16, 0,
                       u32(strings.size()), u32(st.size())};
        for (int i = 0; i < 10; ++i) put_be32(b, 4 * i, hdr[i]);
        b.insert(b.end(), st.begin(), st.end());
        b.insert(b.end(), strings.begin(), strings.end());
        return b;
    }
};
