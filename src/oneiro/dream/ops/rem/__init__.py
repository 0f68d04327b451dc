"""REM operations (T0, no LLM): imagination over what NREM replayed. Everything REM makes is a
dream-made hypothesis or a carried finding, never evidence (seed 000, seed 003)."""
