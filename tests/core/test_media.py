"""probe / VideoReader / decode_audio / iter_frames_on_grid on generated clips with known content."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.media.decode import VideoReader, decode_audio, iter_frames_on_grid, probe
from forensics_gui.core.media.timebase import Timebase
from forensics_gui.testing.progress import RecordingProgress
from forensics_gui.testing.synth import SynthClip, decode_pattern_index, make_clip

W, H = 160, 120
RATES = {"25": Fraction(25), "23.976": Fraction(24000, 1001), "29.97": Fraction(30000, 1001)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SynthClip]:
    d = tmp_path_factory.mktemp("media")
    out = {name: make_clip(d / f"p{name}.mp4", duration_s=2.0, fps=rate, width=W, height=H,
                           face=False, keyint=12)
           for name, rate in RATES.items()}
    out["mkv"] = make_clip(d / "p.mkv", duration_s=2.0, fps=25, width=W, height=H, face=False,
                           keyint=12)
    return out


@pytest.mark.parametrize("name", list(RATES))
def test_probe_fields(clips: dict[str, SynthClip], name: str) -> None:
    clip = clips[name]
    info = probe(clip.path)
    assert info.container.startswith("mov,mp4")
    assert info.size_bytes == clip.path.stat().st_size
    v = info.video
    assert v is not None and v.codec == "h264"
    assert (v.width, v.height) == (W, H)
    assert v.fps == RATES[name]
    assert v.frame_count == clip.n_frames == round(2.0 * RATES[name])
    assert v.frame_count_exact
    assert v.duration_s == pytest.approx(clip.n_frames / float(RATES[name]), abs=1e-3)
    assert v.rotation == 0 and v.start_time_s == pytest.approx(0.0)
    a = info.audio
    assert a is not None
    assert (a.codec, a.sample_rate, a.channels, a.layout) == ("pcm_s16le", 16000, 1, "mono")
    assert a.duration_s == pytest.approx(2.0, abs=1e-3)


def test_mkv_frame_count_is_estimated_but_frame_times_are_exact(clips: dict[str, SynthClip]) -> None:
    info = probe(clips["mkv"].path)
    assert info.video is not None and not info.video.frame_count_exact
    assert info.video.frame_count == 50
    with VideoReader(clips["mkv"].path) as reader:
        times = reader.frame_times()
    np.testing.assert_allclose(times, np.arange(50) / 25.0, atol=1e-3)


@pytest.mark.parametrize("name", list(RATES))
def test_frame_times_length_and_spacing(clips: dict[str, SynthClip], name: str) -> None:
    with VideoReader(clips[name].path) as reader:
        times = reader.frame_times()
    assert len(times) == clips[name].n_frames
    np.testing.assert_allclose(np.diff(times), float(1 / RATES[name]), atol=2e-4)
    assert times[0] == pytest.approx(0.0)


@pytest.mark.parametrize("name", ["25", "29.97"])
def test_random_access_returns_the_right_frame(clips: dict[str, SynthClip], name: str) -> None:
    clip = clips[name]
    period = float(1 / clip.fps)
    # forwards, backwards, across keyframes (every 12 frames), repeats and neighbours
    order = [0, 30, 5, 47, 46, 12, 11, 13, 49, 1, 30, 24, 23, clip.n_frames - 1, 2]
    with VideoReader(clip.path) as reader:
        for i in order:
            f = reader.frame_by_index(i)
            assert f.index == i
            assert decode_pattern_index(f.image) == i
            assert f.time_s == pytest.approx(i * period, abs=1e-6)
            assert f.duration_s == pytest.approx(period, abs=1e-4)
            assert f.image.shape == (H, W, 3) and f.image.dtype == np.uint8
            # anywhere inside the frame's display interval gives the same frame
            for t in (i * period, (i + 0.5) * period, (i + 0.99) * period):
                g = reader.frame_at(t)
                assert g.index == i and decode_pattern_index(g.image) == i


def test_frame_at_clamps_and_caches(clips: dict[str, SynthClip]) -> None:
    clip = clips["25"]
    with VideoReader(clip.path, cache_size=4) as reader:
        first = reader.frame_at(0.0)
        assert first.index == 0 and decode_pattern_index(first.image) == 0
        assert reader.frame_at(-3.0).index == 0
        last = reader.frame_at(99.0)
        assert last.index == clip.n_frames - 1
        assert decode_pattern_index(last.image) == clip.n_frames - 1
        assert reader.frame_at(1.0) is reader.frame_at(1.01)  # served from the cache
        for i in range(10):
            reader.frame_by_index(i)
        assert len(reader._cache) == 4
        with pytest.raises(IndexError):
            reader.frame_by_index(clip.n_frames)


def test_sequential_stepping_matches_random_access(clips: dict[str, SynthClip]) -> None:
    clip = clips["23.976"]
    with VideoReader(clip.path) as reader:
        got = [decode_pattern_index(reader.frame_by_index(i).image) for i in range(clip.n_frames)]
    assert got == list(range(clip.n_frames))


@pytest.mark.parametrize("name", ["29.97", "23.976"])
def test_iter_frames_on_grid_maps_onto_25fps(clips: dict[str, SynthClip], name: str) -> None:
    clip = clips[name]
    rate = float(RATES[name])
    got = list(iter_frames_on_grid(clip.path, fps=25.0))
    duration = clip.n_frames / rate
    assert len(got) == math.ceil(duration * 25 - 1e-9)
    for j, (k, t, img) in enumerate(got):
        assert k == j and t == pytest.approx(k / 25.0)
        shown = min(clip.n_frames - 1, math.floor(t * rate + 1e-6))
        assert decode_pattern_index(img) == shown, (k, t)


def test_iter_frames_on_grid_from_25fps_is_every_frame(clips: dict[str, SynthClip]) -> None:
    clip = clips["25"]
    idx = [decode_pattern_index(img) for _, _, img in iter_frames_on_grid(clip.path)]
    assert idx == list(range(clip.n_frames))


@pytest.mark.parametrize("rate,channels,layout", [(44100, 2, "stereo"), (48000, 6, "5.1")])
def test_audio_native_rate_and_channels(tmp_path: Path, rate: int, channels: int, layout: str) -> None:
    clip = make_clip(tmp_path / "a.mkv", duration_s=1.0, width=W, height=H, face=False,
                     sample_rate=rate, channels=channels, leading_silence_ms=10)
    info = probe(clip.path)
    assert info.audio is not None
    assert (info.audio.sample_rate, info.audio.channels) == (rate, channels)
    assert info.audio.layout.startswith(layout)
    track = decode_audio(clip.path)
    assert track.sample_rate == rate and track.samples.shape == (channels, rate)
    assert track.samples.dtype == np.float32 and track.corrupt_packets == 0
    # PCM s16 round trip: equal to what was written up to quantisation
    np.testing.assert_allclose(track.samples, clip.audio, atol=1.5 / 32768)


def test_audio_resampled_to_16k_mono(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mkv", duration_s=2.0, width=W, height=H, face=False,
                     sample_rate=44100, channels=2)
    track = decode_audio(clip.path, sample_rate=16000, mono=True)
    assert track.sample_rate == 16000 and track.samples.shape[0] == 1
    assert abs(track.samples.shape[1] - 32000) <= 64
    # the speech is still there: loud in the same places as the source
    src = clip.audio.mean(axis=0)
    src_rms = np.sqrt(np.mean(src[: 44100 * 2 // 441 * 441].reshape(-1, 4410) ** 2, axis=1))
    out_rms = np.sqrt(np.mean(track.samples[0, :32000].reshape(-1, 1600) ** 2, axis=1))
    assert np.corrcoef(src_rms, out_rms)[0, 1] > 0.98
    # mono is the mean of the channels (librosa's to_mono), not a louder rematrix
    native = decode_audio(clip.path)
    mono = decode_audio(clip.path, mono=True)
    assert mono.sample_rate == 44100
    np.testing.assert_allclose(mono.samples[0], native.samples.mean(axis=0), atol=1e-7)


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_rotated_file_gives_upright_frames(tmp_path: Path, suffix: str) -> None:
    import av

    clip = make_clip(tmp_path / f"r{suffix}", duration_s=1.0, width=W, height=H, face=False,
                     rotation=90, keyint=10)
    with av.open(str(clip.path)) as c:  # stored sideways
        cc = c.streams.video[0].codec_context
        assert (cc.width, cc.height) == (H, W)
    info = probe(clip.path)
    assert info.video is not None and info.video.rotation == 90
    assert (info.video.width, info.video.height) == (W, H)
    with VideoReader(clip.path) as reader:
        for i in (17, 3, 24):
            f = reader.frame_by_index(i)
            assert f.image.shape == (H, W, 3)
            assert decode_pattern_index(f.image) == i
    _, _, img = next(iter(iter_frames_on_grid(clip.path)))
    assert img.shape == (H, W, 3) and decode_pattern_index(img) == 0


def test_non_ascii_path(tmp_path: Path) -> None:
    folder = tmp_path / "dossier é"
    folder.mkdir()
    clip = make_clip(folder / "vidéo_测试.mp4", duration_s=1.0, width=W, height=H, face=False,
                     leading_silence_ms=20)
    info = probe(clip.path)
    assert info.video is not None and info.video.frame_count == 25
    with VideoReader(clip.path) as reader:
        assert decode_pattern_index(reader.frame_at(0.5).image) == 12
    assert decode_audio(clip.path).samples.shape == (1, 16000)


def test_timebase_from_reader_agrees_with_frames(clips: dict[str, SynthClip]) -> None:
    clip = clips["29.97"]
    info = probe(clip.path)
    with VideoReader(clip.path) as reader:
        tb = Timebase.from_media(info, reader.frame_times())
        for t in (0.0, 0.5, 1.234, 1.9):
            assert reader.frame_at(t).index == tb.frame_at(t)
    assert tb.sample_at(1.0) == 16000
    assert tb.n_model_frames == math.ceil(clip.n_frames / float(clip.fps) * 25 - 1e-9)


def test_sha256_file_matches_hashlib_and_cancels(tmp_path: Path) -> None:
    import hashlib

    from forensics_gui.core.errors import Cancelled
    from forensics_gui.core.files.hashing import sha256_file

    data = bytes(range(256)) * 5000  # 1.28 MB: two 1 MiB blocks
    path = tmp_path / "f.bin"
    path.write_bytes(data)

    rec = RecordingProgress()
    assert sha256_file(path, rec) == hashlib.sha256(data).hexdigest()
    assert rec.calls == [("hash", 1 << 20, len(data)), ("hash", len(data), len(data))]
    with pytest.raises(Cancelled):
        sha256_file(path, RecordingProgress(stop_after=1))
    empty = tmp_path / "e.bin"
    empty.write_bytes(b"")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()


def test_variable_frame_rate_uses_timestamps(tmp_path: Path) -> None:
    import av

    from forensics_gui.testing.synth import pattern_frame

    pts_ms = [0, 40, 60, 200, 210, 220, 400, 433, 500, 800]
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, p in enumerate(pts_ms):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, W, H), format="rgb24")
            frame.pts, frame.time_base = p, Fraction(1, 1000)
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode(None):
            c.mux(packet)
    with VideoReader(path) as reader:
        np.testing.assert_allclose(reader.frame_times(), np.array(pts_ms) / 1000.0)
        shown = [decode_pattern_index(reader.frame_at(t).image) for t in (0, 0.05, 0.1, 0.205, 0.45, 0.9)]
    assert shown == [0, 1, 2, 3, 7, 9]
    grid = [decode_pattern_index(img) for _, _, img in iter_frames_on_grid(path)]
    expected = [int(np.searchsorted(pts_ms, k * 40, side="right")) - 1 for k in range(len(grid))]
    assert grid == expected and len(grid) == 21
