// How a line shown piece by piece (console_write_piece, kernel/log.hpp) reaches the console: the
// one rule of the image's console (kernel/console.cpp) and of the host tests' capture
// (tests/unit/support/host_console.cpp). `open` is the owner of the line now open on the console
// (null: the console is at the start of a line); put(s, n) writes raw bytes.
#pragma once
#include "base/types.hpp"

template <typename Put>
void console_piece(const void*& open, Put put, const void* owner, const char* head, usize head_len, const char* line,
                   usize len, usize shown, bool end) {
    if (!line) { // close owner's line if it is the open one
        if (open == owner) put("\n", 1), open = nullptr;
        return;
    }
    if (open == owner) {
        put(line + shown, len - shown);
    } else {
        // The line's first piece, or other output came in between and ended the shown part with a
        // newline: the whole line so far again, under its prefix, so that it reads whole.
        if (open) put("\n", 1);
        put(head, head_len);
        put(line, len);
    }
    if (end) put("\n", 1), open = nullptr;
    else open = owner;
}
