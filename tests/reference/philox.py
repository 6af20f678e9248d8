"""numpy twin of core/util/philox.{h,c}: the counter-based generator behind every dropout mask.

Used by the golden-test scripts to give PyTorch exactly the dropout masks the C engine draws."""
import numpy as np

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK32 = np.uint64(0xFFFFFFFF)

# purposes (util/philox.h)
EMBD, ATTN_PROBS, RESID_ATTN, RESID_MLP, LORA = 1, 2, 3, 4, 16


def stream(layer, purpose):
    return ((layer + 1) << 12) | (purpose & 0xFFF)


def stream_lora(layer, target, expert):
    return stream(layer, LORA + target * 256 + expert)


def philox4x32(c0, c1, c2, c3, k0, k1):
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        p0 = np.uint64(M0) * c0
        p1 = np.uint64(M1) * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & MASK32
        c0, c1, c2, c3 = (hi1 ^ c1 ^ k0) & MASK32, lo1, (hi0 ^ c3 ^ k1) & MASK32, lo0
        k0 = (k0 + np.uint64(W0)) & MASK32
        k1 = (k1 + np.uint64(W1)) & MASK32
    return c0, c1, c2, c3


def u32(seed, step, strm, n, first=0):
    idx = np.arange(first, first + n, dtype=np.uint64)
    blk = idx >> np.uint64(2)
    lane = (idx & np.uint64(3)).astype(np.int64)
    outs = philox4x32(blk & MASK32, np.full_like(blk, step), np.full_like(blk, strm), blk >> np.uint64(32),
                      seed & 0xFFFFFFFF, seed >> 32)
    out = np.stack(outs, axis=1)
    return out[np.arange(n), lane].astype(np.uint32)


def keep_mask(seed, step, strm, n, p, first=0):
    u = (u32(seed, step, strm, n, first) >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    return u >= np.float32(p)
