/* CPU vs CUDA parity (see parity.c) of the table's memory ops and the small row ops of the engine and the
 * adapters, the decoding ops, the experts' fused-dropout ops, the trainer's reductions, and NCCL. */
#include "parity.h"

/* ------------------------------------------------------------------ the memory and row ops (engine/adapters) */
void memory_case(size_t n) {
    const size_t z0 = n / 2 < 100 ? n / 2 : 100, zn = n - z0 < 50 ? n - z0 : 50; /* 100, 50 for n >= 150 */
    float *h = mm_xmalloc(n * sizeof(float)), *back = mm_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = frand();
    float *d = GPU->alloc(n * sizeof(float));
    GPU->upload(d, h, n * sizeof(float));
    GPU->zero(d + z0, zn * sizeof(float));
    for (size_t i = z0; i < z0 + zn; i++) h[i] = 0.0f;
    for (size_t i = 0; i < n; i++) back[i] = NAN;
    GPU->download(back, d, n * sizeof(float));
    report("alloc/upload/zero/download", memcmp(back, h, n * sizeof(float)) == 0, "round trip of %zu floats", n);
    GPU->free(d);
    GPU->free(NULL);
    free(h), free(back);
}
void t_memory(void) { memory_case(10007); }

void rows_add(size_t n) {
    buf a = brand(n, 2), b = brand(n, 1), y = bpoison(n);
    CPU->add(y.h, a.h, b.h, n);
    GPU->add(y.d, a.d, b.d, n);
    check_bits("add", &y);
    CPU->add(a.h, a.h, b.h, n); /* in place, as dx += dh */
    GPU->add(a.d, a.d, b.d, n);
    check_bits("add (in place)", &a);
    bfree(&a), bfree(&b), bfree(&y);
}

/* R distinct rows of NR, C wide: (37·i + 5) mod NR (NR prime to 37), or a random choice (shuffle) */
void rows_gather(int NR, int C, int R, int shuffle) {
    buf src = brand((size_t)NR * C, 1), g = bpoison((size_t)R * C), sc = bpoison((size_t)NR * C);
    ibuf rows = inew(R, 0, 1);
    if (shuffle) {
        int *perm = mm_xmalloc(sizeof(int) * NR);
        for (int i = 0; i < NR; i++) perm[i] = i;
        for (int i = 0; i < R; i++) { /* a partial Fisher-Yates: the first R of a random permutation */
            const int j = i + irand(NR - i), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
            rows.h[i] = perm[i];
        }
        free(perm);
    } else {
        for (int i = 0; i < R; i++) rows.h[i] = (i * 37 + 5) % NR; /* distinct */
    }
    if (mm_cuda_h2d(rows.d, rows.h, R * sizeof(int32_t))) die("h2d");
    CPU->gather_rows(g.h, src.h, rows.h, R, C);
    GPU->gather_rows(g.d, src.d, rows.d, R, C);
    check_bits("gather_rows", &g);
    CPU->scatter_rows(sc.h, g.h, rows.h, R, C); /* untouched rows stay NaN on both sides */
    GPU->scatter_rows(sc.d, g.d, rows.d, R, C);
    check_bits("scatter_rows", &sc);
    bfree(&src), bfree(&g), bfree(&sc), ifree(&rows);
}

void rows_positions(int PB, int PT) {
    ibuf pos = inew((size_t)PB * PT, -9, -8);
    int32_t *ph = mm_xmalloc(sizeof(int32_t) * PB * PT);
    CPU->positions(pos.h, PB, PT);
    GPU->positions(pos.d, PB, PT);
    if (mm_cuda_d2h(ph, pos.d, sizeof(int32_t) * PB * PT)) die("d2h");
    report("positions", memcmp(ph, pos.h, sizeof(int32_t) * PB * PT) == 0, "B %d T %d", PB, PT);
    free(ph), ifree(&pos);
}

/* per-row gates as the adapters use them: u rows of stride ld (>= r), gates grouped by sequence (group rows each)
 * or per token, E gate columns (the gate read is column 2 % E, resp. 3 % E); row_dot into each column; then
 * group_sum_rows over one group and over `group` */
void rows_gates(int N, int r, int ld, int E, int group) {
    const int G = (N + group - 1) / group, og = 2 % E, ot = 3 % E;
    buf u = brand((size_t)N * ld, 1), v = brand((size_t)N * r, 1), gates = brand((size_t)G * E, 1);
    buf tg = brand((size_t)N * E, 1);
    for (int mode = 0; mode < 3; mode++) { /* group gates, token gates, none */
        const float *gh = mode == 0 ? gates.h + og : mode == 1 ? tg.h + ot : NULL;
        const float *gd = mode == 0 ? gates.d + og : mode == 1 ? tg.d + ot : NULL;
        const int st = mode == 2 ? 0 : E, gr = mode == 0 ? group : 1;
        buf gu = bpoison((size_t)N * r);
        CPU->row_scale(gu.h, r, u.h, ld, gh, st, gr, 1.0f, N, r);
        GPU->row_scale(gu.d, r, u.d, ld, gd, st, gr, 1.0f, N, r);
        check_bits(mode == 0 ? "row_scale group gates" : mode == 1 ? "row_scale token gates" : "row_scale no gates", &gu);
        buf vv = bclone(&v);
        CPU->row_scale(vv.h, r, vv.h, r, gh, st, gr, 0.37f, N, r);
        GPU->row_scale(vv.d, r, vv.d, r, gd, st, gr, 0.37f, N, r);
        check_bits("row_scale in place, s=0.37", &vv);
        bfree(&gu), bfree(&vv);
    }
    buf dg = bpoison((size_t)N * E);
    for (int e = 0; e < E; e++) {
        CPU->row_dot(dg.h + e, E, v.h, r, u.h, ld, 0.5f, N, r);
        GPU->row_dot(dg.d + e, E, v.d, r, u.d, ld, 0.5f, N, r);
    }
    check_bits("row_dot", &dg);
    bpush(&dg);
    for (int grp = 0; grp < 2; grp++) {
        buf out = brand((size_t)G * E + 3, 1); /* accumulates */
        CPU->group_sum_rows(out.h, E, dg.h, E, N, E, grp ? group : 0);
        GPU->group_sum_rows(out.d, E, dg.d, E, N, E, grp ? group : 0);
        char name[64];
        snprintf(name, sizeof name, "group_sum_rows group %d", group);
        check_bits(grp ? name : "group_sum_rows one group", &out);
        bfree(&out);
    }
    bfree(&u), bfree(&v), bfree(&gates), bfree(&tg), bfree(&dg);
}

/* token router: softmax + top-k renormalized over TE experts, then its backward (dgates rows TE + ld_pad wide, from
 * column 1: ld_pad >= 1) */
void rows_topk(int TN, int TE, int K, int ld_pad) {
    const int LDD = TE + ld_pad;
    buf p = brand((size_t)TN * TE, 3), w = bpoison((size_t)TN * TE);
    CPU->softmax_topk_rows(p.h, w.h, TN, TE, K);
    GPU->softmax_topk_rows(p.d, w.d, TN, TE, K);
    char name[64];
    snprintf(name, sizeof name, "softmax_topk_rows.probs E=%d k=%d", TE, K);
    check(name, &p, TOL_EW);
    snprintf(name, sizeof name, "softmax_topk_rows.gates E=%d k=%d", TE, K);
    check(name, &w, TOL_EW);
    bpush(&p), bpush(&w); /* backward from the CPU's forward on both sides (same selection) */
    buf dgates = brand((size_t)TN * LDD, 1), dl = bpoison((size_t)TN * TE);
    CPU->softmax_topk_bwd_rows(dl.h, p.h, w.h, dgates.h + 1, LDD, TN, TE);
    GPU->softmax_topk_bwd_rows(dl.d, p.d, w.d, dgates.d + 1, LDD, TN, TE);
    snprintf(name, sizeof name, "softmax_topk_bwd_rows E=%d k=%d", TE, K);
    check(name, &dl, TOL_EW);
    bfree(&p), bfree(&w), bfree(&dgates), bfree(&dl);
}

void t_rows(void) {
    rows_add(100003);
    rows_gather(300, 72, 111, 0);
    rows_positions(5, 77);
    rows_gates(517, 13, 29, 5, 47);
    const int cases[][2] = {{8, 2}, {6, 1}, {16, 4}};
    for (int c = 0; c < 3; c++) rows_topk(1031, cases[c][0], cases[c][1], 2);
}

/* the trainer's ops: scale bit-identical; sumsq deterministic (two calls agree bit for bit) and within 1e-10
 * relative of the CPU's in-order double sum, on sizes around the fixed grid (256 x 256 threads) */
void optim_case(size_t n) {
    buf x = brand(n, 2);
    CPU->scale(x.h, 0.37f, n);
    GPU->scale(x.d, 0.37f, n);
    char name[64];
    snprintf(name, sizeof name, "scale n=%zu", n);
    check_bits(name, &x);
    const double a = CPU->sumsq(x.h, n), b = GPU->sumsq(x.d, n), b2 = GPU->sumsq(x.d, n);
    const double rel = fabs(a - b) / (a > 0 ? a : 1);
    snprintf(name, sizeof name, "sumsq n=%zu", n);
    report(name, rel <= 1e-10 && memcmp(&b, &b2, sizeof b) == 0, "cpu %.17g cuda %.17g rel %.3g, repeat %s", a, b,
           rel, memcmp(&b, &b2, sizeof b) ? "differs" : "identical");
    bfree(&x);
}
void t_optim(void) {
    const size_t sizes[] = {1, 255, 65536, 65537, 1000003};
    for (int c = 0; c < 5; c++) optim_case(sizes[c]);
    report("sumsq n=0", GPU->sumsq(NULL, 0) == 0.0, "empty sum");
}

/* decoding ops: KV-cache rows written through slots from strided qkv rows, selected rows gathered, argmax with
 * ties (duplicated maxima) and NaN entries; all exact.  copy_rows: R rows C wide from column col of qkv rows Q wide
 * (col + C <= Q) into `slots` cache rows */
void decode_copy(int R, int Q, int C, int slots, int col, int mode) {
    buf qkv = brand((size_t)R * Q, 1), cache = bpoison((size_t)slots * C), sel = bpoison((size_t)R * C);
    ibuf slot = inew(R, 0, 1), rows = inew(R, 0, R);
    for (int i = 0; i < R; i++) slot.h[i] = (i * 131 + 7) % slots; /* distinct (slots prime to 131, R <= slots) */
    if (mode) { /* R distinct slots at random */
        int *perm = mm_xmalloc(sizeof(int) * slots);
        for (int i = 0; i < slots; i++) perm[i] = i;
        for (int i = 0; i < R; i++) {
            const int j = i + irand(slots - i), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
            slot.h[i] = perm[i];
        }
        free(perm);
    }
    if (mm_cuda_h2d(slot.d, slot.h, R * sizeof(int32_t))) die("h2d");
    CPU->copy_rows(cache.h, C, slot.h, qkv.h + col, Q, NULL, R, C);
    GPU->copy_rows(cache.d, C, slot.d, qkv.d + col, Q, NULL, R, C);
    check_bits("copy_rows (to slots, strided source)", &cache);
    CPU->copy_rows(sel.h, C, NULL, cache.h, C, slot.h, R, C);
    GPU->copy_rows(sel.d, C, NULL, cache.d, C, slot.d, R, C);
    check_bits("copy_rows (gather)", &sel);
    if (mode) { /* no row lists (dense rows of the strided source), then both (slots to slots) */
        buf dn = bpoison((size_t)R * C), s2 = bpoison((size_t)slots * C);
        CPU->copy_rows(dn.h, C, NULL, qkv.h + col, Q, NULL, R, C);
        GPU->copy_rows(dn.d, C, NULL, qkv.d + col, Q, NULL, R, C);
        check_bits("copy_rows (no row lists)", &dn);
        for (int i = 0; i < R; i++) rows.h[i] = slot.h[(i + 1) % R]; /* a rotation of the slots: distinct */
        if (mm_cuda_h2d(rows.d, rows.h, R * sizeof(int32_t))) die("h2d");
        CPU->copy_rows(s2.h, C, rows.h, cache.h, C, slot.h, R, C);
        GPU->copy_rows(s2.d, C, rows.d, cache.d, C, slot.d, R, C);
        check_bits("copy_rows (slots to slots)", &s2);
        bfree(&dn), bfree(&s2);
    }
    bfree(&qkv), bfree(&cache), bfree(&sel), ifree(&slot), ifree(&rows);
}

void decode_argmax(int AR, int V, int ld) {
    buf x = brand((size_t)AR * ld, 1);
    for (int r = 0; r < AR; r++) {
        float *row = x.h + (size_t)r * ld;
        if (r % 3 == 0) { row[irand(V)] = 5.0f; row[irand(V)] = 5.0f; } /* a tie: the lower index wins */
        if (r % 5 == 1) row[irand(V)] = NAN;                   /* NaN is never chosen */
        if (r == AR - 1) for (int i = 0; i < V; i++) row[i] = NAN;
    }
    bpush(&x);
    ibuf out = inew(AR, -5, -4);
    int32_t *got = mm_xmalloc(sizeof(int32_t) * AR);
    CPU->argmax_rows(out.h, x.h, ld, AR, V);
    GPU->argmax_rows(out.d, x.d, ld, AR, V);
    if (mm_cuda_d2h(got, out.d, sizeof(int32_t) * AR)) die("d2h");
    report("argmax_rows", memcmp(got, out.h, sizeof(int32_t) * AR) == 0, "R %d V %d (ties, NaN, an all-NaN row)", AR, V);
    free(got), bfree(&x), ifree(&out);
}

void t_decode(void) {
    decode_copy(97, 160, 32, 400, 64, 0);
    decode_argmax(70, 49157, 49160);
}

/* NCCL (kernels/cuda/comm.cu, loaded at run time): a one-rank communicator on this GPU; its all-reduce of a
 * buffer is the identity.  Checks the library loads and the bootstrap/all-reduce calls work (the multi-rank
 * sum needs one GPU per rank: not on a one-GPU host).  No NCCL installed: reported, not a failure. */
void t_nccl(void) {
    const mm_device_comm *c = mm_cuda_comm();
    unsigned char id[256];
    char err[512] = "";
    if (c->id_bytes > sizeof id || c->make_id(id, err, sizeof err)) {
        printf("SKIP  %-34s %s\n", "nccl (1 rank)", err);
        return;
    }
    if (c->init(id, 0, 1, err, sizeof err)) { report("nccl init (1 rank)", 0, "%s", err); return; }
    const size_t n = 1000003;
    buf x = brand(n, 1);
    int ok = c->allreduce_sum_f32(x.d, n, err, sizeof err) == 0;
    if (ok) check_bits("nccl all-reduce (1 rank = identity)", &x);
    else report("nccl all-reduce (1 rank)", 0, "%s", err);
    c->destroy();
    bfree(&x);
}

/* the experts' fused-dropout down-projection ops (kernels/cuda/expert.cu) with the same mask bits (made by the CPU,
 * copied up) on both sides: the fused kernels (masked ranks <= 32, the default) and the unfused path (ranks above 32,
 * and everything with MMLORA_CUDA_EXPERT=unfused); the CPU side takes its AVX-512 loops for ranks <= 16 where it has
 * them; shapes with a partial column chunk of A (256), several row chunks of the bwd_a partial sums (256) and of
 * bwd_x (32); bwd_a twice on the same inputs must agree bit for bit (deterministic) */
void expert_case(int N, int in, int r, const char *mode, int ld_pad, int nobits) {
    const size_t nx = (size_t)N * in, words = (nx + 63) / 64;
    const int ld = r + ld_pad;
    {
        buf x = brand(nx, 1), A = brand((size_t)r * in, 1), du = brand((size_t)N * ld, 1);
        buf u = bpoison((size_t)N * ld), dA = brand((size_t)r * in, 1), dx = brand(nx, 1);
        uint64_t *bh = mm_xmalloc(words * sizeof(uint64_t)), *bd = mm_cuda_malloc(words * sizeof(uint64_t));
        if (!bd) die("alloc");
        CPU->dropout_bits(bh, nx, (mm_dropout){7, 3, 11, 0.1f}, 0);
        if (mm_cuda_h2d(bd, bh, words * sizeof(uint64_t))) die("h2d");
        if (nobits) free(bh), mm_cuda_free(bd), bh = NULL, bd = NULL;
        CPU->expert_down(u.h, ld, x.h, bh, 0.1f, A.h, N, in, r);
        GPU->expert_down(u.d, ld, x.d, bd, 0.1f, A.d, N, in, r);
        char name[96];
        snprintf(name, sizeof name, "expert_down %dx%d r=%d %s", N, in, r, mode);
        check(name, &u, 1e-4);
        CPU->expert_down_bwd_a(dA.h, du.h, ld, x.h, bh, 0.1f, N, in, r);
        GPU->expert_down_bwd_a(dA.d, du.d, ld, x.d, bd, 0.1f, N, in, r);
        snprintf(name, sizeof name, "expert_down_bwd_a %dx%d r=%d %s", N, in, r, mode);
        check(name, &dA, 1e-4);
        { /* determinism: from the same dA, twice */
            buf a1 = bclone(&dA), a2 = bclone(&dA);
            GPU->expert_down_bwd_a(a1.d, du.d, ld, x.d, bd, 0.1f, N, in, r);
            GPU->expert_down_bwd_a(a2.d, du.d, ld, x.d, bd, 0.1f, N, in, r);
            float *g1 = bpull(&a1), *g2 = bpull(&a2);
            snprintf(name, sizeof name, "expert_down_bwd_a repeat %dx%d r=%d %s", N, in, r, mode);
            report(name, memcmp(g1, g2, a1.n * sizeof(float)) == 0, "two calls %s",
                   memcmp(g1, g2, a1.n * sizeof(float)) ? "differ" : "bit-identical");
            free(g1), free(g2), bfree(&a1), bfree(&a2);
        }
        CPU->expert_down_bwd_x(dx.h, du.h, ld, bh, 0.1f, A.h, N, in, r);
        GPU->expert_down_bwd_x(dx.d, du.d, ld, bd, 0.1f, A.d, N, in, r);
        snprintf(name, sizeof name, "expert_down_bwd_x %dx%d r=%d %s", N, in, r, mode);
        check(name, &dx, 1e-4);
        bfree(&x), bfree(&A), bfree(&du), bfree(&u), bfree(&dA), bfree(&dx);
        free(bh);
        mm_cuda_free(bd); /* NULL: nothing */
    }
}

void t_expert(void) {
    const int shapes[2][2] = {{517, 200}, {1100, 600}}, ranks[4] = {4, 16, 32, 48};
    for (int m = 0; m < 2; m++) {
        if (m) setenv("MMLORA_CUDA_EXPERT", "unfused", 1);
        for (int sh = 0; sh < 2; sh++)
            for (int k = 0; k < 4; k++)
                expert_case(shapes[sh][0], shapes[sh][1], ranks[k], m ? "unfused" : ranks[k] > 32 ? "(unfused: r > 32)" : "fused",
                            2, 0);
    }
    unsetenv("MMLORA_CUDA_EXPERT");
}
