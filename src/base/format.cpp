#include "base/format.hpp"

namespace {

struct Out {
    char* buf;
    usize cap;
    usize len = 0;
    void put(char c) {
        if (len + 1 < cap) buf[len] = c;
        ++len;
    }
};

void put_padded(Out& out, const char* s, usize n, int width, bool left, char pad) {
    int fill = width > int(n) ? width - int(n) : 0;
    if (!left) while (fill-- > 0) out.put(pad);
    for (usize i = 0; i < n; ++i) out.put(s[i]);
    if (left) while (fill-- > 0) out.put(' ');
}

// Writes the digits of v into tmp (most significant first) and returns how many.
usize to_digits(char* tmp, u64 v, unsigned base, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char rev[24];
    usize n = 0;
    do {
        rev[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (usize i = 0; i < n; ++i) tmp[i] = rev[n - 1 - i];
    return n;
}

} // namespace

usize vformat(char* buf, usize cap, const char* fmt, va_list ap) {
    Out out{buf, cap};
    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') {
            out.put(*p);
            continue;
        }
        const char* spec = p++;
        bool left = false;
        char pad = ' ';
        for (;; ++p) {
            if (*p == '-') left = true;
            else if (*p == '0') pad = '0';
            else break;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        // Precision: only meaningful for %s here (at most that many bytes, so fixed-size name
        // fields that may lack a NUL print safely).
        int precision = -1;
        if (*p == '.') {
            ++p;
            precision = 0;
            while (*p >= '0' && *p <= '9') precision = precision * 10 + (*p++ - '0');
        }
        int longs = 0;
        while (*p == 'l') { ++longs; ++p; }
        if (*p == 'z') { longs = 2; ++p; }
        char tmp[24];
        switch (*p) {
        case 'd':
        case 'i': {
            i64 v = longs ? va_arg(ap, i64) : i64(va_arg(ap, int));
            u64 mag = v < 0 ? u64(0) - u64(v) : u64(v);
            usize n = 0;
            if (v < 0) tmp[n++] = '-';
            n += to_digits(tmp + n, mag, 10, false);
            put_padded(out, tmp, n, width, left, v < 0 && pad == '0' ? ' ' : pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            u64 v = longs ? va_arg(ap, u64) : u64(va_arg(ap, unsigned));
            usize n = to_digits(tmp, v, *p == 'u' ? 10 : 16, *p == 'X');
            put_padded(out, tmp, n, width, left, pad);
            break;
        }
        case 'p': {
            u64 v = u64(uptr(va_arg(ap, void*)));
            tmp[0] = '0';
            tmp[1] = 'x';
            usize n = 2 + to_digits(tmp + 2, v, 16, false);
            put_padded(out, tmp, n, width, left, ' ');
            break;
        }
        case 's': {
            const char* s = va_arg(ap, const char*);
            if (!s) s = "(null)";
            usize n = 0;
            while ((precision < 0 || n < usize(precision)) && s[n]) ++n;
            put_padded(out, s, n, width, left, ' ');
            break;
        }
        case 'c': {
            char c = char(va_arg(ap, int));
            put_padded(out, &c, 1, width, left, ' ');
            break;
        }
        case '%': out.put('%'); break;
        default:
            // Unknown conversion: print it as written so the mistake is visible.
            for (const char* q = spec; q <= p && *q; ++q) out.put(*q);
            if (!*p) --p;
            break;
        }
    }
    if (cap) buf[out.len < cap ? out.len : cap - 1] = '\0';
    return out.len;
}

usize format(char* buf, usize cap, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    usize n = vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}
