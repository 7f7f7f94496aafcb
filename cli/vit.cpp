// vit.cpp: main() of build/vit; everything else is in vit_main.h and commands.cpp.
#include <iostream>

#include "cli/vit_main.h"
#include "tensor/io/safetensors.h"

int main(int argc, char** argv) {
    // A checkpoint truncated while it is mapped: exit 2 with one line, not "Bus error".
    vitlab::install_truncation_handler("vit");
    return vitlab::cli::vit_main(argc, argv, std::cout, std::cerr);
}
