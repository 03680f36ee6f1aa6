// Errors are values (SerenityOS ErrorOr style): every fallible operation returns Result<T>.
// No exceptions exist in the image, so this is the only error path. `panic()` is reserved for
// broken hypervisor invariants, never for something a guest or a config file did.
#pragma once
#include "base/types.hpp"
#include <new>
#include <type_traits>
#include <utility>

enum class Error : u8 {
    NoMemory,        // frame allocator / heap exhausted
    InvalidArgument, // caller passed something outside the contract
    OutOfRange,      // address or index outside the object
    AlreadyMapped,   // mapping over an existing mapping
    NotMapped,       // translate/unmap/protect on a hole
    NotFound,        // lookup failed (FDT node, device, VM)
    Busy,            // resource in use (vCPU already on, CPU already running)
    Unsupported,     // feature not implemented or not present on this CPU
    BadFormat,       // malformed input (DTB, package, instruction)
    Denied,          // operation not allowed for this VM (isolation)
    Aborted,         // the memory system answered an access with an external abort
    DeviceError,     // a device cxvisor drives (host disk, fw_cfg) failed or did not answer
};

constexpr const char* error_name(Error e) {
    switch (e) {
    case Error::NoMemory: return "out of memory";
    case Error::InvalidArgument: return "invalid argument";
    case Error::OutOfRange: return "out of range";
    case Error::AlreadyMapped: return "already mapped";
    case Error::NotMapped: return "not mapped";
    case Error::NotFound: return "not found";
    case Error::Busy: return "busy";
    case Error::Unsupported: return "unsupported";
    case Error::Aborted: return "external abort";
    case Error::DeviceError: return "device error";
    case Error::BadFormat: return "bad format";
    case Error::Denied: return "denied";
    }
    return "unknown error";
}

template <typename T> class [[nodiscard]] Result {
public:
    Result(const T& v) : m_ok(true) { new (&m_value) T(v); }
    Result(T&& v) : m_ok(true) { new (&m_value) T(std::move(v)); }
    Result(Error e) : m_ok(false), m_error(e) {}
    Result(const Result& o) : m_ok(o.m_ok) {
        if (m_ok) new (&m_value) T(o.m_value); else m_error = o.m_error;
    }
    Result(Result&& o) : m_ok(o.m_ok) {
        if (m_ok) new (&m_value) T(std::move(o.m_value)); else m_error = o.m_error;
    }
    Result& operator=(const Result&) = delete;
    ~Result() { if (m_ok) m_value.~T(); }

    bool is_ok() const { return m_ok; }
    bool is_error() const { return !m_ok; }
    Error error() const { return m_error; }
    T& value() & { return m_value; }
    const T& value() const& { return m_value; }
    T&& value() && { return std::move(m_value); }
    T release_value() { return std::move(m_value); }

private:
    bool m_ok;
    union {
        T m_value;
        Error m_error;
    };
};

template <> class [[nodiscard]] Result<void> {
public:
    Result() : m_ok(true), m_error(Error::InvalidArgument) {}
    Result(Error e) : m_ok(false), m_error(e) {}
    bool is_ok() const { return m_ok; }
    bool is_error() const { return !m_ok; }
    Error error() const { return m_error; }
    void release_value() {}

private:
    bool m_ok;
    Error m_error;
};

// TRY(expr): evaluate a Result, return its error from the enclosing function, else yield the value.
#define TRY(expr)                                                                                  \
    ({                                                                                             \
        auto _try_result = (expr);                                                                 \
        if (_try_result.is_error()) return _try_result.error();                                    \
        _try_result.release_value();                                                               \
    })
