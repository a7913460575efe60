//! Link settings for the component.

fn main() {
    // The guest's shadow stack lives at the bottom of its linear memory and
    // every fresh instance starts with it: Rust's default of 1 MiB makes
    // each instance's memory, and so its set-up, four times larger than
    // this plugin needs. Configs are bounded (1 MiB, nesting checked by
    // serde_json at 128 levels), which 256 KiB holds with room to spare.
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("wasm") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={}", 256 * 1024);
    }
    println!("cargo:rerun-if-changed=build.rs");
}
