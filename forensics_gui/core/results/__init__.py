"""Results over datasets: batch result files, ground truth, localisation metrics."""
