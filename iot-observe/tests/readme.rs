//! The README is the crate's front page on docs.rs, and its example is
//! compiled and run as a doctest (so it cannot rot).

#[test]
fn the_readme_is_the_front_page_and_its_example_is_a_doctest() {
    let root = env!("CARGO_MANIFEST_DIR");
    let lib = std::fs::read_to_string(format!("{root}/src/lib.rs")).unwrap();
    assert!(
        lib.starts_with("#![doc = include_str!(\"../README.md\")]"),
        "src/lib.rs includes the README as its documentation"
    );
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let blocks: Vec<&str> = readme.split("```").skip(1).step_by(2).collect();
    let rust: Vec<&&str> = blocks.iter().filter(|b| b.starts_with("rust\n")).collect();
    assert!(!rust.is_empty(), "a compiled ```rust example");
    for block in rust {
        // Shown as is on GitHub and crates.io: no hidden `# ` lines.
        assert!(!block.lines().any(|l| l.starts_with("# ")), "{block}");
        assert!(block.contains("fn main"), "{block}");
    }
    // The front page links every module.
    for module in [
        "health",
        "endpoint",
        "shutdown",
        "metrics_layer",
        "prometheus",
        "tracing_init",
        "admin",
    ] {
        assert!(lib.contains(&format!("* [`{module}`]")), "{module}");
    }
}
