// The migrations are embedded at compile time (refinery::embed_migrations!):
// rebuild when any of them is added or changed.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
