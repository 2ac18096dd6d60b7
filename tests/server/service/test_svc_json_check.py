"""service.common.json_value_problem has a fast path for bodies whose text is known to be
valid Unicode (strict UTF-8 decoding): it must answer exactly as the full walk does on
every value without surrogates — depth limits, non-JSON members, non-string keys."""
from __future__ import annotations

from collections import OrderedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from server.service.common import json_value_problem

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=5), st.binary(max_size=3))
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=4),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(OrderedDict)),
    max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(value=values, max_depth=st.integers(1, 6))
def test_the_fast_path_answers_as_the_full_walk(value, max_depth):
    full = json_value_problem(value, max_depth)
    fast = json_value_problem(value, max_depth, text_is_unicode=True)
    assert (full is None) == (fast is None), (full, fast)
