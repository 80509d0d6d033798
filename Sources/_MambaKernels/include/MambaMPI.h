// MambaMPI.h — Open MPI, loaded at run time (mpi.c). The package builds and runs without MPI; a process
// started by mpirun loads libmpi when it asks for the world communicator. Every call works on
// MPI_COMM_WORLD with MPI_ERRORS_RETURN; on failure a call returns nonzero and fills `err` (one line).
#ifndef MAMBA_MPI_H
#define MAMBA_MPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the environment says an MPI launcher started this process (OMPI_COMM_WORLD_SIZE from Open MPI's
/// mpirun, or PMIX_RANK from a PMIx launcher), else 0. MAMBAKIT_MPI=0 forces 0.
int mk_mpi_launched(void);
/// Loads libmpi (MAMBAKIT_MPI_LIBRARY, else libmpi.so.40, else libmpi.so) with RTLD_GLOBAL, resolves the
/// Open MPI entry points and predefined handles, calls MPI_Init_thread (funneled: MPI is called from one
/// thread at a time, the collective watchdog only reads a clock) and sets MPI_ERRORS_RETURN on
/// MPI_COMM_WORLD. Idempotent. 0 on success.
int mk_mpi_init(char *err, size_t err_len);
/// Whether mk_mpi_init succeeded (and MPI_Finalize has not run).
int mk_mpi_active(void);
/// The library path/soname that was loaded ("" before mk_mpi_init).
const char *mk_mpi_library(void);
int mk_mpi_rank(void);
int mk_mpi_size(void);
/// Ranks on this host (OMPI_COMM_WORLD_LOCAL_SIZE), or 1 when unknown.
int mk_mpi_local_size_from_environment(void);

/// Seconds a collective may take before the watchdog prints an error naming the call and exits the
/// process with status 1 (mpirun then ends the other ranks). 0 turns the watchdog off (the default).
void mk_mpi_set_timeout(double seconds);

/// In-place sum over ranks of `count` floats (MPI_Allreduce with MPI_IN_PLACE), in buckets of at most
/// `bucket` elements (0: 1 << 24) so counts beyond INT_MAX work.
int mk_mpi_allreduce_sum_float(float *buf, long count, long bucket, char *err, size_t err_len);
/// In-place reduction over ranks of `count` doubles: op 0 = sum, 1 = max, 2 = min.
int mk_mpi_allreduce_double(double *buf, long count, int op, char *err, size_t err_len);
/// `bytes` bytes from `root` to every rank.
int mk_mpi_bcast(void *buf, long bytes, int root, char *err, size_t err_len);
int mk_mpi_barrier(char *err, size_t err_len);
/// MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job. Does not return.
void mk_mpi_abort(int code);
/// MPI_Finalize once (no-op when inactive).
void mk_mpi_finalize(void);

#ifdef __cplusplus
}
#endif
#endif
