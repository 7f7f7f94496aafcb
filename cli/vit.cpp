// vit.cpp: main() of build/vit; everything else is in vit_main.h and commands.cpp.
#include <iostream>

#include "cli/vit_main.h"

int main(int argc, char** argv) {
    return vitlab::cli::vit_main(argc, argv, std::cout, std::cerr);
}
