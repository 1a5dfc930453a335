//! The crate's modules import each other in one direction only: this reads every `crate::…`,
//! `super::…` and `self::…` path in `src/` (not in comments) and fails on a cycle, naming it.
//! Also: every module opens with a `//!` line saying what it is for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name (`alert::notify`) → its source text.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let name = parts.join("::");
            if name == "main" || name == "lib" {
                continue;
            }
            found.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    found
}

/// The modules `name`'s code refers to (the longest known module a path names).
fn imports(name: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = name.rsplit_once("::").map(|(p, _)| p.to_owned());
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for (prefix, base) in
            [("crate::", String::new()), ("super::", parent.clone().unwrap_or_default()), ("self::", name.to_owned())]
        {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                // `foo_crate::` is not `crate::`.
                let before = rest[..at].chars().last();
                let after = &rest[at + prefix.len()..];
                rest = after;
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let path: String =
                    after.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
                let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
                let mut target = None;
                while !segments.is_empty() {
                    let joined = segments.join("::");
                    let candidate = if base.is_empty() { joined } else { format!("{base}::{joined}") };
                    if known.contains(&candidate) {
                        target = Some(candidate);
                        break;
                    }
                    segments.pop();
                }
                // `super::Item` / `crate::Item` with no module named: the parent (or nothing).
                let target = target.or_else(|| (!base.is_empty() && known.contains(&base)).then(|| base.clone()));
                if let Some(target) = target.filter(|t| t != name) {
                    out.insert(target);
                }
            }
        }
    }
    out
}

#[test]
fn no_module_imports_itself_back_through_others() {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    assert!(known.contains("handler") && known.contains("alert::notify"), "{known:?}");
    let graph: BTreeMap<&str, BTreeSet<String>> =
        modules.iter().map(|(name, text)| (name.as_str(), imports(name, text, &known))).collect();
    // The check reads the real imports (so a pass means something).
    for (from, to) in [
        ("delivery", "sink"),
        ("handler", "sink"),
        ("alert::notify", "config"),
        ("config", "alert"),
        ("lambda", "handler"),
    ] {
        assert!(graph[from].contains(to), "{from} → {to} not seen: {:?}", graph[from]);
    }
    // Depth-first search, reporting the first cycle as a path.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<&str, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node);
            return Some(cycle.join(" → "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next.as_str(), graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("a module cycle: {cycle}\nthe graph: {graph:#?}");
        }
    }
}

#[test]
fn the_check_finds_a_cycle_when_there_is_one() {
    let known: BTreeSet<String> = ["a", "b", "b::c"].iter().map(|s| s.to_string()).collect();
    assert_eq!(imports("a", "use crate::b::c::X; // crate::nope", &known), BTreeSet::from(["b::c".to_owned()]));
    assert_eq!(
        imports("b::c", "use super::Thing;\nlet x = my_crate::a::f();", &known),
        BTreeSet::from(["b".to_owned()])
    );
}

#[test]
fn every_module_says_what_it_is_for() {
    for (name, text) in modules() {
        assert!(text.starts_with("//! "), "src module {name} does not open with a //! line");
    }
}
