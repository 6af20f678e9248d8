/* The parity program's sweep (`parity --sweep N [--seed S] [--only FAMILY] [--draw I] [--fixed]`): N random shape
 * draws per op family, each run through the same per-shape checks as the fixed cases (parity.c, parity_rows.c), from
 * distributions that favour the edges where kernels that never ran hide their bugs: sizes 1, 2, around the warp
 * (31, 32, 33), around the block sizes and chunks (63 .. 65, 127 .. 129, 255 .. 257, 511, 1023, 1025) and the
 * bounds of each range, mixed with uniform and small log-uniform sizes; row strides wider than the rows where the op
 * takes strides; attention at T = 1 and odd T, H = 1, MQA / GQA / MHA, both drivers and forced chunking; xent rows of
 * weight 0 and no weights; the experts' fused (r <= 32) and unfused paths and no mask; router top_k 1 and E.
 * Shapes respect kernels.h's preconditions (and the CUDA backend's own limits: attention_rows D <= 256, the router
 * E <= 16).  Sizes are capped so that one `--sweep 20` stays under a minute on the CUDA emulator.
 *
 * Every draw reseeds the input generator from (seed, family, draw), so a draw gives the same shape and inputs
 * whatever else runs: a FAIL line ends with [family#draw: shape], and `--sweep N --seed S --only family --draw I`
 * repeats exactly that case.  The seed (default: from the clock) is printed first. */
#include <math.h>
#include "parity.h"

static const int EDGES[] = {1, 2, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 1023, 1025};
#define NEDGES (int)(sizeof EDGES / sizeof EDGES[0])

static double urand(void) { return 0.5 * (frand() + 1.0); } /* [0, 1) */

/* a size in [lo, hi]: 5 in 8 an edge (or a bound of the range), 2 in 8 uniform, 1 in 8 log-uniform (small ones) */
static int pick(int lo, int hi) {
    if (hi <= lo) return lo;
    const int k = irand(8);
    if (k < 5) {
        int cand[NEDGES + 2], n = 0;
        for (int i = 0; i < NEDGES; i++)
            if (EDGES[i] > lo && EDGES[i] < hi) cand[n++] = EDGES[i];
        cand[n++] = lo, cand[n++] = hi;
        return cand[irand(n)];
    }
    if (k < 7) return lo + irand(hi - lo + 1);
    const double l = log(lo > 1 ? (double)lo : 1.0), h = log((double)hi + 1.0);
    const int v = (int)exp(l + (h - l) * urand());
    return v < lo ? lo : v > hi ? hi : v;
}
static int one_of(const int *v, int n) { return v[irand(n)]; }
#define ONE_OF(...) one_of((const int[]){__VA_ARGS__}, (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))

/* a divisor of H: 1 (MQA), H (MHA) or one between (GQA) when H has one */
static int pick_kv(int H) {
    int div[32], n = 0;
    for (int d = 1; d <= H; d++)
        if (H % d == 0) div[n++] = d;
    const int k = irand(3);
    return k == 0 ? 1 : k == 1 ? H : div[irand(n)];
}

/* the names of the `nulls` bits (parity.h), for the tag */
static const char *nulls_str(char *s, size_t n, int nulls) {
    static const char *names[] = {"dense-ld", "dx=NULL", "dW/dw=NULL", "db=NULL", "b=NULL", "stats=NULL", "dwte=NULL",
                                  "dwpe=NULL"};
    size_t o = 0;
    s[0] = 0;
    for (int i = 0; i < 8; i++)
        if (nulls & (1 << i)) o += (size_t)snprintf(s + o, n - o, " %s", names[i]);
    return s;
}
/* each of the bits of `mask` with probability 1/2, half of the time (the other half: none) */
static int some_of(int mask) {
    if (irand(2)) return 0;
    int v = 0;
    for (int b = 1; b <= mask; b <<= 1)
        if ((mask & b) && irand(2)) v |= b;
    return v;
}

static const char *fam_name;
static int fam_draw;
static void tag(const char *fmt, ...) MM_PRINTF(1, 2);
static void tag(const char *fmt, ...) {
    int o = snprintf(sweep_tag, sizeof sweep_tag, "%s#%d: ", fam_name, fam_draw);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sweep_tag + o, sizeof sweep_tag - (size_t)o, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ the families */
static void sw_gemm(void) {
    const int ta = irand(2), tb = irand(2), acc = irand(2);
    int M = pick(1, 1025), N = pick(1, 1025), K = pick(1, 1025);
    while ((double)M * N * K > 1.2e8) { /* shrink the largest */
        int *m = M >= N && M >= K ? &M : N >= K ? &N : &K;
        *m = pick(1, 129);
    }
    const int pa = irand(4), pb = irand(4), pc = irand(4);
    tag("gemm %c%c acc=%d M=%d N=%d K=%d pads %d %d %d", ta ? 'T' : 'N', tb ? 'T' : 'N', acc, M, N, K, pa, pb, pc);
    gemm_case(ta, tb, acc, M, N, K, pa, pb, pc);
}

static void draw_linear(int *N, int *in, int *out) {
    *N = pick(1, 1025), *in = pick(1, 1025), *out = pick(1, 1025);
    while ((double)*N * *in * *out > 6e7) {
        int *m = *N >= *in && *N >= *out ? N : *in >= *out ? in : out;
        *m = pick(1, 129);
    }
}
static void sw_linear(void) {
    int N, in, out;
    draw_linear(&N, &in, &out);
    const int pad = irand(4), nulls = (pad == 0 && irand(2) ? NL_DENSE : 0) | some_of(NL_DX | NL_DW | NL_DB);
    char nl[96];
    tag("N=%d in=%d out=%d pad=%d%s", N, in, out, pad, nulls_str(nl, sizeof nl, nulls));
    t_linear(N, in, out, pad, nulls);
}
static void sw_linear_w16(void) {
    int N, in, out;
    draw_linear(&N, &in, &out);
    const int pad = irand(4), lt = irand(2), nulls = pad == 0 && irand(2) ? NL_DENSE : 0;
    tag("N=%d in=%d out=%d pad=%d%s MMLORA_CUDA_LT=%d", N, in, out, pad, nulls ? " dense-ld" : "", lt);
    if (lt) setenv("MMLORA_CUDA_LT", "1", 1);
    t_linear_w16(N, in, out, pad, nulls);
    unsetenv("MMLORA_CUDA_LT");
}

static void sw_layernorm(void) {
    const int N = pick(1, 257), C = irand(8) ? pick(1, 1025) : pick(1026, 4099);
    const int nulls = some_of(NL_B | NL_STATS | NL_DW | NL_DB);
    char nl[96];
    tag("N=%d C=%d%s", N, C, nulls_str(nl, sizeof nl, nulls));
    t_layernorm(N, C, nulls);
}
static void sw_rmsnorm(void) {
    const int N = pick(1, 257), C = irand(8) ? pick(1, 1025) : pick(1026, 4099), nulls = some_of(NL_STATS | NL_DW);
    char nl[96];
    tag("N=%d C=%d%s", N, C, nulls_str(nl, sizeof nl, nulls));
    t_rmsnorm(N, C, nulls);
}

static void sw_rope(void) {
    const int N = pick(1, 129), H = ONE_OF(1, 2, 3, 4, 8, 12), D = 2 * pick(1, 128), max_pos = pick(1, 300);
    const int col0 = irand(9), pad = irand(4);
    tag("N=%d H=%d D=%d max_pos=%d col0=%d pad=%d", N, H, D, max_pos, col0, pad);
    rope_case(N, H, D, max_pos, col0, pad);
}

static void sw_elementwise(void) {
    const size_t n = (size_t)(irand(4) ? pick(1, 4099) : pick(4100, 70001));
    tag("n=%zu", n);
    t_elementwise(n);
}

static void sw_optim(void) {
    const size_t n = (size_t)(irand(3) ? pick(1, 4099) : ONE_OF(65535, 65536, 65537, 131071, 131073, 200003));
    tag("n=%zu", n);
    optim_case(n);
}

static void sw_dropout(void) {
    const size_t n = (size_t)(irand(4) ? pick(1, 4099) : pick(4100, 40000));
    const uint64_t first = irand(2) ? (uint64_t)ONE_OF(0, 1, 2, 3, 4, 5, 63, 64, 65, 127, 128) : (uint64_t)irand(1 << 20);
    const uint64_t first2 = irand(2) ? (uint64_t)1 << (20 + irand(24)) : ((uint64_t)irand(1 << 30) << 12) + irand(4096);
    const float ps[] = {0.1f, 0.25f, 0.5f, 0.9f};
    const float p1 = ps[irand(4)], p2 = ps[irand(4)];
    tag("n=%zu first=%llu p=%g, in place p=%g first=%llu", n, (unsigned long long)first, p1, p2,
        (unsigned long long)first2);
    dropout_case(n, first, p1, p2, first2);
}

static void sw_embedding(void) {
    const int N = pick(1, 257), C = pick(1, 1025), V = pick(1, 300), P = pick(1, 300), k = irand(4);
    const int nulls = k == 2 ? NL_DWTE : k == 3 ? NL_DWPE : 0;
    char nl[96];
    tag("N=%d C=%d V=%d P=%d%s", N, C, V, P, nulls_str(nl, sizeof nl, nulls));
    embedding_case(N, C, V, P, nulls);
}

/* attention: one of three drivers: the batched one (default: one chunk), the batched one with a scratch cap that
 * gives forward chunks of k sequences (backward: at most k), the per-sequence loop */
static void sw_attention(void) {
    int B = irand(4) ? 1 + irand(5) : pick(6, 64), T = irand(4) ? pick(1, 150) : pick(151, 300);
    const int H = ONE_OF(1, 2, 3, 4, 6, 8), Hkv = pick_kv(H), D = ONE_OF(1, 2, 3, 7, 8, 16, 31, 32, 33, 64, 65, 128);
    const float p = irand(2) ? 0.0f : irand(4) ? 0.1f : 0.5f;
    /* keep the emulated row kernels (a block of 128 threads per row of scores) and the CPU side short */
    while ((double)B * H * T * (T + 2 * D) > 2e6 || B * H * T > 6000) {
        if (B > 1) B--;
        else T = pick(1, T - 1);
    }
    const int drv = irand(3);
    char mb[32] = "";
    if (drv == 1) {
        const size_t tt = (size_t)T * T, td = (size_t)T * D;
        const size_t per_seq = ((p > 0 ? H * tt : 0) + H * td) * sizeof(float) + (size_t)H * 6 * sizeof(void *);
        const int k = 1 + irand(B);
        snprintf(mb, sizeof mb, "%.9f", ((double)per_seq * k + (double)per_seq / 2) / 1048576.0);
        setenv("MMLORA_CUDA_ATTN_SCRATCH_MB", mb, 1);
    } else if (drv == 2) {
        setenv("MMLORA_CUDA_ATTN", "loop", 1);
    }
    tag("B=%d T=%d H=%d Hkv=%d D=%d p=%g %s%s", B, T, H, Hkv, D, p,
        drv == 0 ? "batched" : drv == 1 ? "batched MMLORA_CUDA_ATTN_SCRATCH_MB=" : "MMLORA_CUDA_ATTN=loop", mb);
    t_attention(B, T, H, Hkv, D, p);
    unsetenv("MMLORA_CUDA_ATTN_SCRATCH_MB");
    unsetenv("MMLORA_CUDA_ATTN");
}

static void sw_attention_rows(void) {
    const int H = ONE_OF(1, 2, 3, 4, 6, 8, 12, 16), Hkv = pick_kv(H), D = pick(1, 256);
    const int n_seq = 1 + irand(4), max_len = pick(1, 300), R = pick(1, 33), pq = irand(6), po = irand(6);
    tag("H=%d Hkv=%d D=%d n_seq=%d max_len=%d R=%d pads %d %d", H, Hkv, D, n_seq, max_len, R, pq, po);
    attention_rows_case(H, Hkv, D, n_seq, max_len, R, pq, po);
}

static void sw_xent(void) {
    const int N = pick(1, 65), V = irand(4) ? pick(1, 2049) : pick(2050, 50000), wmode = irand(3);
    tag("N=%d V=%d weights %s", N, V, wmode == 0 ? "(rows 1, N-1 zero)" : wmode == 1 ? "NULL" : "(random zeros)");
    xent_case(N, V, wmode);
}

static void sw_bf16(void) {
    const size_t n = (size_t)pick(1, 5000);
    const int N = pick(1, 257), in = pick(1, 300), out = pick(1, 300), pad = irand(4), lt = irand(2);
    tag("n=%zu N=%d in=%d out=%d pad=%d MMLORA_CUDA_LT=%d", n, N, in, out, pad, lt);
    if (lt) setenv("MMLORA_CUDA_LT", "1", 1);
    bf16_case(n, N, in, out, pad);
    unsetenv("MMLORA_CUDA_LT");
}

static void sw_memory(void) {
    const size_t n = (size_t)pick(1, 20000);
    tag("n=%zu", n);
    memory_case(n);
}
static void sw_add(void) {
    const size_t n = (size_t)(irand(4) ? pick(1, 4099) : pick(4100, 100003));
    tag("n=%zu", n);
    rows_add(n);
}
static void sw_gather(void) {
    const int NR = pick(1, 1025), R = pick(1, NR);
    int C = pick(1, 300);
    while ((double)NR * C > 3e5) C = pick(1, C - 1);
    tag("NR=%d R=%d C=%d", NR, R, C);
    rows_gather(NR, C, R, 1);
}
static void sw_positions(void) {
    const int B = pick(1, 9), T = pick(1, 1025);
    tag("B=%d T=%d", B, T);
    rows_positions(B, T);
}
static void sw_gates(void) {
    const int N = pick(1, 1025), r = pick(1, 65), ld = r + irand(4), E = pick(1, 16);
    const int k = irand(5), group = k == 0 ? 1 : k == 1 ? N : k == 2 ? N + 1 + irand(5) : pick(1, N);
    tag("N=%d r=%d ld=%d E=%d group=%d", N, r, ld, E, group);
    rows_gates(N, r, ld, E, group);
}
static void sw_topk(void) {
    const int TN = pick(1, 1025), TE = pick(1, 16), k = irand(3), K = k == 0 ? 1 : k == 1 ? TE : 1 + irand(TE);
    const int pad = 1 + irand(3);
    tag("N=%d E=%d top_k=%d ld_dgates=E+%d", TN, TE, K, pad);
    rows_topk(TN, TE, K, pad);
}
static void sw_copy_rows(void) {
    const int R = pick(1, 257), C = pick(1, 300), col = irand(8), Q = col + C + irand(8), slots = R + pick(0, 300);
    tag("R=%d C=%d col=%d Q=%d slots=%d", R, C, col, Q, slots);
    decode_copy(R, Q, C, slots, col, 1);
}
static void sw_argmax(void) {
    const int AR = pick(1, 70), V = irand(4) ? pick(1, 2049) : pick(2050, 50000), ld = V + irand(5);
    tag("R=%d V=%d ld=%d", AR, V, ld);
    decode_argmax(AR, V, ld);
}
static void sw_expert(void) {
    int N = pick(1, 1100), in = pick(1, 1025);
    const int r = irand(2) ? ONE_OF(1, 2, 15, 16, 17, 31, 32, 33, 47, 48) : 1 + irand(48);
    while ((double)N * in > 4e5) {
        if (N > in) N = pick(1, N - 1);
        else in = pick(1, in - 1);
    }
    const int k = irand(4), pad = irand(4); /* 0, 1: the default (fused when r <= 32), 2: unfused, 3: no mask */
    const char *mode = k == 2 ? "unfused" : k == 3 ? "nobits" : r > 32 ? "(unfused: r > 32)" : "fused";
    tag("N=%d in=%d r=%d ld=r+%d %s", N, in, r, pad, k == 2 ? "MMLORA_CUDA_EXPERT=unfused" : k == 3 ? "bits NULL" : "");
    if (k == 2) setenv("MMLORA_CUDA_EXPERT", "unfused", 1);
    expert_case(N, in, r, mode, pad, k == 3);
    unsetenv("MMLORA_CUDA_EXPERT");
}

/* zero counts (an expert no token was routed to, an empty batch): every op that takes a row or element count, called
 * with it 0 and the other sizes drawn, must leave its outputs as they were (both sides, bit for bit), and the ops
 * that return a value return 0; gemm with K = 0 is C = beta·C (BLAS) */
static void zcheck(const char *op, buf *b) {
    char name[96];
    snprintf(name, sizeof name, "zero-size %s", op);
    check_bits(name, b);
}
static void sw_zero(void) {
    const int C = pick(1, 300), r = pick(1, 48), H = ONE_OF(1, 2, 4), Hkv = pick_kv(H), D = 2 * pick(1, 32), T = pick(1, 65);
    const int K = pick(1, 65), E = pick(1, 16);
    tag("C=%d r=%d H=%d Hkv=%d D=%d T=%d K=%d E=%d", C, r, H, Hkv, D, T, K, E);
    const size_t big = (size_t)C * (C + 2) + (size_t)T * T * H + 64;
    buf o1 = brand(big, 1), o2 = brand(big, 1), o3 = brand(big, 1), in1 = brand(big, 1), in2 = brand(big, 1);
    ibuf ids = inew(64, 0, 1);
    mm_dropout dd = {5, 6, 7, 0.1f};
#define BOTH(call_h, call_d) (CPU->call_h, GPU->call_d)
    BOTH(gemm(0, 1, 0, C, K, 1.0f, in1.h, K, in2.h, K, 0.5f, o1.h, C), gemm(0, 1, 0, C, K, 1.0f, in1.d, K, in2.d, K, 0.5f, o1.d, C));
    BOTH(gemm(0, 1, C, 0, K, 1.0f, in1.h, K, in2.h, K, 0.5f, o1.h, 1), gemm(0, 1, C, 0, K, 1.0f, in1.d, K, in2.d, K, 0.5f, o1.d, 1));
    zcheck("gemm M=0, N=0", &o1);
    for (int beta = 0; beta < 2; beta++) { /* K = 0: C = beta·C */
        buf c = bclone(&o1);
        BOTH(gemm(0, 0, C, 3, 0, 1.0f, in1.h, 1, in2.h, 3, beta * 0.5f, c.h, 3),
             gemm(0, 0, C, 3, 0, 1.0f, in1.d, 1, in2.d, 3, beta * 0.5f, c.d, 3));
        char name[64];
        snprintf(name, sizeof name, "gemm K=0 beta=%.1f", beta * 0.5);
        zcheck(name, &c);
        bfree(&c);
    }
    BOTH(linear_fwd(o1.h, 0, in1.h, 0, in2.h, in2.h, 0, C, r, 0), linear_fwd(o1.d, 0, in1.d, 0, in2.d, in2.d, 0, C, r, 0));
    BOTH(linear_bwd(o1.h, 0, o2.h, o3.h, in1.h, 0, in2.h, 0, in2.h, 0, C, r, 0),
         linear_bwd(o1.d, 0, o2.d, o3.d, in1.d, 0, in2.d, 0, in2.d, 0, C, r, 0));
    zcheck("linear_fwd/bwd N=0 (y, dx)", &o1), zcheck("linear_bwd N=0 (dW)", &o2), zcheck("linear_bwd N=0 (db)", &o3);
    uint16_t *wh = mm_xmalloc(2 * (size_t)C * r), *wd = mm_cuda_malloc(2 * (size_t)C * r);
    memset(wh, 0, 2 * (size_t)C * r);
    if (!wd || mm_cuda_h2d(wd, wh, 2 * (size_t)C * r)) die("h2d");
    BOTH(linear_fwd_w16(o1.h, 0, in1.h, 0, wh, in2.h, 0, C, r, 0), linear_fwd_w16(o1.d, 0, in1.d, 0, wd, in2.d, 0, C, r, 0));
    BOTH(linear_bwd_dx_w16(o1.h, 0, in1.h, 0, wh, 0, C, r, 0), linear_bwd_dx_w16(o1.d, 0, in1.d, 0, wd, 0, C, r, 0));
    zcheck("linear_fwd_w16/bwd_dx_w16 N=0", &o1);
    BOTH(layernorm_fwd(o1.h, o2.h, o3.h, in1.h, in2.h, in2.h, 0, C, 1e-5f),
         layernorm_fwd(o1.d, o2.d, o3.d, in1.d, in2.d, in2.d, 0, C, 1e-5f));
    BOTH(layernorm_bwd(o1.h, o2.h, o3.h, in1.h, in1.h, in2.h, in2.h, in2.h, 0, C),
         layernorm_bwd(o1.d, o2.d, o3.d, in1.d, in1.d, in2.d, in2.d, in2.d, 0, C));
    BOTH(rmsnorm_fwd(o1.h, o2.h, in1.h, in2.h, 0, C, 1e-6f), rmsnorm_fwd(o1.d, o2.d, in1.d, in2.d, 0, C, 1e-6f));
    BOTH(rmsnorm_bwd(o1.h, o3.h, in1.h, in1.h, in2.h, in2.h, 0, C), rmsnorm_bwd(o1.d, o3.d, in1.d, in1.d, in2.d, in2.d, 0, C));
    zcheck("layernorm/rmsnorm N=0 (y, dx)", &o1), zcheck("layernorm/rmsnorm N=0 (stats, dw)", &o2);
    zcheck("layernorm/rmsnorm N=0 (db, dw)", &o3);
    BOTH(rope(o1.h, H * D, 0, H, D, ids.h, 0, in1.h, in2.h, 0), rope(o1.d, H * D, 0, H, D, ids.d, 0, in1.d, in2.d, 0));
    zcheck("rope N=0", &o1);
    BOTH(gelu_tanh_fwd(o1.h, in1.h, 0), gelu_tanh_fwd(o1.d, in1.d, 0));
    BOTH(gelu_tanh_bwd(o1.h, in1.h, in2.h, 0), gelu_tanh_bwd(o1.d, in1.d, in2.d, 0));
    BOTH(swiglu_fwd(o1.h, in1.h, in2.h, 0), swiglu_fwd(o1.d, in1.d, in2.d, 0));
    BOTH(swiglu_bwd(o1.h, o2.h, in1.h, in1.h, in2.h, 0), swiglu_bwd(o1.d, o2.d, in1.d, in1.d, in2.d, 0));
    BOTH(dropout_fwd(o1.h, in1.h, 0, dd, 3), dropout_fwd(o1.d, in1.d, 0, dd, 3));
    BOTH(dropout_bits((uint64_t *)(void *)o3.h, 0, dd, 3), dropout_bits((uint64_t *)(void *)o3.d, 0, dd, 3));
    BOTH(dropout_apply_bits(o1.h, in1.h, 0, (const uint64_t *)(void *)in2.h, 0.1f),
         dropout_apply_bits(o1.d, in1.d, 0, (const uint64_t *)(void *)in2.d, 0.1f));
    BOTH(adamw(o1.h, in1.h, o2.h, o3.h, 0, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1),
         adamw(o1.d, in1.d, o2.d, o3.d, 0, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1));
    BOTH(add(o1.h, in1.h, in2.h, 0), add(o1.d, in1.d, in2.d, 0));
    BOTH(scale(o1.h, 0.5f, 0), scale(o1.d, 0.5f, 0));
    zcheck("elementwise n=0 (y, p)", &o1), zcheck("elementwise n=0 (dup, m)", &o2), zcheck("elementwise n=0 (bits, v)", &o3);
    BOTH(embedding_fwd(o1.h, ids.h, ids.h, in1.h, in2.h, 0, C), embedding_fwd(o1.d, ids.d, ids.d, in1.d, in2.d, 0, C));
    BOTH(embedding_bwd(o2.h, o3.h, in1.h, ids.h, ids.h, 0, C), embedding_bwd(o2.d, o3.d, in1.d, ids.d, ids.d, 0, C));
    zcheck("embedding_fwd N=0", &o1), zcheck("embedding_bwd N=0 (dwte)", &o2), zcheck("embedding_bwd N=0 (dwpe)", &o3);
    const int w3 = (H + 2 * Hkv) * D;
    BOTH(attention_fwd(o1.h, H * D, o2.h, in1.h, w3, 0, T, H, Hkv, D, dd),
         attention_fwd(o1.d, H * D, o2.d, in1.d, w3, 0, T, H, Hkv, D, dd));
    BOTH(attention_bwd(o3.h, in1.h, H * D, in1.h, w3, in2.h, 0, T, H, Hkv, D, dd),
         attention_bwd(o3.d, in1.d, H * D, in1.d, w3, in2.d, 0, T, H, Hkv, D, dd));
    BOTH(attention_rows(o1.h, H * D, in1.h, H * D, in1.h, in2.h, ids.h, ids.h, 0, T, H, Hkv, D),
         attention_rows(o1.d, H * D, in1.d, H * D, in1.d, in2.d, ids.d, ids.d, 0, T, H, Hkv, D));
    zcheck("attention_fwd B=0, attention_rows R=0", &o1), zcheck("attention_fwd B=0 (probs)", &o2);
    zcheck("attention_bwd B=0", &o3);
    BOTH(gather_rows(o1.h, in1.h, ids.h, 0, C), gather_rows(o1.d, in1.d, ids.d, 0, C));
    BOTH(scatter_rows(o2.h, in1.h, ids.h, 0, C), scatter_rows(o2.d, in1.d, ids.d, 0, C));
    BOTH(positions((int32_t *)(void *)o3.h, 0, T), positions((int32_t *)(void *)o3.d, 0, T));
    BOTH(row_scale(o1.h, C, in1.h, C, in2.h, 1, 1, 0.5f, 0, C), row_scale(o1.d, C, in1.d, C, in2.d, 1, 1, 0.5f, 0, C));
    BOTH(row_dot(o1.h, 1, in1.h, C, in2.h, C, 0.5f, 0, C), row_dot(o1.d, 1, in1.d, C, in2.d, C, 0.5f, 0, C));
    BOTH(group_sum_rows(o2.h, E, in1.h, E, 0, E, 3), group_sum_rows(o2.d, E, in1.d, E, 0, E, 3));
    BOTH(group_sum_rows(o2.h, E, in1.h, E, 0, E, 0), group_sum_rows(o2.d, E, in1.d, E, 0, E, 0));
    BOTH(softmax_topk_rows(o1.h, o3.h, 0, E, 1), softmax_topk_rows(o1.d, o3.d, 0, E, 1));
    BOTH(softmax_topk_bwd_rows(o1.h, in1.h, in2.h, in2.h, E, 0, E), softmax_topk_bwd_rows(o1.d, in1.d, in2.d, in2.d, E, 0, E));
    BOTH(copy_rows(o2.h, C, NULL, in1.h, C, NULL, 0, C), copy_rows(o2.d, C, NULL, in1.d, C, NULL, 0, C));
    BOTH(argmax_rows((int32_t *)(void *)o3.h, in1.h, C, 0, C), argmax_rows((int32_t *)(void *)o3.d, in1.d, C, 0, C));
    zcheck("rows ops N=0 / R=0 (gather, row_scale/dot, topk)", &o1);
    zcheck("rows ops N=0 / R=0 (scatter, group_sum, copy_rows)", &o2);
    zcheck("rows ops N=0 / R=0 (positions, gates, argmax)", &o3);
    BOTH(expert_down(o1.h, r, in1.h, (const uint64_t *)(void *)in2.h, 0.1f, in1.h, 0, C, r),
         expert_down(o1.d, r, in1.d, (const uint64_t *)(void *)in2.d, 0.1f, in1.d, 0, C, r));
    BOTH(expert_down_bwd_a(o2.h, in1.h, r, in1.h, (const uint64_t *)(void *)in2.h, 0.1f, 0, C, r),
         expert_down_bwd_a(o2.d, in1.d, r, in1.d, (const uint64_t *)(void *)in2.d, 0.1f, 0, C, r));
    BOTH(expert_down_bwd_x(o3.h, in1.h, r, (const uint64_t *)(void *)in2.h, 0.1f, in1.h, 0, C, r),
         expert_down_bwd_x(o3.d, in1.d, r, (const uint64_t *)(void *)in2.d, 0.1f, in1.d, 0, C, r));
    zcheck("expert_down N=0", &o1), zcheck("expert_down_bwd_a N=0 (dA)", &o2), zcheck("expert_down_bwd_x N=0", &o3);
    BOTH(to_bf16((uint16_t *)(void *)o1.h, in1.h, 0), to_bf16((uint16_t *)(void *)o1.d, in1.d, 0));
    BOTH(from_bf16(o2.h, (const uint16_t *)(void *)in1.h, 0), from_bf16(o2.d, (const uint16_t *)(void *)in1.d, 0));
    zcheck("to_bf16/from_bf16 n=0", &o1), zcheck("from_bf16 n=0", &o2);
#undef BOTH
    const double xg = GPU->xent_fwd_bwd(o1.d, ids.d, NULL, 0, C, 1.0f), sg = GPU->sumsq(o1.d, 0);
    report("zero-size xent N=0, sumsq n=0", xg == 0.0 && sg == 0.0, "xent %g sumsq %g", xg, sg);
    free(wh), mm_cuda_free(wd), ifree(&ids);
    bfree(&o1), bfree(&o2), bfree(&o3), bfree(&in1), bfree(&in2);
}

static const struct {
    const char *name;
    void (*fn)(void);
} FAMILIES[] = {
    {"gemm", sw_gemm},
    {"linear", sw_linear},
    {"linear_w16", sw_linear_w16},
    {"layernorm", sw_layernorm},
    {"rmsnorm", sw_rmsnorm},
    {"rope", sw_rope},
    {"elementwise", sw_elementwise},
    {"optim", sw_optim},
    {"dropout", sw_dropout},
    {"embedding", sw_embedding},
    {"attention", sw_attention},
    {"attention_rows", sw_attention_rows},
    {"xent", sw_xent},
    {"bf16", sw_bf16},
    {"memory", sw_memory},
    {"add", sw_add},
    {"gather_scatter", sw_gather},
    {"positions", sw_positions},
    {"row_gates", sw_gates},
    {"softmax_topk", sw_topk},
    {"copy_rows", sw_copy_rows},
    {"argmax", sw_argmax},
    {"expert", sw_expert},
    {"zero", sw_zero},
};
#define NFAM (int)(sizeof FAMILIES / sizeof FAMILIES[0])

static uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static uint64_t name_hash(const char *s) { /* FNV-1a: a family's draws do not depend on the others */
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

void run_sweep(int n, uint64_t seed, const char *only, int draw) {
    sweeping = 1;
    printf("parity: sweep seed %llu, %d draws per family (repeat one: --sweep %d --seed %llu --only FAMILY --draw I)\n",
           (unsigned long long)seed, n, n, (unsigned long long)seed);
    fflush(stdout);
    int found = 0;
    for (int f = 0; f < NFAM; f++) {
        if (only && strcmp(only, FAMILIES[f].name)) continue;
        found = 1;
        fam_name = FAMILIES[f].name;
        for (int i = 0; i < n; i++) {
            if (draw >= 0 && i != draw) continue;
            fam_draw = i;
            rng = splitmix(seed ^ splitmix(name_hash(fam_name) + (uint64_t)i));
            if (!rng) rng = 1; /* xorshift's one fixed point */
            FAMILIES[f].fn();
        }
    }
    sweep_tag[0] = 0;
    if (!found) {
        fprintf(stderr, "parity: no family %s; the families:", only);
        for (int f = 0; f < NFAM; f++) fprintf(stderr, " %s", FAMILIES[f].name);
        fprintf(stderr, "\n");
        exit(64);
    }
}
