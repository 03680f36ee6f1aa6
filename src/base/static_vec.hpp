// Fixed-capacity vector: the image has no heap-backed std containers, so collections whose size is
// bounded by configuration (VMs, vCPUs, regions, devices) live in-place with a capacity chosen here.
#pragma once
#include "base/result.hpp"

template <typename T, usize N> class StaticVec {
public:
    StaticVec() = default;
    ~StaticVec() { clear(); }
    StaticVec(const StaticVec&) = delete;
    StaticVec& operator=(const StaticVec&) = delete;

    usize size() const { return m_size; }
    static constexpr usize capacity() { return N; }
    bool empty() const { return m_size == 0; }
    bool full() const { return m_size == N; }

    T& operator[](usize i) { return *ptr(i); }
    const T& operator[](usize i) const { return *ptr(i); }
    T* begin() { return ptr(0); }
    T* end() { return ptr(m_size); }
    const T* begin() const { return ptr(0); }
    const T* end() const { return ptr(m_size); }

    template <typename... Args> Result<T*> emplace_back(Args&&... args) {
        if (m_size == N) return Error::NoMemory;
        T* p = new (ptr(m_size)) T(static_cast<Args&&>(args)...);
        ++m_size;
        return p;
    }
    Result<void> push_back(const T& v) {
        if (m_size == N) return Error::NoMemory;
        new (ptr(m_size)) T(v);
        ++m_size;
        return {};
    }
    void pop_back() { ptr(--m_size)->~T(); }
    void clear() { while (m_size) pop_back(); }

private:
    T* ptr(usize i) { return reinterpret_cast<T*>(m_storage) + i; }
    const T* ptr(usize i) const { return reinterpret_cast<const T*>(m_storage) + i; }
    alignas(T) unsigned char m_storage[sizeof(T) * N];
    usize m_size = 0;
};
