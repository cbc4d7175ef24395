import os

from dashpipe.config import StoreSettings
from dashpipe.storage import Store, atomic_write, move_file, video_id_for


def test_video_id_follows_content_not_name(tmp_path):
    a = tmp_path / "a.mp4"
    a.write_bytes(os.urandom(3_000_000))
    b = tmp_path / "sub" / "renamed.mp4"
    b.parent.mkdir()
    b.write_bytes(a.read_bytes())
    assert video_id_for(a) == video_id_for(b)
    data = bytearray(a.read_bytes())
    data[1_500_000 - 100_000 : 1_500_000] = os.urandom(100_000)  # an edit in the middle
    c = tmp_path / "c.mp4"
    c.write_bytes(bytes(data))
    assert video_id_for(c) != video_id_for(a)


def test_small_files_hash_whole(tmp_path):
    a = tmp_path / "a"
    a.write_bytes(b"x" * 1000)
    b = tmp_path / "b"
    b.write_bytes(b"x" * 999 + b"y")
    assert video_id_for(a) != video_id_for(b)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "d" / "f.json"
    atomic_write(p, b"one")
    atomic_write(p, b"two")
    assert p.read_bytes() == b"two"
    assert sorted(x.name for x in p.parent.iterdir()) == ["f.json"]


def test_move_and_layout(tmp_path):
    store = Store(StoreSettings(data_dir=tmp_path))
    assert store.preprocess_json("abc") == tmp_path / "work" / "abc" / "preprocess.json"
    src = store.work_crops("abc") / "X.jpg"
    atomic_write(src, b"jpg")
    dst = move_file(src, store.archive_dir("abc") / "crops" / "X.jpg")
    assert dst.read_bytes() == b"jpg" and not src.exists()
    store.remove_work("abc")
    assert not store.job_dir("abc").exists()
