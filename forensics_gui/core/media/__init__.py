"""Media in: PyAV decoding, the one timebase (source frames, samples, the 25 fps model grid), leading silence, waveform peaks."""
