// mr::Error and throw_error without any formatting library, so that CUDA sources compiled by
// nvcc (which cannot digest fmt's compile-time format checks) can throw the same errors.
// Everything else includes base/check.h.
#pragma once
#include <stdexcept>
#include <string>

namespace mr {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws Error("file:line: what: msg").
[[noreturn]] inline void throw_error(const char* file, int line, const char* what, const std::string& msg) {
  throw Error(std::string(file) + ":" + std::to_string(line) + ": " + what + (msg.empty() ? "" : ": ") + msg);
}

}  // namespace mr
