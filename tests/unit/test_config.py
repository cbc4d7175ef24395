from pathlib import Path

import pytest

from dashpipe.config import ConfigError, Settings, documented_yaml, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_setup():
    s = Settings()
    assert s.database_url.startswith("sqlite:///")
    assert s.proposer.type == "cpu" and s.detector.type == "cpu" and s.ocr.type == "rapidocr"
    assert s.store.resolved("archive") == Path("dashpipe-data/archive")


def test_yaml_overlays_and_env_override(tmp_path, monkeypatch):
    base = tmp_path / "a.yaml"
    base.write_text("plates:\n  min_chars: 3\n  min_reads: 4\nstore:\n  data_dir: /x\n")
    over = tmp_path / "b.yaml"
    over.write_text("plates:\n  min_reads: 2\n")
    s = load_settings(base, over)
    assert (s.plates.min_chars, s.plates.min_reads, s.store.data_dir) == (3, 2, Path("/x"))
    monkeypatch.setenv("DASHPIPE_PLATES__MIN_CHARS", "6")
    monkeypatch.setenv("DASHPIPE_CELERY__BROKER_URL", "redis://h:1/2")
    s = load_settings(base)
    assert s.plates.min_chars == 6
    assert s.celery.broker_url == "redis://h:1/2"


def test_config_env_var_names_files(tmp_path, monkeypatch):
    f = tmp_path / "c.yaml"
    f.write_text("preprocess:\n  keep_fps: 2.5\n")
    monkeypatch.setenv("DASHPIPE_CONFIG", str(f))
    assert load_settings().preprocess.keep_fps == 2.5


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("plates:\n  min_charz: 3\n", "unknown key 'plates.min_charz'"),
        ("preprocess:\n  keep_fps: -1\n", "preprocess.keep_fps"),
        ("proposer:\n  type: coral9000\n", "proposer"),
        ("proposer:\n  type: edgetpu\n", "proposer.edgetpu.model"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_wrong_keys_and_values_are_named(tmp_path, text, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(f)
    assert needle in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_backend_union_picks_the_config_class(tmp_path):
    f = tmp_path / "y.yaml"
    f.write_text("detector:\n  type: yolo_onnx\n  weights: /m/x.onnx\nocr:\n  type: easyocr\n  model_dir: /m\n")
    s = load_settings(f)
    assert s.detector.type == "yolo_onnx" and str(s.detector.weights) == "/m/x.onnx"
    assert s.ocr.type == "easyocr"


def test_shipped_config_documents_every_key_and_loads(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("DASHPIPE_"):
            monkeypatch.delenv(key)
    shipped = (REPO / "configs" / "dashpipe.yaml").read_text()
    assert shipped == documented_yaml(), "configs/dashpipe.yaml is stale: dashpipe config --documented > it"
    assert load_settings(REPO / "configs" / "dashpipe.yaml") == Settings()


@pytest.mark.parametrize("overlay", ["jetson.yaml", "gpu.yaml"])
def test_overlays_validate(overlay):
    s = load_settings(REPO / "configs" / "dashpipe.yaml", REPO / "configs" / overlay)
    assert s.celery.broker_url.startswith("redis://")


def test_env_tunes_the_default_backend_without_naming_its_type(monkeypatch):
    monkeypatch.setenv("DASHPIPE_DETECTOR__MARGIN", "1.5")
    s = load_settings()
    assert s.detector.type == "cpu" and s.detector.margin == 1.5


def test_choosing_a_region_in_the_shipped_config_takes_its_preset(tmp_path, monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("DASHPIPE_"):
            monkeypatch.delenv(key)
    # The shipped file lists every key at its default (formats: [], fold: {}): editing the region alone
    # must still bring the region's formats, folds and off-format rule.
    edited = (REPO / "configs" / "dashpipe.yaml").read_text().replace("region: any", "region: us")
    (tmp_path / "c.yaml").write_text(edited)
    plates = load_settings(tmp_path / "c.yaml").plates
    assert plates.formats and plates.fold == {"O": "0"} and plates.off_format_min_reads == 3
    own = Settings(plates={"region": "us", "formats": ["^[A-Z]{3}[0-9]{3}$"], "off_format_reads": 5}).plates
    assert own.formats == ("^[A-Z]{3}[0-9]{3}$",) and own.off_format_min_reads == 5  # set explicitly: they win
    assert Settings().plates.off_format_min_reads == 0
    assert Settings(plates={"region": "us", "off_format_reads": 0}).plates.off_format_min_reads == 0  # rule off
