"""One settings model for every process: YAML file + ``DASHPIPE_*`` environment overrides.

Built once at process start (``load_settings``) and passed down; nothing reads settings at
import time. Every field carries a description: ``configs/dashpipe.yaml`` documents the same
keys and a test keeps the two in step. Unknown keys are rejected so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CONFIG_ENV = "DASHPIPE_CONFIG"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(ValueError):
    """A settings file or value is wrong; the message names the key."""


# ---------------------------------------------------------------- storage


class StoreSettings(Section):
    data_dir: Path = Field(
        Path("dashpipe-data"),
        description="Root for every folder below that is left unset (relative paths are taken from the "
        "working directory).",
    )
    incoming: Path | None = Field(None, description="Indoor store where the dashcam's videos arrive.")
    work: Path | None = Field(
        None,
        description="Per-job stage artifacts (preprocess JSON, crops, small video) shared by the jetson and "
        "gpu machines; removed when the job is archived.",
    )
    archive: Path | None = Field(None, description="Archive store: crops, small videos and reports.")

    def resolved(self, name: Literal["incoming", "work", "archive"]) -> Path:
        value: Path | None = getattr(self, name)
        return (value if value is not None else self.data_dir / name).expanduser()


# ---------------------------------------------------------------- proposers (jetson)


class CpuProposerConfig(Section):
    type: Literal["cpu"] = "cpu"
    width: int = Field(960, ge=320, le=1920, description="Width the proposer looks at, pixels.")
    min_plate_width_px: int = Field(14, ge=6, description="Smallest plate width to propose, at the proposer's width.")
    max_regions: int = Field(12, ge=1, description="Most plate regions proposed per frame.")
    min_score: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Plate-likeness (0..1) below which a glyph row is not proposed (texture scores lower than plates).",
    )


class TfliteProposerConfig(Section):
    type: Literal["edgetpu", "tflite"] = Field(
        "edgetpu",
        description="edgetpu: run on the Coral through libedgetpu; tflite: the same kind of model on the CPU.",
    )
    model: Path = Field(..., description="SSD-style .tflite detection model (Edge TPU compiled for edgetpu).")
    labels: Path | None = Field(None, description="Optional labels file, one name per line or 'id name'.")
    plate_labels: tuple[str, ...] = Field(
        ("license_plate", "license-plate", "plate", "licence_plate"),
        description="Label names counted as plates.",
    )
    vehicle_labels: tuple[str, ...] = Field(
        ("car", "truck", "bus", "motorcycle", "vehicle"), description="Label names counted as vehicles."
    )
    score_threshold: float = Field(0.3, ge=0.0, le=1.0, description="Lowest score kept.")
    device: str | None = Field(None, description="Edge TPU device, e.g. 'usb:0' or 'pci:0'.")
    delegate: str = Field("libedgetpu.so.1", description="Shared library of the Edge TPU delegate.")


ProposerConfig = Annotated[CpuProposerConfig | TfliteProposerConfig, Field(discriminator="type")]


# ---------------------------------------------------------------- detectors (gpu)


class CpuDetectorConfig(Section):
    type: Literal["cpu"] = "cpu"
    margin: float = Field(
        1.2,
        ge=0.0,
        le=3.0,
        description="Search margin around a proposal, in box sizes (wide enough for a second word).",
    )


class YoloDetectorConfig(Section):
    type: Literal["yolo", "yolo_onnx"] = Field(
        "yolo", description="yolo: ultralytics with .pt weights (gpu extra); yolo_onnx: exported .onnx on onnxruntime."
    )
    weights: Path = Field(..., description="Model file: .pt for yolo, .onnx for yolo_onnx.")
    plate_classes: tuple[str, ...] = Field(
        ("license_plate", "license-plate", "plate", "licence_plate"), description="Class names that are plates."
    )
    vehicle_classes: tuple[str, ...] = Field(
        ("car", "truck", "bus", "motorcycle"), description="Class names that are vehicles."
    )
    image_size: int = Field(640, ge=64, description="Network input size.")
    confidence: float = Field(0.25, ge=0.0, le=1.0, description="Lowest confidence kept.")
    device: str = Field("auto", description="'auto' (GPU when present), 'cpu', 'cuda:0' ...")


DetectorConfig = Annotated[CpuDetectorConfig | YoloDetectorConfig, Field(discriminator="type")]


# ---------------------------------------------------------------- OCR (gpu)


class RapidOcrConfig(Section):
    type: Literal["rapidocr"] = "rapidocr"
    rec_model: Path | None = Field(
        None,
        description="Recognition ONNX (any PP-OCR rec model); default: PP-OCRv6_rec_small.onnx from rapidocr.",
    )
    second_model: Literal["auto", "off"] | Path = Field(
        "auto",
        description="A second recognition ONNX that reads again the reads with an unsure character; the "
        "surer of the two reads is kept. 'auto': PP-OCRv4 rec from the rapidocr_onnxruntime wheel when it is "
        "installed (`pip install --no-deps rapidocr_onnxruntime==1.4.4`), else none; 'off': none.",
    )
    second_below: float = Field(
        0.95,
        ge=0.0,
        le=1.0,
        description="A read whose least sure character is below this confidence gets the second network's read.",
    )
    threads: int = Field(
        2, ge=0, description="onnxruntime intra-op threads; 0 lets onnxruntime decide (slower on small CPUs)."
    )


class EasyOcrConfig(Section):
    type: Literal["easyocr"] = "easyocr"
    model_dir: Path = Field(..., description="Folder holding EasyOCR's detector and recognizer files.")
    languages: tuple[str, ...] = Field(("en",), description="EasyOCR language codes.")
    recognizer: str | None = Field(None, description="Recognition network name; default from the languages.")
    gpu: bool = Field(True, description="Use CUDA when torch sees a GPU.")


OcrConfig = Annotated[RapidOcrConfig | EasyOcrConfig, Field(discriminator="type")]


# ---------------------------------------------------------------- stages


class PreprocessSettings(Section):
    analysis_width: int = Field(
        480, ge=96, le=1920, description="Width of the luma image used for motion, light and blur."
    )
    keep_fps: float = Field(
        4.0, gt=0.0, le=60.0, description="At most this many frames per second are kept (the sharpest of each slot)."
    )
    static_threshold: float = Field(
        1.2, ge=0.0, description="Mean abs luma change (0..255) below which a frame counts as static."
    )
    dark_p99: float = Field(
        40.0, ge=0.0, le=255.0, description="A frame whose 99th percentile luma is below this is dark."
    )
    blur_ratio: float = Field(
        0.45,
        ge=0.0,
        le=1.0,
        description="A frame is blurry when its sharpness is below this share of the recent median.",
    )
    min_sharpness: float = Field(8.0, ge=0.0, description="Laplacian variance below which a frame is blurry.")
    rescue_flagged: bool = Field(
        True, description="Keep dark/blurry frames that still show a plate region (their crops are read enhanced too)."
    )
    thumbnails: bool = Field(False, description="Write a small JPEG per kept frame next to the JSON.")
    find_overlays: bool = Field(
        True,
        description="Find text burned into every frame (clock, speed, camera name) and propose no plates on it.",
    )
    skip_deblocking: bool = Field(
        True,
        description="Decode without the H.264/HEVC deblocking filter (a large share of the decoding work, "
        "and invisible at the analysis sizes). The heavy stage always decodes in full.",
    )


class RegionPreset(NamedTuple):
    """A region's plate formats, the glyphs its plates do not tell apart, and how many agreeing reads
    a text no format takes needs to be reported (0: never; for formats that cannot list every plate,
    such as US vanity and special-issue plates)."""

    formats: tuple[str, ...]
    fold: dict[str, str]
    off_format_reads: int = 0


PLATE_REGIONS: dict[str, RegionPreset] = {
    "us": RegionPreset(
        (
            r"^[A-Z]{3}[0-9]{3,4}$",
            r"^[0-9]{3}[A-Z]{3}$",
            r"^[0-9][A-Z]{3}[0-9]{3}$",
            r"^[0-9][A-Z]{2}[0-9]{3,4}$",
            r"^[A-Z]{2}[0-9]{4,5}$",
            r"^[0-9]{3,4}[A-Z]{2}$",
            r"^[0-9]{1,2}[A-Z][0-9]{3,5}$",
            r"^[A-Z][0-9]{5,6}$",
            r"^[A-Z]{2}[0-9][A-Z][0-9][A-Z]$",  # Missouri
            r"^[0-9]{4,7}$",
        ),
        # On most US plates the letter O and the digit 0 share one glyph.
        {"O": "0"},
        off_format_reads=3,
    ),
}


class PlateSettings(Section):
    region: Literal["any", "us"] = Field(
        "any",
        description="Preset 'formats', 'fold' and 'off_format_reads' for a region's plates (any: no format, "
        "nothing folded); any of them set here (not empty) wins over the preset.",
    )
    formats: tuple[str, ...] = Field(
        (),
        description="Regular expressions of valid plate texts for your region (e.g. '^[A-Z]{3}[0-9]{4}$'). "
        "Empty: any 4-10 letters/digits. Character confusions (O/0, I/1, B/8, S/5, Z/2, G/6) are "
        "corrected only where a format demands it.",
    )
    fold: dict[str, str] = Field(
        default_factory=dict,
        description="Glyphs the region's plates do not tell apart, read as one (e.g. {O: '0'} in the US).",
    )
    off_format_reads: int | None = Field(
        None,
        ge=0,
        description="A plate whose voted text no format takes is still reported when it mixes letters and "
        "digits and at least this many of its reads say it (0: never; unset: the region's preset, 3 for 'us', "
        "whose formats cannot list vanity and special plates, else 0).",
    )
    min_chars: int = Field(4, ge=1, description="Shortest plate text accepted.")
    max_chars: int = Field(10, ge=1, description="Longest plate text accepted.")
    min_confidence: float = Field(0.5, ge=0.0, le=1.0, description="Reads below this are not voted.")
    report_confidence: float = Field(
        0.7, ge=0.0, le=1.0, description="A plate's voted text needs this confidence to be reported."
    )
    min_reads: int = Field(2, ge=1, description="A plate needs this many reads to be reported ...")
    single_read_confidence: float = Field(
        0.97,
        ge=0.0,
        le=1.0,
        description="... unless one read of at least 5 characters is this sure (every character nearly so); "
        "1.0 turns lone reads off.",
    )
    look_back_frames: int = Field(
        3,
        ge=0,
        le=15,
        description="A sure read near the picture's side, its text not read in the second before, is looked for "
        "again in this many frames decoded just before it (a car passing close by may give one kept frame); "
        "0 turns it off.",
    )
    track_max_gap_s: float = Field(1.5, gt=0.0, description="A track ends when unseen this long.")
    enhance: bool = Field(
        True,
        description="Read crops of dark or blurry frames also enhanced (exposure, contrast, sharpening) and keep "
        "the surer read.",
    )
    verify_text: bool = Field(
        True,
        description="Check each plate's best crops with a text detector and drop plates whose crops hold no "
        "text (trunks, fences and grilles that a reader turns into letters).",
    )

    @property
    def off_format_min_reads(self) -> int:
        """``off_format_reads``, or the region's own rule where it is unset."""
        if self.off_format_reads is not None:
            return self.off_format_reads
        preset = PLATE_REGIONS.get(self.region)
        return preset.off_format_reads if preset is not None else 0

    @model_validator(mode="before")
    @classmethod
    def _region_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {**data}
        region = data.get("region", "any")
        if region in PLATE_REGIONS:
            # Empty values count as unset: the documented config lists every key at its default.
            preset = PLATE_REGIONS[region]
            data["formats"] = data.get("formats") or preset.formats
            data["fold"] = data.get("fold") or preset.fold
        return data


class WatchlistEntry(Section):
    plate: str = Field(..., description="Plate text; '*' and '?' are wildcards.")
    label: str | None = Field(None, description="What to call it in alerts.")
    max_distance: int = Field(1, ge=0, le=2, description="Edit distance still counted as a hit.")


class GpsSettings(Section):
    max_gap_s: float = Field(
        5.0, gt=0.0, description="No position is given farther than this from a fix (no extrapolation)."
    )
    camera_utc_offset_s: float | None = Field(
        None,
        description="Camera clock minus UTC, seconds, when the GPS source cannot tell it (e.g. 3600 for "
        "a camera set to UTC+1).",
    )
    video_start: str | None = Field(None, description="Override the video start time (ISO-8601, UTC).")


class ArchiveSettings(Section):
    video_width: int = Field(640, ge=64, description="Width of the down-scaled archive video.")
    video_crf: int = Field(28, ge=0, le=51, description="H.264 quality of the archive video (lower is better).")
    keep_all_crops: bool = Field(False, description="Archive every crop, not only each plate's best.")


class CelerySettings(Section):
    broker_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL of the broker.")
    result_backend: str | None = Field(None, description="Result backend URL; default: the broker URL.")
    visibility_timeout_s: int = Field(
        6 * 3600, ge=60, description="Redis redelivers an unacked task after this; keep it above the longest task."
    )
    task_time_limit_s: int = Field(3 * 3600, ge=10, description="Hard time limit of one task.")
    max_retries: int = Field(5, ge=0, description="Retries of a task after a transient fault.")


_DEFAULT_TYPES = {"proposer": "cpu", "detector": "cpu", "ocr": "rapidocr"}


class Settings(BaseSettings):
    """Everything a dashpipe process needs to know, from YAML and ``DASHPIPE_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="DASHPIPE_", env_nested_delimiter="__", extra="forbid", frozen=True)

    store: StoreSettings = Field(default_factory=StoreSettings, description="Where files live.")
    database_url: str = Field(
        "sqlite:///dashpipe-data/dashpipe.db", description="SQLAlchemy URL; e.g. postgresql+psycopg://..."
    )
    celery: CelerySettings = Field(default_factory=CelerySettings, description="Broker and task settings.")
    proposer: ProposerConfig = Field(default_factory=CpuProposerConfig, description="Jetson region proposer.")
    detector: DetectorConfig = Field(default_factory=CpuDetectorConfig, description="GPU plate/vehicle detector.")
    ocr: OcrConfig = Field(default_factory=RapidOcrConfig, description="Plate text reader.")
    preprocess: PreprocessSettings = Field(default_factory=PreprocessSettings, description="Frame selection.")
    plates: PlateSettings = Field(default_factory=PlateSettings, description="Plate tracking and voting.")
    watchlist: tuple[WatchlistEntry, ...] = Field((), description="Known plates that raise an alert.")
    gps: GpsSettings = Field(default_factory=GpsSettings, description="GPS and time alignment.")
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings, description="Archive output.")

    @model_validator(mode="before")
    @classmethod
    def _default_backend_types(cls, data: Any) -> Any:
        """``DASHPIPE_DETECTOR__MARGIN=1`` alone tunes the default backend: its ``type`` is implied."""
        if isinstance(data, dict):
            for key, default in _DEFAULT_TYPES.items():
                section = data.get(key)
                if isinstance(section, dict) and "type" not in section:
                    data = {**data, key: {"type": default, **section}}
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML arrives through init kwargs; the environment wins over it.
        return (env_settings, init_settings)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path} (set {CONFIG_ENV} or pass --config)") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top, found {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and value.get("type", old.get("type")) != old.get("type"):
            out[key] = value  # another backend: its keys replace the old backend's, never mix
        elif isinstance(value, dict) and isinstance(old, dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top)"
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'")
        else:
            lines.append(f"'{key}': {e['msg']} (got {e.get('input')!r})")
    return "; ".join(lines)


def load_settings(*paths: Path | str, **overrides: Any) -> Settings:
    """Settings from YAML files (later overlays earlier) and ``overrides``; ``DASHPIPE_*`` wins over both.

    With no path, ``$DASHPIPE_CONFIG`` (a path, or several joined by ``:``) is read when set.
    """
    files = [Path(p) for p in paths]
    if not files and os.environ.get(CONFIG_ENV):
        files = [Path(p) for p in os.environ[CONFIG_ENV].split(os.pathsep) if p]
    data: dict[str, Any] = {}
    for f in files:
        data = _merge(data, _read_yaml(f))
    data = _merge(data, overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        where = ", ".join(str(f) for f in files) or "defaults"
        raise ConfigError(f"invalid settings ({where}): {_describe(exc)}") from None
    return settings


def _yaml_scalar(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return dumped.removesuffix("\n...").removesuffix("...").strip()


def _section_lines(model: type[BaseModel], instance: BaseModel, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for name, field in model.model_fields.items():
        if field.description:
            lines.append(f"{pad}# {field.description}")
        value = getattr(instance, name)
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            lines.extend(_section_lines(type(value), value, indent + 2))
        else:
            lines.append(f"{pad}{name}: {_yaml_scalar(value if not isinstance(value, Path) else str(value))}")
    return lines


_ALTERNATIVES: dict[str, list[type[BaseModel]]] = {
    "proposer": [TfliteProposerConfig],
    "detector": [YoloDetectorConfig],
    "ocr": [EasyOcrConfig],
}


def documented_yaml() -> str:
    """Every key with its description and default: the text of ``configs/dashpipe.yaml``."""
    defaults = Settings()
    lines = [
        "# dashpipe settings: every key, its meaning and its default.",
        "# Any key can also be set from the environment: DASHPIPE_<SECTION>__<KEY>, e.g.",
        "# DASHPIPE_CELERY__BROKER_URL=redis://nas:6379/0 or DASHPIPE_DATABASE_URL=postgresql+psycopg://...",
        "",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"# {field.description}")
        value = getattr(defaults, name)
        if isinstance(value, BaseModel):
            lines.append(f"{name}:")
            lines.extend(_section_lines(type(value), value, 2))
            for alt in _ALTERNATIVES.get(name, []):
                lines.append(f"  # -- or, {alt.__name__}:")
                for fname, f in alt.model_fields.items():
                    default = (
                        "REQUIRED"
                        if f.is_required()
                        else _yaml_scalar(str(f.default) if isinstance(f.default, Path) else f.default)
                    )
                    lines.append(f"  # {fname}: {default}  # {f.description}")
        else:
            lines.append(f"{name}: {_yaml_scalar(value)}")
            if name == "watchlist":
                lines.append("#  - {plate: 'AB*123', label: stolen van, max_distance: 1}")
        lines.append("")
    return "\n".join(lines)
