//! A trained mixture that cannot learn K components says so in its note.

use std::path::Path;

use weightzip_methods::gguf::q4k_tensors;
use weightzip_methods::{method_by_name, Corpus};

#[test]
fn qb_mixtures_say_how_many_components_they_trained() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lab-minilm-layers0-1.Q4_K_M.gguf");
    let file = std::fs::read(path).unwrap();
    let tensors = q4k_tensors(&file);
    assert_eq!(tensors.len(), 2);
    for (name, k) in [("qb_k8", 8), ("qb_k16", 16)] {
        let m = method_by_name(name).unwrap();
        let p = m.train(Corpus::Q4kStream, &tensors).unwrap().unwrap();
        let note = m
            .profile_note(&p)
            .expect("two train tensors cannot give K components");
        assert!(note.contains(&format!("of K = {k} components")), "{note}");
        // The profile still codes every tensor byte-exactly.
        for t in &tensors {
            let c = m.compress(t, Some(&p)).unwrap();
            assert_eq!(m.decompress(&c, t.len(), Some(&p)).unwrap(), *t);
        }
    }
    assert!(method_by_name("qa")
        .unwrap()
        .profile_note(&weightzip_methods::Profile::new("qa", Vec::new()))
        .is_none());
}
