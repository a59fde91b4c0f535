//! Serves the sandbox alone, for working on an emulator without building the renkei binary:
//! `cargo run -p renkei-sandbox --example serve -- 127.0.0.1:9900 [SEED_COUNT]`.
//! The product's way to do the same is `renkei sandbox`.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9900".into());
    let seed: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let sandbox = renkei_sandbox::Sandbox::new(renkei_sandbox::SandboxOptions::default());
    if seed > 0
        && let Err(e) = sandbox.seed_all(seed, 1)
    {
        eprintln!("seeding failed: {e}");
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!(
        "sandbox listening on http://{}/sandbox",
        listener.local_addr()?
    );
    renkei_sandbox::serve(listener, sandbox, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
