"""``vipsfront bench faces``: the face detector's recall, false positives and speed, and the crops it makes.

The labelled set is made of images that ship inside registry packages, read from the wheels in ``--wheels``
(fill it with ``pip download --no-deps insightface==2.1 scikit-image==0.26.0 -d build/faces-wheels``) and
from matplotlib's installed sample data (a bench dependency):

* insightface 2.1, ``insightface/data/images/``: ``t1.jpg`` (a group of six, faces 95-117 px wide, also
  shrunk to 1/2 and 1/4: 24-29 px), ``Tom_Hanks_54745.png`` (one face filling a 112 px crop) and
  ``mask_{black,blue,green,white}.jpg`` (face masks on their own: negatives);
* scikit-image 0.26.0, ``skimage/data/``: ``astronaut.png`` (one face), ``camera.png`` (the cameraman,
  a three-quarter view), ``lfw_subset.npy`` (100 Labeled Faces in the Wild crops of 25 px, laid out as a
  10x10 mosaic; its 100 non-face crops likewise, a negative), ``chelsea.png`` (a cat) and ``coffee.png``
  (negatives);
* matplotlib, ``mpl-data/sample_data/grace_hopper.jpg`` (one portrait);
* the corpus photos (``../shared/corpus``: landscapes, objects, a mandrill) as negatives.

No package found ships a true profile: the cameraman's three-quarter view is the nearest. The labels are
boxes checked by eye against the images; the framed portrait on t1's wall (a painted face of about 30 px)
is an ignore region. A detection matches a label when each box holds the other's centre.

Figures: recall by face size (as the detector sees it) and false positives, detecting at 480 and at 640 px
(the long side; smaller images as they are); detection ms per image at each size (best of ``--reps``) and,
on the corpus' 4 MP photos, the decode plus detection ``pos=face`` runs; the bytes the detector and the
HEIC decoder add to a built Lambda asset (``--asset``, a folder ``layers/build.py`` made); and, on every
labelled face image and three crop shapes, how often the crop keeps every face with ``pos=attention``
and with ``pos=face``, counting only windows that can hold the faces. thumbor's Haar detector is not run:
thumbor is not among the peers this workplace provides (``../shared/peers``).
"""

from __future__ import annotations

import argparse
import statistics
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy
import pyvips

from vipsfront.engine import faces, probe
from vipsfront.engine.limits import Limits
from vipsfront.engine.plan import crop_origin, geometry
from vipsfront.url.grammar import build
from vipsfront_bench import corpus as corpora
from vipsfront_bench import report

Box = tuple[float, float, float, float]  # x, y, w, h in source pixels

DEFAULT_WHEELS = Path("build") / "faces-wheels"
SIDES = (480, 640)
SIZE_BINS = ((24, 32), (32, 64), (64, 10_000))
CROPS = ((320, 320), (480, 160), (200, 400))  # square, wide banner, tall card
ASSET_PARTS = (
    "onnxruntime", "numpy", "numpy.libs", "vipsfront/engine/face_detection_yunet_2023mar.onnx",
    "pi_heif", "pi_heif.libs", "_pi_heif", "PIL", "pillow.libs",
)  # fmt: skip

T1_FACES: tuple[Box, ...] = (
    (52, 267, 117, 133), (271, 147, 99, 129), (463, 266, 113, 150),
    (750, 346, 95, 126), (899, 58, 106, 139), (1132, 274, 95, 124),
)  # fmt: skip
T1_IGNORE: tuple[Box, ...] = ((300, 55, 65, 55),)  # the framed portrait on the wall


@dataclass(frozen=True, slots=True)
class Labelled:
    name: str
    source: str  # where it comes from
    image: Any  # pyvips, sRGB or grey
    faces: tuple[Box, ...] = ()
    ignore: tuple[Box, ...] = ()
    corpus: bool = False


@dataclass(slots=True)
class Tally:
    found: dict[str, list[int]] = field(default_factory=dict)  # size bin -> [found, labelled]
    false_positives: int = 0
    corpus_false_positives: int = 0
    ms: list[float] = field(default_factory=list)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wheels", type=Path, default=DEFAULT_WHEELS, help="folder with the two wheels")
    parser.add_argument("--corpus", type=Path, default=None, help="the corpus (default ../shared/corpus)")
    parser.add_argument("--asset", type=Path, default=None, help="a folder built by layers/build.py")
    parser.add_argument("--reps", type=int, default=5, help="timed detections per image and size")


def _wheel(folder: Path, prefix: str) -> zipfile.ZipFile:
    found = sorted(folder.glob(f"{prefix}-*.whl"))
    if not found:
        raise SystemExit(
            f"no {prefix} wheel in {folder}: pip download --no-deps insightface==2.1 scikit-image==0.26.0 -d {folder}"
        )
    return zipfile.ZipFile(found[-1])


def _image(data: bytes) -> Any:
    image = pyvips.Image.new_from_buffer(data, "").autorot()
    return image.copy_memory()


def _scaled(image: Any, boxes: Sequence[Box], scale: float) -> tuple[Any, tuple[Box, ...]]:
    return image.resize(scale).copy_memory(), tuple(tuple(v * scale for v in box) for box in boxes)  # type: ignore[misc]


def _mosaic(crops: Any) -> tuple[Any, tuple[Box, ...]]:
    """A 10x10 mosaic of 25 px crops on grey, 25 px apart; their boxes."""
    tile, gap, per_row = 25, 25, 10
    side = per_row * (tile + gap) + gap
    canvas = numpy.full((side, side), 128, numpy.uint8)
    boxes = []
    for index, crop in enumerate(crops):
        row, col = divmod(index, per_row)
        y, x = gap + row * (tile + gap), gap + col * (tile + gap)
        canvas[y : y + tile, x : x + tile] = (crop * 255).astype(numpy.uint8)
        boxes.append((float(x), float(y), float(tile), float(tile)))
    return pyvips.Image.new_from_memory(canvas.tobytes(), side, side, 1, "uchar").copy(interpretation="b-w"), tuple(
        boxes
    )


def labelled_set(wheels: Path, corpus_root: Path | None) -> list[Labelled]:
    """Every labelled image (faces and negatives), in a fixed order."""
    import io

    import matplotlib

    insight, skimage = _wheel(wheels, "insightface"), _wheel(wheels, "scikit_image")
    folder = "insightface/data/images/"
    ins, ski = "insightface 2.1: " + folder, "scikit-image 0.26.0: skimage/data/"
    t1 = _image(insight.read(folder + "t1.jpg"))
    items = [Labelled("t1 group", ins + "t1.jpg", t1, T1_FACES, T1_IGNORE)]
    for scale in (0.5, 0.25):
        image, boxes = _scaled(t1, T1_FACES, scale)
        _, ignore = _scaled(t1, T1_IGNORE, scale)
        items.append(Labelled(f"t1 group at 1/{round(1 / scale)}", ins + "t1.jpg, shrunk", image, boxes, ignore))
    items.append(
        Labelled("Tom Hanks", ins + "Tom_Hanks_54745.png", _image(insight.read(folder + "Tom_Hanks_54745.png")),
                 ((13, 0, 76, 112),))
    )  # fmt: skip
    for colour in ("black", "blue", "green", "white"):
        name = f"mask_{colour}.jpg"
        items.append(Labelled(f"mask {colour}", ins + name, _image(insight.read(folder + name))))
    read = lambda name: _image(skimage.read("skimage/data/" + name))  # noqa: E731
    items.append(Labelled("astronaut", ski + "astronaut.png", read("astronaut.png"), ((178, 63, 90, 113),)))
    items.append(Labelled("cameraman (3/4 view)", ski + "camera.png", read("camera.png"), ((196, 113, 61, 81),)))
    items.append(Labelled("cat", ski + "chelsea.png", read("chelsea.png")))
    items.append(Labelled("coffee", ski + "coffee.png", read("coffee.png")))
    lfw = numpy.load(io.BytesIO(skimage.read("skimage/data/lfw_subset.npy")))
    image, boxes = _mosaic(lfw[:100])
    items.append(Labelled("LFW faces, 25 px", ski + "lfw_subset.npy [:100]", image, boxes))
    items.append(Labelled("LFW non-faces", ski + "lfw_subset.npy [100:]", _mosaic(lfw[100:])[0]))
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    items.append(
        Labelled("Grace Hopper", "matplotlib: mpl-data/sample_data/grace_hopper.jpg", _image(hopper.read_bytes()),
                 ((183, 120, 170, 212),))
    )  # fmt: skip
    root = corpus_root or corpora.DEFAULT_CORPUS
    for path in sorted(root.glob("*/*.jpg")) + sorted(root.glob("*/*.png")):
        image = pyvips.Image.new_from_file(str(path)).thumbnail_image(1600).copy_memory()
        items.append(Labelled(path.name, f"corpus: {path.parent.name}/{path.name}", image, corpus=True))
    return items


def _inside(x: float, y: float, box: Box) -> bool:
    return box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]


def _centre(box: Box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _matches(found: Box, label: Box) -> bool:
    return _inside(*_centre(found), label) and _inside(*_centre(label), found)


def _boxes(found: Sequence[faces.Face], width: int, height: int) -> list[Box]:
    return [(f.left * width, f.top * height, (f.right - f.left) * width, (f.bottom - f.top) * height) for f in found]


def _bin(width: float) -> str:
    for lo, hi in SIZE_BINS:
        if lo <= width < hi:
            return f"{lo}-{hi - 1} px" if hi < 10_000 else f"{lo}+ px"
    return "under 24 px"


def _at(image: Any, side: int) -> Any:
    scale = side / max(image.width, image.height)
    return image.resize(scale).copy_memory() if scale < 1 else image


def measure(items: Sequence[Labelled], side: int, reps: int) -> Tally:
    tally = Tally()
    for item in report.progress(items, f"detect at {side} px"):
        image = _at(item.image, side)
        scale = image.width / item.image.width
        best = float("inf")
        for _ in range(reps):
            started = time.perf_counter()
            found = faces.detect_pixels(image)
            best = min(best, (time.perf_counter() - started) * 1000)
        tally.ms.append(best)
        boxes = _boxes(found, item.image.width, item.image.height)
        for label in item.faces:
            entry = tally.found.setdefault(_bin(label[2] * scale), [0, 0])
            entry[1] += 1
            entry[0] += any(_matches(box, label) for box in boxes)
        wrong = [b for b in boxes if not any(_matches(b, label) for label in item.faces + item.ignore)]
        tally.false_positives += len(wrong)
        tally.corpus_false_positives += len(wrong) if item.corpus else 0
    return tally


def photo_ms(corpus_root: Path | None, reps: int) -> list[float]:
    """Decode with shrink-on-load and detect, as ``pos=face`` does without cached boxes: the corpus' 4 MP photos."""
    root = corpus_root or corpora.DEFAULT_CORPUS
    times = []
    for path in sorted((root / "photos").glob("*.jpg")):
        data = path.read_bytes()
        header = probe.open_header(data, Limits())
        best = float("inf")
        for _ in range(reps):
            started = time.perf_counter()
            faces.detect(data, header)
            best = min(best, (time.perf_counter() - started) * 1000)
        times.append(best)
    return times


def _window_holds(window: Box, boxes: Sequence[Box]) -> bool:
    return all(
        window[0] <= b[0] and window[1] <= b[1] and b[0] + b[2] <= window[0] + window[2]
        and b[1] + b[3] <= window[1] + window[3]
        for b in boxes
    )  # fmt: skip


def crops(items: Sequence[Labelled]) -> dict[str, list[int]]:
    """Per position: [crops that kept every face, crops whose window can hold them]."""
    kept = {"attention": [0, 0], "face": [0, 0]}
    for item in items:
        if not item.faces:
            continue
        width, height = item.image.width, item.image.height
        found = faces.detect_pixels(_at(item.image, faces.DETECT_SIDE))
        for cw, ch in CROPS:
            spec = build({"w": str(cw), "h": str(ch), "pos": "face", "enlarge": "1"})
            geo = geometry(width, height, spec)
            assert geo.crop is not None
            scale = geo.resize[0] / width
            labels = [tuple(v * scale for v in box) for box in item.faces]
            union_w = max(b[0] + b[2] for b in labels) - min(b[0] for b in labels)
            union_h = max(b[1] + b[3] for b in labels) - min(b[1] for b in labels)
            if union_w > geo.crop[0] or union_h > geo.crop[1]:
                continue  # no window of this shape holds them all
            resized = item.image.thumbnail_image(geo.resize[0], height=geo.resize[1], size="force").copy_memory()
            attention = resized.smartcrop(*geo.crop, interesting="attention")
            windows = {"attention": (-attention.xoffset, -attention.yoffset, *geo.crop)}
            point = faces.focal_point(found, geo.resize, geo.crop)
            if point is None:
                windows["face"] = windows["attention"]
            else:
                left, top = crop_origin(geo.resize, geo.crop, replace(spec, fx=point[0], fy=point[1]))
                windows["face"] = (left, top, *geo.crop)
            for position, window in windows.items():
                kept[position][1] += 1
                kept[position][0] += _window_holds(window, labels)  # type: ignore[arg-type]
    return kept


def asset_bytes(asset: Path | None) -> dict[str, int] | None:
    if asset is None:
        return None
    sizes = {}
    for part in ASSET_PARTS:
        paths = [asset / part] if (asset / part).exists() else sorted(asset.glob(part + "*"))
        sizes[part] = sum(
            sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
            for p in paths
        )
    return sizes


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    items = labelled_set(args.wheels, args.corpus)
    reps = 2 if args.quick else args.reps
    results: dict[str, Any] = {
        "command": " ".join(["vipsfront bench faces", *getattr(args, "argv", [])]),
        "machine": report.machine(),
        "detector": faces.DETECTOR,
    }
    results["sources"] = {item.name: {"from": item.source, "faces": len(item.faces)} for item in items}
    for side in SIDES:
        tally = measure(items, side, reps)
        results[f"at_{side}"] = {
            "recall": tally.found,
            "false_positives": tally.false_positives,
            "corpus_false_positives": tally.corpus_false_positives,
            "median_ms": statistics.median(tally.ms),
            "max_ms": max(tally.ms),
        }
    results["photo_4mp_ms"] = photo_ms(args.corpus, reps)
    results["crops_keeping_every_face"] = crops(items)
    results["asset_bytes"] = asset_bytes(args.asset)
    results["seconds"] = time.perf_counter() - started
    report.write(args.out, "faces", results, markdown(results))
    return 0


def markdown(results: dict[str, Any]) -> list[str]:
    lines = report.heading(results, "Faces: the packaged detector")
    lines += [f"Detector `{results['detector']}`. thumbor's Haar detector: not run (not among the peers).", ""]
    rows = []
    for side in SIDES:
        at = results[f"at_{side}"]
        recall = ", ".join(f"{size}: {hit}/{total}" for size, (hit, total) in sorted(at["recall"].items()))
        rows.append(
            [f"{side} px", recall, str(at["false_positives"]), str(at["corpus_false_positives"]),
             report.number(at["median_ms"]), report.number(at["max_ms"])]
        )  # fmt: skip
    lines += report.table(
        ["detect at", "faces found, by size", "false positives", "of them on the corpus", "median ms", "max ms"],
        rows,
    )
    photos = results["photo_4mp_ms"]
    if photos:
        lines += [
            "",
            f"4 MP photos, decode and detect: median {statistics.median(photos):.1f} ms, max {max(photos):.1f}",
        ]
    lines += ["", "Crops that keep every face (windows that can hold them):", ""]
    lines += report.table(
        ["pos", "kept", "of"], [[p, str(k), str(n)] for p, (k, n) in results["crops_keeping_every_face"].items()]
    )
    sizes = results["asset_bytes"]
    if sizes:
        lines += ["", "Bytes in the Lambda asset:", ""]
        lines += report.table(["part", "MiB"], [[p, f"{b / 2**20:.1f}"] for p, b in sizes.items()])
        lines += ["", f"In all: {sum(sizes.values()) / 2**20:.1f} MiB"]
    lines += ["", "Sources:", ""]
    lines += report.table(
        ["image", "from", "faces"], [[n, s["from"], str(s["faces"])] for n, s in results["sources"].items()]
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vipsfront_bench faces`` runs this through the bench's entry point; this runs it alone."""
    parser = argparse.ArgumentParser(prog="vipsfront bench faces", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build") / "bench")
    parser.add_argument("--quick", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = list(argv or [])
    args.out.mkdir(parents=True, exist_ok=True)
    return run(args)
