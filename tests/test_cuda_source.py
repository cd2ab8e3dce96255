"""The CUDA rungs are compiled from what is on disk now: the text handed to CuPy, and so its
cache key, holds every project header a rung includes. No GPU is needed."""
import shutil

import pytest

from matmul_ladder.rungs import cuda

WITH_HEADERS = [r for r in cuda.RUNGS if '#include "' in open(f"{cuda.source_dir()}/{r.file}").read()]


@pytest.mark.parametrize("rung", cuda.RUNGS, ids=lambda r: r.name)
def test_the_compiled_text_includes_no_project_header(rung):
    text = cuda.source(rung)
    assert '#include "' not in text
    assert text.count(f"mm_{rung.name[len('cuda_'):]}") >= 1


@pytest.mark.parametrize("rung", WITH_HEADERS, ids=lambda r: r.name)
def test_an_edited_header_changes_the_compiled_text(rung, tmp_path):
    shutil.copytree(cuda.source_dir(), tmp_path / "cuda")
    before = cuda.source(rung, str(tmp_path / "cuda"))
    header = open(tmp_path / "cuda" / rung.file).read().split('#include "')[1].split('"')[0]
    with open(tmp_path / "cuda" / header, "a") as f:
        f.write("\n// an edit a student makes\n")
    after = cuda.source(rung, str(tmp_path / "cuda"))
    assert after != before and "// an edit a student makes" in after


def test_headers_are_found_for_every_rung_that_has_them():
    assert {r.name for r in WITH_HEADERS} >= {"cuda_vec", "cuda_warptile", "cuda_tf32_mma",
                                              "cuda_3xtf32", "cuda_bf16_wgmma",
                                              "cuda_bf16_persistent", "cuda_tf32_wgmma"}
