"""The analysis lanes are built off screen at idle time after a clip opens, so the first Analyze
does not pay for them; nothing of that is visible before the lanes are added."""

from __future__ import annotations


def test_a_prebuilt_plot_stays_hidden_until_added(qtbot) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.timeline import Timeline

    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(700, 400)
    tl.show()
    assert tl.prebuild_plot("lane", "lane")
    assert not tl.prebuild_plot("lane", "lane")  # built once
    assert tl.plots == [tl.waveform_plot]
    assert tl.time_axis_plots() == [tl.waveform_plot]  # the waveform keeps its time axis
    assert tl.graphics.ci.getItem(1, 0) is None
    spare = tl._spares[("lane", "lane")]
    lane = tl.add_plot("lane", y_label="lane", height=50)
    assert lane is spare and tl.graphics.ci.getItem(1, 0) is lane
    assert tl.time_axis_plots() == [lane]
    assert lane.getAxis("left").labelText == "lane"
    assert not tl.prebuild_plot("lane", "lane")  # already in the timeline
    qtbot.waitUntil(lambda: abs(lane.vb.height() - 50) <= 3, timeout=30000)


def test_opening_a_clip_prebuilds_the_lanes_without_showing_them(qtbot, window, clips,
                                                                 open_and_wait) -> None:  # type: ignore[no-untyped-def]
    import sys

    open_and_wait(window, clips["av"].path, audio=False)
    tl = window.timeline
    qtbot.waitUntil(lambda: len(tl._spares) == 3, timeout=30000)  # mouth and voice too
    qtbot.waitUntil(lambda: "forensics_gui.core.alignment.phi" in sys.modules, timeout=30000)
    assert window.avh.curves.plot is None and tl.plots == [tl.waveform_plot]
    spares = set(map(id, tl._spares.values()))
    window.avh.ensure_lanes()
    curves = window.avh.curves
    assert {id(window.avh.lipsync.plot), id(curves.plot), id(curves.sync_plot)} == spares
    assert not tl._spares and tl.time_axis_plots() == [curves.sync_plot]
    # Another clip: the lanes exist, nothing more is built.
    open_and_wait(window, clips["av"].path, audio=False)
    qtbot.wait(50)  # a check that nothing happens: a slow machine can hide a rebuild, not fake one
    assert not tl._spares and len(tl.plots) == 4
