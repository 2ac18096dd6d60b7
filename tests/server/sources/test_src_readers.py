"""The readers and path safety as units: CSV options (delimiter, quote, escape, header,
columns), JSON Lines, Parquet by row group, gzip/zip detection, batch bounds, bad input
as typed errors with row numbers; sandbox paths that could escape are refused before any
file system call, symlinks by the kernel (O_NOFOLLOW)."""
from __future__ import annotations

import gzip
import io
import os
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from server.service.errors import InvalidParameter, ResourceNotFound
from server.service.sinks import as_list, scalar
from engine.entities import ValueType
from engine.entities.types import WrongDataType
from server.sources import formats, paths, spec as specs


def read(data: bytes, batch_rows: int = 1000, **params):
    spec = specs.parse({"file_format": params.pop("file_format", "CSV"), "options": params}, connection="LOCAL")
    out = []
    for name, stream in formats.expand("f", io.BufferedReader(io.BytesIO(data)), spec):
        out.extend(formats.batches(name, stream, spec, batch_rows))
    return out


def rows(batches):
    return [r for b in batches for r in b.rows]


def test_csv_options():
    assert rows(read(b'a,b\n1,"x,y"\n2,"say ""hi"""\n')) == [["1", "x,y"], ["2", 'say "hi"']]
    assert rows(read(b"a;b\n1;'x;y'\n", delimiter=";", quote="'")) == [["1", "x;y"]]
    assert rows(read(b'a,b\n1,"x\\"y"\n', escape="\\")) == [["1", 'x"y']]
    assert rows(read(b"a,b\n1,x\\,y\n", quote="", escape="\\")) == [["1", "x,y"]]
    b = read(b"1,2\n3,4\n", header=False, columns=["p", "q"])
    assert b[0].columns == ["p", "q"] and rows(b) == [["1", "2"], ["3", "4"]]
    assert rows(read(b"a\tb\nx y\t2\n", file_format="TSV")) == [["x y", "2"]]
    assert rows(read("\ufeffa,b\n1,é\n".encode("utf-8"))) == [["1", "é"]]                  # BOM skipped
    assert rows(read("a,b\n1,\xe9\n".encode("latin-1"), encoding="latin-1")) == [["1", "é"]]
    assert rows(read(b'a,b\n1,"multi\nline"\n\n2,z\n')) == [["1", "multi\nline"], ["2", "z"]]


def test_row_numbers_and_malformed_rows():
    b = read(b"a,b\n1,2\n3\n\n4,5,6\n7,8\n")
    assert b[0].numbers == [1, 4]
    assert [(e.row, e.column, e.line) for e in b[0].errors] == [(2, None, 3), (3, None, 5)]
    with pytest.raises(InvalidParameter) as e:
        read(b"a,b\n1,\xff\xfe\n")
    assert e.value.name == "WRONG_DATA_TYPE" and e.value.data["key"] == "options.encoding"
    with pytest.raises(InvalidParameter):
        read(b"a,a\n1,2\n")                                                                 # duplicate header


def test_batches_are_bounded():
    data = b"a\n" + b"".join(b"%d\n" % i for i in range(2500))
    b = read(data, batch_rows=1000)
    assert [len(x) for x in b] == [1000, 1000, 500] and b[2].numbers[0] == 2001


def test_compression_detected_and_declared():
    csv = b"a\n1\n2\n"
    assert rows(read(gzip.compress(csv))) == [["1"], ["2"]]
    assert rows(read(gzip.compress(csv), compression="gzip")) == [["1"], ["2"]]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("b.csv", b"a\n3\n")
        z.writestr("a.csv", csv)
        z.writestr("dir/", b"")
    assert rows(read(buf.getvalue())) == [["1"], ["2"], ["3"]]                             # members by name
    with pytest.raises(InvalidParameter) as e:
        read(gzip.compress(csv)[:-6], compression="gzip")
    assert e.value.data["key"] == "options.compression"
    with pytest.raises(InvalidParameter):
        read(b"not a zip", compression="zip")


def test_jsonl_and_nested_paths():
    b = read(b'{"id": 1, "c": {"age": 7}}\n\n[1]\n{"id": 2, "c.age": 9}\nnope\n', file_format="JSONL")[0]
    get = b.getter("c.age")
    assert [get(r) for r in b.rows] == [7, 9] and b.numbers == [1, 3]
    assert [(e.row, e.line) for e in b.errors] == [(2, 3), (4, 5)]


def test_parquet_streams_row_groups():
    buf = io.BytesIO()
    t = pa.table({"id": list(range(10)), "s": pa.array([{"x": i} for i in range(10)])})
    pq.write_table(t, buf, row_group_size=3)
    b = read(buf.getvalue(), file_format="PARQUET", batch_rows=4)
    assert b[0].columns == ["id", "s.x"] and [len(x) for x in b] == [4, 4, 2]     # row groups read as needed
    assert rows(b)[9] == [9, 9] and b[2].numbers == [9, 10]
    with pytest.raises(InvalidParameter):
        read(b"PAR1 broken", file_format="PARQUET")


def test_value_conversion():
    assert scalar(ValueType.parse("int32"), " 12 ") == 12
    assert scalar(ValueType.parse("bool"), "TRUE") is True
    assert scalar(ValueType.parse("unicode8"), 42) == "42"
    assert as_list("a|b||c", "|") == ["a", "b", "c"] and as_list('["x"]', None) == ["x"]
    for vt, v in (("int8", "300"), ("float32", "1e99"), ("bool", "maybe"), ("uint8", "-1"), ("unicode2", "abc")):
        with pytest.raises(WrongDataType):
            scalar(ValueType.parse(vt), v)
    with pytest.raises(WrongDataType):
        as_list("a,b", None)


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a\x00b", "a\\b",
                                 "x" * 1025, ".."])
def test_unsafe_paths_are_refused(tmp_path, bad):
    with pytest.raises(InvalidParameter) as e:
        paths.open_read(str(tmp_path), bad)
    assert e.value.data["key"] == "path"


def test_symlinks_are_never_followed(tmp_path):
    root = tmp_path / "sandbox"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.csv").write_text("a\n1\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / "out.csv").symlink_to(outside)
    (root / "dirlink").symlink_to(root / "d")
    with paths.open_read(str(root), "d/f.csv") as f:
        assert f.read() == b"a\n1\n"
    for bad in ("out.csv", "dirlink/f.csv"):
        with pytest.raises(InvalidParameter) as e:
            paths.open_read(str(root), bad)
        assert "symlink" in e.value.message
    with pytest.raises(ResourceNotFound):
        paths.open_read(str(root), "d/none.csv")
    with pytest.raises(InvalidParameter):
        paths.open_read(str(root), "d")                                                     # not a regular file


def test_atomic_writer(tmp_path):
    w = paths.AtomicWriter(str(tmp_path), "out/r.csv")
    w.file.write(b"x")
    assert not (tmp_path / "out" / "r.csv").exists()
    w.commit()
    w.close()
    assert (tmp_path / "out" / "r.csv").read_bytes() == b"x" and os.listdir(tmp_path / "out") == ["r.csv"]
    w = paths.AtomicWriter(str(tmp_path), "out/s.csv")
    w.file.write(b"y")
    w.close()                                                                               # never committed
    assert os.listdir(tmp_path / "out") == ["r.csv"]
    (tmp_path / "link").symlink_to(tmp_path / "out")
    with pytest.raises(InvalidParameter):
        paths.AtomicWriter(str(tmp_path), "link/t.csv")


def test_spec_errors():
    for params, key in (({"file_format": "CSV", "options": {"delimiter": "\n"}}, "options.delimiter"),
                        ({"file_format": "CSV", "options": {"header": "yes"}}, "options.header"),
                        ({"file_format": "CSV", "options": {"header": False}}, "options.columns"),
                        ({"file_format": "CSV", "options": {"encoding": "klingon"}}, "options.encoding"),
                        ({"file_format": "CSV", "options": {"delimiter": '"'}}, "options.delimiter")):
        with pytest.raises(InvalidParameter) as e:
            specs.parse(params, connection="LOCAL")
        assert e.value.data["key"] == key, params
    with pytest.raises(InvalidParameter):
        specs.parse({"file_format": "CSV", "bucket": "b", "key": "k", "prefix": "p"}, connection="S3")
    with pytest.raises(InvalidParameter):
        specs.parse({"file_format": "JSONL"}, connection="S3", export=False)
    with pytest.raises(InvalidParameter):
        specs.parse({"file_format": "JSONL", "bucket": "b", "key": "k"}, connection="S3", export=True)
