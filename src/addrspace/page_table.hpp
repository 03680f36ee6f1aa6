// PageTable<Format, FrameSource>: the one translation-table walker of cxvisor. Every format (the
// stage-2 tables of each ISA, the EL2 stage-1 table) is a pure description (page_table_format.hpp);
// mapping with the largest blocks, splitting blocks, freeing tables and queries live only here.
//
// Every mutating call runs the same recursive walk twice: a planning pass that changes nothing,
// checks the whole range (AlreadyMapped / NotMapped) and counts the tables it will need; then, once
// all those tables are allocated, a commit pass that cannot fail. So each call either succeeds or
// fails with the tree exactly as before: there is no rollback code to get wrong.
//
// Contract: the owner serialises all calls (AddrSpace under its VM's lock; the EL2 table during boot).
// The hardware walker may read the tree at any time, so each descriptor changes with one aligned
// 64-bit store, a new table is filled before the store that links it (release order), and every
// removal or weakening is followed by Tlb maintenance before the frames behind it are freed.
#pragma once
#include "addrspace/frame_source.hpp"
#include "addrspace/page_table_format.hpp"
#include "addrspace/tlb.hpp"

template <PageTableFormat F, FrameSource S> class PageTable {
public:
    static constexpr u64 page_size = u64(1) << F::page_shift;
    static constexpr u32 table_entries = 1u << F::bits_per_level;
    // Bytes covered by one entry of a table at `level` (4 KiB at the leaf level, then 2 MiB, 1 GiB...).
    static constexpr u64 span(u32 level) {
        return u64(1) << (F::page_shift + F::bits_per_level * (F::leaf_level - level));
    }

    // One leaf: [in, in + size) translates to [pa, pa + size).
    struct Mapping {
        u64 in;
        HostPhysAddr pa;
        u64 size;
        MemFlags flags;
        HostPhysAddr at(u64 addr) const { return pa + (addr - in); } // for addr inside the leaf
    };
    // What unmap/protect do when the range contains unmapped pages.
    enum class Holes : u8 { Error, Skip };

    static Result<PageTable> create(S& frames, TableGeometry geo) {
        const u32 n = geo.root_entries;
        if (geo.start_level > F::leaf_level || n == 0 || (n & (n - 1)) != 0) return Error::InvalidArgument;
        const usize root_frames = n * 8 > page_size ? n * 8 / page_size : 1;
        const HostPhysAddr root = TRY(frames.alloc_frames(root_frames, root_frames * page_size));
        return PageTable(frames, geo, root, root_frames);
    }
    PageTable(PageTable&& o)
        : m_frames(o.m_frames), m_geo(o.m_geo), m_root(o.m_root), m_root_frames(o.m_root_frames) {
        o.m_root_frames = 0;
    }
    PageTable& operator=(PageTable&&) = delete;
    ~PageTable() { destroy(); }

    bool is_live() const { return m_root_frames != 0; }
    HostPhysAddr root() const { return m_root; } // for VTTBR_EL2.BADDR / TTBR0_EL2
    const TableGeometry& geometry() const { return m_geo; }
    u64 limit() const { return u64(m_geo.root_entries) * span(m_geo.start_level); } // first input past the tree
    S& frames() const { return *m_frames; }

    // Maps [in, in + size) to [pa, pa + size), each piece with the largest leaf that the alignment of
    // both addresses permits, and no leaf larger than max_leaf bytes (page_size: pages only).
    // AlreadyMapped if any page of the range is mapped; nothing changes then.
    Result<void> map(u64 in, HostPhysAddr pa, u64 size, MemFlags flags, u64 max_leaf = ~u64(0)) {
        if (!pa.is_aligned(page_size)) return Error::InvalidArgument;
        NoTlb none;
        Walk<NoTlb> w{Op::Map, in, pa, flags, Holes::Error, &none, max_leaf};
        return run(w, in, size);
    }
    // Removes [in, in + size), splitting blocks that straddle its ends and freeing tables that become
    // empty. Holes::Error: NotMapped if any page is unmapped (nothing changes); Holes::Skip: ignore holes.
    template <Tlb T> Result<void> unmap(u64 in, u64 size, T& tlb, Holes holes = Holes::Error) {
        Walk<T> w{Op::Unmap, in, HostPhysAddr(), MemFlags::None, holes, &tlb};
        return run(w, in, size);
    }
    // Replaces permissions and memory type of [in, in + size), splitting blocks at its ends.
    template <Tlb T>
    Result<void> protect(u64 in, u64 size, MemFlags flags, T& tlb, Holes holes = Holes::Error) {
        Walk<T> w{Op::Protect, in, HostPhysAddr(), flags, holes, &tlb};
        return run(w, in, size);
    }
    // Splits the blocks that contain `in` (not at their start) until a leaf begins at `in`. The
    // translation does not change, so this is always safe to leave in place.
    template <Tlb T> Result<void> split_at(u64 in, T& tlb) {
        Walk<T> w{Op::Split, in, HostPhysAddr(), MemFlags::None, Holes::Skip, &tlb};
        return run(w, in, page_size);
    }
    // The leaf containing `in` (NotMapped for a hole, OutOfRange past limit()).
    Result<Mapping> query(u64 in) const {
        if (in >= limit()) return Error::OutOfRange;
        const u64* t = root_table();
        for (u32 level = m_geo.start_level;; ++level) {
            const u64 d = t[index(in, level)];
            if (!F::is_valid(d)) return Error::NotMapped;
            if (!F::is_table(d, level)) return Mapping{align_down(in, span(level)), F::address(d), span(level), F::flags(d)};
            t = table_at(F::address(d));
        }
    }
    // Calls fn(const Mapping&) for every leaf that intersects [in, in + size), in address order,
    // until fn returns false. fn must not change the table.
    template <typename Fn> void for_each_leaf(u64 in, u64 size, Fn&& fn) const {
        const u64 end = in + size < limit() ? in + size : limit();
        if (in < end) leaves(root_table(), m_geo.start_level, in, end, fn);
    }
    // Frees every table below the root and empties the root. The caller guarantees that no CPU
    // walks this tree any more (VM stopped, its TLB entries invalidated); leaf frames stay the caller's.
    void clear() {
        if (!is_live()) return;
        free_tables(root_table(), m_geo.start_level, m_geo.root_entries);
        for (u32 i = 0; i < m_geo.root_entries; ++i) root_table()[i] = 0;
    }
    // clear() and free the root as well; the object is dead afterwards.
    void destroy() {
        if (!is_live()) return;
        free_tables(root_table(), m_geo.start_level, m_geo.root_entries);
        m_frames->free_frames(m_root, m_root_frames);
        m_root_frames = 0;
    }

private:
    enum class Op : u8 { Map, Unmap, Protect, Split };
    struct NoTlb {
        void invalidate_range(u64, u64) {}
        void invalidate_all() {}
        void after_map(u64, u64) {}
    };
    template <typename T> struct Walk {
        Op op;
        u64 in0;          // Map: input address that translates to pa0
        HostPhysAddr pa0;
        MemFlags flags;   // Map, Protect: flags of the new leaves
        Holes holes;
        T* tlb;
        u64 max_leaf = ~u64(0); // Map: the largest leaf it may write
        bool commit = false;
        usize tables = 0; // planning: tables the commit pass takes from the pool
        HostPhysAddr pool{}; // commit: pre-allocated zeroed frames, chained through their first word
    };

    PageTable(S& frames, TableGeometry geo, HostPhysAddr root, usize root_frames)
        : m_frames(&frames), m_geo(geo), m_root(root), m_root_frames(root_frames) {}

    u64* table_at(HostPhysAddr pa) const { return static_cast<u64*>(m_frames->phys_to_virt(pa)); }
    u64* root_table() const { return table_at(m_root); }
    usize index(u64 in, u32 level) const {
        const u64 n = level == m_geo.start_level ? m_geo.root_entries : table_entries;
        return (in >> (F::page_shift + F::bits_per_level * (F::leaf_level - level))) & (n - 1);
    }
    static u64 make_leaf(u32 level, HostPhysAddr pa, MemFlags flags) {
        return level == F::leaf_level ? F::make_page(pa, flags) : F::make_block(pa, flags);
    }
    // The entry at `level` covering `base` inside `parent`, a leaf one level up or an invalid entry:
    // what a split of `parent` would write there. It lets planning walk tables that do not exist yet.
    static u64 inherited(u64 parent, u32 level, u64 base) {
        if (!F::is_valid(parent)) return 0;
        return make_leaf(level, F::address(parent) + (base & (span(level - 1) - 1)), F::flags(parent));
    }
    // One single-copy-atomic store, so the hardware walker never sees half a descriptor.
    static void store(u64* slot, u64 d) { __atomic_store_n(slot, d, __ATOMIC_RELAXED); }
    // Links a filled table: release orders its contents before the descriptor that points to it.
    static void publish(u64* slot, u64 d) { __atomic_store_n(slot, d, __ATOMIC_RELEASE); }

    template <typename T> Result<void> run(Walk<T>& w, u64 in, u64 size) {
        if (size == 0 || !is_aligned(in, page_size) || !is_aligned(size, page_size)) return Error::InvalidArgument;
        if (in + size < in || in + size > limit()) return Error::OutOfRange;
        TRY(visit(w, root_table(), 0, m_geo.start_level, in, in + size));
        for (usize i = 0; i < w.tables; ++i) {
            auto frame = m_frames->alloc_frames(1, page_size);
            if (frame.is_error()) {
                while (i--) m_frames->free_frames(take(w), 1);
                return frame.error();
            }
            *table_at(frame.value()) = w.pool.value();
            w.pool = frame.value();
        }
        w.commit = true;
        // Cannot fail: planning checked every entry this pass visits and the pool holds every table.
        auto done = visit(w, root_table(), 0, m_geo.start_level, in, in + size);
        if (w.op == Op::Unmap || w.op == Op::Protect) w.tlb->invalidate_range(in, size);
        return done;
    }
    template <typename T> HostPhysAddr take(Walk<T>& w) {
        const HostPhysAddr pa = w.pool;
        u64* t = table_at(pa);
        w.pool = HostPhysAddr(t[0]);
        t[0] = 0; // frames come zeroed: restore the link word
        return pa;
    }
    // A table for a hole at `slot` (planning: counted only; it reads as all-invalid).
    template <typename T> u64* new_table(Walk<T>& w, u64* slot) {
        if (!w.commit) return ++w.tables, nullptr;
        const HostPhysAddr pa = take(w);
        publish(slot, F::make_table(pa)); // slot was invalid: nothing cached, no TLB maintenance
        return table_at(pa);
    }
    // Replaces the block at `slot` by a table of next-level leaves with the same translation.
    template <typename T> u64* split(Walk<T>& w, u64* slot, u64 block, u32 level, u64 base) {
        if (!w.commit) return ++w.tables, nullptr;
        const HostPhysAddr pa = take(w);
        u64* t = table_at(pa);
        for (u32 i = 0; i < table_entries; ++i) t[i] = inherited(block, level + 1, base + i * span(level + 1));
        // Break-before-make (Arm ARM DDI0487 D8 "Using break-before-make when updating translation
        // table entries"): changing the block size of a live mapping must go through an invalid entry
        // and a TLB invalidation, else a TLB may hold both sizes (TLB conflict abort, lost coherency).
        // A vCPU touching the block in this window takes a stage-2 fault that handle_fault retries.
        store(slot, 0);
        w.tlb->invalidate_range(base, span(level));
        publish(slot, F::make_table(pa));
        return t;
    }

    // Rewrites the valid leaf `old` at `slot`. Changing a live entry's memory type (or output
    // address or block size, which only split() does) needs break-before-make (Arm ARM DDI0487 K.a
    // chapter D8, "Using break-before-make when updating translation table entries"): invalid entry,
    // TLB invalidation, then the new entry; otherwise TLBs may hold both (TLB conflict abort, loss
    // of coherency). Permission-only changes may be written in place.
    template <typename T> void replace(Walk<T>& w, u64* slot, u64 old, u64 d, u32 level, u64 base) {
        if (has(F::flags(old), MemFlags::Device) != has(F::flags(d), MemFlags::Device)) {
            store(slot, 0);
            w.tlb->invalidate_range(base, span(level));
        }
        store(slot, d);
    }

    // Applies w.op to [a, end) inside `table` (a table at `level`). table == nullptr only while
    // planning: a table that does not exist yet, whose entries are inherited() from `parent`.
    template <typename T> Result<void> visit(Walk<T>& w, u64* table, u64 parent, u32 level, u64 a, u64 end) {
        const u64 sz = span(level);
        for (u64 next; a < end; a = next) {
            const u64 base = align_down(a, sz);
            next = base + sz < end ? base + sz : end;
            const bool whole = a == base && next == base + sz;
            u64* slot = table ? &table[index(a, level)] : nullptr;
            const u64 d = slot ? *slot : inherited(parent, level, base);

            if (!F::is_valid(d)) {
                if (w.op == Op::Split || (w.op != Op::Map && w.holes == Holes::Skip)) continue;
                if (w.op != Op::Map) return Error::NotMapped;
                const HostPhysAddr pa = w.pa0 + (a - w.in0);
                if (level == F::leaf_level || (whole && F::block_allowed(level) && sz <= w.max_leaf && pa.is_aligned(sz))) {
                    if (w.commit) store(slot, make_leaf(level, pa, w.flags));
                } else {
                    TRY(visit(w, new_table(w, slot), 0, level + 1, a, next));
                }
            } else if (F::is_table(d, level)) {
                u64* child = table_at(F::address(d));
                TRY(visit(w, child, 0, level + 1, a, next));
                if (w.commit && w.op == Op::Unmap && is_empty(child)) {
                    // Unhook the empty table; walk caches may still point at it, so invalidate
                    // before its frame goes back to the allocator.
                    store(slot, 0);
                    w.tlb->invalidate_range(base, sz);
                    m_frames->free_frames(F::address(d), 1);
                }
            } else if (w.op == Op::Map) {
                return Error::AlreadyMapped;
            } else if (whole || (w.op == Op::Split && a == base)) {
                if (w.commit && w.op == Op::Unmap) store(slot, 0);
                if (w.commit && w.op == Op::Protect) replace(w, slot, d, make_leaf(level, F::address(d), w.flags), level, base);
            } else { // only part of this block changes
                TRY(visit(w, split(w, slot, d, level, base), d, level + 1, a, next));
            }
        }
        return {};
    }
    static bool is_empty(const u64* t) {
        for (u32 i = 0; i < table_entries; ++i)
            if (F::is_valid(t[i])) return false;
        return true;
    }
    template <typename Fn> bool leaves(const u64* t, u32 level, u64 a, u64 end, Fn& fn) const {
        const u64 sz = span(level);
        for (u64 base = align_down(a, sz); base < end; base += sz) {
            const u64 d = t[index(base, level)];
            if (!F::is_valid(d)) continue;
            if (F::is_table(d, level)) {
                const u64 from = base > a ? base : a, to = base + sz < end ? base + sz : end;
                if (!leaves(table_at(F::address(d)), level + 1, from, to, fn)) return false;
            } else if (!fn(Mapping{base, F::address(d), sz, F::flags(d)})) {
                return false;
            }
        }
        return true;
    }
    void free_tables(u64* t, u32 level, u32 n) {
        for (u32 i = 0; i < n; ++i) {
            if (!F::is_valid(t[i]) || !F::is_table(t[i], level)) continue;
            free_tables(table_at(F::address(t[i])), level + 1, table_entries);
            m_frames->free_frames(F::address(t[i]), 1);
        }
    }

    S* m_frames;
    TableGeometry m_geo;
    HostPhysAddr m_root;
    usize m_root_frames; // 0: moved-from or destroyed
};
