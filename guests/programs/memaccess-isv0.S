// isv0_access, linked into the memaccess guest: the copy that runs from the image in lazily
// allocated RAM, and the bytes the guest copies into its identity RAM region.
    .text
    .balign 4
    .global isv0_access
    .type   isv0_access, %function
isv0_access:
#include "memaccess-isv0.inc"
    .size   isv0_access, . - isv0_access
    .global isv0_access_end
isv0_access_end:
