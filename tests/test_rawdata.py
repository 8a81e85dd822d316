import pytest

from pano360.data.rawdata import RawDataError, find_label_file


def test_the_label_file_is_found_by_name(tmp_path):
    (tmp_path / "labels.csv").write_text("image,labels\n")
    assert find_label_file(tmp_path) == tmp_path / "labels.csv"
    assert find_label_file(tmp_path / "labels.csv") == tmp_path / "labels.csv"


def test_none_or_several_label_files_say_what_to_do(tmp_path):
    with pytest.raises(RawDataError, match=r"no label file in .*: expected one of labels\.ndjson, labels\.json, "
                                           r"labels\.csv .*set labels\.file"):
        find_label_file(tmp_path)
    (tmp_path / "labels.json").write_text("[]")
    (tmp_path / "labels.ndjson").write_text("")
    with pytest.raises(RawDataError, match=r"2 label files in .*labels\.ndjson, labels\.json; keep one"):
        find_label_file(tmp_path)
    with pytest.raises(RawDataError, match=r"labels\.file 'nowhere/x\.csv' does not exist"):
        find_label_file("nowhere/x.csv")
