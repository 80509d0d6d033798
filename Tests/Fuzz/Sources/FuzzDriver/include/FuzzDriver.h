// FuzzDriver — starts libFuzzer from a Swift `@main` (SwiftPM links executables with its own
// entry point, so libFuzzer's `main` is never used; its LLVMFuzzerRunDriver is).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef int (*mk_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer with the process arguments and `callback` as the fuzz target; returns its exit code.
int mk_fuzz_run(int argc, char **argv, mk_fuzz_callback callback);
