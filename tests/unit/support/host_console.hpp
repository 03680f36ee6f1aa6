// Host-test implementation of kernel/log.hpp: output is captured so tests can assert on messages.
#pragma once
#include <string>

std::string& captured_console();      // everything written since the last clear
void clear_captured_console();
