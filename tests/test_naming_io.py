import pytest

from pano360.io import atomic_dir, atomic_path, write_json
from pano360.data.naming import NamingError, half_name, parse_half_name


def test_default_pattern_round_trip():
    assert half_name("site_7", "left", ".jpg") == "site_7_left.jpg"
    assert parse_half_name("site_7_right.jpg") == ("site_7", "right")
    # a stem that itself contains "_left" still parses to the full stem
    assert parse_half_name("a_left_b_left.png") == ("a_left_b", "left")


def test_custom_pattern():
    pattern = "{side}/{stem}{ext}"
    assert half_name("p1", "right", ".webp", pattern) == "right/p1.webp"
    assert parse_half_name("left/p1.webp", pattern) == ("p1", "left")


@pytest.mark.parametrize("pattern", ["{stem}{ext}", "{stem}_{side}_{side}{ext}", "{stem}_{half}{ext}"])
def test_bad_patterns_are_named(pattern):
    with pytest.raises(NamingError, match="pattern"):
        half_name("p", "left", ".jpg", pattern)


def test_unmatched_name_says_what_to_do():
    with pytest.raises(NamingError, match="split.name_pattern"):
        parse_half_name("p1_top.jpg")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_json(target, {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}\n'


def test_atomic_dir_replaces_only_on_success(tmp_path):
    target = tmp_path / "halves"
    target.mkdir()
    (target / "old.jpg").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "new.jpg").write_text("new")
            raise RuntimeError("interrupted")
    assert [p.name for p in target.iterdir()] == ["old.jpg"]
    assert [p.name for p in tmp_path.iterdir()] == ["halves"]
    with atomic_dir(target) as tmp:
        (tmp / "new.jpg").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.jpg"]
