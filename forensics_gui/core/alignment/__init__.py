"""The alignment network Phi of AVH-Align: loading, scoring, training and its resume state."""
