//! Reading a spec file: parse to a spanned tree, decode, validate, and merge
//! each environment's overrides, collecting every problem with its position.

use std::collections::BTreeMap;
use std::path::Path;

use crate::decode::{decode, join};
use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::source::{Format, Node, NodeKind, Span, merge};
use crate::spec::{DeploySpec, ENVIRONMENTS};
use crate::validate::validate;

/// A spec file: the base spec and one resolved spec per environment it overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecFile {
    /// The spec without overrides.
    pub base: DeploySpec,
    /// Each environment's overrides merged over the base, by name (`dev`, `staging`, `prod`).
    pub environments: BTreeMap<String, DeploySpec>,
}

impl SpecFile {
    /// Reads and checks a spec file; config-file `path`s are read relative to it.
    pub fn load(path: &Path) -> Result<SpecFile, Diagnostics> {
        let file = Some(path.display().to_string());
        let fail = |msg: String| Diagnostics {
            file: file.clone(),
            items: vec![Diagnostic::new("", None, msg)],
        };
        let format = Format::from_path(path).ok_or_else(|| {
            fail("unknown spec format: expected a .toml, .yaml or .yml file".into())
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("cannot read the spec: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse_in(&text, format, Some(dir)).map_err(|mut d| {
            d.file = file.clone();
            d
        })
    }

    /// Parses and checks spec text. Config files must be inline (`content`).
    pub fn parse(text: &str, format: Format) -> Result<SpecFile, Diagnostics> {
        Self::parse_in(text, format, None)
    }

    /// Parses and checks spec text; config-file `path`s are read relative to `dir`.
    pub fn parse_in(
        text: &str,
        format: Format,
        dir: Option<&Path>,
    ) -> Result<SpecFile, Diagnostics> {
        let mut diags = Vec::new();
        let root = match crate::source::parse(text, format) {
            Ok(root) => root,
            Err(d) => {
                return Err(Diagnostics {
                    file: None,
                    items: vec![d],
                });
            }
        };
        let (base_node, envs) = split_environments(root, &mut diags);
        let base = check(&base_node, dir, &mut diags);
        let mut environments = BTreeMap::new();
        for (env, over, span) in envs {
            let mut env_diags = Vec::new();
            let merged = merge(&base_node, &over);
            let spec = check(&merged, dir, &mut env_diags);
            for mut d in env_diags {
                if d.span.is_some_and(|s| span.contains(&s)) {
                    let sep = if d.path.is_empty() || d.path.starts_with('[') {
                        ""
                    } else {
                        "."
                    };
                    d.path = format!("environments.{env}{sep}{}", d.path);
                }
                diags.push(d);
            }
            if let Some(spec) = spec {
                environments.insert(env, spec);
            }
        }
        let result = Diagnostics {
            file: None,
            items: diags,
        }
        .finish();
        match base {
            Some(base) if result.is_empty() => Ok(SpecFile { base, environments }),
            _ => Err(result),
        }
    }

    /// The spec for `env` (the base spec for `None`).
    pub fn resolve(&self, env: Option<&str>) -> Option<&DeploySpec> {
        match env {
            None => Some(&self.base),
            Some(e) => self.environments.get(e),
        }
    }
}

type EnvOverrides = Vec<(String, Node, Span)>;

/// Takes the `environments` table out of the root, checking its shape.
fn split_environments(root: Node, diags: &mut Vec<Diagnostic>) -> (Node, EnvOverrides) {
    let span = root.span;
    let mut entries = match root.kind {
        NodeKind::Map(entries) => entries,
        NodeKind::Null => Vec::new(),
        _ => {
            diags.push(Diagnostic::new(
                "",
                Some(span),
                format!("expected a table of settings, found {}", root.describe()),
            ));
            Vec::new()
        }
    };
    let mut envs = Vec::new();
    if let Some(i) = entries.iter().position(|(k, _)| k.name == "environments") {
        let (_, node) = entries.remove(i);
        match node.kind {
            NodeKind::Map(list) => {
                for (key, over) in list {
                    let path = join("environments", &key.name);
                    if !ENVIRONMENTS.contains(&key.name.as_str()) {
                        let near = closest(&key.name, &ENVIRONMENTS);
                        let hint = near.map_or(String::new(), |n| format!(", did you mean `{n}`?"));
                        let msg = format!(
                            "unknown environment `{}`{hint} (expected dev, staging or prod)",
                            key.name
                        );
                        diags.push(
                            Diagnostic::new(path, Some(key.span), msg)
                                .suggest(near.map(str::to_string)),
                        );
                        continue;
                    }
                    let over = match over.kind {
                        NodeKind::Null => Node {
                            kind: NodeKind::Map(Vec::new()),
                            span: over.span,
                        },
                        NodeKind::Map(_) => over,
                        _ => {
                            let msg =
                                format!("expected a table of overrides, found {}", over.describe());
                            diags.push(Diagnostic::new(path, Some(over.span), msg));
                            continue;
                        }
                    };
                    for fixed in ["name", "namespace", "environments"] {
                        if let Some((k, _)) = over.entry(fixed) {
                            let msg = format!(
                                "`{fixed}` cannot differ per environment (generated overlays share it)"
                            );
                            diags.push(Diagnostic::new(join(&path, fixed), Some(k.span), msg));
                        }
                    }
                    let full = extent(&over, key.span);
                    envs.push((key.name, over, full));
                }
            }
            NodeKind::Null => {}
            _ => diags.push(Diagnostic::new(
                "environments",
                Some(node.span),
                format!("expected a table, found {}", node.describe()),
            )),
        }
    }
    (
        Node {
            kind: NodeKind::Map(entries),
            span,
        },
        envs,
    )
}

/// The smallest span covering `start` and everything written inside `node`
/// (TOML tables can be spread over several headers).
fn extent(node: &Node, start: Span) -> Span {
    let mut s = Span {
        start: start.start.min(node.span.start),
        end: start.end.max(node.span.end),
    };
    match &node.kind {
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                s = extent(
                    v,
                    Span {
                        start: s.start.min(k.span.start),
                        end: s.end.max(k.span.end),
                    },
                );
            }
        }
        NodeKind::Seq(items) => {
            for v in items {
                s = extent(v, s);
            }
        }
        _ => {}
    }
    s
}

/// Decodes and validates one (merged) tree.
fn check(node: &Node, dir: Option<&Path>, diags: &mut Vec<Diagnostic>) -> Option<DeploySpec> {
    let start = diags.len();
    let mut spec: DeploySpec = decode(node, diags)?;
    let structural: Vec<String> = diags[start..].iter().map(|d| d.path.clone()).collect();
    let index = SpanIndex::new(node);
    for p in validate(&spec).0 {
        let covered = structural.iter().any(|s| {
            p.path == *s
                || p.path.starts_with(&format!("{s}."))
                || p.path.starts_with(&format!("{s}["))
        });
        if !covered {
            diags.push(
                Diagnostic::new(p.path.clone(), Some(index.find(&p.path)), p.message)
                    .suggest(p.suggestion),
            );
        }
    }
    if diags.len() == start {
        read_config_files(&mut spec, dir, &index, diags);
    }
    (diags.len() == start).then_some(spec)
}

fn read_config_files(
    spec: &mut DeploySpec,
    dir: Option<&Path>,
    index: &SpanIndex,
    diags: &mut Vec<Diagnostic>,
) {
    let mut read = |path: String, rel: &str, hint: &str| -> Option<String> {
        let span = Some(index.find(&path));
        let Some(dir) = dir else {
            diags.push(Diagnostic::new(
                path,
                span,
                format!("files can only be read when the spec is loaded from a file{hint}"),
            ));
            return None;
        };
        match std::fs::read_to_string(dir.join(rel)) {
            Ok(text) => Some(text),
            Err(e) => {
                diags.push(Diagnostic::new(
                    path,
                    span,
                    format!("cannot read {rel:?}: {e}"),
                ));
                None
            }
        }
    };
    for (name, file) in spec.config_files.iter_mut() {
        let Some(rel) = file.path.take() else {
            continue;
        };
        let path = join(&join("config_files", name), "path");
        if let Some(text) = read(path, &rel, "; use `content`") {
            file.content = Some(text);
        }
    }
    if let Some(pg) = spec.dependencies.postgres.as_mut() {
        if let Some(rel) = pg.migrations.as_deref() {
            pg.migrations_sql = read("dependencies.postgres.migrations".into(), rel, "");
        }
    }
}

/// Field path to the span of its value.
struct SpanIndex {
    spans: BTreeMap<String, Span>,
    root: Span,
}

impl SpanIndex {
    fn new(root: &Node) -> Self {
        let mut spans = BTreeMap::new();
        fn walk(node: &Node, path: String, spans: &mut BTreeMap<String, Span>) {
            match &node.kind {
                NodeKind::Map(entries) => {
                    for (k, v) in entries {
                        walk(v, join(&path, &k.name), spans);
                    }
                }
                NodeKind::Seq(items) => {
                    for (i, v) in items.iter().enumerate() {
                        walk(v, format!("{path}[{i}]"), spans);
                    }
                }
                _ => {}
            }
            spans.insert(path, node.span);
        }
        walk(root, String::new(), &mut spans);
        SpanIndex {
            spans,
            root: root.span,
        }
    }

    /// The span of `path`, else of its nearest written ancestor.
    fn find(&self, path: &str) -> Span {
        let mut p = path;
        loop {
            if let Some(s) = self.spans.get(p) {
                return *s;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.spans.get("").copied().unwrap_or(self.root),
            }
        }
    }
}
