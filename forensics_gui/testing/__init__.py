"""Qt-free factories for tests and benchmarks: synthetic and broken clips, random-weight checkpoints.

Nothing here downloads anything; everything is generated in code.
"""
