// cxv-vmconfig: VM config compiler. Usage and file formats: docs/configuration.md.
#include "vmconfig.hpp"
#include <iostream>

int main(int argc, char** argv) {
    try {
        return vmconfig::run({argv + 1, argv + argc}, std::cerr);
    } catch (const std::exception& e) {
        std::cerr << "cxv-vmconfig: internal error: " << e.what() << "\n";
        return 1;
    }
}
