#!/usr/bin/env python3
"""Cut the demo-corpus fixtures out of the real-weight corpus (stdlib only).

usage: cut_fixtures.py CORPUS_DIR OUT_DIR

Every tensor keeps its real bytes; only the selection of tensors changes (and,
where asked, a matrix keeps only its first rows: whole rows of real blocks).
Writes valid safetensors (header padded to 8 bytes) and GGUF v3 files
(metadata kept except tokenizer arrays, offsets re-aligned).
"""
import json, os, struct, sys

def cut_safetensors(src, dst, keep, note):
    with open(src, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        hdr = json.loads(f.read(n))
        base = 8 + n
        meta = dict(hdr.get('__metadata__') or {})
        meta['weightzip_fixture'] = note
        out_hdr, chunks, off = {'__metadata__': meta}, [], 0
        for name in keep:
            info = hdr[name]
            a, b = info['data_offsets']
            f.seek(base + a)
            data = f.read(b - a)
            out_hdr[name] = {'dtype': info['dtype'], 'shape': info['shape'],
                             'data_offsets': [off, off + len(data)]}
            chunks.append(data)
            off += len(data)
    js = json.dumps(out_hdr, separators=(',', ':')).encode()
    js += b' ' * ((8 - len(js) % 8) % 8)
    with open(dst, 'wb') as g:
        g.write(struct.pack('<Q', len(js)))
        g.write(js)
        for c in chunks:
            g.write(c)

BLK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
       8: (32, 34), 12: (256, 144), 13: (256, 176), 14: (256, 210)}

def cut_gguf(src, dst, keep, rows=None):
    """keep: tensor names; rows: optional {name: first rows to keep}."""
    rows = rows or {}
    f = open(src, 'rb')
    def rd(fmt):
        s = struct.calcsize(fmt)
        return struct.unpack('<' + fmt, f.read(s))
    def rstr():
        (n,) = rd('Q')
        return f.read(n)
    def skip_val(t):
        sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
        if t in sizes:
            f.read(sizes[t])
        elif t == 8:
            rstr()
        elif t == 9:
            (at,) = rd('I'); (n,) = rd('Q')
            for _ in range(n):
                skip_val(at)
        else:
            raise ValueError(t)
    assert f.read(4) == b'GGUF'
    (ver,) = rd('I'); (nt,) = rd('Q'); (nkv,) = rd('Q')
    kvs, align = [], 32
    for _ in range(nkv):
        start = f.tell()
        key = rstr(); (t,) = rd('I')
        if key == b'general.alignment':
            pos = f.tell(); (align,) = rd('I'); f.seek(pos)
        skip_val(t)
        end = f.tell()
        if not key.startswith(b'tokenizer.'):
            f.seek(start); kvs.append(f.read(end - start))
    infos = []
    for _ in range(nt):
        name = rstr(); (nd,) = rd('I'); dims = rd('Q' * nd); (tt,) = rd('I'); (off,) = rd('Q')
        infos.append((name.decode(), dims, tt, off))
    data_start = (f.tell() + align - 1) // align * align
    by_name = {i[0]: i for i in infos}
    out_infos, datas, off = [], [], 0
    for name in keep:
        _, dims, tt, o = by_name[name]
        be, bb = BLK[tt]
        if name in rows and len(dims) == 2:
            dims = (dims[0], min(dims[1], rows[name]))
        n = 1
        for d in dims:
            n *= d
        f.seek(data_start + o)
        data = f.read(n // be * bb)
        out_infos.append((name, dims, tt, off))
        datas.append(data)
        off += (len(data) + align - 1) // align * align
    body = b'GGUF' + struct.pack('<IQQ', ver, len(out_infos), len(kvs)) + b''.join(kvs)
    for name, dims, tt, o in out_infos:
        nb = name.encode()
        body += struct.pack('<Q', len(nb)) + nb + struct.pack('<I', len(dims))
        body += struct.pack('<' + 'Q' * len(dims), *dims) + struct.pack('<IQ', tt, o)
    body += b'\0' * ((align - len(body) % align) % align)
    with open(dst, 'wb') as g:
        g.write(body)
        for d in datas:
            g.write(d)
            g.write(b'\0' * ((align - len(d) % align) % align))

def main():
    corpus, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    L = 'encoder.layer.%d.'
    minilm = [L % 0 + 'intermediate.dense.weight', L % 0 + 'attention.self.query.bias',
              L % 0 + 'attention.output.LayerNorm.weight']
    for k in (0, 1):
        minilm += [L % k + 'attention.self.%s.weight' % r for r in ('query', 'key', 'value')]
        minilm += [L % k + 'attention.output.dense.weight']
    cut_safetensors(os.path.join(corpus, 'minilm/model.bf16.safetensors'),
                    os.path.join(out, 'lab-minilm-layers0-1.bf16.safetensors'), minilm,
                    'all-MiniLM-L6-v2 bf16: layers 0-1 attention, layer-0 intermediate')
    # Whisper small is the test model: at least 5 items per corpus, so that the
    # study's notebook (which keeps a fig5 point only with >= 5 rows) draws
    # every method from the demo corpus.
    W = 'decoder/layer_0/self_attention/'
    whisper = [W + 'linear_1/weight', W + 'linear_1/bias', W + 'linear_0/bias',
               W + 'layer_norm/gamma', W + 'layer_norm/beta']
    for dt in ('bf16', 'fp16'):
        cut_safetensors(os.path.join(corpus, 'fixtures/whisper-small-layer0-selfattn.%s.safetensors' % dt),
                        os.path.join(out, 'lab-whisper-small-layer0-selfattn.%s.safetensors' % dt),
                        whisper, 'Whisper small decoder layer-0 self-attention: output projection, biases, norm')
    cut_gguf(os.path.join(corpus, 'fixtures/minilm-layers0-2.Q4_K_M.gguf'),
             os.path.join(out, 'lab-minilm-layers0-1.Q4_K_M.gguf'),
             ['blk.0.ffn_down.weight', 'blk.1.ffn_down.weight', 'blk.0.attn_q.weight', 'blk.0.attn_q.bias'])
    # Five small GGUF files (one Q4_K matrix's first 256 rows and its F32 bias each).
    D = 'decoder/layer_0/'
    for role in ('attention/linear_0', 'attention/linear_1', 'attention/linear_2',
                 'self_attention/linear_0', 'self_attention/linear_1'):
        w = D + role + '/weight'
        cut_gguf(os.path.join(corpus, 'fixtures/whisper-small-layer0.Q4_K.gguf'),
                 os.path.join(out, 'lab-whisper-small-layer0-%s.Q4_K.gguf' % role.replace('/', '-')),
                 [w, D + role + '/bias'], rows={w: 256})

if __name__ == '__main__':
    main()
