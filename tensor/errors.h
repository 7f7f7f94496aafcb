// errors.h: the exceptions of the library, one per kind of mistake, each with a message that
// names the operator (or file), what it got and what it expected.
//
//   ShapeError  a shape mistake: "matmul: cannot multiply (576, 768) by (512, 10): 768 != 512"
//   IndexError  a dim or an index outside its range: names it and the valid range
//   FileError   a file that cannot be read or written, or does not hold what it should:
//               "w.safetensors: header length 0 ...". Every file format's error derives from it
//               (ImageError, CheckpointError), so a program catches one type for all files.
#pragma once

#include <stdexcept>

namespace vitlab {

struct ShapeError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

struct IndexError : std::out_of_range {
    using std::out_of_range::out_of_range;
};

struct FileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace vitlab
