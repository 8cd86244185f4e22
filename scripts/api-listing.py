#!/usr/bin/env python3
"""Prints the public API of a crate from its rustdoc JSON, one item a line.

Input: the JSON that `rustdoc --output-format json` writes (see
scripts/check-api.sh, which makes it and diffs the result against the
committed listing in api/<crate>.txt). Output: sorted lines such as

    pub fn iot_duration::parse(text: &str) -> Result<Duration, ParseError>
    pub struct iot_duration::Formatted
    pub fn iot_duration::Formatted::as_str(&self) -> &str
    impl Display for iot_duration::Formatted
    pub enum iot_duration::ErrorKind  #[non_exhaustive]
    pub variant iot_duration::ErrorKind::Empty

Every public path of every item (a re-exported item is listed under each
path it can be named by), public fields and variants, inherent methods and
associated items, trait items, and trait implementations (with their
associated types) of the crate's types. Left out: blanket implementations
(`impl<T> From<T> for T` and the like) and the compiler's auto-trait
implementations except Send, Sync, Unpin, UnwindSafe and RefUnwindSafe,
which a change of a private field can take away.

Types are printed by their last path segment (`Duration`, not
`core::time::Duration`), so importing a type differently does not change
the listing; a different type of the same name would go unnoticed.

Usage: python3 scripts/api-listing.py target/doc/<crate>.json
"""

import json
import sys

AUTO_TRAITS = {"Send", "Sync", "Unpin", "UnwindSafe", "RefUnwindSafe"}


class Lister:
    def __init__(self, doc):
        self.doc = doc
        self.index = doc["index"]
        self.paths = doc["paths"]
        self.lines = {}
        self.crate = doc["index"][str(doc["root"])]["name"]

    # ---- types -----------------------------------------------------------

    def name_of(self, path_obj):
        """The last path segment of a resolved path, from the crate's path
        table when it is there."""
        pid = path_obj.get("id")
        entry = self.paths.get(str(pid)) if pid is not None else None
        if entry:
            return entry["path"][-1]
        return path_obj["path"].split("::")[-1]

    def args(self, args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            ab = args["angle_bracketed"]
            parts = [self.generic_arg(a) for a in ab.get("args", [])]
            for c in ab.get("constraints", []):
                parts.append(self.constraint(c))
            return "<" + ", ".join(parts) + ">" if parts else ""
        if "parenthesized" in args:
            p = args["parenthesized"]
            out = "(" + ", ".join(self.ty(t) for t in p.get("inputs", [])) + ")"
            if p.get("output"):
                out += " -> " + self.ty(p["output"])
            return out
        if "return_type_notation" in args:
            return "(..)"
        return "<?>"

    def generic_arg(self, a):
        if isinstance(a, str):
            return "_" if a == "infer" else a
        if "lifetime" in a:
            return a["lifetime"]
        if "type" in a:
            return self.ty(a["type"])
        if "const" in a:
            c = a["const"]
            return c.get("expr") or c.get("value") or "?"
        return "?"

    def constraint(self, c):
        name = c["name"] + self.args(c.get("args"))
        binding = c.get("binding", {})
        if "equality" in binding:
            eq = binding["equality"]
            value = self.ty(eq["type"]) if "type" in eq else str(eq.get("constant", "?"))
            return f"{name} = {value}"
        if "constraint" in binding:
            return f"{name}: " + self.bounds(binding["constraint"])
        return name

    def bounds(self, bounds):
        return " + ".join(self.bound(b) for b in bounds)

    def bound(self, b):
        if "trait_bound" in b:
            tb = b["trait_bound"]
            prefix = self.hrtb(tb.get("generic_params", []))
            modifier = {"maybe": "?", "maybe_const": "~const "}.get(tb.get("modifier"), "")
            t = tb["trait"]
            return prefix + modifier + self.name_of(t) + self.args(t.get("args"))
        if "outlives" in b:
            return b["outlives"]
        if "use" in b:
            return "use<" + ", ".join(str(x) if isinstance(x, str) else next(iter(x.values())) for x in b["use"]) + ">"
        return "?"

    def hrtb(self, params):
        if not params:
            return ""
        return "for<" + ", ".join(p["name"] for p in params) + "> "

    def ty(self, t):
        if t is None:
            return "()"
        if isinstance(t, str):
            return t
        (kind, v), = t.items()
        if kind == "resolved_path":
            return self.name_of(v) + self.args(v.get("args"))
        if kind == "generic":
            return v
        if kind == "primitive":
            return v
        if kind == "borrowed_ref":
            lt = (v["lifetime"] + " ") if v.get("lifetime") else ""
            mut = "mut " if v.get("is_mutable") else ""
            return f"&{lt}{mut}{self.ty(v['type'])}"
        if kind == "raw_pointer":
            return ("*mut " if v.get("is_mutable") else "*const ") + self.ty(v["type"])
        if kind == "slice":
            return f"[{self.ty(v)}]"
        if kind == "array":
            return f"[{self.ty(v['type'])}; {v['len']}]"
        if kind == "tuple":
            inner = ", ".join(self.ty(x) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        if kind == "impl_trait":
            return "impl " + self.bounds(v)
        if kind == "dyn_trait":
            parts = []
            for p in v.get("traits", []):
                t2 = p["trait"]
                parts.append(self.hrtb(p.get("generic_params", [])) + self.name_of(t2) + self.args(t2.get("args")))
            if v.get("lifetime"):
                parts.append(v["lifetime"])
            return "dyn " + " + ".join(parts)
        if kind == "qualified_path":
            self_ty = self.ty(v["self_type"])
            trait = v.get("trait")
            base = f"<{self_ty} as {self.name_of(trait) + self.args(trait.get('args'))}>" if trait else self_ty
            return f"{base}::{v['name']}" + self.args(v.get("args"))
        if kind == "function_pointer":
            return self.hrtb(v.get("generic_params", [])) + "fn" + self.fn_sig(v["sig"], with_names=False)
        if kind == "pat":
            return self.ty(v["type"]) + " is " + v.get("__pat_unstable_do_not_use", "?")
        if kind == "infer":
            return "_"
        return f"?{kind}"

    # ---- generics and signatures ----------------------------------------

    def generics(self, g):
        params = []
        for p in g.get("params", []):
            kind = p["kind"]
            if "lifetime" in kind:
                outlives = kind["lifetime"].get("outlives", [])
                params.append(p["name"] + (": " + " + ".join(outlives) if outlives else ""))
            elif "type" in kind:
                k = kind["type"]
                if k.get("is_synthetic"):
                    continue  # `impl Trait` in argument position
                s = p["name"]
                if k.get("bounds"):
                    s += ": " + self.bounds(k["bounds"])
                if k.get("default"):
                    s += " = " + self.ty(k["default"])
                params.append(s)
            elif "const" in kind:
                k = kind["const"]
                s = f"const {p['name']}: {self.ty(k['type'])}"
                if k.get("default"):
                    s += f" = {k['default']}"
                params.append(s)
        return "<" + ", ".join(params) + ">" if params else ""

    def where_clause(self, g):
        preds = []
        for w in g.get("where_predicates", []):
            if "bound_predicate" in w:
                b = w["bound_predicate"]
                preds.append(self.hrtb(b.get("generic_params", [])) + self.ty(b["type"]) + ": " + self.bounds(b["bounds"]))
            elif "lifetime_predicate" in w:
                b = w["lifetime_predicate"]
                preds.append(b["lifetime"] + ": " + " + ".join(b["outlives"]))
            elif "eq_predicate" in w:
                b = w["eq_predicate"]
                rhs = b["rhs"]
                rhs = self.ty(rhs["type"]) if "type" in rhs else str(rhs)
                preds.append(self.ty(b["lhs"]) + " = " + rhs)
        return " where " + ", ".join(preds) if preds else ""

    def fn_sig(self, sig, with_names=True):
        inputs = []
        for name, t in sig["inputs"]:
            if with_names and name == "self":
                rendered = self.ty(t)
                if rendered == "Self":
                    inputs.append("self")
                elif rendered == "&Self":
                    inputs.append("&self")
                elif rendered == "&mut Self":
                    inputs.append("&mut self")
                else:
                    inputs.append(f"self: {rendered}")
            elif with_names:
                inputs.append(f"{name}: {self.ty(t)}")
            else:
                inputs.append(self.ty(t))
        if sig.get("is_c_variadic"):
            inputs.append("...")
        out = "(" + ", ".join(inputs) + ")"
        if sig.get("output") is not None:
            out += " -> " + self.ty(sig["output"])
        return out

    def fn_line(self, path, f, qualifier="pub fn"):
        header = f.get("header", {})
        q = ""
        if header.get("is_const"):
            q += "const "
        if header.get("is_async"):
            q += "async "
        if header.get("is_unsafe"):
            q += "unsafe "
        abi = header.get("abi", "Rust")
        if abi != "Rust":
            q += f"extern {abi!r} "
        qualifier = qualifier.replace("fn", q + "fn", 1)
        g = f.get("generics", {})
        return f"{qualifier} {path}{self.generics(g)}{self.fn_sig(f['sig'])}{self.where_clause(g)}"

    # ---- items -----------------------------------------------------------

    def attrs(self, item):
        marks = []
        for a in item.get("attrs", []):
            text = a if isinstance(a, str) else (a.get("other") or "")
            if a == "non_exhaustive" or (isinstance(a, dict) and "non_exhaustive" in a) or "non_exhaustive" in text:
                marks.append("#[non_exhaustive]")
        if item.get("deprecation"):
            marks.append("#[deprecated]")
        return ("  " + " ".join(sorted(set(marks)))) if marks else ""

    def add(self, line, key=None):
        """`key`: the path the line belongs to, so a type's fields, methods
        and impls follow it in the sorted output."""
        if key is None:
            words = line.split()
            key = next((w for w in words if w.startswith(self.crate)), line)
            key = key.split("(")[0].split("<")[0].split(":")[0] if "::" not in key else key.split("(")[0].split("<")[0]
        self.lines[line] = key

    def walk_module(self, mid, path, depth=0):
        if depth > 16:
            return
        module = self.index[str(mid)]["inner"]["module"]
        for child in module["items"]:
            self.item(child, path, depth)

    def item(self, iid, parent, depth):
        item = self.index.get(str(iid))
        if item is None:
            return
        if item.get("visibility") != "public" and "use" not in item["inner"]:
            return
        (kind, inner), = item["inner"].items()
        name = item.get("name")
        path = f"{parent}::{name}" if name else parent
        marks = self.attrs(item)
        if kind == "module":
            self.add(f"pub mod {path}{marks}")
            self.walk_module(iid, path, depth + 1)
        elif kind == "use":
            if item.get("visibility") != "public":
                return
            target = inner.get("id")
            if target is not None and str(target) in self.index:
                if inner.get("is_glob"):
                    t = self.index[str(target)]
                    if "module" in t["inner"]:
                        self.walk_module(target, parent, depth + 1)
                    elif "enum" in t["inner"]:
                        for v in t["inner"]["enum"]["variants"]:
                            self.add(f"pub use {parent}::{self.index[str(v)]['name']}")
                    return
                t = dict(self.index[str(target)])
                t["name"] = inner["name"]
                alias_id = f"__alias:{target}:{inner['name']}"
                self.index[alias_id] = t
                self.item(alias_id, parent, depth + 1)
            else:
                # An item of another crate: where it comes from.
                if inner.get("is_glob"):
                    self.add(f"pub use {parent}::* = {inner['source']}::*")
                else:
                    self.add(f"pub use {parent}::{inner['name']} = {inner['source']}")
        elif kind == "function":
            self.add(self.fn_line(path, inner) + marks)
        elif kind == "struct":
            g = inner.get("generics", {})
            self.add(f"pub struct {path}{self.generics(g)}{self.where_clause(g)}{marks}")
            sk = inner["kind"]
            if isinstance(sk, dict) and "plain" in sk:
                for f in sk["plain"]["fields"]:
                    self.field(f, path)
                if sk["plain"].get("has_stripped_fields"):
                    self.add(f"pub struct {path} (has private fields)", path + " ")
            elif isinstance(sk, dict) and "tuple" in sk:
                for pos, f in enumerate(sk["tuple"]):
                    if f is None:
                        self.add(f"pub struct {path} (has private fields)")
                    else:
                        self.field(f, path, str(pos))
            self.impls(inner.get("impls", []), path)
        elif kind == "union":
            g = inner.get("generics", {})
            self.add(f"pub union {path}{self.generics(g)}{marks}")
            for f in inner.get("fields", []):
                self.field(f, path)
            self.impls(inner.get("impls", []), path)
        elif kind == "enum":
            g = inner.get("generics", {})
            self.add(f"pub enum {path}{self.generics(g)}{self.where_clause(g)}{marks}")
            for v in inner["variants"]:
                self.variant(v, path)
            self.impls(inner.get("impls", []), path)
        elif kind == "trait":
            g = inner.get("generics", {})
            sup = (": " + self.bounds(inner["bounds"])) if inner.get("bounds") else ""
            unsafe = "unsafe " if inner.get("is_unsafe") else ""
            sealed = "" if inner.get("is_dyn_compatible", True) else "  (not dyn-compatible)"
            self.add(f"pub {unsafe}trait {path}{self.generics(g)}{sup}{self.where_clause(g)}{marks}{sealed}")
            for i in inner["items"]:
                self.assoc(i, path, in_trait=True)
            for impl in inner.get("implementations", []):
                self.impl(impl, None)
        elif kind == "type_alias":
            g = inner.get("generics", {})
            self.add(f"pub type {path}{self.generics(g)} = {self.ty(inner['type'])}{marks}")
        elif kind == "constant":
            self.add(f"pub const {path}: {self.ty(inner['type'])}{marks}")
        elif kind == "static":
            mut = "mut " if inner.get("is_mutable") else ""
            self.add(f"pub static {mut}{path}: {self.ty(inner['type'])}{marks}")
        elif kind in ("macro", "proc_macro"):
            self.add(f"pub macro {path}!{marks}")
        elif kind == "trait_alias":
            self.add(f"pub trait {path} = {self.bounds(inner.get('params', []))}{marks}")
        else:
            self.add(f"pub {kind} {path}{marks}")

    def field(self, fid, parent, name=None):
        f = self.index.get(str(fid))
        if f is None or f.get("visibility") != "public":
            if f is not None:
                self.add(f"pub struct {parent} (has private fields)")
            return
        self.add(f"pub field {parent}::{name or f['name']}: {self.ty(f['inner']['struct_field'])}{self.attrs(f)}")

    def variant(self, vid, parent):
        v = self.index[str(vid)]
        inner = v["inner"]["variant"]
        vk = inner["kind"]
        path = f"{parent}::{v['name']}"
        marks = self.attrs(v)
        if vk == "plain" or (isinstance(vk, dict) and "plain" in vk):
            disc = inner.get("discriminant")
            self.add(f"pub variant {path}" + (f" = {disc['expr']}" if disc else "") + marks)
        elif "tuple" in vk:
            fields = [self.ty(self.index[str(f)]["inner"]["struct_field"]) if f is not None else "_" for f in vk["tuple"]]
            self.add(f"pub variant {path}({', '.join(fields)}){marks}")
        elif "struct" in vk:
            self.add(f"pub variant {path} {{ .. }}{marks}")
            for f in vk["struct"]["fields"]:
                self.field(f, path)

    def assoc(self, iid, parent, in_trait=False):
        item = self.index.get(str(iid))
        if item is None:
            return
        if not in_trait and item.get("visibility") != "public":
            return
        (kind, inner), = item["inner"].items()
        path = f"{parent}::{item['name']}"
        marks = self.attrs(item)
        if kind == "function":
            qualifier = "fn" if in_trait else "pub fn"
            default = "  (provided)" if in_trait and inner.get("has_body") else ""
            self.add(self.fn_line(path, inner, qualifier) + marks + default)
        elif kind == "assoc_const":
            self.add(f"{'const' if in_trait else 'pub const'} {path}: {self.ty(inner['type'])}{marks}")
        elif kind == "assoc_type":
            b = (": " + self.bounds(inner["bounds"])) if inner.get("bounds") else ""
            t = (" = " + self.ty(inner["type"])) if inner.get("type") else ""
            self.add(f"type {path}{self.generics(inner.get('generics', {}))}{b}{t}{marks}")

    def impls(self, ids, path):
        for iid in ids:
            self.impl(iid, path)

    def impl(self, iid, type_path):
        item = self.index.get(str(iid))
        if item is None:
            return
        inner = item["inner"]["impl"]
        if inner.get("blanket_impl") is not None:
            return
        trait = inner.get("trait")
        for_ty = self.ty(inner["for"])
        g = inner.get("generics", {})
        if trait is None:
            # Inherent: its public items, under the type's path.
            if type_path is None:
                return
            for i in inner["items"]:
                self.assoc(i, type_path)
            return
        if type_path is None and "resolved_path" in inner["for"]:
            entry = self.paths.get(str(inner["for"]["resolved_path"].get("id")))
            if entry and entry.get("crate_id") == 0:
                return  # listed with the type
        tname = self.name_of(trait)
        if inner.get("is_synthetic") and tname not in AUTO_TRAITS:
            return
        if tname == "StructuralPartialEq":
            return  # the compiler's marker for derived PartialEq
        neg = "!" if inner.get("is_negative") else ""
        target = type_path if type_path is not None else for_ty
        if type_path is not None and for_ty.split("<")[0] == type_path.split("::")[-1]:
            # Keep the impl's generic arguments (`Foo<S>`) on the full path.
            target = type_path + for_ty[len(for_ty.split("<")[0]):]
        assoc = []
        for i in inner["items"]:
            it = self.index.get(str(i))
            if it is None:
                continue
            if "assoc_type" in it["inner"] and it["inner"]["assoc_type"].get("type"):
                assoc.append(f"type {it['name']} = {self.ty(it['inner']['assoc_type']['type'])}")
            if "assoc_const" in it["inner"]:
                assoc.append(f"const {it['name']}")
        body = " { " + "; ".join(sorted(assoc)) + " }" if assoc else ""
        unsafe = "unsafe " if inner.get("is_unsafe") else ""
        line = f"{unsafe}impl{self.generics(g)} {neg}{tname}{self.args(trait.get('args'))} for {target}{self.where_clause(g)}{body}"
        self.add(line, (target.split("<")[0]) + " ~impl")


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    lister = Lister(doc)
    root = doc["index"][str(doc["root"])]
    lister.add(f"pub mod {root['name']}")
    lister.walk_module(doc["root"], root["name"])
    for line in sorted(lister.lines, key=lambda line: (lister.lines[line], line)):
        print(line)


if __name__ == "__main__":
    main()
