"""What a training run records about its data (into ``config.json``)."""
from __future__ import annotations

from typing import Any

from delayprop.data._split import Split

__all__ = ["data_record"]


def data_record(train: Split, test: Split) -> dict[str, Any]:
    """Data set, class names, sample counts and, where the loader made one, the split rule.

    JSON-ready; ``delayprop evaluate`` prints the class names from it.
    """
    record: dict[str, Any] = {"name": train.name.split("/")[0],
                              "class_names": list(train.class_names),
                              "train_samples": len(train), "test_samples": len(test)}
    for key in ("split", "labels", "folder", "report", "mel_range"):
        if train.info.get(key):
            record[key] = train.info[key]
    if train.info.get("skipped") or test.info.get("skipped"):
        record["skipped"] = len(train.info.get("skipped", ()))
        record["bad_files_list"] = train.info.get("bad_files_list")
    return record
