// Kernel heap for objects whose number follows the configuration (VMs, vCPUs, devices).
// First-fit free list over a pool of frames taken at boot; internally locked.
#pragma once
#include "base/result.hpp"

Result<void> heap_init(usize bytes);
void* kmalloc(usize size); // 16-byte aligned, nullptr when exhausted
void kfree(void* p);
usize heap_free_bytes();
