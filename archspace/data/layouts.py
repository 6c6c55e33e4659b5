"""Readers for data set layouts on disk: Something-Something V2, Kinetics, plain folders.

Each reader returns a `DatasetIndex`: the class names (index = label) and, per split
("train", "val"), the videos with their labels. Files named in annotations but absent
are listed in `missing`, not raised: a run goes on without them. Annotations name files
inside the data folder: an id or label that leads out of it (`..`, an absolute path, a
symbolic link to elsewhere) is listed in `outside` and never opened.

- ssv2: `<id>.webm` in the root or in `videos/`; `labels.json` (template without
  brackets -> index), `train.json` / `validation.json` (lists of {"id", "label",
  "template", "placeholders"}); the shipped names `something-something-v2-*.json` too.
- kinetics: `train.csv`, `validate.csv` or `val.csv` with columns
  label,youtube_id,time_start,time_end,split; clips at
  `<split>/<label>/<youtube_id>_<time_start:06d>_<time_end:06d>.mp4`.
- folder: `<root>/<split>/<class>/<video>`, splits `train` and `val` (or `validation`),
  any of .mp4 .webm .mkv .avi .mov; classes are the sorted class folder names.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from archspace.errors import UserError

log = logging.getLogger("archspace.data")

LAYOUTS = ("ssv2", "kinetics", "folder")
SPLITS = ("train", "val")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".avi", ".mov")


@dataclass(frozen=True)
class VideoEntry:
    path: Path
    label: int
    id: str


@dataclass
class DatasetIndex:
    """What a layout reader found: classes (index = label), videos per split, missing files."""

    layout: str
    root: Path
    classes: list[str]
    splits: dict[str, list[VideoEntry]]
    missing: dict[str, list[str]] = field(default_factory=dict)  # split -> file names
    outside: dict[str, list[str]] = field(default_factory=dict)  # split -> paths leading out of the root
    annotation_files: list[Path] = field(default_factory=list)
    empty_classes: list[str] = field(default_factory=list)  # class folders with no video: not classes

    def annotation_problems(self, split: str) -> list[tuple[str, str, str]]:
        """(kind, file, reason) of each annotation of `split` that names no usable file."""
        split = normalise_split(split)
        return ([("missing", name, "named in the annotations but not on disk") for name in self.missing.get(split, [])]
                + [("outside", name, "named in the annotations but outside the data folder")
                   for name in self.outside.get(split, [])])

    def entries(self, split: str) -> list[VideoEntry]:
        """The videos of `split`; raises UserError naming the splits that exist."""
        split = normalise_split(split)
        if split not in self.splits:
            raise UserError(
                f"split {split!r} not found in {self.root} ({self.layout} layout); "
                f"available: {', '.join(self.splits) or 'none'}"
            )
        return self.splits[split]


def _inside(path: Path, real_root: Path) -> bool:
    """Whether `path`, with `..` and symbolic links resolved, lies in `real_root` (resolved)."""
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a link loop
        return False


def data_fingerprint(classes: list[str], items) -> str:
    """A short hash of the class names and the (video id, label) pairs: equal for the
    same data set wherever it lies, different when a video or a class changes."""
    text = json.dumps({"classes": list(classes), "items": sorted([str(i), int(l)] for i, l in items)})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def normalise_split(split: str) -> str:
    """'validation'/'validate' -> 'val'; 'train' and 'val' as they are."""
    return {"validation": "val", "validate": "val"}.get(split, split)


# ----------------------------------------------------------------------------- ssv2

_SSV2_NAMES = {
    "labels": ("labels.json", "something-something-v2-labels.json"),
    "train": ("train.json", "something-something-v2-train.json"),
    "val": ("validation.json", "something-something-v2-validation.json"),
}


def _find(root: Path, names) -> Path | None:
    for name in names:
        for folder in (root, root / "annotations", root / "labels"):
            if (folder / name).is_file():
                return folder / name
    return None


def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"cannot read annotation file {path}: {exc}") from None


def read_ssv2(root: str | Path) -> DatasetIndex:
    """Read a Something-Something V2 layout; raises UserError for missing/malformed annotations."""
    root = Path(root)
    labels_path = _find(root, _SSV2_NAMES["labels"])
    if labels_path is None:
        raise UserError(f"no labels.json (or something-something-v2-labels.json) in {root}")
    labels = _load_json(labels_path)
    if not isinstance(labels, dict):
        raise UserError(f"{labels_path} must map template -> index")
    try:
        by_template = {str(k): int(v) for k, v in labels.items()}
    except (TypeError, ValueError):
        raise UserError(f"{labels_path}: every index must be an integer") from None
    classes = [""] * len(by_template)
    for template, index in by_template.items():
        if not 0 <= index < len(classes):
            raise UserError(f"{labels_path}: index {index} out of range 0..{len(classes) - 1}")
        classes[index] = template
    video_dir = root / "videos" if (root / "videos").is_dir() else root
    real_root = root.resolve()
    index = DatasetIndex("ssv2", root, classes, {}, annotation_files=[labels_path])
    for split in SPLITS:
        path = _find(root, _SSV2_NAMES[split])
        if path is None:
            continue
        index.annotation_files.append(path)
        items = _load_json(path)
        if not isinstance(items, list):
            raise UserError(f"{path} must be a list of {{id, label, template, placeholders}}")
        entries, missing, outside = [], [], []
        for item in items:
            try:
                vid = str(item["id"])
                template = item["template"].replace("[", "").replace("]", "")
            except (KeyError, TypeError, AttributeError):
                raise UserError(f"{path}: every entry needs 'id' and 'template'; got {item!r}") from None
            if template not in by_template:
                raise UserError(f"{path}: template {item['template']!r} of video {vid} is not in {labels_path.name}")
            video = video_dir / f"{vid}.webm"
            if not _inside(video, real_root):
                outside.append(f"{vid}.webm")
                continue
            if not video.exists():
                missing.append(video.name)
                continue
            entries.append(VideoEntry(video, by_template[template], vid))
        index.splits[split] = entries
        index.missing[split] = missing
        index.outside[split] = outside
    return index


# ----------------------------------------------------------------------------- kinetics

_KINETICS_CSV = {"train": ("train.csv",), "val": ("validate.csv", "val.csv")}
_KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")


def _kinetics_csvs(root: Path) -> dict[str, Path]:
    found = {}
    for split, names in _KINETICS_CSV.items():
        path = _find(root, names)
        if path is not None:
            found[split] = path
    return found


def _read_csv(path: Path) -> list[dict]:
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in _KINETICS_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path} lacks column(s) {', '.join(missing)}; needs {','.join(_KINETICS_COLUMNS)}")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"cannot read annotation file {path}: {exc}") from None


def read_kinetics(root: str | Path) -> DatasetIndex:
    """Read a Kinetics layout (CSV + downloader folders); raises UserError for bad CSVs."""
    root = Path(root)
    csvs = _kinetics_csvs(root)
    if not csvs:
        raise UserError(f"no train.csv, validate.csv or val.csv in {root}")
    rows = {split: _read_csv(path) for split, path in csvs.items()}
    classes = sorted({r["label"] for split_rows in rows.values() for r in split_rows})
    label_of = {name: i for i, name in enumerate(classes)}
    real_root = root.resolve()
    index = DatasetIndex("kinetics", root, classes, {}, annotation_files=list(csvs.values()))
    for split, split_rows in rows.items():
        entries, missing, outside = [], [], []
        for r in split_rows:
            try:
                name = f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_{int(float(r['time_end'])):06d}.mp4"
            except ValueError:
                raise UserError(f"{csvs[split]}: time_start/time_end must be numbers; got {r!r}") from None
            path = _kinetics_path(root, r["split"] or split, r["label"], name)
            named = f"{r['split'] or split}/{r['label']}/{name}"
            if not _inside(path or root / named, real_root):  # the file found, or the one named
                outside.append(named)
                continue
            if path is None:
                missing.append(name)
                continue
            entries.append(VideoEntry(path, label_of[r["label"]], name[:-4]))
        index.splits[split] = entries
        index.missing[split] = missing
        index.outside[split] = outside
    return index


def _kinetics_path(root: Path, split: str, label: str, name: str) -> Path | None:
    # Downloaders differ on the split folder name and on spaces in label folders.
    for split_dir in dict.fromkeys((split, "val" if split == "validate" else split, "validate", "val")):
        for label_dir in dict.fromkeys((label, label.replace(" ", "_"))):
            path = root / split_dir / label_dir / name
            if path.exists():
                return path
    return None


# ----------------------------------------------------------------------------- folder

_WARNED: set = set()
_FOLDER_SPLITS = {"train": ("train",), "val": ("val", "validation")}


def _folder_splits(root: Path) -> dict[str, Path]:
    found = {}
    for split, names in _FOLDER_SPLITS.items():
        for name in names:
            if (root / name).is_dir():
                found[split] = root / name
                break
    return found


def read_folder(root: str | Path) -> DatasetIndex:
    """Read `<root>/<split>/<class>/<video>`; raises UserError when there is no split folder."""
    root = Path(root)
    split_dirs = _folder_splits(root)
    if not split_dirs:
        raise UserError(f"no train/ or val/ (validation/) folder in {root}")
    videos = {split: {d.name: _videos_in(d) for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")}
              for split, folder in split_dirs.items()}
    names = sorted({name for by_class in videos.values() for name in by_class})
    classes = [name for name in names if any(by_class.get(name) for by_class in videos.values())]
    label_of = {name: i for i, name in enumerate(classes)}
    index = DatasetIndex("folder", root, classes, {}, empty_classes=[n for n in names if n not in label_of])
    if index.empty_classes and (root, tuple(index.empty_classes)) not in _WARNED:
        _WARNED.add((root, tuple(index.empty_classes)))  # once per process, however often it is read
        log.warning("%s: class folder(s) with no video, left out: %s", root, ", ".join(index.empty_classes))
    for split, by_class in videos.items():
        index.splits[split] = [VideoEntry(video, label_of[name], video.stem)
                               for name in sorted(by_class) if name in label_of for video in by_class[name]]
        index.missing[split] = []
    return index


def _videos_in(folder: Path) -> list[Path]:
    return sorted(v for v in folder.iterdir()
                  if v.suffix.lower() in VIDEO_SUFFIXES and not v.name.startswith(".") and v.is_file())


# ----------------------------------------------------------------------------- detection

_READERS = {"ssv2": read_ssv2, "kinetics": read_kinetics, "folder": read_folder}


def detect_layout(root: str | Path) -> str:
    """The one layout whose marker files are in `root`.

    Raises UserError when the root is not a folder, when nothing matches, or when more
    than one layout matches (then pass layout= / --layout).
    """
    root = check_data_folder(root)
    matches = []
    if _find(root, _SSV2_NAMES["labels"]) is not None:
        matches.append("ssv2")
    if _kinetics_csvs(root):
        matches.append("kinetics")
    split_dirs = _folder_splits(root)
    if "kinetics" not in matches and split_dirs and any(
        d.is_dir() for folder in split_dirs.values() for d in folder.iterdir()
    ):
        matches.append("folder")
    if not matches:
        raise UserError(
            f"cannot tell the layout of {root}: no labels.json (ssv2), train.csv/validate.csv "
            f"(kinetics) or train/<class>/ folders (folder); pass --layout ssv2|kinetics|folder"
        )
    if len(matches) > 1:
        raise UserError(f"{root} looks like more than one layout ({', '.join(matches)}); pass --layout")
    return matches[0]


def read_layout(root: str | Path, layout: str | None = None) -> DatasetIndex:
    """Read `root` with the given layout, or the auto-detected one; raises UserError."""
    if layout is None:
        layout = detect_layout(root)
    if layout not in _READERS:
        raise UserError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    return _READERS[layout](check_data_folder(root))


def check_data_folder(root: str | Path) -> Path:
    """`root` as a Path; UserError when it is missing or is a file."""
    root = Path(root)
    if root.is_file():
        raise UserError(f"data folder {root} is a file; give the folder that holds the data set")
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist")
    return root
