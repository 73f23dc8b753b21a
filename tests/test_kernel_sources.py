"""The kernels' C files (kernels_c/) and the compile cache: an op's cache version must change whenever the
C code it compiles changes, or Aesara and PyTensor would keep running a module compiled from old code."""
import os
import shutil

import pytest

import kernels

OPS = {"softmax": kernels.SoftmaxCrossEntropy(), "softmax gradient": kernels.SoftmaxCrossEntropyGrad(),
       "column sums": kernels.ColumnSums(), "add to columns": kernels.AddToColumns(),
       "sum of squares": kernels.SumOfSquares(), "adam": kernels.AdamStep(0.9, 0.999, 1e-8),
       "tanh": kernels.tanh.scalar_op, "sigmoid": kernels.sigmoid.scalar_op}
FILES = sorted(os.listdir(kernels.C_FOLDER))


def compiled(monkeypatch, folder):
    """Each op's (C support code, cache version) with the C files read from folder."""
    monkeypatch.setattr(kernels, "C_FOLDER", str(folder))
    return {name: (op.c_support_code(), op.c_code_cache_version()) for name, op in OPS.items()}


@pytest.fixture(scope="module")
def original():
    return {name: (op.c_support_code(), op.c_code_cache_version()) for name, op in OPS.items()}


def test_the_ops_compile_the_files_with_their_headers_in_place(original):
    """No include of the folder's own headers is left for the compiler to find: the module in the cache
    holds all of its code.  The version is made from the bytes, not from where the folder is."""
    for code, _ in original.values():
        assert not kernels.LOCAL_INCLUDE.search(code)
    with open(os.path.join(kernels.C_FOLDER, "softmax_rows_T.h")) as header:
        assert original["softmax"][0].count(header.read()) == 2          # the template, once per type


def test_the_version_follows_the_bytes_not_the_place(original, tmp_path, monkeypatch):
    shutil.copytree(kernels.C_FOLDER, tmp_path / "copy")
    assert compiled(monkeypatch, tmp_path / "copy") == original


@pytest.mark.parametrize("name", FILES)
def test_an_edit_to_a_c_file_changes_the_versions_of_the_ops_that_compile_it(name, original, tmp_path,
                                                                              monkeypatch):
    """A one-line edit to each file of a copy of the folder: exactly the ops whose code changed (at least
    one: every file is used) get a new version."""
    shutil.copytree(kernels.C_FOLDER, tmp_path / "edited")
    with open(tmp_path / "edited" / name, "a") as file:
        file.write("/* edited */\n")
    edited = compiled(monkeypatch, tmp_path / "edited")
    changed = {op for op in OPS if edited[op][0] != original[op][0]}
    assert changed
    assert {op for op in OPS if edited[op][1] != original[op][1]} == changed
