// The host interrupt controllers' one-time set-up (intc.cpp): the PCH-PIC at its DT address
// (mapped by host_mmu_init before this runs), the EIOINTC's pin map, the timer's width.
#pragma once
#include "base/result.hpp"

namespace arch {
Result<void> intc_init(u64 pch_pic_base);
}
