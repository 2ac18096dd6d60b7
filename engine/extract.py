"""Extract: a table of the filtered records' values for the chosen fields."""
from __future__ import annotations

from typing import Any


from engine import plan as P
from engine import results as R
from engine.schema import STANDARD_VIEW
from ext import FrozenBitmap

_TYPES = {"set": "[]uint64", "time": "[]uint64", "mutex": "uint64", "bool": "bool", "int": "int64",
          "decimal": "decimal", "timestamp": "timestamp", "float": "float64"}


def run_extract(ex: Any, call: P.Extract) -> R.ExtractedTable:
    if isinstance(call.filter, P.SortRows):
        cols = ex.sorted_columns(call.filter)
        filter_node = call.filter.filter
    else:
        cols = ex.full_row(call.filter).to_numpy().tolist()
        filter_node = call.filter
    position = {c: i for i, c in enumerate(cols)}
    wanted = FrozenBitmap(cols)
    fields_out = []
    table: list[list[Any]] = [[] for _ in cols]
    for fid in call.fields:
        fd = ex.fd(fid)
        opts = fd.options
        multi = opts.type in ("set", "time")
        type_name = _TYPES[opts.type]
        if opts.keys:
            type_name = "[]string" if multi else "string"
        fields_out.append({"name": fd.name, "type": type_name})
        values: list[Any] = [[] if multi else None for _ in cols]
        if opts.is_bsi:
            vcols, vals = ex.bsi_columns_values(fid, filter_node)
            for c, v in zip(vcols.tolist(), vals.tolist()):
                if c not in position:          # Sort's limit/offset left it out
                    continue
                stored = v + opts.base
                out = opts.from_stored(stored)
                if opts.type == "timestamp":
                    out = R.rfc3339(out)
                values[position[c]] = out
        else:
            views = tuple(ex.state.views(fid)) if opts.type == "time" else (STANDARD_VIEW,)
            km = ex.index.row_keys(fd) if opts.keys else None
            rcols, rrows = ex.values_in(fid, views, wanted)
            for c, r in zip(rcols.tolist(), rrows.tolist()):
                label: Any = km.key(r) if km is not None else (bool(r) if opts.type == "bool" else r)
                if multi:
                    values[position[c]].append(label)
                else:
                    values[position[c]] = label
        for i, v in enumerate(values):
            table[i].append(v)
    keys = ex.index.column_keys.keys_for(cols) if ex.index.definition.options.keys else None
    return R.ExtractedTable(fields_out, keys if keys is not None else cols, table)

