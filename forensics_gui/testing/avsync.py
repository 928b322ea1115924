"""Measure lip sync the way a viewer experiences it: a real sound server and the X framebuffer.

* :func:`make_flash_beep_clip` writes a clip that is black except for one white frame at every
  whole second, with a 40 ms 1 kHz beep starting at exactly every whole second.
* :func:`pulse_null_sink` runs a private PulseAudio daemon with a null sink (works as root, as
  in CI); :class:`SoundRecorder` records the sink's monitor with ``parec`` and stamps every
  sample with the monotonic clock.
* :class:`FramebufferWatcher` polls a few pixels of Xvfb's memory-mapped framebuffer
  (``xvfb(fbdir=...)``) and stamps every change between dark and white.
* :func:`pair_offsets` matches each flash on screen with the beep heard nearest to it:
  ``offset = beep time - flash time`` (positive: the sound comes late).

The viewer runs in a child process (:data:`CHILD_SCRIPT`, driven by a list of steps) so that it
uses the real X server and the real sound server. Both measurements use ``time.monotonic()``,
which is one clock for all processes on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BEEP_HZ = 1000.0
BEEP_S = 0.040
RECORD_RATE = 48000
START_TIMEOUT_S = 20.0


# -- the clip ------------------------------------------------------------------------------
def make_flash_beep_clip(path: str | os.PathLike[str], duration_s: float = 12.0, fps: int = 25,
                         sample_rate: int = 48000, width: int = 320, height: int = 240) -> Path:
    """A black clip with a white frame at each whole second and a 40 ms 1 kHz beep starting at
    exactly each whole second (from 1 s on). mp4: H.264 + AAC, as most real clips are."""
    import av

    from forensics_gui.core.files.atomic import atomic_path

    path = Path(path)
    n_frames = int(round(duration_s * fps))
    n_audio = int(round(duration_s * sample_rate))
    wav = np.zeros(n_audio, dtype=np.float32)
    beep_n = int(round(BEEP_S * sample_rate))
    tone = 0.5 * np.sin(2 * np.pi * BEEP_HZ * np.arange(beep_n) / sample_rate).astype(np.float32)
    for k in range(1, int(duration_s)):
        start = k * sample_rate
        wav[start:start + beep_n] = tone[: max(0, min(beep_n, n_audio - start))]
    black = np.zeros((height, width, 3), np.uint8)
    white = np.full((height, width, 3), 255, np.uint8)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.options = {"crf": "18", "preset": "veryfast", "g": str(fps)}
            aus = out.add_stream("aac", rate=sample_rate, layout="mono")
            apos, chunk = 0, 1024
            for i in range(n_frames):
                img = white if i % fps == 0 and i > 0 else black
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                for packet in vs.encode(frame):
                    out.mux(packet)
                until = n_audio if i == n_frames - 1 else min(n_audio, (i + 1) * sample_rate // fps)
                while apos < until:
                    end = min(until, apos + chunk)
                    block = wav[apos:end].reshape(1, -1)
                    af = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
                    af.sample_rate, af.pts = sample_rate, apos
                    for packet in aus.encode(af):
                        out.mux(packet)
                    apos = end
            for stream in (vs, aus):
                for packet in stream.encode(None):
                    out.mux(packet)
    return path


# -- the sound server ------------------------------------------------------------------------
class PulseUnavailable(RuntimeError):
    """PulseAudio is not installed or did not start."""


def require_pulseaudio() -> tuple[str, str]:
    """``pulseaudio`` and ``parec``; skips the calling test without them (fails under CI=true,
    where ``packaging/install.sh --test`` installs them)."""
    import pytest

    exes = shutil.which("pulseaudio"), shutil.which("parec")
    if None in exes:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pulseaudio/parec are missing under CI: packaging/install.sh --test "
                        "installs 'pulseaudio' and 'pulseaudio-utils'.")
        pytest.skip("PulseAudio is not installed (apt-get install pulseaudio pulseaudio-utils)")
    return exes  # type: ignore[return-value]


@dataclass
class PulseServer:
    server: str  # the PULSE_SERVER value for clients
    sink: str
    monitor: str
    env: dict[str, str] = field(default_factory=dict)  # what a client process needs


@contextmanager
def pulse_null_sink(sink: str = "avsync", rate: int = RECORD_RATE) -> Iterator[PulseServer]:
    """A private PulseAudio daemon (no system config, no D-Bus, any user, root included) whose
    only output is a null sink; yields how to reach it."""
    from forensics_gui.testing.xvfb import stop_process

    exe = shutil.which("pulseaudio")
    if exe is None:
        raise PulseUnavailable("pulseaudio is not installed")
    home = tempfile.mkdtemp(prefix="avsync-pulse-")
    runtime = os.path.join(home, "runtime")
    os.makedirs(runtime, mode=0o700)
    socket = os.path.join(runtime, "native")
    config = os.path.join(home, "default.pa")
    Path(config).write_text(
        f"load-module module-null-sink sink_name={sink} rate={rate} channels=2\n"
        f"set-default-sink {sink}\n"
        f"load-module module-native-protocol-unix auth-anonymous=1 socket={socket}\n")
    env = dict(os.environ, HOME=home, PULSE_RUNTIME_PATH=runtime, XDG_RUNTIME_DIR=runtime,
               XDG_CONFIG_HOME=os.path.join(home, "config"))
    env.pop("PULSE_SERVER", None)
    proc = subprocess.Popen(
        [exe, "-n", "--daemonize=no", "--exit-idle-time=-1", "--system=false",
         "--disallow-exit", "--disable-shm=false", "--log-target=stderr", "--log-level=1",
         "-F", config],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = f"unix:{socket}"
    client_env = {"PULSE_SERVER": server, "PULSE_SINK": sink}
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        pactl = shutil.which("pactl")
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise PulseUnavailable(f"pulseaudio exited: {err[-500:]}")
            if os.path.exists(socket) and (pactl is None or subprocess.run(
                    [pactl, "info"], env=dict(os.environ, **client_env), capture_output=True,
                    timeout=10).returncode == 0):
                break
            if time.monotonic() > deadline:
                raise PulseUnavailable(f"pulseaudio did not start within {START_TIMEOUT_S:g} s")
            time.sleep(0.05)
        yield PulseServer(server=server, sink=sink, monitor=f"{sink}.monitor", env=client_env)
    finally:
        stop_process(proc)
        shutil.rmtree(home, ignore_errors=True)


class SoundRecorder:
    """``parec`` on the null sink's monitor (mono s16, 48 kHz, 2 ms latency asked).

    Each chunk read is stamped on arrival; a sample's time is its count / rate plus the smallest
    (arrival - count / rate) seen, i.e. the earliest time consistent with every arrival (a chunk
    can arrive late, never early)."""

    def __init__(self, pulse: PulseServer, rate: int = RECORD_RATE) -> None:
        self.rate = rate
        exe = shutil.which("parec")
        if exe is None:
            raise PulseUnavailable("parec is not installed")
        self._proc = subprocess.Popen(
            [exe, f"--device={pulse.monitor}", "--format=s16le", f"--rate={rate}",
             "--channels=1", "--latency-msec=2", "--raw"],
            env=dict(os.environ, **pulse.env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._chunks: list[bytes] = []
        self._base = float("inf")  # min(arrival - samples / rate)
        self._count = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        pending = b""
        while True:
            data = os.read(fd, 4096)
            now = time.monotonic()
            if not data:
                return
            pending += data
            whole = len(pending) // 2 * 2
            with self._lock:
                self._chunks.append(pending[:whole])
                self._count += whole // 2
                self._base = min(self._base, now - self._count / self.rate)
            pending = pending[whole:]

    def samples_since(self) -> int:
        with self._lock:
            return self._count

    def stop(self) -> tuple[np.ndarray, float]:
        """Stop recording; the samples (float, -1..1) and the monotonic time of sample 0."""
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._thread.join(timeout=10)
        with self._lock:
            raw = b"".join(self._chunks)
            base = self._base
        return np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0, base


@dataclass
class Beep:
    start: float  # monotonic seconds
    duration_s: float
    freq_hz: float
    peak: float


def find_beeps(samples: np.ndarray, t0: float, rate: int = RECORD_RATE,
               threshold: float = 0.05) -> list[Beep]:
    """The beeps in a recording: runs where the 1 ms envelope exceeds ``threshold``; gaps under
    10 ms inside a beep are bridged. The onset is refined to the first sample over threshold."""
    if len(samples) == 0:
        return []
    loud = np.abs(samples) > threshold
    idx = np.flatnonzero(loud)
    if len(idx) == 0:
        return []
    gap = int(0.010 * rate)
    breaks = np.flatnonzero(np.diff(idx) > gap)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    beeps = []
    for a, b in zip(starts, ends, strict=True):
        seg = samples[a:b + 1]
        if len(seg) < 16:
            continue
        spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n=max(8192, len(seg))))
        freq = float(np.argmax(spectrum) * rate / max(8192, len(seg)))
        beeps.append(Beep(start=t0 + a / rate, duration_s=(b + 1 - a) / rate, freq_hz=freq,
                          peak=float(np.max(np.abs(seg)))))
    return beeps


# -- the picture -------------------------------------------------------------------------------
class FramebufferWatcher:
    """Polls the centre of a screen rectangle in Xvfb's framebuffer file (XWD, 32 bits/pixel)
    and records the monotonic times at which it turns white (``flashes``)."""

    def __init__(self, fb_file: str | os.PathLike[str], rect: Sequence[int]) -> None:
        raw = Path(fb_file).read_bytes()[:100]
        header_size, _version, _fmt, _depth, width, height = struct.unpack(">6I", raw[:24])
        bits_per_pixel = struct.unpack(">I", raw[44:48])[0]
        bytes_per_line = struct.unpack(">I", raw[48:52])[0]
        ncolors = struct.unpack(">I", raw[76:80])[0]
        if bits_per_pixel != 32:
            raise RuntimeError(f"framebuffer has {bits_per_pixel} bits per pixel, not 32")
        offset = header_size + 12 * ncolors
        self._fb = np.memmap(fb_file, dtype=np.uint8, mode="r", offset=offset,
                             shape=(height, bytes_per_line))
        x, y, w, h = (int(v) for v in rect)
        cx, cy = x + w // 2, y + h // 2
        self._ys = slice(max(0, cy - 4), min(height, cy + 4))
        self._xs = slice(4 * max(0, cx - 4), 4 * min(width, cx + 4))
        self.flashes: list[float] = []
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def level(self) -> float:
        """Mean of the R, G, B bytes of the polled pixels (the fourth byte is padding)."""
        patch = self._fb[self._ys, self._xs]
        return float(patch.reshape(patch.shape[0], -1, 4)[..., :3].mean())

    def _poll(self) -> None:
        white = False
        while not self._stop.is_set():
            now = time.monotonic()
            value = self.level()
            self.polls += 1
            if not white and value > 200:
                white = True
                self.flashes.append(now)
            elif white and value < 60:
                white = False
            time.sleep(0.0005)

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join(timeout=10)
        return list(self.flashes)


def pair_offsets(flashes: Sequence[float], beeps: Sequence[Beep], window_s: float = 0.4
                 ) -> list[float]:
    """For each flash, the nearest beep's start minus the flash time (seconds); flashes with no
    beep within ``window_s`` are left out."""
    starts = np.array([b.start for b in beeps])
    out = []
    for f in flashes:
        if len(starts) == 0:
            break
        d = starts - f
        i = int(np.argmin(np.abs(d)))
        if abs(d[i]) <= window_s:
            out.append(float(d[i]))
    return out


# -- the viewer in a child process --------------------------------------------------------------
CHILD_SCRIPT = r"""
import json, os, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from forensics_gui.ui.main_window import MainWindow
from forensics_gui.ui.theme import apply_theme
apply_theme(app)
clip, steps = sys.argv[1], json.loads(sys.argv[2])
w = MainWindow()
w.move(0, 0)
w.resize(900, 700)
w.show()
def say(*parts):
    print(*parts, flush=True)
# what the viewer itself knows, to tell a late picture from misplaced sound: when each frame was
# painted, and the clock's anchor (media time, speed, monotonic time) at every start / speed change
_show_frame = w._show_frame
def show_frame(index, time_s, image):
    _show_frame(index, time_s, image)
    say("PAINT", index, time_s, time.monotonic())
w._show_frame = show_frame
def anchored(method):
    def call(*args):
        method(*args)
        say("ANCHOR", w.clock.position(), w.clock.rate if w.clock.playing else 0.0, time.monotonic())
    return call
w.clock.start = anchored(w.clock.start)
w.clock.set_rate = anchored(w.clock.set_rate)
w.clock.pause = anchored(w.clock.pause)
def ready():
    return (w.frame_index is not None and w.clock.sound_ready())
def wait_ready(then):
    if ready():
        r = w.video_view.frame_rect()
        g = w.video_view.mapToGlobal(r.topLeft())
        say("RECT", g.x(), g.y(), r.width(), r.height())
        say("SOUND", w.clock.sound_state())
        QTimer.singleShot(300, then)
    else:
        QTimer.singleShot(20, lambda: wait_ready(then))
def run(i=0):
    if i >= len(steps):
        say("DONE", time.monotonic())
        w.shutdown()
        app.quit()
        return
    kind, arg = steps[i][0], steps[i][1] if len(steps[i]) > 1 else None
    delay = 0
    if kind == "wait":
        delay = int(arg * 1000)
    elif kind == "mark":
        say("MARK", arg, time.monotonic())
    elif kind == "speed":
        w.set_speed(float(arg))
    elif kind == "seek":
        w.seek(float(arg))
    elif kind == "play":
        w.play()
    elif kind == "pause":
        w.pause()
    elif kind == "step":
        w.step(int(arg))
    elif kind == "offset":
        w.set_audio_offset_ms(float(arg))
    QTimer.singleShot(delay, lambda: run(i + 1))
if not w.open_path(clip):
    say("FAILED", w.last_error)
    sys.exit(2)
QTimer.singleShot(0, lambda: wait_ready(run))
QTimer.singleShot(600000, app.quit)
app.exec()
"""


@dataclass
class Phase:
    name: str
    start: float
    end: float
    offsets_ms: list[float]
    beeps: list[Beep]
    picture_late_ms: list[float] = field(default_factory=list)  # flash on screen - clock's time
    sound_late_ms: list[float] = field(default_factory=list)  # beep heard - clock's time


@dataclass
class SyncRun:
    phases: list[Phase]
    sound_state: str
    polls: int
    log: str


def run_viewer(clip: str | os.PathLike[str], steps: list[list[object]], display: str,
               fbdir: str, pulse: PulseServer, timeout_s: float = 300.0,
               extra_env: dict[str, str] | None = None) -> SyncRun:
    """Run the viewer on ``display`` with sound on ``pulse``, play ``steps`` (``["mark", name]``
    starts a measured phase that lasts until the next mark or the end) and measure the offsets
    of each phase."""
    from forensics_gui.testing.xvfb import x_env

    env = x_env(display, **pulse.env, **(extra_env or {}))
    env.pop("FORENSICS_GUI_NO_AUDIO", None)
    recorder = SoundRecorder(pulse)
    proc = subprocess.Popen([sys.executable, "-c", CHILD_SCRIPT, str(clip), json.dumps(steps)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher: FramebufferWatcher | None = None
    marks: list[tuple[str, float]] = []
    anchors: list[tuple[float, float, float]] = []  # media s, rate (0: paused), monotonic s
    lines: list[str] = []
    sound_state = ""
    done = None
    deadline = time.monotonic() + timeout_s
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "RECT":
                fb = os.path.join(fbdir, "Xvfb_screen0")
                watcher = FramebufferWatcher(fb, [int(v) for v in parts[1:5]])
            elif parts[0] == "SOUND":
                sound_state = line.split(None, 1)[1].strip()
            elif parts[0] == "MARK":
                marks.append((parts[1], float(parts[2])))
            elif parts[0] == "ANCHOR":
                anchors.append((float(parts[1]), float(parts[2]), float(parts[3])))
            elif parts[0] == "DONE":
                done = float(parts[1])
            if time.monotonic() > deadline:
                break
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        flashes = watcher.stop() if watcher is not None else []
        samples, t0 = recorder.stop()
    err = proc.stderr.read() if proc.stderr is not None else ""
    log = "\n".join(lines) + "\n--- stderr ---\n" + err[-3000:]
    if done is None:
        raise RuntimeError(f"the viewer did not finish its steps:\n{log}")
    beeps = find_beeps(samples, t0)
    phases = []
    bounds = marks + [("end", done)]
    for (name, a), (_n, b) in zip(bounds, bounds[1:], strict=False):
        f = [x for x in flashes if a <= x < b]
        bp = [x for x in beeps if a - 0.5 <= x.start < b + 0.5]
        phase = Phase(name, a, b, [1000 * d for d in pair_offsets(f, bp)],
                      [x for x in beeps if a <= x.start < b])
        for flash in f:
            due = _due(anchors, flash)
            if due is not None:
                phase.picture_late_ms.append(1000 * (flash - due))
        for beep in phase.beeps:
            due = _due(anchors, beep.start)
            if due is not None:
                phase.sound_late_ms.append(1000 * (beep.start - due))
        phases.append(phase)
    return SyncRun(phases=phases, sound_state=sound_state,
                   polls=watcher.polls if watcher is not None else 0, log=log)


def speed_steps(speeds: Sequence[float], flashes: int = 2, lead_s: float = 0.35) -> list[list[object]]:
    """Steps that play ``flashes`` flashes at each speed: pause, seek just before a whole second,
    set the speed, mark, play, wait until the flashes have passed."""
    steps: list[list[object]] = []
    for s in speeds:
        steps += [["pause"], ["seek", 1.0 - lead_s * s], ["speed", s], ["mark", f"{s:g}x"],
                  ["play"], ["wait", lead_s + (flashes - 0.5) / s]]
    steps.append(["pause"])
    return steps


def _due(anchors: Sequence[tuple[float, float, float]], when: float) -> float | None:
    """When the viewer's clock reached the whole second nearest to what it showed at ``when``
    (monotonic s), from the last anchor before ``when``; None when paused."""
    before = [a for a in anchors if a[2] <= when]
    if not before or before[-1][1] <= 0:
        return None
    media, rate, wall = before[-1]
    second = round(media + (when - wall) * rate)
    return wall + (second - media) / rate
