"""The classroom: the exercise catalogue, grading and the ``fortishell lab`` command."""
