#!/usr/bin/env python3
"""Import circles between the files of a crate (issue 14: "no files whose `use crate::…` /
`super::…` paths reach each other in a loop").

    scripts/check-import-circles.py CRATE/src [CRATE/src ...]

Edges are `crate::…` and `super::…` paths outside comments and `#[cfg(test)] mod tests`,
resolved to the file defining the longest matching module path (a path through a re-export at
the crate root counts as an edge to lib.rs). Prints each circle with its edges; exit status 1
when there is one."""
import os, re, sys

def check(root):
    return _check(root)

def _check(root):
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            if not f.endswith('.rs'): continue
            p = os.path.join(d, f); rel = os.path.relpath(p, root)[:-3].split(os.sep)
            if rel[-1] in ('mod', 'lib', 'main'): rel = rel[:-1]
            if rel and rel[0] == 'bin': continue
            files[tuple(rel)] = p
    def resolve(path):
        for n in range(len(path), -1, -1):
            if tuple(path[:n]) in files: return tuple(path[:n])
    edges = {m: set() for m in files}
    for m, p in files.items():
        is_mod = p.endswith(('mod.rs', 'lib.rs'))
        # in a mod.rs/ lib.rs, `self` is m; in x.rs, self is m too; super is parent of m
        src = open(p).read()
        src = re.sub(r'//[^\n]*', '', src)
        src = re.sub(r'#\[cfg\(test\)\]\s*mod tests\s*\{.*', '', src, flags=re.S)
        for mm in re.finditer(r'\b((?:crate|super)(?:::(?:super|\{?\w+))+)', src):
            parts = mm.group(1).replace('{', '').split('::')
            if parts[0] == 'crate': base = []; parts = parts[1:]
            else:
                base = list(m)
                while parts and parts[0] == 'super': base = base[:-1]; parts = parts[1:]
            t = resolve(base + parts)
            if t is not None and t != m: edges[m].add(t)
        # use-groups: crate::{a, b::c}
        for mm in re.finditer(r'\b(crate|super)::\{([^}]*)\}', src):
            base = [] if mm.group(1) == 'crate' else list(m)[:-1]
            for item in mm.group(2).split(','):
                item = item.strip().split(' ')[0]
                if not item: continue
                t = resolve(base + item.split('::'))
                if t is not None and t != m: edges[m].add(t)
    # Tarjan
    idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
    sys.setrecursionlimit(10000)
    def sc(v):
        idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
        for w in edges[v]:
            if w not in idx: sc(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: sccs.append(comp)
    for v in edges:
        if v not in idx: sc(v)
    name = lambda m: '/'.join(m) or 'lib'
    for comp in sccs:
        print(root + ': circle:', ', '.join(sorted(name(x) for x in comp)))
        for a in comp:
            for b in sorted(edges[a]):
                if b in comp: print('   ', name(a), '->', name(b))
    return bool(sccs)


if __name__ == "__main__":
    bad = [r for r in sys.argv[1:] if check(r)]
    if not bad:
        print("import circles: none in", ", ".join(sys.argv[1:]))
    sys.exit(1 if bad else 0)
