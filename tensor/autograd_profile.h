// autograd_profile.h: where the time of loss.backward() goes, one line per kind of node.
//
//   autograd::BackwardProfile prof;
//   autograd::set_backward_profile(&prof);     // every later backward() times each node
//   loss.backward();                           // prof["LinearBackward"].seconds, .calls
//   autograd::set_backward_profile(nullptr);   // off again: the walk reads one pointer a node
//
// For benchmarks (bench/bench_train.cpp): a node's time is the CPU time of the whole process
// (every thread) while its backward function runs, plus the sums of gradients that meet at its
// inputs: on a shared machine it counts our work only, not the waits for a core. With
// ProfileClock::Wall it is the wall-clock time instead: what a node costs on 2 threads (CPU
// time would add up both threads' work).
// Not thread-safe: set it while no backward runs.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace vitlab::autograd {

struct OpTime {
    double seconds = 0.0;
    int64_t calls = 0;
};
using BackwardProfile = std::map<std::string, OpTime>;

enum class ProfileClock { ProcessCpu, Wall };
void set_backward_profile(BackwardProfile* profile, ProfileClock clock = ProfileClock::ProcessCpu);

}  // namespace vitlab::autograd
