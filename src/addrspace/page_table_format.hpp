// PageTableFormat: one translation-table format as pure constexpr bit functions (no registers, no
// assembly), so one host test binary checks the encodings of every ISA and one walker
// (page_table.hpp) serves them all. Levels are numbered as Arm does: leaf_level holds pages, every
// level above it resolves bits_per_level more bits; the root level is chosen at run time.
#pragma once
#include "addrspace/addr.hpp"
#include <concepts>
#include <type_traits>

// Shape of one tree, chosen at run time (the aarch64 stage-2 start level follows PARange).
// root_entries is a power of two: below 2^bits_per_level for a short root, above it for a stage-2
// root made of concatenated tables; the root is root_entries * 8 bytes rounded up to a page and
// aligned to its own size.
struct TableGeometry {
    u32 start_level;
    u32 root_entries;
};

template <typename F>
concept PageTableFormat = requires(u64 desc, HostPhysAddr pa, MemFlags flags, u32 level) {
    { F::page_shift } -> std::convertible_to<u32>;     // 12: 4 KiB pages
    { F::bits_per_level } -> std::convertible_to<u32>; // 9: 512 entries per table
    { F::leaf_level } -> std::convertible_to<u32>;     // level whose entries are pages (3)
    { F::block_allowed(level) } -> std::same_as<bool>; // may `level` hold block (large) leaves?
    { F::make_table(pa) } -> std::same_as<u64>;
    { F::make_block(pa, flags) } -> std::same_as<u64>;
    { F::make_page(pa, flags) } -> std::same_as<u64>;
    { F::is_valid(desc) } -> std::same_as<bool>;
    { F::is_table(desc, level) } -> std::same_as<bool>; // false at leaf_level
    { F::is_block(desc, level) } -> std::same_as<bool>;
    { F::address(desc) } -> std::same_as<HostPhysAddr>; // output or next-table address
    { F::flags(desc) } -> std::same_as<MemFlags>;       // leaf permissions / memory type
    // The bit functions must be usable in constant expressions.
    typename std::integral_constant<u64, F::make_page(HostPhysAddr(0), MemFlags::Read)>;
    typename std::integral_constant<u64, F::make_block(HostPhysAddr(0), MemFlags::Read)>;
    typename std::integral_constant<bool, F::is_table(F::make_table(HostPhysAddr(0)), 0)>;
};
