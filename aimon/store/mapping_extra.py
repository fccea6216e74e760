"""``extra``: what is left of a record once the canonical columns consumed their paths.

:func:`extra_sql` gives the SQL that cuts the consumed top keys and nested paths out of a
record's JSON (see :mod:`aimon.store.mapping`, which runs it inside its mapping SELECT).
"""

from __future__ import annotations

import json
import re

from aimon.store.shapes import CompiledShape, sql_str

NO_KEY = "__aimon_no_key__"

# A long object's text is spaced after its brace before it is parsed: DuckDB's JSON
# parser (yyjson) sizes a parse by how the text looks, and compact text gets 2.7 bytes
# of value slots per byte, text that opens with two spaces 1 byte (the slots grow if
# they run short). A long record is mostly one string (a prompt, a document), so the
# compact estimate is waste: a chunk of ten 5 MB prompts took 410 MB to list its keys,
# 270 MB spaced; one 33 MB record without an id did not fit a 500 MB budget. Same keys,
# same values. ``{doc}``: the record's text as SQL.
ROOMY = ("CASE WHEN strlen({doc}) > 65536 AND left({doc}, 1) = '{{' THEN '{{  ' || substr({doc}, 2) "
         "ELSE {doc} END")


def _patch(doc: str, keys: list[str], conditional: list[str], patches: list[str] = (),
           first: list[str] = ()) -> str:
    if not keys and not conditional and not patches and not first:
        return doc
    static = sql_str(json.dumps(dict.fromkeys(keys)))
    dynamic = ", ".join(f"coalesce(nullif({d}, ''), '{NO_KEY}'), NULL" for d in conditional)
    return (f"json_merge_patch({ROOMY.format(doc=doc)}, " + "".join(f"{p}, " for p in first) + static
            + (f", json_object({dynamic})" if dynamic else "") + "".join(f", {p}" for p in patches) + ")")


def _path_keys(path: str) -> list[str] | None:
    """'$.a."b.c"' -> ['a', 'b.c']; None when the path steps into an array."""
    keys = []
    for part in re.findall(r'\.(?:"(?:[^"\\]|\\.)*"|[^.\[]+)|\[[^\]]*\]', path[1:]):
        if part.startswith("["):
            return None
        keys.append(json.loads(part[1:]) if part[1] == '"' else part[1:])
    return keys


def _children_patch(c: CompiledShape, two_level: list[str]) -> str:
    """A per-row merge patch that removes, in one pass over the record, every consumed
    path two object keys deep ('$.attributes."gen_ai.input.messages"') that the row
    holds: {"attributes": {"gen_ai.input.messages": null, ...}}. A top key appears only
    when the row holds one of its consumed children, so it is an object (a patch would
    turn anything else into one). Within it, the keys left keep their order."""
    by_top: dict[str, list[str]] = {}
    for path in two_level:
        top, key = _path_keys(path)
        by_top.setdefault(top, []).append(
            f"CASE WHEN {slot_ref(c, path)} IS NOT NULL THEN {sql_str(json.dumps(key) + ':null')} END")
    pieces = []
    for top, children in by_top.items():
        refs = [slot_ref(c, p) for p in two_level if _path_keys(p)[0] == top]
        pieces.append(f"CASE WHEN {' OR '.join(f'{r} IS NOT NULL' for r in refs)} "
                      f"THEN {sql_str(json.dumps(top) + ':{')} || concat_ws(',', {', '.join(children)}) || '}}' END")
    return f"('{{' || concat_ws(',', {', '.join(pieces)}) || '}}')"


def extra_sql(c: CompiledShape, doc: str, seen_keys: frozenset[str] | None,
              resorted: bool = True) -> tuple[str, str]:
    """The record minus what the columns consumed, NULL when nothing is left.

    Returned in two steps: an expression over ``doc`` that removes the consumed top
    keys and the consumed paths two keys deep, and one over its result (column
    ``extra0``) that removes deeper or array paths and the containers the removals
    left empty.

    Top-level keys go in one JSON merge patch. For alias groups the patch must remove
    only the alias a row used; when the sampled records show at most one alias of
    each group, a static patch does that for every row whose aliases were all seen,
    and only the other rows pay for a per-row patch. Paths two object keys deep
    (a span's 93 attributes) are removed by a per-row patch in the same merge: one
    parse and one copy of the record whatever the number of paths (removing them one
    ``json_remove`` at a time copied the whole record once per path, and span
    attributes hold whole conversations). That merge moves the patched top keys to
    the end (so do nested conditional patches): ``resorted`` says the caller sorts
    the top keys afterwards (``aimon_canonical_extra``); otherwise this does. Other nested paths are removed
    one by one, only where the record has them, then the containers they left empty;
    both folds use list_reduce so the expression stays linear in the number of paths.
    """
    two_level = [p for p in c.nested_paths if len(_path_keys(p) or ()) == 2]
    deep = [p for p in c.nested_paths if p not in two_level]
    children = [_children_patch(c, two_level)] if two_level else []
    alias_keys = [k for keys, _ in c.alias_groups for k in keys]
    per_row = [
        "CASE " + " ".join(f"WHEN {r} IS NOT NULL THEN {sql_str(k)}" for k, r in zip(keys, refs, strict=True))
        + " ELSE '' END"
        for keys, refs in c.alias_groups
    ]
    # The children's patch goes first: a top key that the columns consume whole is then
    # removed after it, not brought back as an empty object.
    slow = _patch(doc, c.static_keys, per_row + c.conditional_keys, c.conditional_patches, children)
    if c.alias_groups and seen_keys is not None:
        seen_aliases = [k for k in dict.fromkeys(alias_keys) if k in seen_keys]
        unusual = [f"({' + '.join(f'({r} IS NOT NULL)::INT' for r in refs)}) > 1"
                   for keys, refs in c.alias_groups if len(refs) > 1]
        unusual += [f"{r} IS NOT NULL" for keys, refs in c.alias_groups
                    for k, r in zip(keys, refs, strict=True) if k not in seen_keys]
        fast = _patch(doc, list(dict.fromkeys(c.static_keys + seen_aliases)), c.conditional_keys,
                      c.conditional_patches, children)
        expr = f"CASE WHEN {' OR '.join(unusual)} THEN {slow} ELSE {fast} END" if unusual else fast
    else:
        expr = slow
    finish = _emptied(c, deep, _removed(c, deep, "extra0"))
    if c.conditional_patches and not resorted:
        finish = f"aimon_canonical_extra({finish})"
    elif two_level and not resorted:
        # Only rows that held such a path were patched, and only theirs need sorting.
        held = " OR ".join(f"{slot_ref(c, p)} IS NOT NULL" for p in two_level)
        finish = f"CASE WHEN {held} THEN aimon_canonical_extra({finish}) ELSE {finish} END"
    return f"CAST({expr} AS VARCHAR)", f"nullif({finish}, '{{}}')"


def _removed(c: CompiledShape, paths: list[str], acc: str) -> str:
    """``acc`` without the given paths, removed only on the rows that hold them."""
    if not paths:
        return acc
    present = ", ".join(f"CASE WHEN {slot_ref(c, p)} IS NOT NULL THEN {sql_str(p)} END" for p in paths)
    any_present = " OR ".join(f"{slot_ref(c, p)} IS NOT NULL" for p in paths)
    return (f"CASE WHEN {any_present} THEN CAST(list_reduce(list_filter([{present}], lambda p: p IS NOT NULL), "
            f"lambda acc, p: json_remove(acc, p), CAST({acc} AS JSON)) AS VARCHAR) ELSE {acc} END")


def _emptied(c: CompiledShape, deep: list[str], acc: str) -> str:
    """``acc`` without the containers that consumed paths left empty ({} or []): those
    below the top deepest first (one by one), then the top keys, found in one read
    and removed in one merge patch."""
    ancestors: dict[str, list[str]] = {}
    for path in c.nested_paths:
        for parent in _ancestors(path):
            ancestors.setdefault(parent, []).append(slot_ref(c, path))
    if not ancestors:
        return acc

    def held(parent: str) -> str:
        return " OR ".join(f"{r} IS NOT NULL" for r in dict.fromkeys(ancestors[parent]))

    inner = sorted((p for p in ancestors if _path_keys(p) is None or len(_path_keys(p)) > 1),
                   key=lambda p: -(p.count(".") + p.count("[")))
    if inner:
        candidates = ", ".join(f"CASE WHEN {held(p)} THEN {sql_str(p)} END" for p in inner)
        folded = (f"CAST(list_reduce(list_filter([{candidates}], lambda p: p IS NOT NULL), "
                  f"lambda acc, p: CASE WHEN CAST(json_extract(acc, p) AS VARCHAR) IN ('{{}}', '[]') "
                  f"THEN json_remove(acc, p) ELSE acc END, CAST({acc} AS JSON)) AS VARCHAR)")
        acc = f"CASE WHEN {' OR '.join(held(p) for p in inner)} THEN {folded} ELSE {acc} END"
    tops = [p for p in ancestors if p not in inner]
    if not tops:
        return acc
    paths = "[" + ", ".join(sql_str(p) for p in tops) + "]"
    nulls = ", ".join(f"CASE WHEN ({held(p)}) AND CAST(ex_v[{i}] AS VARCHAR) IN ('{{}}', '[]') "
                      f"THEN {sql_str(json.dumps(_path_keys(p)[0]) + ':null')} END"
                      for i, p in enumerate(tops, 1))
    # The patch removes top keys only, so it keeps the order of the others.
    any_held = " OR ".join(held(p) for p in tops)
    patched = (f"list_transform([json_extract(ex_a, {paths})], lambda ex_v: list_transform(["
               f"concat_ws(',', {nulls})], lambda ex_n: CASE WHEN ex_n = '' THEN ex_a "
               f"ELSE CAST(json_merge_patch(ex_a, '{{' || ex_n || '}}') AS VARCHAR) END)[1])[1]")
    if re.fullmatch(r"\w+", acc):
        # Rows that hold none of the paths (most) skip the lambdas: building a list a row
        # cost 0.2 s a million records. (Only where acc is a column: the guard repeats it.)
        return f"CASE WHEN {any_held} THEN list_transform([{acc}], lambda ex_a: {patched})[1] ELSE {acc} END"
    return f"list_transform([{acc}], lambda ex_a: CASE WHEN {any_held} THEN {patched} ELSE ex_a END)[1]"


def slot_ref(c: CompiledShape, path: str) -> str:
    """The slot that says whether a record holds ``path``: its JSON one where the shape
    reads both (msgs()), as a JSON null is held too and only the JSON slot tells it
    from a missing path."""
    if path in c.text_paths and path not in c.json_paths:
        return f"v[{c.text_paths.index(path) + 1}]"
    return f"vj[{c.json_paths.index(path) + 1}]"


def _ancestors(path: str) -> list[str]:
    """'$.a.b[0].c' -> ['$.a.b[0]', '$.a.b', '$.a'] (not '$')."""
    parts = re.findall(r'\.(?:"(?:[^"\\]|\\.)*"|[^.\[]+)|\[[^\]]*\]', path[1:])
    return ["$" + "".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
