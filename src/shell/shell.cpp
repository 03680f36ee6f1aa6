#include "shell/shell.hpp"
#include "base/format.hpp"
#include "base/string.hpp"
#include <stdarg.h>

void ShellOut::line(const char* fmt, ...) {
    char buf[LINE_CAP];
    va_list ap;
    va_start(ap, fmt);
    usize n = vformat(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n > sizeof buf - 2) n = sizeof buf - 2;
    buf[n++] = '\n';
    m_backend.write(buf, n);
}

void ShellOut::text(const char* s, usize n) { m_backend.write(s, n); }

namespace {

constexpr char BEL = 0x07, ESC = 0x1b, CTRL_C = 0x03, CTRL_U = 0x15, BS = 0x08, DEL = 0x7f, TAB = 0x09;

const char* const COMMANDS[] = {"help", "vm", "console", "cpus", "log", "version", "shutdown"};
const char* const VM_SUBCOMMANDS[] = {"list", "show", "stop", "start", "restart", "pause", "resume"};

struct VmOpName {
    const char* word;
    VmOp op;
    const char* done; // printed on success
    const char* busy; // why Busy, in the user's terms
};
constexpr VmOpName VM_OPS[] = {
    {"stop", VmOp::Stop, "stop requested", "only a running or paused VM can be stopped"},
    {"start", VmOp::Start, "started", "only a stopped or never started VM can be started; restart stops it first"},
    {"restart", VmOp::Restart, "restart requested", "it is still stopping; try again when it has stopped"},
    {"pause", VmOp::Pause, "paused", "only a running VM can be paused"},
    {"resume", VmOp::Resume, "resumed", "only a paused VM can be resumed"},
};

// A command line split into words (spaces separate them). At most MAX_WORDS are kept; `count`
// says how many there were, so a command can refuse extra words.
struct Words {
    static constexpr usize MAX_WORDS = 4;
    char buf[Shell::LINE_LEN + 1];
    const char* word[MAX_WORDS] = {};
    usize count = 0;
    bool ends_in_space = false;

    explicit Words(const char* line, usize len) {
        if (len > Shell::LINE_LEN) len = Shell::LINE_LEN;
        memcpy(buf, line, len);
        buf[len] = 0;
        ends_in_space = len == 0 || buf[len - 1] == ' ';
        for (usize i = 0; i < len;) {
            while (i < len && buf[i] == ' ') buf[i++] = 0;
            if (i == len) break;
            if (count < MAX_WORDS) word[count] = &buf[i];
            ++count;
            while (i < len && buf[i] != ' ') ++i;
        }
    }
    const char* at(usize i) const { return i < count && i < MAX_WORDS ? word[i] : ""; }
};

bool is(const char* a, const char* b) { return strcmp(a, b) == 0; }

// Decimal, no sign, no overflow; false for anything else.
bool parse_u32(const char* s, u32* out) {
    if (!*s) return false;
    u64 v = 0;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + u64(*s - '0');
        if (v > 0xFFFFFFFFull) return false;
    }
    *out = u32(v);
    return true;
}

} // namespace

// --- the line editor ---------------------------------------------------------------------------

void Shell::emit(const char* s, usize n) {
    char head[sizeof PROMPT + LINE_LEN];
    usize p = sizeof PROMPT - 1;
    memcpy(head, PROMPT, p);
    memcpy(head + p, m_line, m_len);
    m_backend.edit(head, p + m_len, s, n);
}

void Shell::emit(const char* s) { emit(s, strlen(s)); }

void Shell::bell() { emit(&BEL, 1); }

void Shell::show_prompt() {
    m_has_console = true;
    char text[sizeof PROMPT + LINE_LEN];
    usize p = sizeof PROMPT - 1;
    memcpy(text, PROMPT, p);
    memcpy(text + p, m_line, m_len);
    m_backend.edit("", 0, text, p + m_len);
}

void Shell::insert(char c) {
    if (m_len == LINE_LEN) {
        bell(); // the line is full: refused, as a terminal does
        return;
    }
    emit(&c, 1);
    m_line[m_len++] = c;
    m_line[m_len] = 0;
}

void Shell::backspace() {
    if (m_len == 0) {
        bell();
        return;
    }
    emit("\b \b");
    m_line[--m_len] = 0;
}

void Shell::kill_line() {
    // Back over every character, blank it, back again: needs nothing of the terminal but BS.
    char seq[3 * LINE_LEN];
    usize n = 0;
    for (usize i = 0; i < m_len; ++i) seq[n++] = '\b';
    for (usize i = 0; i < m_len; ++i) seq[n++] = ' ';
    for (usize i = 0; i < m_len; ++i) seq[n++] = '\b';
    if (n) emit(seq, n);
    m_len = 0;
    m_line[0] = 0;
}

void Shell::replace_line(const char* s) {
    kill_line();
    usize n = strlen(s);
    if (n > LINE_LEN) n = LINE_LEN;
    if (n) emit(s, n);
    memcpy(m_line, s, n);
    m_len = n;
    m_line[n] = 0;
}

const char* Shell::history_entry(usize back) const {
    return m_history[(m_hist_next + HISTORY - 1 - back) % HISTORY];
}

void Shell::history_up() {
    if (m_hist_pos == m_hist_count) {
        bell(); // at the oldest line kept
        return;
    }
    if (m_hist_pos == 0) memcpy(m_draft, m_line, m_len + 1);
    ++m_hist_pos;
    replace_line(history_entry(m_hist_pos - 1));
}

void Shell::history_down() {
    if (m_hist_pos == 0) {
        bell(); // already at the line being typed
        return;
    }
    --m_hist_pos;
    replace_line(m_hist_pos == 0 ? m_draft : history_entry(m_hist_pos - 1));
}

void Shell::enter() {
    emit("\n");
    char cmd[LINE_LEN + 1];
    memcpy(cmd, m_line, m_len + 1);
    // Kept unless empty or the same as the newest: the ring drops the oldest of HISTORY lines.
    Words w(cmd, m_len);
    if (w.count && (m_hist_count == 0 || !is(history_entry(0), cmd))) {
        memcpy(m_history[m_hist_next], cmd, m_len + 1);
        m_hist_next = (m_hist_next + 1) % HISTORY;
        if (m_hist_count < HISTORY) ++m_hist_count;
    }
    m_hist_pos = 0;
    m_len = 0;
    m_line[0] = 0;
    execute(cmd);
    if (m_has_console) show_prompt();
}

void Shell::complete() {
    Words w(m_line, m_len);
    // The word being completed: the last one, or a new one after a space.
    usize index = w.ends_in_space ? w.count : w.count - 1;
    const char* partial = w.ends_in_space ? "" : w.at(index);
    if (index >= Words::MAX_WORDS) {
        bell();
        return;
    }
    // Candidates for that position.
    const char* const* fixed = nullptr;
    usize fixed_n = 0;
    bool vms = false;
    if (index == 0) {
        fixed = COMMANDS, fixed_n = sizeof COMMANDS / sizeof *COMMANDS;
    } else if (index == 1 && is(w.at(0), "vm")) {
        fixed = VM_SUBCOMMANDS, fixed_n = sizeof VM_SUBCOMMANDS / sizeof *VM_SUBCOMMANDS;
    } else if (index == 1 && is(w.at(0), "console")) {
        vms = true;
    } else if (index == 2 && is(w.at(0), "vm") && !is(w.at(1), "list")) {
        for (const char* s : VM_SUBCOMMANDS) vms |= is(w.at(1), s);
    }
    usize n = vms ? m_backend.vm_count() : fixed_n;
    auto candidate = [&](usize i) { return vms ? m_backend.vm_name(i) : fixed[i]; };
    usize plen = strlen(partial);
    usize matches = 0, common = 0;
    const char* first = nullptr;
    for (usize i = 0; i < n; ++i) {
        const char* c = candidate(i);
        if (strncmp(c, partial, plen) != 0) continue;
        if (!first) {
            first = c;
            common = strlen(c);
        } else {
            usize k = plen;
            while (k < common && first[k] == c[k]) ++k;
            common = k;
        }
        ++matches;
    }
    if (matches == 0) {
        bell();
        return;
    }
    if (common > plen || matches == 1) {
        for (usize k = plen; k < common; ++k) insert(first[k]);
        if (matches == 1) insert(' ');
        return;
    }
    // Several, and nothing they share beyond what is typed: list them under the line.
    emit("\n");
    char list[ShellOut::LINE_CAP];
    usize len = 0;
    for (usize i = 0; i < n; ++i) {
        const char* c = candidate(i);
        if (strncmp(c, partial, plen) != 0) continue;
        len += format(list + len, sizeof list - len, "%s%s", len ? "  " : "", c);
        if (len >= sizeof list - 1) {
            len = sizeof list - 1;
            break;
        }
    }
    ShellOut(m_backend).line("%s", list);
    show_prompt();
}

void Shell::input(char c) {
    // Escape sequences: up and down arrows (ESC [ A / ESC [ B, or ESC O A / B in the terminal's
    // application mode) browse the history; any other sequence is swallowed whole.
    if (m_esc == Esc::Esc) {
        m_esc = c == '[' ? Esc::Csi : c == 'O' ? Esc::Ss3 : Esc::None;
        return;
    }
    if (m_esc == Esc::Csi || m_esc == Esc::Ss3) {
        if (m_esc == Esc::Csi && (c < 0x40 || c > 0x7e)) return; // parameter bytes
        m_esc = Esc::None;
        if (c == 'A') history_up();
        else if (c == 'B') history_down();
        return;
    }
    // A terminal sends CR for Enter, some send CR LF: the LF of such a pair is not a second Enter.
    bool after_cr = m_after_cr;
    m_after_cr = c == '\r';
    switch (c) {
    case '\r': enter(); return;
    case '\n': if (!after_cr) enter(); return;
    case ESC: m_esc = Esc::Esc; return;
    case BS:
    case DEL: backspace(); return;
    case CTRL_U: kill_line(); return;
    case CTRL_C:
        emit("^C\n");
        m_len = 0;
        m_line[0] = 0;
        m_hist_pos = 0;
        show_prompt();
        return;
    case TAB: complete(); return;
    default:
        if (c >= 0x20 && c < 0x7f) insert(c);
        else bell(); // other control characters mean nothing here
        return;
    }
}

// --- commands ----------------------------------------------------------------------------------

void Shell::execute(const char* line) {
    Words w(line, strlen(line));
    ShellOut out(m_backend);
    if (w.count == 0) return;
    const char* cmd = w.at(0);
    // A VM by decimal id or exact name; says so and returns false when there is none.
    usize vm = 0;
    auto find_vm = [&](const char* arg) {
        u32 id = 0;
        bool numeric = parse_u32(arg, &id);
        for (usize i = 0; i < m_backend.vm_count(); ++i)
            if ((numeric && m_backend.vm_id(i) == id) || is(m_backend.vm_name(i), arg)) {
                vm = i;
                return true;
            }
        out.line("no VM with id or name '%s' (vm list shows them)", arg);
        return false;
    };
    if (is(cmd, "help")) {
        if (w.count != 1) return out.line("usage: help");
        out.line("commands:");
        out.line("  vm list                every VM: id, name, state, vCPUs and their CPUs, RAM");
        out.line("  vm show <id|name>      one VM: regions, devices, vCPUs, exits, uptime, last report");
        out.line("  vm stop <id|name>      stop it now (forceful); its RAM is given back");
        out.line("  vm start <id|name>     start a stopped or never started VM fresh from its images");
        out.line("  vm restart <id|name>   stop it and start it again");
        out.line("  vm pause <id|name>     take its vCPUs off their CPUs, keeping all its state");
        out.line("  vm resume <id|name>    let a paused VM run on");
        out.line("  console <id|name>      give that VM the console input");
        out.line("  cpus                   physical CPUs: online, what runs there, idle share");
        out.line("  log                    the last cxvisor log lines (containment reports, errors)");
        out.line("  version                cxvisor's version and the commit it was built from");
        out.line("  shutdown               stop every VM and power the machine off");
        out.line("keys: Ctrl-\\ next VM's console, Ctrl-] this shell, Tab completes, Up/Down history,");
        out.line("      Backspace, Ctrl-U erases the line, Ctrl-C cancels it");
        return;
    }
    if (is(cmd, "vm")) {
        const char* sub = w.at(1);
        if (is(sub, "list")) {
            if (w.count != 2) return out.line("usage: vm list");
            return m_backend.list_vms(out);
        }
        if (is(sub, "show")) {
            if (w.count != 3) return out.line("usage: vm show <id|name>");
            if (find_vm(w.at(2))) m_backend.show_vm(vm, out);
            return;
        }
        for (const VmOpName& op : VM_OPS) {
            if (!is(sub, op.word)) continue;
            if (w.count != 3) return out.line("usage: vm %s <id|name>", op.word);
            if (!find_vm(w.at(2))) return;
            u32 id = m_backend.vm_id(vm);
            const char* name = m_backend.vm_name(vm);
            Result<void> r = m_backend.vm_op(vm, op.op);
            if (r.is_ok()) return out.line("vm %u (%s): %s (now %s)", id, name, op.done, m_backend.vm_state(vm));
            if (r.error() == Error::Busy)
                return out.line("vm %u (%s) is %s: cannot %s it (%s)", id, name, m_backend.vm_state(vm), op.word,
                                op.busy);
            return out.line("vm %u (%s): %s failed: %s", id, name, op.word, error_name(r.error()));
        }
        return out.line("usage: vm list | vm show|stop|start|restart|pause|resume <id|name>");
    }
    if (is(cmd, "console")) {
        if (w.count != 2) return out.line("usage: console <id|name>");
        if (!find_vm(w.at(1))) return;
        if (const char* why = m_backend.console_to(vm))
            return out.line("vm %u (%s) %s; the shell keeps the input", m_backend.vm_id(vm), m_backend.vm_name(vm), why);
        m_has_console = false; // the VM's output follows, not a prompt
        return;
    }
    struct Plain {
        const char* word;
        void (ShellBackend::*report)(ShellOut&);
    };
    static constexpr Plain PLAIN[] = {{"cpus", &ShellBackend::cpus},
                                      {"log", &ShellBackend::log},
                                      {"version", &ShellBackend::version}};
    for (const Plain& p : PLAIN) {
        if (!is(cmd, p.word)) continue;
        if (w.count != 1) return out.line("usage: %s", p.word);
        return (m_backend.*p.report)(out);
    }
    if (is(cmd, "shutdown")) {
        if (w.count != 1) return out.line("usage: shutdown");
        out.line("stopping every VM; the machine powers off when they have stopped");
        return m_backend.shutdown();
    }
    out.line("unknown command '%s'; type help for the commands", cmd);
}
