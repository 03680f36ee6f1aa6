// The wire between an interrupt source (an emulated device, a virtual timer, a passthrough line)
// and its VM's virtual interrupt controller. Sources hold an IrqLine and never see the controller,
// so a device model is the same on every ISA: the VM (vm/vm.cpp) is the IrqSink and turns a line
// change into controller state plus kicks of the vCPUs that must notice (the request mechanism of
// docs/architecture.md, "Interrupt path").
//
// Contract: set()/pulse() may be called from any CPU, with the caller's own device lock held (the
// controller's lock is a leaf and the sink takes the scheduler lock only after releasing it).
// Calling set() with an unchanged level is allowed but costs a controller lock round trip:
// sources that are called often (a UART on every register access) remember their last level.
#pragma once
#include "base/types.hpp"

class IrqSink {
public:
    // Level of a level-sensitive input line; a rising edge on an edge-configured one latches it.
    virtual void set_line(u32 intid, bool level) = 0;
    // One event: the interrupt becomes pending until the guest acknowledges it.
    virtual void raise(u32 intid) = 0;

protected:
    ~IrqSink() = default; // never deleted through the interface
};

struct IrqLine {
    IrqSink* sink = nullptr; // null: not connected (interrupt_mode "no_irq", or irq 0 in the config)
    u32 intid = 0;

    bool connected() const { return sink != nullptr; }
    void set(bool level) const {
        if (sink) sink->set_line(intid, level);
    }
    void pulse() const {
        if (sink) sink->raise(intid);
    }
};
