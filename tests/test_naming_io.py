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


def test_folder_field_prefixes_the_subfolders_and_the_bundle_runner_agrees():
    from pano360.data.naming import panorama_id
    from pano360.use import runner
    pattern = "{folder}_{stem}_{side}{ext}"
    assert half_name("R0010001", "left", ".JPG", pattern, ("siteB", "card2")) == "siteB_card2_R0010001_left.JPG"
    assert half_name("R0010001", "right", ".JPG", pattern) == "R0010001_right.JPG"   # no folder, no separator
    assert parse_half_name("siteB_card2_R0010001_left.JPG", pattern) == ("siteB_card2_R0010001", "left")
    assert panorama_id("R0010001", ("siteB", "card2"), pattern) == "siteB_card2_R0010001"
    assert panorama_id("R0010001", ("siteB",), "{stem}_{side}{ext}") == "R0010001"
    for pat in (pattern, "{stem}_{side}{ext}", "{side}-{folder}--{stem}{ext}", "{folder}.{stem}.{side}.png"):
        for folder in ((), ("a",), ("a", "b c")):
            for side in ("left", "right"):
                ours = half_name("p_1", side, ".jpg", pat, folder)
                assert runner.half_name("p_1", side, ".jpg", pat, folder) == ours
                assert runner.panorama_id("p_1", folder, pat) == panorama_id("p_1", folder, pat)
                assert parse_half_name(ours, pat) == (panorama_id("p_1", folder, pat), side)


@pytest.mark.parametrize("pattern", ["{folder}{stem}_{side}{ext}", "{stem}_{folder}_{side}{ext}",
                                     "{folder}/{stem}_{side}{ext}", "{folder}_{folder}_{stem}_{side}{ext}"])
def test_folder_field_needs_a_separator_then_stem(pattern):
    with pytest.raises(NamingError, match="folder"):
        half_name("p", "left", ".jpg", pattern)
