"""The lab configurations, exercise scripts, expected transcripts and the exercise
catalogue (``exercises.toml``), shipped inside the package as ``fortishell.samples``."""
