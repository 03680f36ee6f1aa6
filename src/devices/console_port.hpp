// A console the operator can switch to and type into (docs/shell.md): a VM's PL011 or its
// virtio-console port. The console focus (vmm/console_focus.cpp) and the shell see only this.
#pragma once
#include "base/types.hpp"

class ConsolePort {
public:
    // Called once (then forgotten) after push_input refused a character, as soon as the port can
    // take input again. Runs with no device lock held.
    using Waker = void (*)();

    // One character typed on the host console for this VM. Called from any CPU with the console
    // input lock held (lock order: console input -> device). true: taken. false: the port is full;
    // it keeps nothing and calls `waker` once it has room (the caller holds the character until
    // then). `overdue`: the caller has waited too long; the port then takes (or loses, as its
    // hardware would) the character instead of refusing it.
    virtual bool push_input(char c, Waker waker = nullptr, bool overdue = false) = 0;
    // Live (the VM has the console input): unfinished output lines are shown as they come (see
    // ConsoleLine). Any CPU.
    virtual void set_live(bool live) = 0;
    // Emits a partial output line (with a '\n' added). Any CPU.
    virtual void flush() = 0;
    // One character of output as if the guest had written it (HC_PUTC). Any CPU.
    virtual void put_output(char c) = 0;
    // The device's name from the VM config ("uart0", "hvc0").
    virtual const char* port_name() const = 0;

protected:
    ~ConsolePort() = default; // never deleted through the interface
};
