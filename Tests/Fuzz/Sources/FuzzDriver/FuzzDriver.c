#include "FuzzDriver.h"

// Provided by libFuzzer (linked by swiftc -sanitize=fuzzer).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int mk_fuzz_run(int argc, char **argv, mk_fuzz_callback callback) {
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
}
