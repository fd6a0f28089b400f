//! `cargo run --release --no-default-features --example speed -p stressgrid-hdr-native`:
//! the recording loop alone, without Node, in CPU-independent wall time of a quiet machine.
fn main() {
    let mut h = stressgrid_hdr_native::Recorder::new(Default::default()).unwrap();
    let mut x: u64 = 1;
    let v: Vec<f64> = (0..1_000_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            ((x >> 11) as f64 / (1u64 << 53) as f64 * 59e6f64.ln()).exp().floor().max(1.0)
        })
        .collect();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        h.record_all(&v).unwrap();
        println!("record_all: {:.2} ns/value", t.elapsed().as_nanos() as f64 / v.len() as f64);
    }
}
