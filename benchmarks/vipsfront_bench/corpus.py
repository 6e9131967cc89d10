"""Which corpus files play which role in the scenarios, read from their headers.

Roles: ``photo`` (JPEG, 3-8 MP, like the 2560x1600 photographs), ``large_jpeg`` (JPEG of 12 MP or more),
``large_png`` (opaque PNG of 8 MP or more) and ``rgba_png`` (PNG with alpha). Without a corpus the
generated samples of ``vipsfront.cli.samples`` stand in, written to a folder so every peer reads files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("photo", "large_jpeg", "large_png", "rgba_png")
DEFAULT_CORPUS = Path("..") / "shared" / "corpus"
FULL = {"photo": 6, "large_jpeg": 2, "large_png": 1, "rgba_png": 1}  # files per role
QUICK = {"photo": 2, "large_jpeg": 1, "large_png": 1, "rgba_png": 1}


@dataclass
class Corpus:
    name: str
    root: Path
    files: dict[str, list[Path]] = field(default_factory=dict)
    generated: bool = False

    def key(self, path: Path) -> str:
        """The S3 key of a file: its path relative to the corpus root."""
        return path.relative_to(self.root).as_posix()

    def limited(self, per_role: dict[str, int]) -> Corpus:
        files = {role: paths[: per_role.get(role, len(paths))] for role, paths in self.files.items()}
        return Corpus(self.name, self.root, files, self.generated)

    def all_files(self) -> list[Path]:
        return sorted({p for paths in self.files.values() for p in paths})


def role_of(path: Path) -> str | None:
    import pyvips

    try:
        image = pyvips.Image.new_from_file(str(path), access="sequential")
        loader = str(image.get("vips-loader"))
    except pyvips.Error:
        return None
    megapixels = image.width * image.height / 1e6
    if loader.startswith("jpeg"):
        if 3 <= megapixels <= 8:
            return "photo"
        return "large_jpeg" if megapixels >= 12 else None
    if loader.startswith("png"):
        if image.hasalpha():
            return "rgba_png"
        return "large_png" if megapixels >= 8 else None
    return None


def scan(root: Path) -> Corpus:
    files: dict[str, list[Path]] = {role: [] for role in ROLES}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(p.startswith(".") for p in path.relative_to(root).parts):
            role = role_of(path)
            if role:
                files[role].append(path)
    return Corpus(name=str(root), root=root, files=files)


def generated(folder: Path) -> Corpus:
    """The package's generated samples, plus an opaque PNG of the landscape for the PNG scenarios."""
    import pyvips

    from vipsfront.cli.samples import generate

    folder.mkdir(parents=True, exist_ok=True)
    samples = generate()
    paths = {}
    for key, data in samples.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths[key] = path
    landscape = paths["samples/landscape.jpg"]
    png = folder / "samples" / "landscape.png"
    png.write_bytes(pyvips.Image.new_from_file(str(landscape)).pngsave_buffer(compression=6))
    files = {
        "photo": [landscape, paths["samples/portrait.jpg"]],
        "large_jpeg": [landscape],
        "large_png": [png],
        "rgba_png": [paths["samples/badge.png"]],
    }
    return Corpus(name="generated samples (vipsfront.cli.samples)", root=folder, files=files, generated=True)


def find(requested: Path | None, scratch: Path) -> Corpus:
    """``--corpus DIR``, else ``../shared/corpus`` when present, else the generated samples."""
    if requested is not None:
        corpus = scan(requested)
        if not corpus.all_files():
            raise SystemExit(f"vipsfront bench: no usable images in {requested}")
        return corpus
    if (Path.cwd() / DEFAULT_CORPUS).is_dir():
        corpus = scan((Path.cwd() / DEFAULT_CORPUS).resolve())
        corpus.name = DEFAULT_CORPUS.as_posix()
        if corpus.all_files():
            return corpus
    return generated(scratch / "corpus")
