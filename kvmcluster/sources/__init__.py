"""Sources: read a file or run a command, return text. They never decide a state."""
