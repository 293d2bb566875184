#!/usr/bin/env python3
"""A second decoder of weightzip's codec payloads, written from
docs/FORMAT.md ("Chunks and codecs") alone, and the check that keeps the
document complete (run by scripts/test.sh; Python 3 standard library only):

- every codec id of crates/weightzip-codec/src/registry.rs has a row in
  FORMAT.md's codec table and a decoder here;
- every golden encoding in crates/weightzip-codec/tests/fixtures/golden
  decodes here, byte for byte, to the fixture it was made from.

It is slow (pure Python) and only as strict as the document: the Rust
decoders are the reference.
"""
import math
import os
import re
import struct
import sys

class Corrupt(Exception):
    pass

def need(c, msg="corrupt"):
    if not c:
        raise Corrupt(msg)

class R:
    def __init__(s, b, pos=0):
        s.b = b; s.pos = pos
    def u8(s):
        need(s.pos < len(s.b), "trunc u8"); v = s.b[s.pos]; s.pos += 1; return v
    def bytes(s, n):
        need(s.pos + n <= len(s.b), "trunc bytes"); v = s.b[s.pos:s.pos+n]; s.pos += n; return v
    def u32(s):
        return struct.unpack('<I', s.bytes(4))[0]
    def varint(s):
        v = 0
        for i in range(10):
            b = s.u8(); bits = b & 0x7f
            need(not (i == 9 and bits > 1), "varint overflow")
            v |= bits << (7*i)
            if b & 0x80 == 0:
                return v
        raise Corrupt("varint long")
    def left(s):
        return len(s.b) - s.pos
    def end(s):
        need(s.pos == len(s.b), "trailing %d" % (len(s.b)-s.pos))

# ---- frequency table
def read_table(r):
    p = r.u8(); first = r.u8(); last = r.u8()
    need(8 <= p <= 15 and first <= last)
    f = [0]*256; s = first; tot = 0
    while s <= last:
        v = r.varint()
        if v == 0:
            k = r.u8(); need(s + k + 1 <= last + 1); s += k + 1
        else:
            need(v <= 1 << p); f[s] = v; tot += v; s += 1
    need(tot == 1 << p and f[first] and f[last])
    return (p, f)

def cum(f):
    st = [0]*256; a = 0
    for s in range(256):
        st[s] = a; a += f[s]
    return st

class Lookup:
    """slot -> (symbol, freq, slot - start) for a plain table."""
    def __init__(s, tab):
        p, f = tab; s.p = p
        s.sym = [0]*(1 << p); st = cum(f)
        for x in range(256):
            for k in range(f[x]):
                s.sym[st[x]+k] = x
        s.f = f; s.st = st
    def get(s, slot):
        x = s.sym[slot]; return x, s.f[x], slot - s.st[x]

def rans_decode(payload, n, lookups_for, p):
    """lookups_for(i) -> lookup of symbol i. Returns list of symbols."""
    r = R(payload)
    st = [r.u32() for _ in range(32)]
    need(all(x >= 1 << 16 for x in st), "state low")
    out = []
    mask = (1 << p) - 1
    for i in range(n):
        lane = i % 32; x = st[lane]
        s, f, b = lookups_for(i).get(x & mask)
        x = (f * (x >> p) + b) & 0xffffffff
        if x < 1 << 16:
            w = struct.unpack('<H', r.bytes(2))[0]
            x = ((x << 16) | w) & 0xffffffff
        st[lane] = x; out.append(s)
    need(r.pos == len(payload), "words left")
    need(all(x == 1 << 16 for x in st), "final state")
    return out

# ---- alias layout
class Alias:
    def __init__(s, tab, B):
        p, f = tab
        need(p == 12 and all(x == 0 for x in f[B:]) and all(x < 4096 for x in f))
        w = 4096 // B
        left = f[:B]
        small = [x for x in range(B) if left[x] < w]
        large = [x for x in range(B) if left[x] >= w]
        d = [w]*B; lo = list(range(B)); hi = list(range(B))
        while small and large:
            x = small.pop(); l = large[-1]
            d[x] = left[x]; lo[x] = x; hi[x] = l
            left[l] -= w - left[x]
            if left[l] < w:
                large.pop(); small.append(l)
        for x in small + large:
            need(left[x] == w); d[x] = w
        for b in range(B):
            if d[b] == 0:
                lo[b] = hi[b]; d[b] = w
        s.sym = [0]*4096; s.rank = [0]*4096; seen = [0]*256
        for b in range(B):
            for j in range(w):
                slot = b*w + j
                x = lo[b] if j < d[b] else hi[b]
                s.sym[slot] = x; s.rank[slot] = seen[x]; seen[x] += 1
        s.f = f; s.p = 12
    def get(s, slot):
        x = s.sym[slot]; return x, s.f[x], s.rank[slot]

# ---- stream
def read_stream(r, n):
    mode = r.u8(); cnt = r.varint(); need(cnt == n, "stream n")
    if mode == 0:
        return ('raw', list(r.bytes(n)))
    if mode == 1:
        return ('const', [r.u8()]*n)
    if mode == 2:
        t = read_table(r); ln = r.varint(); need(ln <= r.left()); pl = r.bytes(ln)
        return ('rans', t, pl)
    raise Corrupt("stream mode")

def stream_syms(v, n):
    if v[0] in ('raw', 'const'):
        return v[1]
    t, pl = v[1], v[2]; L = Lookup(t)
    return rans_decode(pl, n, lambda i: L, t[0])

def decode_stream(r, n):
    return stream_syms(read_stream(r, n), n)

# ---- product table
def product(comp, p):
    q, c = comp
    need(all(x == 0 for x in c[16:]) and 8 <= p <= 12)
    F = [0]*256; sh = 2*q - p
    for h in range(16):
        for l in range(16):
            P = c[l]*c[h]
            if P > 0:
                F[l | h << 4] = max(1, (P + ((1 << sh) >> 1)) >> sh)
    tgt = 1 << p; tot = sum(F)
    if tot != tgt:
        rank = sorted(range(16), key=lambda x: (-c[x], x))  # rank -> symbol
        order = []
        for dg in range(31):
            for i in range(max(0, dg-15), min(dg, 15)+1):
                sym = rank[i] | rank[dg-i] << 4
                if F[sym] > 0:
                    order.append(sym)
        while tot != tgt:
            before = tot
            for sym in order:
                if tot > tgt and F[sym] > 1:
                    F[sym] -= 1; tot -= 1
                elif tot < tgt:
                    F[sym] += 1; tot += 1
                if tot == tgt:
                    break
            need(tot != before)
    return (p, F)

# ---- context stream
def cstream(r, n, N, ctx_of, marks=False):
    mode = r.u8()
    if mode == 0:
        return list(r.bytes(n))
    need(1 <= mode <= 4, "cstream mode")
    bits = r.u8(); need(8 <= bits <= 12)
    placeholder = (bits, [1 << bits] + [0]*255)
    if mode >= 3:
        t = read_table(r)
        if mode == 3:
            need(t[0] == bits)
        else:
            t = product(t, bits)
        tables = [t]; ctx_of = lambda i: 0
    else:
        bm = r.bytes((N + 7)//8)
        setbits = [c for c in range(N) if bm[c//8] >> (c % 8) & 1]
        for c in range(N, len(bm)*8):
            need(not (bm[c//8] >> (c % 8) & 1))
        used = N if marks else (setbits[-1] + 1 if setbits else 1)
        tables = []
        for c in range(used):
            if c in setbits:
                t = read_table(r)
                if mode == 1:
                    need(t[0] == bits)
                else:
                    t = product(t, bits)
                tables.append(t)
            else:
                tables.append(placeholder)
    parts = r.u8(); need(1 <= parts <= 4)
    pls = []
    for _ in range(parts):
        ln = r.varint(); need(ln <= r.left()); pls.append(r.bytes(ln))
    G = n // 32
    bounds = [32*(k*G//parts) for k in range(parts)] + [n]
    L = [Lookup(t) for t in tables]
    out = []
    for k in range(parts):
        a, b = bounds[k], bounds[k+1]
        def lk(i, a=a):
            c = ctx_of(a + i); need(c < len(L), "ctx past tables"); return L[c]
        out += rans_decode(pls[k], b - a, lk, bits)
    return out

# ---- codecs
def plane_codec(pl, raw_len, W, P, merge):
    r = R(pl); n = r.varint(); need(n == raw_len // W)
    tl = r.u8(); need(tl == raw_len - W*n); tail = r.bytes(tl)
    planes = [decode_stream(r, n) for _ in range(P)]
    r.end()
    out = bytearray()
    for i in range(n):
        out += merge([p[i] for p in planes])
    return bytes(out) + tail

def m_bf16(s):
    v = (s[1] & 0x80) << 8 | s[0] << 7 | s[1] & 0x7f; return struct.pack('<H', v)

def bitstream(b, k, w):
    v = 0
    for j in range(w):
        bit = k + j
        v |= ((b[bit//8] >> (bit % 8)) & 1) << j
    return v

def read_alpha(r, limit):
    cnt = r.u8() + 1; vals = []; prev = 0
    for i in range(cnt):
        v = prev + r.varint()
        need(not (i > 0 and v == prev) and v < limit)
        vals.append(v); prev = v
    return vals

def bf16j_body(r, n):
    layout = r.u8()
    if layout == 0:
        planes = [decode_stream(r, n) for _ in range(2)]; r.end()
        return b''.join(m_bf16([planes[0][i], planes[1][i]]) for i in range(n))
    need(layout == 1, "bf16j layout")
    vals = read_alpha(r, 1024); cnt = len(vals)
    m = r.varint(); need(m % 32 == 0 and m <= n // 2)
    va = read_stream(r, m); vb = read_stream(r, n - m)
    for v in (va, vb):
        if v[0] == 'rans':
            need(all(x == 0 for x in v[1][1][cnt:]))
        else:
            need(all(x < cnt for x in v[1]))
    low = r.bytes((6*n + 7)//8); r.end()
    syms = stream_syms(va, m) + stream_syms(vb, n - m)
    return b''.join(struct.pack('<H', vals[syms[i]] << 6 | bitstream(low, 6*i, 6)) for i in range(n))

def bf16j(pl, raw_len):
    r = R(pl); n = r.varint(); need(n == raw_len // 2)
    tl = r.u8(); need(tl == raw_len - 2*n); tail = r.bytes(tl)
    return bf16j_body(r, n) + tail

def bf16a(pl, raw_len):
    r = R(pl); n = r.varint(); need(n == raw_len // 2)
    tl = r.u8(); need(tl == raw_len - 2*n); tail = r.bytes(tl)
    layout = r.b[r.pos]
    if layout not in (2, 3, 4, 5):
        return bf16j_body(r, n) + tail
    r.pos += 1
    wide = layout in (4, 5); B = 32 if wide else 64
    vals = read_alpha(r, 512); cnt = len(vals); need(2 <= cnt <= B)
    t = read_table(r); need(all(x == 0 for x in t[1][cnt:]))
    A = Alias(t, B)
    m = r.varint(); need(m % 32 == 0 and m <= n // 2)
    la = r.varint(); pa = r.bytes(la); lb = r.varint(); pb = r.bytes(lb)
    patches = []
    if wide:
        c = r.varint(); need(c <= n and c <= r.left() // 2)
        nxt = 0
        for _ in range(c):
            g = r.varint(); f = r.varint(); i = nxt + g; need(i < n and f < 512)
            patches.append((i, f)); nxt = i + 1
    plane = r.bytes((n + 7)//8); low = r.bytes((6*n + 7)//8); r.end()
    syms = rans_decode(pa, m, lambda i: A, 12) + rans_decode(pb, n - m, lambda i: A, 12)
    out = []
    for i in range(n):
        rb = (plane[i//8] >> (i % 8)) & 1; l = bitstream(low, 6*i, 6)
        if layout in (2, 4):
            out.append(rb << 15 | vals[syms[i]] << 6 | l)
        else:
            out.append(vals[syms[i]] << 7 | rb << 6 | l)
    sh = 6 if layout in (2, 4) else 7
    for i, f in patches:
        out[i] = (out[i] & ~(0x1ff << sh)) | f << sh
    return b''.join(struct.pack('<H', v) for v in out) + tail

def fp16a(pl, raw_len):
    r = R(pl); n = r.varint(); need(n == raw_len // 2)
    tl = r.u8(); need(tl == raw_len - 2*n); tail = r.bytes(tl)
    layout = r.u8()
    if layout == 1:
        body = r.bytes(2*n); r.end()
        return body + tail
    need(layout == 0, "fp16a layout")
    vals = read_alpha(r, 64); cnt = len(vals); need(2 <= cnt <= 64)
    t = read_table(r); need(all(x == 0 for x in t[1][cnt:]))
    A = Alias(t, 32 if cnt <= 32 else 64)
    m = r.varint(); need(m % 32 == 0 and m <= n // 2)
    la = r.varint(); pa = r.bytes(la); lb = r.varint(); pb = r.bytes(lb)
    b8 = r.bytes((n + 7)//8); b9 = r.bytes((n + 7)//8); low = r.bytes(n); r.end()
    syms = rans_decode(pa, m, lambda i: A, 12) + rans_decode(pb, n - m, lambda i: A, 12)
    out = []
    for i in range(n):
        hi = vals[syms[i]] << 2 | ((b9[i//8] >> (i % 8)) & 1) << 1 | ((b8[i//8] >> (i % 8)) & 1)
        out.append(hi << 8 | low[i])
    return b''.join(struct.pack('<H', v) for v in out) + tail

# ---- GGUF
def f16field(r, n):
    hi = decode_stream(r, n); lo = decode_stream(r, n)
    return [lo[i] | hi[i] << 8 for i in range(n)]

def h2f(h):
    a = struct.unpack('<f', struct.pack('<I', (h & 0x7fff) << 13))[0]
    a = f32(a * 2.0**112)
    bits = struct.unpack('<I', struct.pack('<f', a))[0] | (h & 0x8000) << 16
    return struct.unpack('<f', struct.pack('<I', bits))[0]

def f32(x):
    try:
        return struct.unpack('<f', struct.pack('<f', x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)

def fdiv(a, b):
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * (math.copysign(1, b))
    return f32(a / b)

def fmul(a, b):
    if (math.isinf(a) and b == 0) or (math.isinf(b) and a == 0):
        return math.nan
    return f32(a * b)

def round15(v):
    if math.isnan(v):
        return 0
    v = min(max(v, 0.0), 15.0)
    return int(round(v))  # python round is ties-to-even

def gguf_header(r, raw_len, block):
    n = r.varint(); need(n == raw_len // block)
    tl = r.varint(); need(tl == raw_len - n*block)
    return n, r.bytes(tl)

def unpack_sc(q):
    sc = [0]*8; mn = [0]*8
    for j in range(4):
        sc[j] = q[j] & 63; mn[j] = q[j+4] & 63
        sc[j+4] = (q[j+8] & 15) | (q[j] >> 6) << 4
        mn[j+4] = (q[j+8] >> 4) | (q[j+4] >> 6) << 4
    return sc, mn

def pack_sc(sc, mn):
    q = [0]*12
    for j in range(4):
        q[j] = sc[j] | (sc[j+4] >> 4) << 6
        q[j+4] = mn[j] | (mn[j+4] >> 4) << 6
        q[j+8] = (sc[j+4] & 15) | (mn[j+4] & 15) << 4
    return bytes(q)

def k_header(r, n, unit):
    d = f16field(r, n); dm = f16field(r, n)
    sc = cstream(r, 8*n, 1, lambda i: 0); need(max(sc, default=0) <= 63)
    mn = cstream(r, 8*n, 8, lambda i: sc[i] >> 3); need(max(mn, default=0) <= 63)
    ctx = []
    for b in range(n):
        rr = fdiv(h2f(dm[b]), fmul(h2f(d[b]), unit))
        for s in range(8):
            ctx.append(round15(fmul(rr, fdiv(float(mn[8*b+s]), float(sc[8*b+s])))))
    return d, dm, sc, mn, ctx

def q4k(pl, raw_len):
    r = R(pl); n, tail = gguf_header(r, raw_len, 144)
    d, dm, sc, mn, ctx = k_header(r, n, 1.0)
    sym = cstream(r, 128*n, 16, lambda i: ctx[i // 16]); r.end()
    out = bytearray()
    for b in range(n):
        blk = bytearray(144); blk[0:2] = struct.pack('<H', d[b]); blk[2:4] = struct.pack('<H', dm[b])
        blk[4:16] = pack_sc(sc[8*b:8*b+8], mn[8*b:8*b+8])
        for s in range(8):
            for l in range(16):
                y = sym[128*b + 16*s + l]
                for e, qv in ((l, y & 15), (l + 16, y >> 4)):
                    blk[16 + 32*(s//2) + e] |= qv << (4*(s % 2))
        out += blk
    return bytes(out) + tail

def q5k(pl, raw_len):
    r = R(pl); n, tail = gguf_header(r, raw_len, 176)
    d, dm, sc, mn, ctx = k_header(r, n, 2.0)
    sym = cstream(r, 128*n, 16, lambda i: ctx[i // 16])
    low = r.bytes(32*n); r.end()
    out = bytearray()
    for b in range(n):
        blk = bytearray(176); blk[0:2] = struct.pack('<H', d[b]); blk[2:4] = struct.pack('<H', dm[b])
        blk[4:16] = pack_sc(sc[8*b:8*b+8], mn[8*b:8*b+8])
        for s in range(8):
            lb = struct.unpack('<I', low[32*b + 4*s: 32*b + 4*s + 4])[0]
            for e in range(32):
                y = sym[128*b + 16*s + (e % 16)]
                top = y & 15 if e < 16 else y >> 4
                v = top << 1 | (lb >> e) & 1
                blk[48 + 32*(s//2) + e] |= (v & 15) << (4*(s % 2))
                blk[16 + e] |= (v >> 4) << s
        out += blk
    return bytes(out) + tail

def bitlen(x):
    return x.bit_length()

def q6k(pl, raw_len):
    r = R(pl); n, tail = gguf_header(r, raw_len, 210)
    d = f16field(r, n)
    scales = cstream(r, 16*n, 1, lambda i: 0)
    def sctx(i):
        s = scales[i // 8]; v = s - 256 if s >= 128 else s
        return (1 if v < 0 else 0) << 3 | min(bitlen(abs(v)), 7)
    sym = cstream(r, 128*n, 16, sctx)
    low = r.bytes(64*n); r.end()
    out = bytearray()
    for b in range(n):
        t = [0]*256
        for k in range(16):
            for e in range(8):
                y = sym[128*b + 8*k + e]; t[16*k + e] = y & 15; t[16*k + e + 8] = y >> 4
        ql = bytearray(128); qh = bytearray(64)
        lo = low[64*b:64*b+64]
        for j in range(64):
            ql[j] |= lo[j] & 0x33; ql[j + 64] |= (lo[j] >> 2) & 0x33
        for h in range(2):
            for l in range(32):
                for y, qi, nib, qs in ((128*h+l, 64*h+l, 0, 0), (128*h+l+32, 64*h+l+32, 0, 2),
                                       (128*h+l+64, 64*h+l, 4, 4), (128*h+l+96, 64*h+l+32, 4, 6)):
                    ql[qi] |= (t[y] & 3) << (2 + nib)
                    qh[32*h + l] |= (t[y] >> 2) << qs
        out += ql + qh + bytes(scales[16*b:16*b+16]) + struct.pack('<H', d[b])
    return bytes(out) + tail

def q8_0(pl, raw_len):
    r = R(pl); n, tail = gguf_header(r, raw_len, 34)
    d = f16field(r, n)
    marks = cstream(r, n, 1, lambda i: 0); need(max(marks, default=0) <= 64)
    def mctx(i):
        m = marks[i // 32]
        return 1 + (m >> 5) if m < 64 and (m & 31) == i % 32 else 0
    q = cstream(r, 32*n, 3, mctx, marks=True); r.end()
    out = bytearray()
    for b in range(n):
        out += struct.pack('<H', d[b]) + bytes(q[32*b:32*b+32])
    return bytes(out) + tail

def legacy(block, has_m, has_qh):
    def dec(pl, raw_len):
        r = R(pl); n, tail = gguf_header(r, raw_len, block)
        d = f16field(r, n); m = f16field(r, n) if has_m else None
        unit = 2.0 if has_qh else 1.0
        ctx = [round15(fdiv(-h2f(m[b]), fmul(h2f(d[b]), unit))) if has_m else 0 for b in range(n)]
        sym = cstream(r, 16*n, 16, lambda i: ctx[i // 16])
        low = r.bytes(4*n) if has_qh else b''
        r.end()
        out = bytearray()
        for b in range(n):
            blk = struct.pack('<H', d[b]) + (struct.pack('<H', m[b]) if has_m else b'')
            s = sym[16*b:16*b+16]
            if has_qh:
                lb = struct.unpack('<I', low[4*b:4*b+4])[0]; qh = 0; qs = bytearray(16)
                for j in range(16):
                    a = (s[j] & 15) << 1 | (lb >> j) & 1
                    c = (s[j] >> 4) << 1 | (lb >> (j + 16)) & 1
                    qs[j] = (a & 15) | (c & 15) << 4
                    qh |= (a >> 4) << j | (c >> 4) << (j + 16)
                blk += struct.pack('<I', qh) + bytes(qs)
            else:
                blk += bytes(s)
            out += blk
        return bytes(out) + tail
    return dec

# ---- context float codecs
def ctxcodec(pl, raw_len, bf16):
    E, T, L = (7, 3, 4) if bf16 else (10, 2, 8)
    emask = 0xff if bf16 else 0x1f
    r = R(pl); n = r.varint(); need(n == raw_len // 2)
    tl = r.u8(); need(tl == raw_len - 2*n); tail = r.bytes(tl)
    mode = r.u8()
    if mode == 0:
        body = r.bytes(2*n); r.end(); return body + tail
    if mode == 2:
        rest = pl[r.pos:]
        return (plane_codec(rest, 2*n, 2, 2, m_bf16) if bf16 else
                plane_codec(rest, 2*n, 2, 2, lambda s: bytes([s[1], s[0]]))) + tail
    need(mode == 1)
    row_len = r.varint(); phase = r.varint()
    need(row_len <= min(1 << 24, n))
    need(phase < row_len if row_len else phase == 0)
    rowq = colq = None
    if row_len:
        cols = r.u8(); need(cols in (0, 1) and not (cols == 1 and row_len > 65536))
        R_ = (n + phase + row_len - 1) // row_len
        rowq = decode_stream(r, R_)
        if cols:
            colq = decode_stream(r, row_len)
    classes = r.u8(); need(1 <= classes <= 16 and (row_len or classes == 1))
    th = []
    for _ in range(classes - 1):
        t = r.varint(); need(t <= 511 and (not th or th[-1] < t)); th.append(t)
    e_lo = r.u8(); n_freq = r.u8()
    need(1 <= n_freq <= (31 if bf16 else 32) and e_lo + n_freq <= (256 if bf16 else 32))
    def tabs(cnt, p, nsym):
        out = []
        for _ in range(cnt):
            t = read_table(r); need(t[0] == p and all(x == 0 for x in t[1][nsym:])); out.append(t)
        return out
    ef = tabs(classes, 12, n_freq + 1); tf = tabs(n_freq, 8, 1 << T)
    ESC = n_freq << T
    joint = []
    for c in range(classes):
        W = [0]*256
        for k in range(n_freq):
            for t in range(1 << T):
                W[k << T | t] = ef[c][1][k] * tf[k][1][t]
        W[ESC] = ef[c][1][n_freq] * 256
        F = [max(1, (w + 128) >> 8) if w > 0 else 0 for w in W]
        order = sorted([s for s in range(256) if F[s] > 0], key=lambda s: (-F[s], s))
        tot = sum(F)
        while tot != 4096:
            before = tot
            for s in order:
                if tot < 4096:
                    F[s] += 1; tot += 1
                elif tot > 4096 and F[s] > 1:
                    F[s] -= 1; tot -= 1
                if tot == 4096:
                    break
            need(tot != before)
        joint.append((12, F))
    ln = r.varint(); need(ln <= r.left()); payload = r.bytes(ln)
    def rc(i):
        return ((i + phase) // row_len, (i + phase) % row_len)
    ctx = []
    for i in range(n):
        if not row_len:
            ctx.append(0); continue
        rr, cc = rc(i); st = rowq[rr] + (colq[cc] if colq is not None else 0)
        ctx.append(sum(1 for t in th if t <= st))
    JL = [Lookup(t) for t in joint]
    sym = rans_decode(payload, n, lambda i: JL[ctx[i]], 12)
    n_esc = sum(1 for s in sym if s == ESC)
    esc_e = decode_stream(r, n_esc); esc_t = decode_stream(r, n_esc)
    low_mode = r.u8(); need(low_mode in (0, 1)); lowv = None
    if low_mode == 1:
        lt = tabs(n_freq + 1, 12, 1 << L); LL = [Lookup(t) for t in lt]
        ln = r.varint(); need(ln <= r.left()); lp = r.bytes(ln)
        lowv = rans_decode(lp, n, lambda i: LL[min(sym[i] >> T, n_freq)], 12)
    sign_mode = r.u8(); need(sign_mode in (0, 1)); signs = None
    if sign_mode == 1:
        if row_len:
            R_ = (n + phase + row_len - 1) // row_len
            br = r.varint(); need(br <= R_)
            nb = 1 if br == 0 else (R_ + br - 1) // br
            scl = [min(x, 15) for x in decode_stream(r, row_len * nb)]
            def sc_(i):
                rr, cc = rc(i); b = rr // br if br else 0
                return scl[b*row_len + cc]
            st_ = tabs(16, 12, 2)
        else:
            sc_ = lambda i: 0; st_ = tabs(1, 12, 2)
        SL = [Lookup(t) for t in st_]
        ln = r.varint(); need(ln <= r.left()); sp = r.bytes(ln)
        signs = rans_decode(sp, n, lambda i: SL[sc_(i)], 12)
    if sign_mode == 0:
        sp = r.bytes((n + 7)//8); signs = [(sp[i//8] >> (i % 8)) & 1 for i in range(n)]
    if low_mode == 0:
        if bf16:
            lp = r.bytes((n + 1)//2); lowv = [(lp[i//2] >> (4*(i & 1))) & 15 for i in range(n)]
        else:
            lowv = list(r.bytes(n))
    r.end()
    out = []; j = 0
    for i in range(n):
        s = sym[i]
        if s == ESC:
            v = signs[i] << 15 | (esc_e[j] & emask) << E | (esc_t[j] & ((1 << T) - 1)) << L | lowv[i]
            j += 1
        else:
            k = s >> T
            v = signs[i] << 15 | (e_lo + k) << E | (s & ((1 << T) - 1)) << L | lowv[i]
        out.append(v)
    return b''.join(struct.pack('<H', v) for v in out) + tail


# ---- the checks
DECODERS = {
    'store': lambda p, n: (need(len(p) == n, "store length"), bytes(p))[1],
    'zstd': None,  # a zstd frame: no decoder in the standard library
    'wz_bf16': lambda p, n: plane_codec(p, n, 2, 2, m_bf16),
    'wz_fp16': lambda p, n: plane_codec(p, n, 2, 2, lambda s: bytes([s[1], s[0]])),
    'wz_fp32': lambda p, n: plane_codec(p, n, 4, 4, lambda s: struct.pack(
        '<I', (s[1] & 0x80) << 24 | s[0] << 23 | (s[1] & 0x7f) << 16 | s[2] << 8 | s[3])),
    'wz_bytes': lambda p, n: plane_codec(p, n, 1, 1, bytes),
    'wz_bf16j': bf16j,
    'wz_bf16a': bf16a,
    'wz_fp16a': fp16a,
    'wz_q4k': q4k,
    'wz_q5k': q5k,
    'wz_q6k': q6k,
    'wz_q8_0': q8_0,
    'wz_q4_0': legacy(18, False, False),
    'wz_q4_1': legacy(20, True, False),
    'wz_q5_0': legacy(22, False, True),
    'wz_q5_1': legacy(24, True, True),
    'wz_bf16_ctx': lambda p, n: ctxcodec(p, n, True),
    'wz_fp16_ctx': lambda p, n: ctxcodec(p, n, False),
}

INTER = 'minilm-l0-intermediate-rows0-383.bf16.bin'
# golden file: (codec, source fixture, source length), as in the Rust tests
# that write them (float_real.rs, gguf_codecs.rs, ctx_real.rs).
GOLDEN = {
    'golden_v1.bf16.wzc': ('wz_bf16', INTER, 2 * 384 * 64 + 1),
    'golden_v1.bf16j.wzc': ('wz_bf16j', INTER, 2 * 384 * 64 + 1),
    'golden_v1.bf16a.wzc': ('wz_bf16a', INTER, 2 * 384 * 64 + 1),
    'golden_v1.bf16a_wide.wzc': ('wz_bf16a', INTER, 2 * 384 * 64 + 1),
    'golden_v1.fp16a.wzc': ('wz_fp16a', 'whisper-l0-selfattn-out-rows0-191.fp16.bin',
                            2 * 768 * 32 + 1),
    'golden_v1.q4k.wzc': ('wz_q4k', 'q4k_whisper.bin', 144 * 200 + 5),
    'golden_v1.q6k.wzc': ('wz_q6k', 'q6k_minilm.bin', 210 * 100 + 5),
    'golden_v1.q8_0.wzc': ('wz_q8_0', 'q8_0_minilm_token_embd.bin', 34 * 300 + 5),
    'golden_v1.q5_0.wzc': ('wz_q5_0', 'q5_0_minilm_blk1_attn_k.bin', 22 * 400 + 5),
    'golden_v1.q4_1.wzc': ('wz_q4_1', 'q4_1_smollm2_blk7_ffn_up.bin', 20 * 400 + 5),
    'golden_v1.q4_0.wzc': ('wz_q4_0', 'q4_1_smollm2_blk7_ffn_up.bin', 18 * 400 + 5),
    'golden_v1.q5_1.wzc': ('wz_q5_1', 'q5_0_minilm_blk1_attn_k.bin', 24 * 300 + 5),
    'golden_v1.q5k.wzc': ('wz_q5k', 'q4k_whisper.bin', 176 * 100 + 5),
    'golden_v1.bf16_ctx.wzc': ('wz_bf16_ctx', INTER, 2 * 384 * 64),
    'golden_v1.fp16_ctx.wzc': ('wz_fp16_ctx', 'whisper-l0-selfattn-out-rows0-191.fp16.bin',
                               2 * 768 * 32),
}


def registered_codecs(registry):
    """(id, name) of every row of the codec table in registry.rs."""
    ids = dict((v, int(i)) for v, i in re.findall(r'^\s*(\w+) = (\d+),$', registry, re.M))
    names = re.findall(r'id: CodecId::(\w+),\s*name: "([^"]+)"', registry)
    names += re.findall(r'codec!\((\w+), "([^"]+)"', registry)
    return sorted((ids[v], name) for v, name in names)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    crate = os.path.join(root, 'crates', 'weightzip-codec')
    registry = open(os.path.join(crate, 'src', 'registry.rs')).read()
    doc = open(os.path.join(root, 'docs', 'FORMAT.md')).read()
    fixtures = os.path.join(crate, 'tests', 'fixtures')
    failures = []
    codecs = registered_codecs(registry)
    if len(codecs) != len(re.findall(r'^\s*\w+ = \d+,$', registry, re.M)):
        failures.append('registry.rs: could not pair every CodecId with its name')
    for cid, name in codecs:
        if '| %d | `%s` |' % (cid, name) not in doc:
            failures.append('docs/FORMAT.md: no row "| %d | `%s` |" in the codec table' % (cid, name))
        if name not in DECODERS:
            failures.append('%s (id %d): no decoder in this script' % (name, cid))
    for g in sorted(os.listdir(os.path.join(fixtures, 'golden'))):
        if g not in GOLDEN:
            failures.append('golden/%s: not listed in GOLDEN' % g)
            continue
        codec, source, length = GOLDEN[g]
        src = open(os.path.join(fixtures, source), 'rb').read()[:length]
        enc = open(os.path.join(fixtures, 'golden', g), 'rb').read()
        try:
            ok = DECODERS[codec](enc, len(src)) == src
        except Corrupt as e:
            ok = False
            failures.append('golden/%s: %s rejects it: %s' % (g, codec, e))
        if not ok:
            failures.append('golden/%s: decodes to other bytes' % g)
    for f in failures:
        print('format_reference:', f, file=sys.stderr)
    if failures:
        sys.exit(1)
    print('format_reference: %d codec ids documented, %d golden encodings decoded from FORMAT.md'
          % (len(codecs), len(GOLDEN)))


if __name__ == '__main__':
    main()
