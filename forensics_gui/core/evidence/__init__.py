"""What the analyst takes away from a clip, as plain data (no Qt): the annotated screenshot's
content today, the report's later. The Qt renderers live in :mod:`forensics_gui.ui`."""
