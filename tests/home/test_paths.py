"""``home.paths``: the places of a home, kept as strings (no pathlib on the read path)
and handed out as the very ``Path`` objects pathlib would make."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from home.paths import Paths, _norm, resolve_paths

PARTS = st.sampled_from(["", ".", "..", "a", "b c", "~", "x.db"])


@given(st.booleans(), st.integers(0, 3), st.lists(PARTS, max_size=6), st.booleans())
def test_a_place_is_written_as_pathlib_writes_it(absolute, slashes, parts, trailing):
    text = "/" * (slashes if absolute else 0) + "/".join(parts) + ("/" if trailing else "")
    assert _norm(text) == str(Path(text)), repr(text)


def test_resolve_paths_gives_what_pathlib_gave(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for home, db in [
        ("h", None),
        ("./h/", "d/../x.db"),
        ("~/h", "~/y.db"),
        (str(tmp_path) + "//h/.", str(tmp_path / "z.db") + "/"),
    ]:
        env = {"TETHER_HOME": home, **({"TETHER_DB": db} if db else {})}
        paths = resolve_paths(env=env)
        base = Path(home).expanduser().absolute()
        assert paths.data_dir == base and paths.config_dir == base
        assert paths.runtime_root == base / "run"
        assert paths.db == (Path(db).expanduser().absolute() if db else base / "tether.db")
        assert paths.config_file == base / "config.toml"
        assert paths.backups == base / "backups"


def test_each_string_form_is_its_path_as_a_string(tmp_path):
    paths = resolve_paths(env={"TETHER_HOME": str(tmp_path / "h")})
    assert paths.db_str == str(paths.db)
    assert paths.backups_str == str(paths.backups)
    assert paths.config_file_str == str(paths.config_file)
    assert paths.runtime_str == str(paths.runtime)
    assert paths.lock_file_str(7) == str(paths.lock_file(7))
    assert paths.lock_file(7) == paths.runtime / "7.lock"
    assert paths.socket_file(7) == paths.runtime / "7.sock"


def test_the_runtime_dir_is_keyed_by_the_resolved_database(tmp_path):
    """Supervisors started before this code find their locks where they left them: the
    key is still the SHA-256 of ``str(db.resolve())``, so a database reached through a
    symlinked directory shares its sessions' locks with the real one."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    via_link = Paths(tmp_path, tmp_path, tmp_path / "run", tmp_path / "link" / "t.db")
    direct = Paths(tmp_path, tmp_path, tmp_path / "run", real / "t.db")
    key = hashlib.sha256(str((real / "t.db").resolve()).encode()).hexdigest()[:10]
    assert via_link.runtime == direct.runtime == tmp_path / "run" / key


def test_paths_compare_copy_and_pickle_by_their_places(tmp_path):
    a = Paths(tmp_path / "d", str(tmp_path / "c") + "/", tmp_path / "r", tmp_path / "x.db")
    b = Paths(str(tmp_path / "d"), tmp_path / "c", str(tmp_path) + "//r", tmp_path / "x.db")
    assert a == b and hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == a
    assert a != Paths(tmp_path, tmp_path, tmp_path, tmp_path / "other.db")
    assert "x.db" in repr(a)


def test_ensure_makes_the_missing_directories_private(tmp_path):
    paths = Paths(tmp_path / "d", tmp_path / "c", tmp_path / "r", tmp_path / "deep" / "x.db")
    old = os.umask(0o022)
    try:
        paths.ensure()
    finally:
        os.umask(old)
    for d in (paths.data_dir, paths.db.parent, paths.runtime_root, paths.runtime):
        assert d.is_dir() and d.stat().st_mode & 0o777 == 0o700, d


def test_ensure_with_a_relative_database_leaves_the_working_directory_be(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Paths("d", "c", "r", "x.db").ensure()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "r"]
