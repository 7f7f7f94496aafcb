// exit_on_uncaught.h: a program that includes this ends with its message and exit status 2
// when an exception escapes main, instead of std::terminate's abort (status 134, "terminate
// called after throwing ...", a core dump). A bad VITLAB_ISA, for one, is an exception the
// library throws when the first kernel is chosen; `vit` catches everything in its own main,
// and the tutorials (tutorials/common.h) and bench programs (bench/bench.h) get this instead
// of a try block repeated in every main.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace vitlab::program {

[[noreturn]] inline void exit_with_message() {
    std::fflush(stdout);  // what the program printed before the error stays
    try {
        if (std::exception_ptr e = std::current_exception()) std::rethrow_exception(e);
        std::fputs("error: std::terminate called without an exception\n", stderr);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
    } catch (...) {
        std::fputs("error: an exception that is not a std::exception\n", stderr);
    }
    std::_Exit(2);
}

// Installed once per program, before main runs (an inline variable is initialised once).
inline const bool kExitOnUncaught = (std::set_terminate(exit_with_message), true);

}  // namespace vitlab::program
