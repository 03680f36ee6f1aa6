// Flattened devicetree reader; section numbers refer to the Devicetree Specification v0.4.
#include "fdt/fdt.hpp"
#include "base/string.hpp"

namespace {

// Structure block tokens (spec 5.4.1). 0 is not a token: we use it for "malformed".
constexpr u32 kBad = 0, kBeginNode = 1, kEndNode = 2, kProp = 3, kNop = 4, kEnd = 9;
constexpr u32 kMagic = 0xd00dfeed;

// s is NUL-terminated; name has len bytes and need not be. Never reads s past its NUL.
bool prefix_eq(const char* s, const char* name, usize len) {
    for (usize i = 0; i < len; ++i)
        if (s[i] == 0 || s[i] != name[i]) return false;
    return true;
}
bool name_eq(const char* s, const char* name, usize len) { return prefix_eq(s, name, len) && s[len] == 0; }

// Index of the first c in p[0, len), or len. (The image's mini libc has no memchr.)
usize find_char(const char* p, usize len, char c) {
    usize i = 0;
    while (i < len && p[i] != c) ++i;
    return i;
}

} // namespace

bool FdtStringList::contains(const char* s) const {
    for (const char* item : *this)
        if (strcmp(item, s) == 0) return true;
    return false;
}

u32 FdtStringList::count() const {
    u32 n = 0;
    for (auto it = begin(); it != end(); ++it) ++n;
    return n;
}

const char* FdtStringList::at(u32 i) const {
    for (const char* item : *this)
        if (i-- == 0) return item;
    return nullptr;
}

FdtStringList::Iter& FdtStringList::Iter::operator++() {
    p += strlen(p) + 1; // prop_strings() checked that the last string is terminated
    return *this;
}

Result<Fdt> Fdt::create(const void* blob, usize max_size) {
    // Header (spec 5.2): ten big-endian u32; version 16 blobs lack the last one, size_dt_struct.
    const u8* b = static_cast<const u8*>(blob);
    if (!b || max_size < 36) return Error::BadFormat;
    auto field = [b](u32 i) { return fdt_be32(b + 4 * i); };
    u32 version = field(5);
    if (field(0) != kMagic || version < 16 || field(6) > 17) return Error::BadFormat;
    u32 header_size = version >= 17 ? 40 : 36;
    Fdt f;
    f.m_blob = b;
    f.m_totalsize = field(1);
    if (f.m_totalsize < header_size || f.m_totalsize > max_size) return Error::BadFormat;
    f.m_struct_off = field(2);
    f.m_strings_off = field(3);
    f.m_rsv_off = field(4);
    f.m_strings_size = field(8);
    if (f.m_struct_off < header_size || f.m_struct_off > f.m_totalsize) return Error::BadFormat;
    f.m_struct_size = version >= 17 ? field(9) : f.m_totalsize - f.m_struct_off;
    // u64 sums: a hostile offset + size must not wrap around into range.
    auto inside = [&](u32 off, u32 size) { return off >= header_size && u64(off) + size <= f.m_totalsize; };
    // Spec 5.1: the reservation block is 8-byte and the structure block 4-byte aligned (relative to
    // the blob start; we never rely on the absolute alignment).
    if (!inside(f.m_struct_off, f.m_struct_size) || !inside(f.m_strings_off, f.m_strings_size) ||
        !inside(f.m_rsv_off, 0) || f.m_struct_off % 4 || f.m_rsv_off % 8)
        return Error::BadFormat;
    // Spec 5.5: the strings block is NUL-terminated strings laid end to end, so it ends with a NUL;
    // checking that once bounds every property name without scanning it on each lookup.
    if (f.m_strings_size && b[f.m_strings_off + f.m_strings_size - 1] != 0) return Error::BadFormat;

    // Memory reservation block (spec 5.3): (address, size) u64 pairs ending with (0, 0).
    for (u64 off = f.m_rsv_off;; off += 16, ++f.m_rsv_count) {
        if (off + 16 > f.m_totalsize) return Error::BadFormat;
        if (fdt_be64(b + off) == 0 && fdt_be64(b + off + 8) == 0) break;
    }

    // Structure block (spec 5.4.2): NOPs anywhere; one root node; a node's properties precede its
    // children; FDT_END after the root. token() bounds-checks each token, and offsets strictly grow,
    // so this loop ends.
    u32 depth = 0;
    bool props_allowed = false;
    for (u32 off = 0;;) {
        Token t = f.token(off);
        switch (t.kind) {
        case kBeginNode:
            if (depth == 0) {
                if (f.m_root != FdtNode::kNone) return Error::BadFormat;
                f.m_root = off;
            }
            ++depth;
            props_allowed = true;
            break;
        case kEndNode:
            if (depth-- == 0) return Error::BadFormat;
            props_allowed = false;
            break;
        case kProp:
            if (!props_allowed) return Error::BadFormat;
            break;
        case kNop: break;
        case kEnd:
            if (depth != 0 || f.m_root == FdtNode::kNone) return Error::BadFormat;
            return f;
        default: return Error::BadFormat;
        }
        off = t.next;
    }
}

// Decodes the token at struct-block offset `off`; kind is kBad if any part of it (name, value,
// padding, property-name string) lies outside its block. Every other walk goes through here.
Fdt::Token Fdt::token(u32 off) const {
    Token t{kBad, 0, nullptr, nullptr, 0};
    if (off % 4 || u64(off) + 4 > m_struct_size) return t;
    const u8* s = m_blob + m_struct_off;
    u32 kind = fdt_be32(s + off);
    u64 next = u64(off) + 4;
    if (kind == kBeginNode) { // spec 5.4.1: NUL-terminated unit name, padded to 4 bytes
        t.name = reinterpret_cast<const char*>(s + next);
        while (next < m_struct_size && s[next]) ++next;
        if (++next > m_struct_size) return t; // no NUL inside the block
    } else if (kind == kProp) { // u32 len, u32 nameoff, value, padding
        if (next + 8 > m_struct_size) return t;
        u32 len = fdt_be32(s + next), nameoff = fdt_be32(s + next + 4);
        next += 8;
        // create() made sure the strings block ends with a NUL, so the name is terminated.
        if (next + len > m_struct_size || nameoff >= m_strings_size) return t;
        t.name = reinterpret_cast<const char*>(m_blob + m_strings_off + nameoff);
        t.data = s + next;
        t.len = len;
        next += len;
    } else if (kind != kEndNode && kind != kNop && kind != kEnd) {
        return t;
    }
    next = align_up(next, 4);
    if (next > m_struct_size) return t;
    t.kind = kind;
    t.next = u32(next);
    return t;
}

FdtRange Fdt::mem_reserve(u32 i) const {
    if (i >= m_rsv_count) return {};
    const u8* e = m_blob + m_rsv_off + 16 * u64(i);
    return {fdt_be64(e), fdt_be64(e + 8)};
}

const char* Fdt::name(FdtNode n) const {
    Token t = token(n.offset);
    return t.kind == kBeginNode ? t.name : "";
}

// Offset just past the FDT_END_NODE closing the node at `off`, or kNone.
u32 Fdt::skip_node(u32 off) const {
    for (u32 depth = 0;;) {
        Token t = token(off);
        if (t.kind == kBad || t.kind == kEnd) return FdtNode::kNone;
        if (t.kind == kBeginNode) ++depth;
        if (t.kind == kEndNode && --depth == 0) return t.next;
        off = t.next;
    }
}

FdtNode Fdt::first_child(FdtNode n) const {
    Token t = token(n.offset);
    if (t.kind != kBeginNode) return {};
    for (u32 off = t.next;;) { // skip the node's properties
        Token c = token(off);
        if (c.kind == kBeginNode) return {off};
        if (c.kind != kProp && c.kind != kNop) return {};
        off = c.next;
    }
}

FdtNode Fdt::next_sibling(FdtNode n) const {
    if (token(n.offset).kind != kBeginNode) return {};
    for (u32 off = skip_node(n.offset);;) {
        Token t = token(off);
        if (t.kind == kBeginNode) return {off};
        if (t.kind != kNop) return {}; // the parent's FDT_END_NODE
        off = t.next;
    }
}

FdtNode Fdt::next_node(FdtNode n) const {
    Token t = token(n.offset);
    if (t.kind != kBeginNode) return {};
    for (u32 off = t.next;;) {
        t = token(off);
        if (t.kind == kBeginNode) return {off};
        if (t.kind == kBad || t.kind == kEnd) return {};
        off = t.next;
    }
}

Result<FdtNode> Fdt::parent(FdtNode n) const {
    // The blob has no parent links. Walking the tokens before n once gives its depth; a second
    // walk finds the last node opened one level up before n, which is still open there: the parent.
    // (Linear in the tokens before n, with no subtree skipping.)
    if (token(n.offset).kind != kBeginNode) return Error::NotFound;
    u32 depth_of_n = 0;
    FdtNode found{};
    for (int pass = 0; pass < 2; ++pass) {
        u32 depth = 0, off = m_root;
        while (off < n.offset) {
            Token t = token(off);
            if (t.kind == kBad || t.kind == kEnd) return Error::NotFound;
            if (t.kind == kBeginNode && pass == 1 && depth + 1 == depth_of_n) found = {off};
            if (t.kind == kBeginNode) ++depth;
            if (t.kind == kEndNode) --depth;
            off = t.next;
        }
        if (off != n.offset || depth == 0) return Error::NotFound; // not a token start, or the root
        depth_of_n = depth;
    }
    return found;
}

u32 Fdt::prop_at_or_after(u32 off) const {
    for (;;) {
        Token t = token(off);
        if (t.kind == kProp) return off;
        if (t.kind != kNop) return FdtNode::kNone;
        off = t.next;
    }
}

Fdt::PropRange Fdt::props(FdtNode n) const {
    Token t = token(n.offset);
    return {{this, t.kind == kBeginNode ? prop_at_or_after(t.next) : FdtNode::kNone}};
}

FdtProp Fdt::PropIter::operator*() const {
    Token t = m_fdt->token(m_offset);
    return {t.name, t.data, t.len};
}

Fdt::PropIter& Fdt::PropIter::operator++() {
    m_offset = m_fdt->prop_at_or_after(m_fdt->token(m_offset).next);
    return *this;
}

Result<FdtProp> Fdt::find_prop(FdtNode n, const char* name, usize len) const {
    for (FdtProp p : props(n))
        if (name_eq(p.name, name, len)) return p;
    return Error::NotFound;
}

Result<FdtProp> Fdt::prop(FdtNode n, const char* name) const { return find_prop(n, name, strlen(name)); }

Result<u32> Fdt::prop_u32(FdtNode n, const char* name) const {
    FdtProp p = TRY(prop(n, name));
    if (p.size != 4) return Error::BadFormat;
    return fdt_be32(p.data);
}

Result<u64> Fdt::prop_u64(FdtNode n, const char* name) const {
    FdtProp p = TRY(prop(n, name));
    if (p.size != 4 && p.size != 8) return Error::BadFormat;
    return FdtCells{p.data, p.size / 4}.read(0, p.size / 4);
}

Result<FdtStringList> Fdt::prop_strings(FdtNode n, const char* name) const {
    FdtProp p = TRY(prop(n, name));
    if (p.size == 0 || p.data[p.size - 1] != 0) return Error::BadFormat;
    return FdtStringList(reinterpret_cast<const char*>(p.data), p.size);
}

Result<const char*> Fdt::prop_string(FdtNode n, const char* name) const {
    FdtStringList list = TRY(prop_strings(n, name));
    return *list.begin();
}

bool Fdt::is_compatible(FdtNode n, const char* compat) const {
    auto list = prop_strings(n, "compatible");
    return list.is_ok() && list.value().contains(compat);
}

bool Fdt::is_enabled(FdtNode n) const {
    auto status = prop_string(n, "status");
    if (status.is_error()) return status.error() == Error::NotFound;
    return strcmp(status.value(), "okay") == 0 || strcmp(status.value(), "ok") == 0;
}

Result<FdtNode> Fdt::find_child(FdtNode n, const char* name, usize len) const {
    FdtNode unique{};
    u32 matches = 0;
    for (FdtNode c : children(n)) {
        const char* cname = this->name(c);
        if (name_eq(cname, name, len)) return c;
        // Spec 2.2.3: the unit address may be left out when that leaves no ambiguity.
        if (find_char(name, len, '@') == len && prefix_eq(cname, name, len) && cname[len] == '@') {
            unique = c;
            ++matches;
        }
    }
    if (matches == 1) return unique;
    return Error::NotFound;
}

Result<FdtNode> Fdt::find_path(const char* path, usize len) const {
    const char* p = path;
    const char* end = path + len;
    FdtNode node = root();
    if (len == 0) return Error::NotFound;
    if (*p != '/') { // spec 3.3: an alias name, i.e. a property of /aliases holding a full path
        const char* slash = p + find_char(p, len, '/');
        FdtNode aliases = TRY(find_child(root(), "aliases", 7));
        FdtProp alias = TRY(find_prop(aliases, p, usize(slash - p)));
        if (alias.size == 0 || alias.data[alias.size - 1] != 0 || alias.data[0] != '/')
            return Error::BadFormat;
        const char* target = reinterpret_cast<const char*>(alias.data);
        node = TRY(find_path(target, strlen(target)));
        p = slash;
    }
    while (p < end) {
        while (p < end && *p == '/') ++p;
        const char* q = p;
        while (q < end && *q != '/') ++q;
        if (q != p) node = TRY(find_child(node, p, usize(q - p)));
        p = q;
    }
    return node;
}

Result<FdtNode> Fdt::find_path(const char* path) const { return find_path(path, strlen(path)); }

Result<FdtNode> Fdt::find_compatible(const char* compat, FdtNode after) const {
    for (FdtNode n = after.valid() ? next_node(after) : root(); n.valid(); n = next_node(n))
        if (is_compatible(n, compat)) return n;
    return Error::NotFound;
}

Result<FdtNode> Fdt::find_phandle(u32 phandle) const {
    if (phandle == 0 || phandle == ~0u) return Error::NotFound; // spec 2.3.3: not valid phandles
    for (FdtNode n : nodes())
        for (FdtProp p : props(n)) // "linux,phandle": the pre-standard spelling, still in use
            if ((strcmp(p.name, "phandle") == 0 || strcmp(p.name, "linux,phandle") == 0) && p.size == 4 &&
                fdt_be32(p.data) == phandle)
                return n;
    return Error::NotFound;
}

Result<u32> Fdt::address_cells(FdtNode bus) const {
    auto v = prop_u32(bus, "#address-cells");
    return v.is_error() && v.error() == Error::NotFound ? Result<u32>(2) : v;
}

Result<u32> Fdt::size_cells(FdtNode bus) const {
    auto v = prop_u32(bus, "#size-cells");
    return v.is_error() && v.error() == Error::NotFound ? Result<u32>(1) : v;
}

Result<FdtReg> Fdt::reg(FdtNode n) const {
    FdtNode bus = TRY(parent(n));
    u32 ac = TRY(address_cells(bus));
    u32 sc = TRY(size_cells(bus));
    if (ac > 2 || sc > 2) return Error::Unsupported;
    FdtProp p = TRY(prop(n, "reg"));
    u32 entry = (ac + sc) * 4;
    if (ac == 0 || p.size == 0 || p.size % entry) return Error::BadFormat;
    return FdtReg{{p.data, p.size / 4}, ac, sc};
}

Result<u64> Fdt::translate(FdtNode n, u64 addr) const {
    // Each bus between n and the root maps its children's address space into its own parent's:
    // ranges = (child address, parent address, length) triples; empty ranges = identity.
    FdtNode bus = TRY(parent(n));
    while (bus != root()) {
        FdtNode up = TRY(parent(bus));
        FdtProp r = TRY(prop(bus, "ranges"));
        if (r.size != 0) {
            u32 ca = TRY(address_cells(bus)), pa = TRY(address_cells(up)), cs = TRY(size_cells(bus));
            if (ca > 2 || pa > 2 || cs > 2) return Error::Unsupported;
            u32 stride = ca + pa + cs;
            if (ca == 0 || r.size % (stride * 4)) return Error::BadFormat;
            FdtCells cells{r.data, r.size / 4};
            bool mapped = false;
            for (u32 i = 0; i < cells.count && !mapped; i += stride) {
                u64 child = cells.read(i, ca), parent_addr = cells.read(i + ca, pa);
                u64 length = cells.read(i + ca + pa, cs);
                if (addr >= child && addr - child < length) {
                    addr = addr - child + parent_addr;
                    mapped = true;
                }
            }
            if (!mapped) return Error::NotFound;
        }
        bus = up;
    }
    return addr;
}

Result<FdtCells> Fdt::interrupts(FdtNode n) const {
    FdtProp p = TRY(prop(n, "interrupts"));
    if (p.size % 4) return Error::BadFormat;
    return FdtCells{p.data, p.size / 4};
}
