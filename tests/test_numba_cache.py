"""The persistent cache folders: where compiled numba kernels and JASPAR copies are kept."""

from numba.core import config

from seqfm.numba_cache import cache_dir, numba_cache_dir, use_numba_cache


def test_cache_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir("jaspar") == str(tmp_path / "seqfm" / "jaspar")


def test_numba_cache_dir_is_persistent_and_overridable(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "CACHE_DIR", config.CACHE_DIR)  # restored afterwards
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert numba_cache_dir() == str(tmp_path / "seqfm" / "numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert use_numba_cache() == str(tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere").is_dir()
