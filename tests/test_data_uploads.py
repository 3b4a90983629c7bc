"""Uploaded data sets (bytes, never a server path) and which standard sets are on disk."""
from __future__ import annotations

import pytest

from genlab.config import ConfigError, DataConfig
from genlab.data import UPLOADS, load_data, missing_upload, offline_sets, source_from_upload, upload_path


def test_an_uploaded_csv_becomes_points():
    rows = [(i, 2 * i + 1) for i in range(20)]
    payload = ("x,y\n" + "".join(f"{x},{y}\n" for x, y in rows)).encode()
    source = source_from_upload(DataConfig(name="points", path=upload_path("mine.csv")), "mine.csv", payload)
    assert source.kind == "points" and source.x.tolist() == [[float(x), float(y)] for x, y in rows]
    assert "mine.csv" in source.origin


def test_uploads_are_only_for_the_upload_sets_and_say_what_is_missing():
    with pytest.raises(ConfigError) as info:
        source_from_upload(DataConfig(name="ring"), "x.csv", b"1,2\n")
    assert info.value.field == "data.name"
    assert str(missing_upload("points")) == "data.path='' is invalid: upload a CSV file first"
    assert set(UPLOADS) == {"points", "folder"} and "zip" in UPLOADS["folder"].extensions
    with pytest.raises(ConfigError) as info:  # the upload's name is no path a loader may read
        load_data(DataConfig(name="points", path=upload_path("mine.csv")))
    assert "upload" in str(info.value)


def test_offline_sets_look_in_the_data_area(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the data area is ./data
    assert offline_sets()["cifar10"] is False
    (tmp_path / "data" / "cifar-10-batches-py").mkdir(parents=True)
    (tmp_path / "data" / "mnist").mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / "data" / "mnist" / name).write_bytes(b"")
    found = offline_sets()
    assert found["cifar10"] is True and found["mnist"] is True and set(found) == {"mnist", "fashion_mnist", "cifar10"}
