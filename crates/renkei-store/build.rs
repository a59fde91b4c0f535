//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the files it found,
//! and cargo alone would not notice a new one (sqlx's documented `migrate build-script`).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
