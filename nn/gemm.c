// gemm.c — fp32 / bf16 learner products (see gemm.h).
#include "nn/gemm.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#define FORCE_OPENBLAS_COMPLEX_STRUCT // keep <complex.h>'s macro I out
#include <cblas.h>

#ifdef CPCRL_DNNL
#include <cpuid.h>
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>
// libgomp (oneDNN's runtime): the calling thread's team size
extern void omp_set_num_threads(int n);
#endif

static atomic_int g_precision = GEMM_FP32;
static atomic_long g_epoch = 1;   // bumped whenever parameters may have changed
static atomic_int g_fixed;        // 1 between gemm_params_fixed_begin and _end

void gemm_params_fixed_begin(void) {
    atomic_fetch_add(&g_epoch, 1);
    atomic_store(&g_fixed, 1);
}

void gemm_params_fixed_end(void) {
    atomic_store(&g_fixed, 0);
    atomic_fetch_add(&g_epoch, 1);
}

// ----------------------------------------------------------------------------
// bf16 rounding (portable reference; the vector path is below)

uint16_t gemm_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float gemm_bf16_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#ifdef CPCRL_DNNL
__attribute__((target("avx512f,avx512bf16,avx512vl"))) static void convert_avx512(uint16_t *out,
                                                                                   const float *x,
                                                                                   size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
        __m256i bits;
        memcpy(&bits, &v, sizeof bits);
        _mm256_storeu_si256((__m256i *)(out + i), bits);
    }
    for (; i < n; i++) out[i] = gemm_bf16_round(x[i]);
}
#endif

static int g_vector_convert = -1; // set by gemm_bf16_available()

void gemm_bf16_convert(uint16_t *out, const float *x, size_t n) {
#ifdef CPCRL_DNNL
    if (g_vector_convert > 0) {
        convert_avx512(out, x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) out[i] = gemm_bf16_round(x[i]);
}

// ----------------------------------------------------------------------------
// Support

#ifdef CPCRL_DNNL
// CPUID leaf 7: AMX-BF16 (subleaf 0, EDX bit 22), AVX512-BF16 (subleaf 1,
// EAX bit 5); AVX-512 state saved by the OS (libgcc's check of XCR0).
static int cpu_bf16(int *amx) {
    unsigned a, b, c, d;
    *amx = 0;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl"))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    *amx = (d >> 22) & 1;
    int avx = __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 5) & 1);
    return avx || *amx;
}
#endif

static atomic_int g_avail = -1;
static char g_status[160];
static pthread_once_t g_status_once = PTHREAD_ONCE_INIT;

static void probe(void) {
#ifdef CPCRL_DNNL
    const char *off = getenv("CPCRL_NO_BF16");
    int amx = 0, cpu = cpu_bf16(&amx);
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const dnnl_version_t *v = dnnl_version();
    int avail = 0;
    if (off && *off) {
        snprintf(g_status, sizeof g_status, "unavailable: CPCRL_NO_BF16 is set");
    } else if (!cpu || (int)isa < (int)dnnl_cpu_isa_avx512_core_bf16) {
        snprintf(g_status, sizeof g_status,
                 "unavailable: this CPU has neither AVX512-BF16 nor AMX-BF16");
    } else {
        avail = 1;
        snprintf(g_status, sizeof g_status, "oneDNN %d.%d.%d, %s", v->major, v->minor, v->patch,
                 ((int)isa >= (int)dnnl_cpu_isa_avx512_core_amx && amx) ? "AMX-BF16"
                                                                         : "AVX512-BF16");
    }
    g_vector_convert = cpu && __builtin_cpu_supports("avx512f");
    atomic_store(&g_avail, avail);
#else
    snprintf(g_status, sizeof g_status,
             "unavailable: built without oneDNN (apt-get install libdnnl-dev, then rebuild)");
    g_vector_convert = 0;
    atomic_store(&g_avail, 0);
#endif
}

int gemm_bf16_available(void) {
    pthread_once(&g_status_once, probe);
    return atomic_load(&g_avail);
}

const char *gemm_bf16_status(void) {
    pthread_once(&g_status_once, probe);
    return g_status;
}

void gemm_set_precision(int precision) {
    assert(precision == GEMM_FP32 || (precision == GEMM_BF16 && gemm_bf16_available()));
    atomic_store(&g_precision, precision);
}

int gemm_precision(void) { return atomic_load(&g_precision); }

// ----------------------------------------------------------------------------
// oneDNN: per-thread slots, each with its stream, primitive cache and buffers

#ifdef CPCRL_DNNL
#define SLOTS 16      // threads that may call (the trainer's + nn_parallel's workers)
#define CACHE 512     // shapes per thread (T=100, K=30: ~100)

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float beta;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} Entry;

// An operand fixed for the epoch (a parameter; CPC's contexts), converted
// once per epoch (see gemm_params_fixed_begin); a call on its first rows
// reuses the copy (row-major: a prefix).
typedef struct {
    const float *src;
    int rows, cols, ld;
    long epoch;
    uint16_t *buf;
    size_t cap;
} WeightCopy;
#define WCOPIES 128 // fc, LSTM, CPC's W_k (K <= 64) and contexts

typedef struct {
    dnnl_stream_t stream;
    Entry *cache; // CACHE entries
    int n;
    WeightCopy w[WCOPIES];
    int nw;
    uint16_t *buf; // converted A then B
    size_t cap;    // elements of buf
    int omp;       // OpenMP threads last set on this thread
} Slot;

static dnnl_engine_t g_engine;
static Slot g_slots[SLOTS];
static atomic_int g_nslots;
static atomic_long g_prims, g_allocs;
static atomic_size_t g_bytes;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int tl_slot = -1;

// A thread's slot, claimed on its first call and kept for the thread's life
// (gemm_bf16_shutdown empties slots, it does not take them back).
static Slot *slot_get(void) {
    if (tl_slot < 0) {
        pthread_mutex_lock(&g_mu);
        int id = atomic_load(&g_nslots);
        if (id < SLOTS) atomic_store(&g_nslots, id + 1), tl_slot = id;
        pthread_mutex_unlock(&g_mu);
        if (tl_slot < 0) return NULL;
    }
    Slot *s = &g_slots[tl_slot];
    if (!s->stream) {
        pthread_mutex_lock(&g_mu);
        if (!g_engine && dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) g_engine = NULL;
        int ok = g_engine != NULL;
        pthread_mutex_unlock(&g_mu);
        if (!s->cache) s->cache = calloc(CACHE, sizeof(Entry));
        if (!ok || !s->cache ||
            dnnl_stream_create(&s->stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
            s->stream = NULL;
            return NULL;
        }
        atomic_fetch_add(&g_allocs, 1);
    }
    return s;
}

static void entry_free(Entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->a) dnnl_memory_destroy(e->a);
    if (e->b) dnnl_memory_destroy(e->b);
    if (e->c) dnnl_memory_destroy(e->c);
    memset(e, 0, sizeof *e);
}

// op(A) (M,K) from a packed bf16 buffer of `rows` x `cols` (cols = its row
// stride): strides {cols, 1}, or {1, cols} when transposed.
static void md2(dnnl_memory_desc_t *md, int d0, int d1, dnnl_data_type_t t, int trans, int ld) {
    dnnl_dims_t dims = {d0, d1}, st = {ld, 1};
    if (trans) st[0] = 1, st[1] = ld;
    dnnl_memory_desc_init_by_strides(md, 2, dims, t, st);
}

static Entry *entry_make(Slot *s, int ta, int tb, int M, int N, int K, int lda, int ldb, int ldc,
                         float beta) {
    if (s->n == CACHE) { // full (many differently shaped trainers in one process): start over
        for (int i = 0; i < s->n; i++) entry_free(&s->cache[i]);
        s->n = 0;
    }
    Entry *e = &s->cache[s->n];
    memset(e, 0, sizeof *e);
    e->ta = ta, e->tb = tb, e->M = M, e->N = N, e->K = K, e->lda = lda, e->ldb = ldb, e->ldc = ldc;
    e->beta = beta;
    // operands are packed: op(A)'s storage has rows of (ta ? M : K), op(B)'s of (tb ? K : N)
    dnnl_memory_desc_t amd, bmd, cmd;
    md2(&amd, M, K, dnnl_bf16, ta, ta ? M : K);
    md2(&bmd, K, N, dnnl_bf16, tb, tb ? K : N);
    md2(&cmd, M, N, dnnl_f32, 0, ldc);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int ok = dnnl_matmul_desc_init(&desc, &amd, &bmd, NULL, &cmd) == dnnl_success &&
             dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && beta != 0.0f)
        ok = dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL) == dnnl_success &&
         dnnl_primitive_create(&e->prim, pd) == dnnl_success &&
         dnnl_memory_create(&e->a, &amd, g_engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&e->b, &bmd, g_engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&e->c, &cmd, g_engine, DNNL_MEMORY_NONE) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    atomic_fetch_add(&g_prims, 1);
    s->n++;
    return e;
}

static Entry *entry_find(Slot *s, int ta, int tb, int M, int N, int K, int lda, int ldb, int ldc,
                         float beta) {
    for (int i = 0; i < s->n; i++) {
        Entry *e = &s->cache[i];
        if (e->M == M && e->N == N && e->K == K && e->ta == ta && e->tb == tb && e->lda == lda &&
            e->ldb == ldb && e->ldc == ldc && e->beta == beta)
            return e;
    }
    return entry_make(s, ta, tb, M, N, K, lda, ldb, ldc, beta);
}

// rows x cols of a strided fp32 matrix into a packed bf16 one
static void pack(uint16_t *out, const float *x, int rows, int cols, int ld) {
    if (ld == cols) {
        gemm_bf16_convert(out, x, (size_t)rows * cols);
        return;
    }
    for (int r = 0; r < rows; r++)
        gemm_bf16_convert(out + (size_t)r * cols, x + (size_t)r * ld, (size_t)cols);
}

// B as a packed bf16 matrix: converted into the slot's buffer, or (a
// parameter while parameters are fixed) taken from / put into the slot's
// copy of this epoch. NULL when out of memory.
static const uint16_t *weight_copy(Slot *s, const float *B, int rows, int cols, int ld) {
    const long epoch = atomic_load(&g_epoch);
    WeightCopy *w = NULL;
    for (int i = 0; i < s->nw && !w; i++)
        if (s->w[i].src == B && s->w[i].cols == cols && s->w[i].ld == ld) w = &s->w[i];
    if (w && w->epoch == epoch && w->rows >= rows) return w->buf;
    if (!w) {
        if (s->nw == WCOPIES) return NULL; // caller converts per call
        w = &s->w[s->nw++];
        memset(w, 0, sizeof *w);
        w->src = B, w->cols = cols, w->ld = ld;
    }
    const size_t need = (size_t)rows * cols;
    if (need > w->cap) {
        uint16_t *buf = aligned_alloc(64, ((need * sizeof(uint16_t) + 63) / 64) * 64);
        if (!buf) return NULL;
        free(w->buf);
        atomic_fetch_add(&g_bytes, (need - w->cap) * sizeof(uint16_t));
        atomic_fetch_add(&g_allocs, 1);
        w->buf = buf, w->cap = need;
    }
    pack(w->buf, B, rows, cols, ld);
    w->rows = rows, w->epoch = epoch;
    return w->buf;
}

static int bf16_product(int ta, int tb, int M, int N, int K, const float *A, int lda, int aconst,
                        const float *B, int ldb, int bconst, float beta, float *C, int ldc) {
    if (!gemm_bf16_available()) return -1;
    assert(beta == 0.0f || beta == 1.0f);
    Slot *s = slot_get();
    if (!s) return -1;
    const size_t na = ((size_t)M * K + 31) / 32 * 32, nb = (size_t)K * N; // B 64-byte aligned
    if (na + nb > s->cap) {
        size_t cap = na + nb;
        uint16_t *buf = aligned_alloc(64, ((cap * sizeof(uint16_t) + 63) / 64) * 64);
        if (!buf) return -1;
        free(s->buf);
        atomic_fetch_add(&g_bytes, (cap - s->cap) * sizeof(uint16_t));
        atomic_fetch_add(&g_allocs, 1);
        s->buf = buf, s->cap = cap;
    }
    Entry *e = entry_find(s, ta, tb, M, N, K, lda, ldb, ldc, beta);
    if (!e) return -1;
    const uint16_t *a = NULL, *b = NULL;
    const int fixed = atomic_load(&g_fixed);
    if (aconst && fixed) a = weight_copy(s, A, ta ? K : M, ta ? M : K, lda);
    if (!a) {
        pack(s->buf, A, ta ? K : M, ta ? M : K, lda);
        a = s->buf;
    }
    if (bconst && fixed) b = weight_copy(s, B, tb ? N : K, tb ? K : N, ldb);
    if (!b) {
        pack(s->buf + na, B, tb ? N : K, tb ? K : N, ldb);
        b = s->buf + na;
    }
    int threads = openblas_get_num_threads();
    if (threads < 1) threads = 1;
    if (threads != s->omp) omp_set_num_threads(threads), s->omp = threads;
    dnnl_memory_set_data_handle_v2(e->a, (void *)a, s->stream);
    dnnl_memory_set_data_handle_v2(e->b, (void *)b, s->stream);
    dnnl_memory_set_data_handle_v2(e->c, C, s->stream);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    if (dnnl_primitive_execute(e->prim, s->stream, 3, args) != dnnl_success) return -1;
    dnnl_stream_wait(s->stream);
    return 0;
}

int gemm_bf16(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc) {
    return bf16_product(ta, tb, M, N, K, A, lda, 0, B, ldb, 0, beta, C, ldc);
}

void gemm_bf16_stats(GemmStats *st) {
    st->primitives = atomic_load(&g_prims);
    st->allocs = atomic_load(&g_allocs);
    st->scratch_bytes = atomic_load(&g_bytes);
}

void gemm_bf16_shutdown(void) {
    pthread_mutex_lock(&g_mu);
    int n = atomic_load(&g_nslots);
    for (int i = 0; i < n; i++) {
        Slot *s = &g_slots[i];
        for (int j = 0; j < s->n; j++) entry_free(&s->cache[j]);
        for (int j = 0; j < s->nw; j++) free(s->w[j].buf);
        free(s->cache);
        free(s->buf);
        if (s->stream) dnnl_stream_destroy(s->stream);
        memset(s, 0, sizeof *s);
    }
    if (g_engine) dnnl_engine_destroy(g_engine);
    g_engine = NULL;
    pthread_mutex_unlock(&g_mu);
}
#else
static int bf16_product(int ta, int tb, int M, int N, int K, const float *A, int lda, int aconst,
                        const float *B, int ldb, int bconst, float beta, float *C, int ldc) {
    return -1;
}
int gemm_bf16(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc) {
    return -1;
}
void gemm_bf16_stats(GemmStats *st) { memset(st, 0, sizeof *st); }
void gemm_bf16_shutdown(void) {}
#endif

// ----------------------------------------------------------------------------
// The learner's products

void gemm_learner(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc) {
    if (atomic_load(&g_precision) == GEMM_BF16 && (double)M * N * K >= GEMM_BF16_MIN &&
        bf16_product(ta, tb, M, N, K, A, lda, 0, B, ldb, 0, beta, C, ldc) == 0)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

int gemm_fixed(int ta, int tb, int M, int N, int K, const float *A, int lda, int afixed,
               const float *B, int ldb, int bfixed, float beta, float *C, int ldc) {
    if (atomic_load(&g_precision) != GEMM_BF16 || (double)M * N * K < GEMM_BF16_MIN) return -1;
    return bf16_product(ta, tb, M, N, K, A, lda, afixed, B, ldb, bfixed, beta, C, ldc);
}

int gemm_param(int tb, int M, int N, int K, const float *A, int lda, const float *W, int ldw,
               float beta, float *C, int ldc) {
    return gemm_fixed(0, tb, M, N, K, A, lda, 0, W, ldw, 1, beta, C, ldc);
}
