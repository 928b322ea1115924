"""The AVH-Align analysis of the open clip, in the viewer.

In ``forensics_gui.ui`` "analysis" means one thing: scoring a clip with AVH-Align (the core's
:class:`~forensics_gui.core.pipeline.Analyzer` and its ClipAnalysis result). The clip-info
worker that decodes the audio and hashes the file is not an analysis
(:class:`~forensics_gui.ui.workers.ClipInfoWorker`).

- :mod:`.state`: what was analysed (for which clip token), the options the next run uses, the
  reference and supervised settings (no widgets);
- :mod:`.runner`: starts, cancels and retires the worker threads and routes their signals;
- :mod:`.views`: the dock, menus and actions, progress strip, lanes and face box;
- :mod:`.exports_view`: the File menu's score/segment exports and the screenshot's curves;
- :mod:`.workers`: the analysis and reference-scores workers;
- :mod:`.progress_strip`: the status-bar progress widget.
"""
