use super::*;

/// The pickle `torch.save({"w": t})` writes for a 2×3 bf16 tensor
/// (protocol 2, as torch writes it), opcode by opcode.
fn one_tensor(storage_class: &str) -> Vec<u8> {
    let mut p = vec![
        0x80, 2, b'}', b'q', 0, b'(', b'X', 1, 0, 0, 0, b'w', b'q', 1,
    ];
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\nq\x02((X\x07\x00\x00\x00storage");
    p.extend_from_slice(format!("ctorch\n{storage_class}\n").as_bytes());
    p.extend_from_slice(b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ");
    p.extend_from_slice(
        b"K\x00K\x02K\x03\x86K\x03K\x01\x86\x89ccollections\nOrderedDict\n)Rtq\x03R",
    );
    p.extend_from_slice(b"u.");
    p
}

#[test]
fn finds_the_tensor_and_its_storage() {
    let t = named_tensors(&one_tensor("BFloat16Storage")).unwrap();
    assert_eq!(
        t,
        vec![TensorRef {
            name: "w".into(),
            storage: StorageRef {
                key: "0".into(),
                dtype: Dtype::BF16,
                numel: 6
            },
            offset: 0,
            size: vec![2, 3],
            stride: vec![3, 1],
        }]
    );
}

#[test]
fn unknown_storages_and_opcodes_make_it_opaque() {
    assert_eq!(named_tensors(&one_tensor("ComplexStorage")), None);
    let mut p = one_tensor("HalfStorage");
    assert_eq!(named_tensors(&p).unwrap()[0].storage.dtype, Dtype::F16);
    // INST (`i`) — a call by name in protocol 0 — is not understood.
    p.insert(2, b'i');
    assert_eq!(named_tensors(&p), None);
    assert_eq!(named_tensors(b""), None);
    assert_eq!(named_tensors(b"\x80\x02}"), None, "no STOP");
}

#[test]
fn other_calls_are_never_made_only_kept_opaque() {
    // `os.system("x")` as a pickle: GLOBAL, argument tuple, REDUCE.
    let p = b"\x80\x02cos\nsystem\nX\x01\x00\x00\x00x\x85R.";
    assert_eq!(named_tensors(p), Some(vec![]));
}

#[test]
fn every_truncation_and_flip_is_handled() {
    let p = one_tensor("BFloat16Storage");
    for cut in 0..p.len() {
        assert!(named_tensors(&p[..cut]).is_none(), "cut {cut}");
    }
    for i in 0..p.len() {
        for bit in 0..8 {
            let mut m = p.clone();
            m[i] ^= 1 << bit;
            let _ = named_tensors(&m);
        }
    }
}

/// One tensor named by a long key, then the key and tensor set again and
/// again from the memo: the copies are charged to a budget of the
/// pickle's own size, so the walk gives up instead of growing.
#[test]
fn memo_references_cannot_amplify_memory() {
    let mut p = one_tensor("BFloat16Storage");
    p.truncate(p.len() - 2); // before SETITEMS and STOP
                             // Memo 1 is the key, 4 the tensor: push (key, tensor) pairs from them.
    let long_key = vec![b'k'; 60_000];
    let mut q = vec![0x80, 2, b'}', b'(', b'X'];
    q.extend_from_slice(&(long_key.len() as u32).to_le_bytes());
    q.extend_from_slice(&long_key);
    q.extend_from_slice(b"q\x01");
    q.extend_from_slice(&p[14..]); // the tensor build
    q.extend_from_slice(b"q\x04");
    for _ in 0..100_000 {
        q.extend_from_slice(b"h\x01h\x04");
    }
    q.extend_from_slice(b"u.");
    assert_eq!(named_tensors(&q), None);
}
