//! Links the binary's unwinder statically, so `shmkit` starts without loading `libgcc_s.so.1`.
//!
//! Every life-cycle command (`create`, `rm`) costs mostly its own start-up, and loading
//! `libgcc_s` is 7% of it: four mappings, its relocations, and a constructor that probes the
//! CPU with `cpuid` (slow inside a virtual machine). std asks the linker for `-lgcc_s` only for
//! the unwinder, which GCC also ships as the static archive `libgcc_eh.a` (what
//! `gcc -static-libgcc` links). This script copies that archive into `OUT_DIR` as `libgcc_s.a`
//! and puts `OUT_DIR` first on the library search path, where the linker finds it before the
//! shared library. Panics still unwind (the tests' failures are panics caught by the test
//! harness).
//!
//! Nothing changes, with a build warning, when the C compiler has no `libgcc_eh.a`, for other
//! targets than Linux with glibc, for static builds (`+crt-static`), or when
//! `SHMKIT_SHARED_LIBGCC=1` asks for the shared library.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SHMKIT_SHARED_LIBGCC");
    println!("cargo:rerun-if-env-changed=CC");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("CARGO_CFG_TARGET_FEATURE")
            .split(',')
            .any(|f| f == "crt-static")
        || var("SHMKIT_SHARED_LIBGCC") == "1"
    {
        return;
    }
    let Some(archive) = libgcc_eh() else {
        println!(
            "cargo:warning=no libgcc_eh.a from the C compiler: shmkit links libgcc_s.so.1 \
             (install gcc to start faster)"
        );
        return;
    };
    let out = PathBuf::from(var("OUT_DIR")).join("unwind");
    let copied = std::fs::create_dir_all(&out)
        .and_then(|()| std::fs::copy(&archive, out.join("libgcc_s.a")));
    if let Err(err) = copied {
        println!("cargo:warning=could not copy {}: {err}", archive.display());
        return;
    }
    println!("cargo:rerun-if-changed={}", archive.display());
    println!("cargo:rustc-link-search=native={}", out.display());
}

/// The C compiler's `libgcc_eh.a`, as `CC -print-file-name` finds it.
fn libgcc_eh() -> Option<PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let output = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    // Without the file, gcc prints the bare name back.
    (output.status.success() && path.is_absolute() && path.is_file()).then_some(path)
}
