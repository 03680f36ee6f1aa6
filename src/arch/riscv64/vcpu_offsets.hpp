// Layout of arch::GuestContext (vcpu.hpp), shared with guest_entry.S; checked by static_assert in
// vcpu.hpp.
#pragma once
#define GCTX_X(n) ((n) * 8)        // x1..x31 of the guest at 8 * n (x0 slot unused)
#define GCTX_SEPC 256
#define GCTX_SSTATUS 264           // the guest's view of sstatus at entry/exit (SPP, FS)
#define GCTX_HSTATUS 272
#define GCTX_SCAUSE 280            // trap CSRs of the last exit, read first thing in the exit vector
#define GCTX_STVAL 288
#define GCTX_HTVAL 296
#define GCTX_HTINST 304
#define GCTX_HOST_RA 312           // host state across the guest run
#define GCTX_HOST_SP 320
#define GCTX_HOST_GP 328
#define GCTX_HOST_TP 336
#define GCTX_HOST_S(n) (344 + (n) * 8) // s0..s11
#define GCTX_HOST_SSCRATCH 440
#define GCTX_HOST_STVEC 448
#define GCTX_HOST_HSTATUS 456
#define GCTX_HOST_SSTATUS 464
#define GCTX_SIZE 472
