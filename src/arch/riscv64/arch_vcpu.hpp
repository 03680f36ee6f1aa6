// Binds arch::Vcpu for generic code.
#pragma once
#include "vcpu.hpp"
