//! Reads a manifests file the way `--manifests` does and prints what it holds: a harness for
//! profiling the reader (`perf record`, `valgrind --tool=callgrind`) apart from the server.
//! Usage: read_manifests FILE [THREADS]   (THREADS: one per CPU when absent)

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: read_manifests FILE [THREADS]")?;
    let threads = match args.next() {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let text = std::fs::read_to_string(&path)?;
    let t0 = Instant::now();
    let objects = kubedns_records::from_yaml_documents_on(&text, threads)?;
    println!(
        "services={} endpoint_slices={} endpoints={} pods={} read_s={:.3}",
        objects.services.len(),
        objects.endpoint_slices.len(),
        objects.endpoints.len(),
        objects.pods.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
