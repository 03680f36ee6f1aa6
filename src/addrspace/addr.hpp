// Strong address types (after axaddrspace): a guest-physical address can never be passed where a
// host-physical one is expected. Arithmetic keeps the type; crossing types needs .value().
#pragma once
#include "base/types.hpp"
#include <compare>

template <typename Tag> class Address {
public:
    constexpr Address() = default;
    constexpr explicit Address(u64 v) : m_value(v) {}
    constexpr u64 value() const { return m_value; }
    constexpr Address operator+(u64 off) const { return Address(m_value + off); }
    constexpr Address operator-(u64 off) const { return Address(m_value - off); }
    constexpr u64 operator-(Address o) const { return m_value - o.m_value; }
    constexpr Address& operator+=(u64 off) { m_value += off; return *this; }
    constexpr auto operator<=>(const Address&) const = default;
    constexpr bool is_aligned(u64 a) const { return ::is_aligned(m_value, a); }
    constexpr Address align_down(u64 a) const { return Address(::align_down(m_value, a)); }
    constexpr Address align_up(u64 a) const { return Address(::align_up(m_value, a)); }

private:
    u64 m_value = 0;
};

struct GuestPhysTag {};
struct HostPhysTag {};
struct HostVirtTag {};
using GuestPhysAddr = Address<GuestPhysTag>;
using HostPhysAddr = Address<HostPhysTag>;
using HostVirtAddr = Address<HostVirtTag>;

// A range of host-physical addresses (RAM banks, device windows, reserved carve-outs).
struct PhysRange {
    HostPhysAddr base;
    u64 size = 0;
    constexpr HostPhysAddr end() const { return base + size; }
    constexpr bool overlaps(HostPhysAddr b, u64 s) const { return base.value() < b.value() + s && b.value() < base.value() + size; }
    constexpr bool contains(HostPhysAddr b, u64 s) const {
        return b >= base && s <= size && b.value() - base.value() <= size - s;
    }
};

// Access permissions of a mapping, as in axvisor's config flags (R=1 W=2 X=4) plus memory type.
enum class MemFlags : u32 {
    None = 0,
    Read = 1,
    Write = 2,
    Exec = 4,
    Device = 8, // device (non-cacheable, non-gathering) memory instead of normal write-back RAM
};
constexpr MemFlags operator|(MemFlags a, MemFlags b) { return MemFlags(u32(a) | u32(b)); }
constexpr MemFlags operator&(MemFlags a, MemFlags b) { return MemFlags(u32(a) & u32(b)); }
constexpr bool has(MemFlags set, MemFlags f) { return (u32(set) & u32(f)) == u32(f) && u32(f) != 0; }
