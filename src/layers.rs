//! The layers of the program, checked: which top-level module may name which. Read from the
//! sources (`crate::x` in any file of a module, tests included), so a new import that would make
//! two layers hold each other fails here, not in review. ARCHITECTURE.md draws the same table.
//!
//! Invariant: the import graph between top-level modules is acyclic, and each module names only
//! the modules listed for it below (everything it lists is lower in the table).

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Each top-level module and the modules it may name, lowest layer first.
    const ALLOWED: &[(&str, &[&str])] = &[
        ("model", &[]),
        ("progress", &[]),
        ("interrupt", &[]),
        ("failpoint", &["model"]),
        ("config", &["model"]),
        ("diff", &["model"]),
        ("plan", &["config", "diff", "model"]),
        ("aws", &["interrupt", "model", "progress"]),
        // Its tests run `aws::wait` inside the executor: a wait gives its slot back.
        ("apply", &["aws", "model", "plan", "progress"]),
        ("reconcile", &["apply", "aws", "config", "diff", "failpoint", "model", "plan", "progress"]),
        ("ops", &["aws", "config", "diff", "interrupt", "model", "plan", "reconcile", "progress"]),
        ("ui", &["apply", "aws", "diff", "interrupt", "model", "plan", "progress"]),
        ("cli", &["aws"]),
        (
            "commands",
            &[
                "apply",
                "aws",
                "cli",
                "config",
                "diff",
                "interrupt",
                "model",
                "ops",
                "plan",
                "progress",
                "reconcile",
                "ui",
            ],
        ),
    ];

    fn sources(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).expect("read source"));
            }
        }
    }

    /// The top-level modules each module names, comments left out.
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut graph = BTreeMap::new();
        for (module, _) in ALLOWED {
            let (dir, file) = (src.join(module), src.join(format!("{module}.rs")));
            let mut texts = Vec::new();
            if dir.is_dir() {
                sources(&dir, &mut texts);
            } else {
                texts.push(std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())));
            }
            let mut named = BTreeSet::new();
            for line in texts.iter().flat_map(|t| t.lines()) {
                let code = line.split("//").next().unwrap_or_default();
                for (_, rest) in code.match_indices("crate::").map(|(i, _)| ((), &code[i + 7..])) {
                    let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                    if !name.is_empty() && name != *module {
                        named.insert(name);
                    }
                }
            }
            graph.insert(module.to_string(), named);
        }
        graph
    }

    #[test]
    fn every_module_names_only_the_layers_below_it() {
        let graph = imports();
        for (module, allowed) in ALLOWED {
            let extra: Vec<&String> = graph[*module].iter().filter(|n| !allowed.contains(&n.as_str())).collect();
            assert!(extra.is_empty(), "{module} names {extra:?}, which it may not (src/layers.rs)");
        }
        for (i, (module, allowed)) in ALLOWED.iter().enumerate() {
            for a in *allowed {
                let at = ALLOWED.iter().position(|(m, _)| m == a).unwrap_or_else(|| panic!("{a} is not a module"));
                assert!(at < i, "{module} may name {a}, which is not below it: the table must be layered");
            }
        }
        let declared: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
        let main = include_str!("main.rs");
        for line in main.lines().filter_map(|l| l.strip_prefix("mod ")) {
            let module = line.trim_end_matches(';');
            assert!(module == "layers" || declared.contains(module), "{module} has no line in src/layers.rs");
        }
    }
}
