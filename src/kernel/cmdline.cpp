#include "kernel/cmdline.hpp"
#include "base/string.hpp"
#include "kernel/log.hpp"

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool word_is(const char* w, usize len, const char* name) { return strlen(name) == len && !memcmp(w, name, len); }

} // namespace

HostCmdline cmdline_parse(const char* text, usize n) {
    HostCmdline c;
    char unknown[160];
    usize u = 0;
    bool cut = false;
    for (usize i = 0; i < n && text[i];) {
        if (is_blank(text[i])) {
            ++i;
            continue;
        }
        usize start = i;
        while (i < n && text[i] && !is_blank(text[i])) ++i;
        const char* w = text + start;
        usize len = i - start;
        if (word_is(w, len, "exit_when_done")) c.exit_when_done = true;
        else if (word_is(w, len, "timestamps")) c.timestamps = true;
        else if (u + len + 2 < sizeof unknown) {
            unknown[u++] = ' ';
            memcpy(unknown + u, w, len);
            u += len;
        } else {
            cut = true;
        }
    }
    unknown[u] = 0;
    if (u || cut)
        kprint("cxvisor: host command line: ignored unknown word(s):%s%s (known: exit_when_done timestamps)\n",
               unknown, cut ? " ..." : "");
    return c;
}

HostCmdline cmdline_from_fdt(const Fdt& fdt) {
    auto chosen = fdt.find_path("/chosen");
    if (chosen.is_error()) return {};
    auto args = fdt.prop(chosen.value(), "bootargs");
    if (args.is_error()) return {};
    // A string property: its size bounds the text even if the NUL is missing.
    return cmdline_parse(reinterpret_cast<const char*>(args.value().data), args.value().size);
}
