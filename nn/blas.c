// blas.c — OpenBLAS kernel selection, threads and the GEMM benchmark (blas.h).

#include "nn/blas.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define FORCE_OPENBLAS_COMPLEX_STRUCT // keep <complex.h> (and its macro I) out
#include <cblas.h>

#include "nn/gemm.h"
#include "base/progress.h"

#define REEXEC_VAR "CPCRL_BLAS_REEXEC"

// ----------------------------------------------------------------------------
// Kernel and CPU classes

const char *blas_kernel_name(void) {
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

int blas_cpu_class(void) {
    __builtin_cpu_init();
    // libgcc also checks XCR0, so these are false when the OS does not save
    // the wider registers.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return BLAS_CLASS_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return BLAS_CLASS_AVX2;
    if (__builtin_cpu_supports("avx")) return BLAS_CLASS_AVX;
    return BLAS_CLASS_SSE;
}

// Kernel names as OpenBLAS 0.3.x's DYNAMIC_ARCH reports them; everything not
// listed (Prescott, Core2, Nehalem, Atom, Opteron, Unknown, ...) is SSE-class.
int blas_kernel_class(const char *corename) {
    static const struct { const char *name; int cls; } k[] = {
        {"SkylakeX", BLAS_CLASS_AVX512},  {"Cooperlake", BLAS_CLASS_AVX512},
        {"SapphireRapids", BLAS_CLASS_AVX512},
        {"Haswell", BLAS_CLASS_AVX2},     {"Zen", BLAS_CLASS_AVX2},
        {"Excavator", BLAS_CLASS_AVX2},
        {"Sandybridge", BLAS_CLASS_AVX},  {"Bulldozer", BLAS_CLASS_AVX},
        {"Piledriver", BLAS_CLASS_AVX},   {"Steamroller", BLAS_CLASS_AVX},
    };
    if (!corename) return BLAS_CLASS_SSE;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strcasecmp(corename, k[i].name) == 0) return k[i].cls;
    return BLAS_CLASS_SSE;
}

const char *blas_class_name(int cls) {
    switch (cls) {
    case BLAS_CLASS_AVX512: return "AVX-512";
    case BLAS_CLASS_AVX2: return "AVX2";
    case BLAS_CLASS_AVX: return "AVX";
    default: return "no AVX";
    }
}

const char *blas_pick_kernel(const char *corename, int cpu_class) {
    if (blas_kernel_class(corename) >= cpu_class) return NULL;
    switch (cpu_class) {
    case BLAS_CLASS_AVX512: return "SkylakeX"; // Cooperlake would also need AVX512-BF16
    case BLAS_CLASS_AVX2: return "Haswell";
    case BLAS_CLASS_AVX: return "Sandybridge";
    default: return NULL;
    }
}

// ----------------------------------------------------------------------------
// Selection by re-exec

// The bf16 part of the kernel line: what --precision bf16 would run on.
static const char *bf16_note(void) {
    static char note[200];
    snprintf(note, sizeof note, "; bf16 %s", gemm_bf16_status());
    return note;
}

int blas_select_kernel(int argc, char **argv, int verbose) {
    const char *core = blas_kernel_name();
    const char *user = getenv("OPENBLAS_CORETYPE");
    const char *marker = getenv(REEXEC_VAR);
    int cls = blas_cpu_class();
    const char *cpu = blas_class_name(cls);
    char *fallback[] = {(char *)"cpcrl", NULL};
    char **av = (argc > 0 && argv && argv[0]) ? argv : fallback;
    // Idle OpenBLAS threads spin ~0.1 s after each product by default and
    // crowd out cpcrl's own worker threads on a 2-core machine (measured:
    // 2-thread training 7.4k -> 10.3k frames/s with a short timeout). Like the
    // kernel, this is read when the library loads, so it needs a re-exec.
    int timeout_new = 0; // an environment variable was set: re-exec for it to take effect
    if (!getenv("OPENBLAS_THREAD_TIMEOUT") && setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1) == 0)
        timeout_new = 1;
    // The same for oneDNN's OpenMP threads (--precision bf16): libgomp's
    // default spin-wait after each parallel product starves OpenBLAS's and
    // the pool's threads on 2 cores (measured: bf16 training 7.0k -> 10.4k
    // frames/s on 2 threads with PASSIVE). libgomp reads it at load time.
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0)
        timeout_new = 1;

    if (marker) { // we are the re-executed program (or a child of it)
        if (user && strcasecmp(core, user) == 0) {
            if (verbose)
                fprintf(stderr, "cpcrl: OpenBLAS kernel %s (auto-selected; CPU has %s, "
                        "library default was %s)%s\n", core, cpu, marker, bf16_note());
            return 0;
        }
        if (verbose)
            fprintf(stderr, "cpcrl: OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s did not take "
                    "effect; CPU has %s, library default was %s)%s\n", core,
                    user ? user : "(unset)", cpu, marker, bf16_note());
        return blas_pick_kernel(core, cls) ? -1 : 0;
    }
    if (timeout_new && (user && *user)) { fflush(NULL); execv("/proc/self/exe", av); }
    if (user && *user) {
        if (verbose)
            fprintf(stderr, "cpcrl: OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s set by the user; "
                    "CPU has %s)%s\n", core, user, cpu, bf16_note());
        return 0;
    }
    const char *want = blas_pick_kernel(core, cls);
    if (!want && timeout_new) { fflush(NULL); execv("/proc/self/exe", av); }
    if (!want) {
        if (verbose)
            fprintf(stderr, "cpcrl: OpenBLAS kernel %s (library default; CPU has %s)%s\n", core,
                    cpu, bf16_note());
        return 0;
    }
    if (setenv("OPENBLAS_CORETYPE", want, 1) == 0 && setenv(REEXEC_VAR, core, 1) == 0) {
        fflush(NULL);
        execv("/proc/self/exe", av);
    }
    int err = errno; // only reached when something above failed
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(REEXEC_VAR);
    if (verbose)
        fprintf(stderr, "cpcrl: OpenBLAS kernel %s (slow; CPU has %s but re-exec with "
                "OPENBLAS_CORETYPE=%s failed: %s; set it yourself)%s\n", core, cpu, want,
                strerror(err), bf16_note());
    return -1;
}

// ----------------------------------------------------------------------------
// Threads

void blas_set_threads(int n) {
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    openblas_set_num_threads(n);
}

int blas_threads(void) { return openblas_get_num_threads(); }

// ----------------------------------------------------------------------------
// Benchmark

typedef struct {
    const char *label;
    int ta, tb; // 1 = transposed operand, as the layer calls it
    int M, N, K;
} BenchShape;

// Default network (T=20, B=32 -> 640 rows; C=14 planes, 7x7; D=H=256; A=4).
static const BenchShape bench_shapes[] = {
    {"square 1024^3", 0, 0, 1024, 1024, 1024},
    {"conv1 fwd: im2col (640*49,14*9) w^T", 0, 1, 640 * 49, 16, 14 * 9},
    {"conv2 fwd: im2col (640*49,16*9) w^T", 0, 1, 640 * 49, 32, 144},
    {"conv2 bwd dw: dout^T col", 1, 0, 32, 144, 640 * 49},
    {"conv2 bwd dcol: dout w", 0, 0, 640 * 49, 144, 32},
    {"fc fwd: (640,1568) w^T", 0, 1, 640, 256, 1568},
    {"fc bwd dw: dout^T inp", 1, 0, 256, 1568, 640},
    {"fc bwd dinp: dout w", 0, 0, 640, 1568, 256},
    {"LSTM gates, one step: [x|h] (32,517) W^T", 0, 1, 32, 1024, 256 + 5 + 256},
    {"LSTM x-part, all steps: (640,261) W_ih^T", 0, 1, 640, 1024, 261},
    {"LSTM bwd dw_hh, one step: da^T h", 1, 0, 1024, 256, 32},
    {"CPC predictions: c (640,256) [W_1..W_10]^T", 0, 1, 640, 2560, 256},
    {"LSTM bwd dW_ih, all rows: dgates^T x", 1, 0, 1024, 261, 640},
    {"LSTM bwd dz, all rows: dgates W_ih[:, :D]", 0, 0, 640, 256, 1024},
    {"BPTT dh_prev, one step: dgates W_hh", 0, 0, 32, 256, 1024},
    {"CPC P_1: c (608,256) W_1^T", 0, 1, 608, 256, 256},
    {"CPC dW_1: dP_1^T c", 1, 0, 256, 256, 608},
    {"small: (64,256) (256,256)^T", 0, 1, 64, 256, 256},
};

void blas_bench(FILE *out) {
    size_t nshape = sizeof bench_shapes / sizeof bench_shapes[0], maxa = 0, maxb = 0, maxc = 0;
    for (size_t s = 0; s < nshape; s++) {
        const BenchShape *b = &bench_shapes[s];
        size_t a = (size_t)b->M * b->K, bb = (size_t)b->K * b->N, c = (size_t)b->M * b->N;
        maxa = a > maxa ? a : maxa;
        maxb = bb > maxb ? bb : maxb;
        maxc = c > maxc ? c : maxc;
    }
    float *A = malloc(maxa * sizeof(float)), *B = malloc(maxb * sizeof(float));
    float *C = calloc(maxc, sizeof(float));
    if (!A || !B || !C) {
        fprintf(out, "blas bench: out of memory\n");
        free(A); free(B); free(C);
        return;
    }
    for (size_t i = 0; i < maxa; i++) A[i] = (float)((i * 7) % 13) * 0.01f - 0.06f;
    for (size_t i = 0; i < maxb; i++) B[i] = (float)((i * 5) % 11) * 0.01f - 0.05f;

    const int bf16 = gemm_bf16_available();
    fprintf(out, "sgemm (OpenBLAS kernel %s, %d threads, CPU has %s); bf16 %s\n",
            blas_kernel_name(), blas_threads(), blas_class_name(blas_cpu_class()),
            gemm_bf16_status());
    if (bf16)
        fprintf(out, "  bf16 = gemm_bf16 (nn/gemm.h): both operands converted every call,\n"
                "  fp32 accumulation; x = sgemm time / bf16 time\n");
    fprintf(out, "  %-44s %6s %6s %6s %10s %9s%s\n", "shape (row-major, as the layer calls it)",
            "M", "N", "K", "ms/call", "GFLOP/s", bf16 ? "    bf16 ms   GFLOP/s      x" : "");
    for (size_t s = 0; s < nshape; s++) {
        const BenchShape *b = &bench_shapes[s];
        int lda = b->ta ? b->M : b->K, ldb = b->tb ? b->K : b->N;
        CBLAS_TRANSPOSE ta = b->ta ? CblasTrans : CblasNoTrans;
        CBLAS_TRANSPOSE tb = b->tb ? CblasTrans : CblasNoTrans;
        cblas_sgemm(CblasRowMajor, ta, tb, b->M, b->N, b->K, 1.0f, A, lda, B, ldb, 0.0f, C,
                    b->N); // warm-up: thread start, page faults
        long reps = 0;
        double t0 = progress_now(), dt = 0.0;
        do {
            cblas_sgemm(CblasRowMajor, ta, tb, b->M, b->N, b->K, 1.0f, A, lda, B, ldb, 0.0f,
                        C, b->N);
            reps++;
            dt = progress_now() - t0;
        } while (dt < 0.3 || reps < 3);
        double flops = 2.0 * b->M * b->N * b->K * (double)reps;
        fprintf(out, "  %-44s %6d %6d %6d %10.4f %9.1f", b->label, b->M, b->N, b->K,
                1e3 * dt / (double)reps, flops / dt * 1e-9);
        if (bf16 && gemm_bf16(b->ta, b->tb, b->M, b->N, b->K, A, lda, B, ldb, 0.0f, C, b->N) == 0) {
            long r16 = 0;
            double t16 = progress_now(), d16 = 0.0;
            do {
                gemm_bf16(b->ta, b->tb, b->M, b->N, b->K, A, lda, B, ldb, 0.0f, C, b->N);
                r16++;
                d16 = progress_now() - t16;
            } while (d16 < 0.3 || r16 < 3);
            fprintf(out, " %10.4f %9.1f %6.2f", 1e3 * d16 / (double)r16,
                    2.0 * b->M * b->N * b->K * (double)r16 / d16 * 1e-9,
                    (dt / (double)reps) / (d16 / (double)r16));
        }
        fprintf(out, "\n");
    }
    free(A);
    free(B);
    free(C);
}
