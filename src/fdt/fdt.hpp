// Read-only reader for a flattened devicetree blob (DTB), Devicetree Specification v0.4 chapter 5.
//
// Fdt::create() validates the whole blob once: header, block bounds, the memory reservation block
// and every token of the structure block. Afterwards every accessor is a bounded walk over views
// into the blob; nothing is copied or allocated. A forged or stale node handle may yield nothing or
// nonsense, but never a read outside the blob's blocks. The blob must stay mapped and unchanged while any Fdt,
// node, property or string view of it is in use.
//
// DTB values are big-endian and a loader may hand us a blob that is only 4-byte aligned, while the
// image runs with the MMU off (Device memory, -mstrict-align): every multi-byte value is therefore
// assembled from byte loads.
//
// Thread safety: all methods are const and touch only the blob, so any CPU may call them at any time.
#pragma once
#include "base/result.hpp"

constexpr u32 fdt_be32(const u8* p) {
    return u32(p[0]) << 24 | u32(p[1]) << 16 | u32(p[2]) << 8 | u32(p[3]);
}
constexpr u64 fdt_be64(const u8* p) { return u64(fdt_be32(p)) << 32 | fdt_be32(p + 4); }

// A node handle: the offset of its FDT_BEGIN_NODE token within the structure block.
struct FdtNode {
    static constexpr u32 kNone = ~0u;
    u32 offset = kNone;
    bool valid() const { return offset != kNone; }
    bool operator==(const FdtNode&) const = default;
};

struct FdtRange {
    u64 base = 0;
    u64 size = 0;
};

struct FdtProp {
    const char* name;
    const u8* data;
    u32 size;
};

// A property value read as big-endian 32-bit cells (spec 2.2.4 "<u32>", "<prop-encoded-array>").
struct FdtCells {
    const u8* data = nullptr;
    u32 count = 0;
    u32 operator[](u32 i) const { return i < count ? fdt_be32(data + 4 * i) : 0; }
    // n (1 or 2) cells starting at `first` as one number: how addresses and sizes are encoded.
    u64 read(u32 first, u32 n) const {
        u64 v = 0;
        for (u32 i = 0; i < n; ++i) v = v << 32 | (*this)[first + i];
        return v;
    }
};

// A `reg` property split into (address, size) pairs with the parent's #address-cells/#size-cells
// (spec 2.3.6). Addresses are in the parent bus's space: see Fdt::translate().
struct FdtReg {
    FdtCells cells;
    u32 addr_cells = 0;
    u32 size_cells = 0;
    u32 count() const { return cells.count / (addr_cells + size_cells); }
    FdtRange operator[](u32 i) const {
        u32 first = i * (addr_cells + size_cells);
        return {cells.read(first, addr_cells), cells.read(first + addr_cells, size_cells)};
    }
};

// A <stringlist> value (spec 2.2.4): NUL-separated strings, the last one terminated.
class FdtStringList {
public:
    FdtStringList(const char* data, u32 size) : m_data(data), m_size(size) {}
    bool contains(const char* s) const;
    u32 count() const;
    const char* at(u32 i) const; // nullptr past the end

    struct Iter {
        const char* p;
        const char* operator*() const { return p; }
        Iter& operator++();
        bool operator!=(const Iter& o) const { return p != o.p; }
    };
    Iter begin() const { return {m_data}; }
    Iter end() const { return {m_data + m_size}; }

private:
    const char* m_data;
    u32 m_size;
};

class Fdt {
public:
    // Validates the blob; any inconsistency is Error::BadFormat. max_size bounds how far the blob
    // may extend (the mapping the caller has); totalsize must fit inside it.
    static Result<Fdt> create(const void* blob, usize max_size);

    u32 totalsize() const { return m_totalsize; }
    u32 boot_cpuid_phys() const { return fdt_be32(m_blob + 28); }

    // Memory reservation block (spec 5.3), without the terminating (0, 0) entry.
    u32 mem_reserve_count() const { return m_rsv_count; }
    FdtRange mem_reserve(u32 i) const;

    FdtNode root() const { return {m_root}; }
    const char* name(FdtNode n) const; // "name@unit-address"; "" for the root or an invalid handle
    FdtNode first_child(FdtNode n) const;
    FdtNode next_sibling(FdtNode n) const;
    FdtNode next_node(FdtNode n) const; // depth-first document order
    Result<FdtNode> parent(FdtNode n) const; // O(nodes); NotFound for the root

    struct NodeIter {
        FdtNode operator*() const { return m_node; }
        NodeIter& operator++() {
            m_node = m_all ? m_fdt->next_node(m_node) : m_fdt->next_sibling(m_node);
            return *this;
        }
        bool operator!=(const NodeIter& o) const { return m_node != o.m_node; }
        const Fdt* m_fdt;
        FdtNode m_node;
        bool m_all;
    };
    struct NodeRange {
        NodeIter first;
        NodeIter begin() const { return first; }
        NodeIter end() const { return {first.m_fdt, {}, first.m_all}; }
    };
    NodeRange children(FdtNode n) const { return {{this, first_child(n), false}}; }
    NodeRange nodes() const { return {{this, root(), true}}; }

    struct PropIter {
        FdtProp operator*() const;
        PropIter& operator++();
        bool operator!=(const PropIter& o) const { return m_offset != o.m_offset; }
        const Fdt* m_fdt;
        u32 m_offset;
    };
    struct PropRange {
        PropIter first;
        PropIter begin() const { return first; }
        PropIter end() const { return {first.m_fdt, FdtNode::kNone}; }
    };
    PropRange props(FdtNode n) const;

    // "/cpus/cpu@0"; a component without '@' also matches a unique "name@unit" sibling, and a
    // path that does not start with '/' begins with an alias from /aliases (spec 2.2.3, 3.3).
    // len bounds the path (e.g. to drop the ":options" of stdout-path).
    Result<FdtNode> find_path(const char* path, usize len) const;
    Result<FdtNode> find_path(const char* path) const;
    // First node after `after` (from the root when invalid) whose compatible list has `compat`.
    Result<FdtNode> find_compatible(const char* compat, FdtNode after = {}) const;
    Result<FdtNode> find_phandle(u32 phandle) const;

    // Property access: NotFound when absent, BadFormat when the value has the wrong shape.
    Result<FdtProp> prop(FdtNode n, const char* name) const;
    Result<u32> prop_u32(FdtNode n, const char* name) const;
    Result<u64> prop_u64(FdtNode n, const char* name) const; // one or two cells
    Result<const char*> prop_string(FdtNode n, const char* name) const;
    Result<FdtStringList> prop_strings(FdtNode n, const char* name) const;
    bool is_compatible(FdtNode n, const char* compat) const;
    bool is_enabled(FdtNode n) const; // status absent, "okay" or "ok" (spec 2.3.4)

    // #address-cells / #size-cells a bus node gives its children; defaults 2 and 1 (spec 2.3.5).
    Result<u32> address_cells(FdtNode bus) const;
    Result<u32> size_cells(FdtNode bus) const;
    // Unsupported when a cell count exceeds 2 (the value would not fit in u64, e.g. PCI).
    Result<FdtReg> reg(FdtNode n) const;
    // Maps an address from n's `reg` to the CPU's physical address space through the `ranges` of
    // every ancestor bus (spec 2.3.8). NotFound if a bus has no `ranges` or none covers it.
    Result<u64> translate(FdtNode n, u64 addr) const;
    // Raw `interrupts` cells; splitting them needs the interrupt parent's #interrupt-cells.
    Result<FdtCells> interrupts(FdtNode n) const;

private:
    struct Token {
        u32 kind;
        u32 next;         // offset of the following token
        const char* name; // node or property name
        const u8* data;   // property value
        u32 len;
    };
    Fdt() = default;
    Token token(u32 off) const;
    u32 skip_node(u32 off) const;
    u32 prop_at_or_after(u32 off) const;
    Result<FdtProp> find_prop(FdtNode n, const char* name, usize len) const;
    Result<FdtNode> find_child(FdtNode n, const char* name, usize len) const;

    const u8* m_blob = nullptr;
    u32 m_totalsize = 0;
    u32 m_struct_off = 0, m_struct_size = 0;
    u32 m_strings_off = 0, m_strings_size = 0;
    u32 m_rsv_off = 0, m_rsv_count = 0;
    u32 m_root = FdtNode::kNone;
};
