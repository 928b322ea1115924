"""forensics-gui: an offline forensic viewer for audio-visual deepfakes."""

__version__ = "0.1.0"
