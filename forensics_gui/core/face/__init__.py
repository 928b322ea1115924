"""Face and mouth: dlib landmarks (exact and fast) and the official mouth-ROI preparation."""
