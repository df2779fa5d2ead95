"""Rules: model -> findings with a state and a reason. Pure: no I/O, no commands."""
