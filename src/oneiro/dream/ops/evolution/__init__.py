"""EVOLUTION's operations (seed 004_c28cd088ddefd4e2.txt): memetic selection over entries,
contradiction detection, strategy evolution by replicator dynamics on REM's imagined returns,
knowledge recombination and dream fingerprints. All T0, all pure: they propose writes that
INTEGRATION stages like any dream output."""
