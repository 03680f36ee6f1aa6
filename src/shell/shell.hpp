// The management shell on the host console (docs/shell.md): a line editor and the commands that
// list, inspect and control VMs. Generic: everything it knows about VMs, CPUs and the console comes
// through a ShellBackend, which the image implements over the VMM (vmm/shell_backend.cpp) and host
// unit tests with a fake (tests/unit/shell).
//
// Contract: Shell::input is called with the console input lock held, one key at a time, from the
// console input handler (boot CPU, interrupts masked). It never blocks and never allocates; a
// command runs to completion inside the call (VM stop and pause complete asynchronously in the VM).
#pragma once
#include "base/result.hpp"
#include "base/types.hpp"

enum class VmOp : u8 { Stop, Start, Restart, Pause, Resume };

// Formatted plain lines of shell output through the backend. Lines never start with "cxvisor:"
// (that marks log lines), so a reader tells shell output, log lines and `[vm]` output apart.
class ShellBackend;
class ShellOut {
public:
    explicit ShellOut(ShellBackend& b) : m_backend(b) {}
    // One line; the newline is added. Cut at LINE_CAP - 1 characters.
    void line(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    void text(const char* s, usize n); // raw, as it is
    static constexpr usize LINE_CAP = 160;

private:
    ShellBackend& m_backend;
};

// What the shell needs from the system. Every call comes from Shell::input (see its contract).
class ShellBackend {
public:
    // Output. `write`: whole lines of command output (any line the shell's editor left open is
    // ended first). `edit`: a piece of the line being edited; `head` is that line as it stood
    // before the piece (prompt and text), to be shown first if other output has ended it since.
    virtual void write(const char* s, usize n) = 0;
    virtual void edit(const char* head, usize head_len, const char* s, usize n) = 0;

    // VMs, in package order; index i < vm_count().
    virtual usize vm_count() = 0;
    virtual u32 vm_id(usize i) = 0;
    virtual const char* vm_name(usize i) = 0;
    virtual const char* vm_state(usize i) = 0; // "running", "stopped", ...
    virtual Result<void> vm_op(usize i, VmOp op) = 0;
    // Gives the VM the console input (the shell no longer has it) and returns null; or returns why
    // not, e.g. "has no console UART", and the shell keeps it.
    virtual const char* console_to(usize i) = 0;

    // Reports, printed through `out`.
    virtual void list_vms(ShellOut& out) = 0;
    virtual void show_vm(usize i, ShellOut& out) = 0;
    virtual void cpus(ShellOut& out) = 0;
    virtual void log(ShellOut& out) = 0;
    virtual void version(ShellOut& out) = 0;
    // Stops every VM and powers the machine off once they have stopped.
    virtual void shutdown() = 0;

protected:
    ~ShellBackend() = default; // never deleted through this interface
};

class Shell {
public:
    static constexpr usize LINE_LEN = 120;   // characters of one command line; more ring the bell
    static constexpr usize HISTORY = 8;      // lines kept for up/down
    static constexpr char PROMPT[] = "cxvisor> ";

    explicit Shell(ShellBackend& b) : m_backend(b) {}

    // One key from the console (see the contract above).
    void input(char c);
    // The shell has just been given the console: shows the prompt and what was typed so far.
    void show_prompt();
    // Parses and runs one command line (what Enter does with the edited line).
    void execute(const char* line);

    // For tests and the backend.
    const char* line() const { return m_line; }
    usize history_size() const { return m_hist_count; }

private:
    enum class Esc : u8 { None, Esc, Csi, Ss3 };
    void insert(char c);
    void backspace();
    void kill_line();
    void replace_line(const char* s);
    void enter();
    void history_up();
    void history_down();
    void complete();
    void bell();
    void emit(const char* s, usize n); // a piece of the edited line (backend edit)
    void emit(const char* s);
    const char* history_entry(usize back) const; // 0 = newest

    ShellBackend& m_backend;
    char m_line[LINE_LEN + 1] = {};
    usize m_len = 0;
    Esc m_esc = Esc::None;
    bool m_after_cr = false;
    bool m_has_console = true; // false once `console` has given the input to a VM: no prompt then
    char m_history[HISTORY][LINE_LEN + 1] = {};
    usize m_hist_count = 0;  // lines stored (at most HISTORY)
    usize m_hist_next = 0;   // slot the next line goes to
    usize m_hist_pos = 0;    // 0: editing a fresh line; k: showing the k-th newest entry
    char m_draft[LINE_LEN + 1] = {}; // the fresh line, kept while browsing the history
};
