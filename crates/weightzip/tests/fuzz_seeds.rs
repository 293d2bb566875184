//! The fuzz targets' seed inputs (`fuzz/seeds/<target>/`), cut from the
//! repository's real fixtures, and a check that every committed seed is a
//! valid input that its target's code accepts all the way through, so the
//! fuzzer starts deep inside each parser rather than at its first check.
//!
//! `WZ_WRITE_SEEDS=1 cargo test -p weightzip --test fuzz_seeds` rewrites the
//! seed folders (after a format or codec change made the old seeds invalid).

use std::path::{Path, PathBuf};

use weightzip::index::{Footer, FOOTER_LEN};
use weightzip::{
    compress_bytes, compress_to_writer, decompress_bytes_with, Archive, CompressOptions,
    ExtractOptions, Index, InputFile, Level, Plan, RootKind,
};
use weightzip_codec::{CodecId, ALL_CODECS};
use weightzip_entropy::{decode_stream, encode_stream, ByteReader, StreamMode};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(rel: &str) -> Vec<u8> {
    let path = repo().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn seed_dir(target: &str) -> PathBuf {
    repo().join("fuzz/seeds").join(target)
}

/// The seeds of `target` as committed, sorted by name.
fn committed(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(seed_dir(target))
        .unwrap_or_else(|e| panic!("fuzz/seeds/{target}: {e}"))
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "fuzz/seeds/{target} is empty");
    seeds
}

/// Replaces the seed folder of `target` when `WZ_WRITE_SEEDS` is set.
fn write_if_asked(target: &str, seeds: &[(String, Vec<u8>)]) {
    if std::env::var_os("WZ_WRITE_SEEDS").is_none() {
        return;
    }
    let dir = seed_dir(target);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

const CODEC_FIXTURES: &str = "crates/weightzip-codec/tests/fixtures";
const FORMAT_FIXTURES: &str = "crates/weightzip-format/tests/fixtures";

/// Real bytes of the type each codec is made for, a few KB: whole rows or
/// blocks plus a 5-byte tail. wz_q4_0 / wz_q5_1 / wz_q5k code real blocks
/// of a neighbouring type (no fixture holds theirs), as their golden files do.
fn codec_source(codec: CodecId) -> Vec<u8> {
    let (file, len) = match codec {
        CodecId::Store | CodecId::Zstd | CodecId::Bytes => (
            format!("{FORMAT_FIXTURES}/minilm-slice.bf16.safetensors"),
            4096,
        ),
        CodecId::Bf16 | CodecId::Bf16Ctx | CodecId::Bf16Joint | CodecId::Bf16Alias => (
            format!("{CODEC_FIXTURES}/minilm-l0-key.bf16.bin"),
            8 * 384 * 2 + 5,
        ),
        CodecId::Fp16 | CodecId::Fp16Ctx | CodecId::Fp16Alias => (
            format!("{CODEC_FIXTURES}/whisper-l0-selfattn-out-rows0-191.fp16.bin"),
            4 * 768 * 2 + 5,
        ),
        CodecId::Fp32 => (
            "crates/weightzip-methods/tests/fixtures/fp32_minilm_key_48rows.bin".into(),
            4 * 384 * 4 + 5,
        ),
        CodecId::Q4K => (
            format!("{CODEC_FIXTURES}/q4k_minilm_blk3_ffn_down.bin"),
            144 * 32 + 5,
        ),
        CodecId::Q6K => (format!("{CODEC_FIXTURES}/q6k_minilm.bin"), 210 * 24 + 5),
        CodecId::Q8_0 => (
            format!("{CODEC_FIXTURES}/q8_0_minilm_token_embd.bin"),
            34 * 128 + 5,
        ),
        CodecId::Q5_0 => (
            format!("{CODEC_FIXTURES}/q5_0_minilm_blk1_attn_k.bin"),
            22 * 192 + 5,
        ),
        CodecId::Q4_0 => (
            format!("{CODEC_FIXTURES}/q4_1_smollm2_blk7_ffn_up.bin"),
            18 * 256 + 5,
        ),
        CodecId::Q4_1 => (
            format!("{CODEC_FIXTURES}/q4_1_smollm2_blk7_ffn_up.bin"),
            20 * 224 + 5,
        ),
        CodecId::Q5_1 => (
            format!("{CODEC_FIXTURES}/q5_0_minilm_blk1_attn_k.bin"),
            24 * 192 + 5,
        ),
        CodecId::Q5K => (format!("{CODEC_FIXTURES}/q4k_whisper.bin"), 176 * 26 + 5),
    };
    let mut bytes = fixture(&file);
    bytes.truncate(len);
    assert_eq!(bytes.len(), len, "{file} is shorter than {len} bytes");
    bytes
}

fn pick_of(codec: CodecId) -> u8 {
    ALL_CODECS.iter().position(|c| *c == codec).unwrap() as u8
}

fn codec_decode_seeds() -> Vec<(String, Vec<u8>)> {
    ALL_CODECS
        .iter()
        .map(|&codec| {
            let source = codec_source(codec);
            let n = u16::try_from(source.len()).unwrap();
            let mut seed = vec![pick_of(codec)];
            seed.extend_from_slice(&n.to_le_bytes());
            codec.encode(&source, Level::Fast, &mut seed).unwrap();
            (codec.name().to_string(), seed)
        })
        .collect()
}

fn codec_roundtrip_seeds() -> Vec<(String, Vec<u8>)> {
    ALL_CODECS
        .iter()
        .map(|&codec| {
            let mut seed = vec![pick_of(codec)];
            seed.extend_from_slice(&codec_source(codec));
            (codec.name().to_string(), seed)
        })
        .collect()
}

/// Symbol streams of real bf16 weights: the high bytes (sign and exponent,
/// rANS), the low bytes (close to uniform), a constant run, and a short one.
fn stream_symbols() -> Vec<(&'static str, Vec<u8>)> {
    let key = fixture(&format!("{CODEC_FIXTURES}/minilm-l0-key.bf16.bin"));
    let words = &key[..8192];
    vec![
        (
            "bf16-high-bytes",
            words.iter().skip(1).step_by(2).copied().collect(),
        ),
        ("bf16-low-bytes", words.iter().step_by(2).copied().collect()),
        ("constant-run", vec![words[1]; 3000]),
        ("three-symbols", words[1..4].to_vec()),
    ]
}

fn stream_decode_seeds() -> Vec<(String, Vec<u8>)> {
    stream_symbols()
        .into_iter()
        .map(|(name, symbols)| {
            let mut seed = u16::try_from(symbols.len()).unwrap().to_le_bytes().to_vec();
            encode_stream(&symbols, &mut seed).unwrap();
            (name.to_string(), seed)
        })
        .collect()
}

fn format_layout_seeds() -> Vec<(String, Vec<u8>)> {
    [
        "minilm-slice.Q4_K_M.gguf",
        "minilm-slice.bf16.safetensors",
        "whisper-slice.Q4_K.gguf",
        "whisper-slice.fp16.safetensors",
    ]
    .into_iter()
    .map(|name| {
        (
            name.to_string(),
            fixture(&format!("{FORMAT_FIXTURES}/{name}")),
        )
    })
    .collect()
}

/// A safetensors file of two real tensors large enough to be coded by their
/// codecs (not only zstd): 24 bf16 rows of MiniLM, 12 fp16 rows of Whisper.
fn two_tensor_safetensors() -> Vec<u8> {
    let bf16 = &fixture(&format!("{CODEC_FIXTURES}/minilm-l0-key.bf16.bin"))[..24 * 384 * 2];
    let fp16 = &fixture(&format!(
        "{CODEC_FIXTURES}/whisper-l0-selfattn-out-rows0-191.fp16.bin"
    ))[..12 * 768 * 2];
    let mut header = format!(
        "{{\"key.weight\":{{\"dtype\":\"BF16\",\"shape\":[24,384],\"data_offsets\":[0,{a}]}},\
         \"out.weight\":{{\"dtype\":\"F16\",\"shape\":[12,768],\"data_offsets\":[{a},{b}]}}}}",
        a = bf16.len(),
        b = bf16.len() + fp16.len()
    );
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(bf16);
    file.extend_from_slice(fp16);
    file
}

const CONFIG: &[u8] = b"{\"model_type\": \"bert\", \"hidden_size\": 384}\n";

/// (name, archive, the one file it holds or `None` for a folder).
fn archives() -> Vec<(String, Vec<u8>, Option<Vec<u8>>)> {
    let opts = |level| CompressOptions {
        level,
        threads: 1,
        chunk_size: 8 << 10,
        ..Default::default()
    };
    let mut out = Vec::new();
    let two = two_tensor_safetensors();
    for (name, level) in [("fast", Level::Fast), ("max", Level::Max)] {
        let wz = compress_bytes(&two, &opts(level)).unwrap();
        out.push((format!("two-tensors.{name}.wz"), wz, Some(two.clone())));
    }
    for (name, file) in format_layout_seeds() {
        let wz = compress_bytes(&file, &opts(Level::Fast)).unwrap();
        out.push((format!("{name}.wz"), wz, Some(file)));
    }
    let wz = compress_bytes(CONFIG, &opts(Level::Fast)).unwrap();
    out.push(("config.json.wz".into(), wz, Some(CONFIG.to_vec())));
    let model = fixture(&format!("{FORMAT_FIXTURES}/minilm-slice.bf16.safetensors"));
    let files = vec![
        InputFile::from_bytes("config.json", CONFIG),
        InputFile::from_bytes("model.safetensors", &model),
    ];
    let mut wz = Vec::new();
    let plan = Plan {
        root: RootKind::Dir,
        files,
        extras: Vec::new(),
    };
    compress_to_writer(plan, &mut wz, &opts(Level::Fast)).unwrap();
    out.push(("folder.wz".into(), wz, None));
    // A training run of two real fine-tune steps: the later one coded as
    // escape-coded deltas against the earlier (a chain).
    let step = |name: &str| {
        let f = fixture(&format!(
            "tests/fixtures/minilm-finetune-{name}.slice.bf16.safetensors"
        ));
        let start = 8 + u64::from_le_bytes(f[..8].try_into().unwrap()) as usize;
        one_tensor_safetensors(&f[start..start + 4096 * 2])
    };
    let (a, b) = (step("step0000"), step("step0100"));
    let files = vec![
        InputFile::from_bytes("step-0000/model.safetensors", &a),
        InputFile::from_bytes("step-0100/model.safetensors", &b),
    ];
    let plan = Plan {
        root: RootKind::Dir,
        files,
        extras: Vec::new(),
    };
    let mut wz = Vec::new();
    compress_to_writer(plan, &mut wz, &opts(Level::Fast)).unwrap();
    out.push(("chain.wz".into(), wz, None));
    out
}

/// A safetensors file of one bf16 tensor holding `data`.
fn one_tensor_safetensors(data: &[u8]) -> Vec<u8> {
    let mut header = format!(
        "{{\"w\":{{\"dtype\":\"BF16\",\"shape\":[{}],\"data_offsets\":[0,{}]}}}}",
        data.len() / 2,
        data.len()
    );
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(data);
    file
}

fn archive_decode_seeds() -> Vec<(String, Vec<u8>)> {
    archives()
        .into_iter()
        .map(|(name, wz, _)| (name, wz))
        .collect()
}

/// The chunk area's end and the serialised index of `wz`, as `index_decode`
/// takes them.
fn index_input(wz: &[u8]) -> Vec<u8> {
    let footer: [u8; FOOTER_LEN as usize] =
        wz[wz.len() - FOOTER_LEN as usize..].try_into().unwrap();
    let footer = Footer::parse(&footer, wz.len() as u64).unwrap();
    let mut seed = footer.index_offset.to_le_bytes().to_vec();
    seed.extend_from_slice(&Archive::from_bytes(wz).unwrap().index().to_bytes());
    seed
}

fn index_decode_seeds() -> Vec<(String, Vec<u8>)> {
    archives()
        .into_iter()
        .map(|(name, wz, _)| (name.replace(".wz", ".index"), index_input(&wz)))
        .collect()
}

#[test]
fn codec_decode_seeds_decode_to_real_bytes() {
    write_if_asked("codec_decode", &codec_decode_seeds());
    let seeds = committed("codec_decode");
    for &codec in &ALL_CODECS {
        let (_, seed) = seeds
            .iter()
            .find(|(name, _)| name == codec.name())
            .unwrap_or_else(|| panic!("no seed for {}", codec.name()));
        assert_eq!(seed[0], pick_of(codec));
        let source = codec_source(codec);
        assert_eq!(
            usize::from(u16::from_le_bytes([seed[1], seed[2]])),
            source.len()
        );
        let mut out = vec![0u8; source.len()];
        codec.decode(&seed[3..], &mut out).unwrap();
        assert!(
            out == source,
            "{}: seed decodes to other bytes",
            codec.name()
        );
    }
}

#[test]
fn codec_roundtrip_seeds_hold_each_codec_s_real_bytes() {
    write_if_asked("codec_roundtrip", &codec_roundtrip_seeds());
    let seeds = committed("codec_roundtrip");
    assert_eq!(seeds.len(), ALL_CODECS.len());
    for &codec in &ALL_CODECS {
        let (_, seed) = seeds
            .iter()
            .find(|(name, _)| name == codec.name())
            .unwrap_or_else(|| panic!("no seed for {}", codec.name()));
        assert_eq!(seed[0], pick_of(codec));
        assert!(seed[1..] == codec_source(codec), "{}", codec.name());
    }
}

#[test]
fn stream_decode_seeds_cover_every_stream_mode() {
    write_if_asked("stream_decode", &stream_decode_seeds());
    let mut modes = Vec::new();
    for (name, seed) in committed("stream_decode") {
        let n = usize::from(u16::from_le_bytes([seed[0], seed[1]]));
        let mut out = vec![0u8; n];
        decode_stream(&mut ByteReader::new(&seed[2..]), &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (_, symbols) = stream_symbols()
            .into_iter()
            .find(|(s, _)| *s == name)
            .unwrap_or_else(|| panic!("{name}: not a seed this test writes"));
        assert!(out == symbols, "{name}: decodes to other symbols");
        modes.push(seed[2]);
    }
    for mode in [StreamMode::Raw, StreamMode::Constant, StreamMode::Rans] {
        assert!(modes.contains(&(mode as u8)), "no seed in {mode:?} mode");
    }
}

#[test]
fn format_layout_seeds_parse_with_tensors() {
    write_if_asked("format_layout", &format_layout_seeds());
    for (name, seed) in committed("format_layout") {
        let layout = weightzip_format::layout_of(&seed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!layout.tensors.is_empty(), "{name}: no tensors");
    }
}

#[test]
fn archive_decode_seeds_decode_and_verify() {
    write_if_asked("archive_decode", &archive_decode_seeds());
    let opts = ExtractOptions {
        threads: 1,
        ..Default::default()
    };
    let expected = archives();
    let seeds = committed("archive_decode");
    assert_eq!(seeds.len(), expected.len());
    for (name, seed) in seeds {
        let archive = Archive::from_bytes(&seed).unwrap_or_else(|e| panic!("{name}: {e}"));
        archive
            .verify(&opts)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (_, _, file) = expected.iter().find(|(n, _, _)| *n == name).unwrap();
        match file {
            Some(file) => assert!(decompress_bytes_with(&seed, &opts).unwrap() == *file),
            None => assert_eq!(archive.index().entries.len(), 2, "{name}"),
        }
    }
}

#[test]
fn index_decode_seeds_parse() {
    write_if_asked("index_decode", &index_decode_seeds());
    for (name, seed) in committed("index_decode") {
        let end = u64::from_le_bytes(seed[..8].try_into().unwrap());
        let index = Index::from_bytes(&seed[8..], end).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!index.entries.is_empty(), "{name}");
    }
}
