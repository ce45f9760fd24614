// ckpt.h — checkpoint files: everything needed to resume a run exactly.
//
// Layout (little-endian), documented in docs/files.md so a short Python script reads it
// (scripts/read_ckpt.py):
//   "CPCRLCKP"            8 bytes magic
//   u32 version           CKPT_VERSION
//   u32 config_len, then config_len bytes of config.txt text
//   u32 nrec, then nrec records:
//       u32 name_len, name bytes, u32 dtype (0 f32, 1 u8, 2 i64, 3 f64),
//       u32 ndim, u32 dims[ndim], data (prod(dims) elements)
//   u32 crc32 (zlib) of every byte before it
// Records: "param/<tensor>" for every model tensor, "opt/..." optimizer
// state, "state/..." envs, LSTM carry, sampler RNG, counters.
// The envs, field by field (version 2): one record "state/envs/<field>" per
// field of Env (CKPT_ENV_FIELDS), holding that field of all B envs: ints and
// 64-bit counters as i64 [B], floats as f32 [B], the map as u8 [B, 41*41].
// Version 1 (cpcrl before field-by-field envs) held them as one record
// "state/envs", the raw bytes of B Env structs (x86-64 layout); it is still
// read, and written checkpoints are version 2.
// Written to NAME.tmp, fsync'd, renamed over NAME, directory fsync'd.
// Loading validates magic, version, size, CRC, config and every record's name
// and shape before a single value is copied into live state.
#ifndef CPCRL_CKPT_H
#define CPCRL_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/trainer.h"

#define CKPT_VERSION 2     // written; versions 1..CKPT_VERSION are read
#define CKPT_VERSION_MIN 1

enum { CK_F32 = 0, CK_U8 = 1, CK_I64 = 2, CK_F64 = 3 };

// The fields of Env a version-2 checkpoint keeps, in the struct's order: the
// record "state/envs/<name>" holds the field at byte `off` (`size` bytes in
// memory) of every env, as `dtype` (CK_I64 for int and uint64_t fields,
// CK_F32 for floats, CK_U8 for the map).
typedef struct {
    const char *name;
    size_t off, size;
    int dtype;
} CkptEnvField;
extern const CkptEnvField CKPT_ENV_FIELDS[];
extern const int CKPT_ENV_NFIELDS;

typedef struct {
    char name[64];
    int dtype, ndim;
    uint32_t dims[4];
    size_t count;      // elements
    const uint8_t *data;
} CkptRecord;

typedef struct {
    uint8_t *buf;      // whole file
    size_t len;
    int version;       // CKPT_VERSION_MIN..CKPT_VERSION
    Config cfg;        // parsed from the embedded config text
    CkptRecord *rec;
    int nrec;
} Ckpt;

// Extra training-loop state stored beside the trainer's: CKPT_EXTRA doubles,
// the first CKPT_EXTRA_SCHED in "state/extra" (extra[0] next log row, extra[1]
// next checkpoint, in frames), the rest in "state/log" (the log row being
// accumulated, so a checkpoint between two rows resumes to the same row; an
// older file without it reads as zeros, which is what it held then), then
// CKPT_EXTRA_LOGK in "state/logk" (the row's per-k CPC loss sums; optional
// likewise).
#define CKPT_EXTRA_SCHED 16
#define CKPT_EXTRA_LOG 160
#define CKPT_EXTRA_LOGK 64
#define CKPT_EXTRA (CKPT_EXTRA_SCHED + CKPT_EXTRA_LOG + CKPT_EXTRA_LOGK)

// Write the trainer (and `extra`, CKPT_EXTRA doubles) to path atomically.
// The bytes are parsed and validated as ckpt_load_trainer would before they
// are written: a state that would not load is refused (-1) and the previous
// file stays.
int ckpt_save(const Trainer *tr, const double *extra, const char *path, char *err, size_t errlen);
// Read and validate a file (magic, version, CRC, records with unique names,
// config). On error
// returns -1 with a message naming the file and what is wrong.
int ckpt_read(Ckpt *ck, const char *path, char *err, size_t errlen);
// Same, from memory (buf is copied). Used by the fuzzer.
int ckpt_parse(Ckpt *ck, const uint8_t *buf, size_t len, const char *origin, char *err,
               size_t errlen);
void ckpt_free(Ckpt *ck);
const CkptRecord *ckpt_find(const Ckpt *ck, const char *name);
// Copy model parameters only (for eval/watch). Checks every tensor first.
int ckpt_load_model(const Ckpt *ck, Model *m, char *err, size_t errlen);
// Restore the whole trainer (built from ck->cfg). All-or-nothing: every
// record is checked against its invariant first (env states, counters in
// range, optimizer second moments >= 0, every float finite).
int ckpt_load_trainer(const Ckpt *ck, Trainer *tr, double *extra, char *err, size_t errlen);

#endif
