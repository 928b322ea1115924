"""Qt-free factories for tests, benchmarks and the demo: synthetic clips, random-weight checkpoints.

Nothing here downloads anything; everything is generated in code.
"""
