"""Local runs: stages on this machine under the stage runner, and new projects."""
