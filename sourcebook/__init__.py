"""The shell: the composition root (``wiring``), the CLI by command group, and the launcher."""
