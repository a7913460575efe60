//! Link settings for the component.

fn main() {
    // A fresh instance starts with its shadow stack in linear memory;
    // Rust's default of 1 MiB is four times what this plugin needs (configs
    // are at most 1 MiB and shallow), and would make every instance's
    // memory, and so its set-up, larger. The maintenance plugin does the
    // same (plugin/build.rs).
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("wasm") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={}", 256 * 1024);
    }
    println!("cargo:rerun-if-changed=build.rs");
}
