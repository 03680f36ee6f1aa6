#include "vmm/exit_status.hpp"
#include "base/format.hpp"

int exit_summary(const VmEnd* vms, usize count, char* out, usize n) {
    int status = EXIT_CLEAN;
    for (usize i = 0; i < count; ++i) {
        if (vms[i].crashed && status < EXIT_CRASHED) status = EXIT_CRASHED;
        if (vms[i].failed) status = EXIT_FAILED;
    }
    usize o = format(out, n, "cxvisor: all VMs have stopped: exit status %d (", status);
    if (status == EXIT_CLEAN) {
        o += format(out + (o < n ? o : n), o < n ? n - o : 0, "%s", "every VM powered off or was stopped by the operator");
    } else {
        // Each VM that made the status non-zero, with what it did.
        const char* sep = "";
        for (usize i = 0; i < count; ++i) {
            if (!vms[i].crashed && !vms[i].failed) continue;
            const char* what = vms[i].crashed && vms[i].failed ? "reported FAIL and was stopped by containment"
                               : vms[i].failed                 ? "reported FAIL"
                                                               : "was stopped by containment";
            o += format(out + (o < n ? o : n), o < n ? n - o : 0, "%svm %u (%s) %s", sep, vms[i].id, vms[i].name, what);
            sep = "; ";
        }
    }
    // ")\n" always ends the line, even when the list had to be cut.
    if (n >= 3) {
        usize end = o + 3 <= n ? o : n - 3;
        out[end] = ')';
        out[end + 1] = '\n';
        out[end + 2] = 0;
    }
    return status;
}
