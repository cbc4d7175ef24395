import json

from dashpipe.artifacts import decode_preprocess, encode_preprocess
from dashpipe.types import BBox, FrameQuality, PreprocessResult, Region, RejectReason, SelectedFrame, VideoInfo


def make(n_frames: int, regions_per_frame: int, kinds: bool = True) -> PreprocessResult:
    frames = tuple(
        SelectedFrame(
            index=i * 7,
            pts_s=i * 7 / 30,
            quality=FrameQuality(brightness=101.0, bright_p99=230.0, sharpness=812.0, motion=7.0),
            flags=(RejectReason.dark,) if i % 5 == 0 else (),
            regions=tuple(
                Region(
                    label="plate" if k % 2 == 0 else "vehicle",
                    box=BBox(x1=100 + k, y1=200, x2=180 + k, y2=220),
                    score=0.5,
                    kind="car" if kinds and k % 2 else None,
                )
                for k in range(regions_per_frame)
            ),
        )
        for i in range(n_frames)
    )
    info = VideoInfo(width=1920, height=1080, fps=30.0, duration_s=333.3, frames_total=10_000, codec="h264")
    return PreprocessResult(
        video_id="v",
        source="/a.mp4",
        info=info,
        selected=frames,
        rejected={"static": 1, "dark": 2, "blurry": 3, "redundant": 4},
        analysis_width=480,
        proposer="cpu",
    )


def test_round_trip_is_lossless_at_stored_precision():
    result = make(20, 3)
    back = decode_preprocess(encode_preprocess(result))
    for got, want in zip(back.selected[5].regions, result.selected[5].regions, strict=True):
        assert (got.label, got.score, got.kind) == (want.label, want.score, want.kind)
        # boxes are stored in units of 4 px on a 1920-wide frame
        assert max(abs(a - b) for a, b in zip(got.box.as_int(), want.box.as_int())) <= 4
    assert back.selected[0].flags == (RejectReason.dark,)
    assert back.selected[1].flags == ()
    assert abs(back.selected[3].pts_s - result.selected[3].pts_s) < 1e-3
    assert [len(f.regions) for f in back.selected] == [3] * 20


def test_variable_frame_rate_times_survive():
    result = make(5, 1)
    jittered = tuple(f.model_copy(update={"pts_s": f.pts_s + 0.0123 * i}) for i, f in enumerate(result.selected))
    back = decode_preprocess(encode_preprocess(result.model_copy(update={"selected": jittered})))
    assert [round(f.pts_s, 3) for f in back.selected] == [round(f.pts_s, 3) for f in jittered]
    assert back.info == result.info and back.rejected == result.rejected


def test_size_budget_per_ten_thousand_frames():
    # 4 kept frames/s of 30 is 1333 per 10,000 frames; with two regions each the JSON stays < 100 KB.
    data = encode_preprocess(make(1333, 2, kinds=False))
    assert len(data) < 100_000


def test_overlays_survive_and_an_older_json_without_them_reads_as_none():
    overlays = (BBox(x1=20, y1=1010, x2=640, y2=1060), BBox(x1=1500, y1=1010, x2=1900, y2=1060))
    result = make(3, 1).model_copy(update={"overlays": overlays})
    assert decode_preprocess(encode_preprocess(result)).overlays == overlays
    doc = json.loads(encode_preprocess(result))
    del doc["overlays"]
    assert decode_preprocess(json.dumps(doc).encode()).overlays == ()
